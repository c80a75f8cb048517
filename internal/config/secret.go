package config

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
)

// Secret is a credential. It prints, marshals and logs as "[redacted]" so
// that a stray %v or zap.Any never leaks it; Reveal returns the value.
type Secret string

// String implements fmt.Stringer with a redacted value.
func (s Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer with a redacted value.
func (s Secret) GoString() string { return `config.Secret("[redacted]")` }

// MarshalJSON never emits the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// MarshalText never emits the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// Equal compares in constant time.
func (s Secret) Equal(v string) bool {
	return subtle.ConstantTimeCompare([]byte(s), []byte(v)) == 1
}

// ByteSize is a size in bytes that YAML may spell "150MB" or "1GiB".
type ByteSize int64

// Byte size units.
const (
	KB ByteSize = 1000
	MB          = 1000 * KB
	GB          = 1000 * MB
)

// UnmarshalText parses sizes such as 150MB, 64KiB, 1000.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(strings.ToUpper(string(text)))
	units := []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid size %q", text)
	}
	*b = ByteSize(n * mult)
	return nil
}

package csvcheck

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Attribute types accepted by MoEngage for a file segment's attribute.
const (
	TypeString = "string"
	TypeDouble = "double"
)

// DefaultCharset is the set of characters a string value may contain unless
// Options.Charset says otherwise: ASCII letters, digits and "-_.@+:". It
// covers GAIDs/IDFAs, numeric and alphanumeric customer ids, and most e-mail
// addresses, while refusing what the upstream calls special characters
// (quotes, "#", ",", spaces, control and non-ASCII bytes).
const DefaultCharset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.@+:"

// doubleCharset is the set of characters a double value may contain. It keeps
// strconv.ParseFloat from accepting "Inf", "NaN", hex floats and underscores.
const doubleCharset = "0123456789+-.eE"

// DefaultMaxProblems is how many problems a Result lists when
// Options.MaxProblems is zero. ProblemCount still counts all of them.
const DefaultMaxProblems = 100

// DefaultMaxBytes is the upstream's file size limit per request, 150 MB,
// read as decimal megabytes so that segq never lets through a file the
// upstream could refuse.
const DefaultMaxBytes int64 = 150_000_000

// maxMaxBytes is the largest MaxBytes allowed: line numbers of queued
// values are stored in 32 bits.
const maxMaxBytes = 4e9

// MaxLineBytes is the longest line the checker accepts. A longer line is
// reported as a problem and never stored.
const MaxLineBytes = 4096

// exactLimit is how many distinct values auto mode keeps as exact strings
// before it switches to 64-bit hashes.
const exactLimit = 1 << 14

// Mode says what a caller does with a file that has problems.
type Mode int

const (
	// Strict refuses a file with any problem: the job fails before it
	// reserves a slot.
	Strict Mode = iota
	// Lenient accepts a file with problems as long as it has at least one
	// valid value; MoEngage skips corrupted values itself.
	Lenient
)

// ParseMode parses "strict" or "lenient" (any case).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "strict":
		return Strict, nil
	case "lenient":
		return Lenient, nil
	}
	return Strict, fmt.Errorf("csvcheck: unknown mode %q (want strict or lenient)", s)
}

// String returns "strict" or "lenient".
func (m Mode) String() string {
	if m == Lenient {
		return "lenient"
	}
	return "strict"
}

// MarshalText lets a Mode appear as its name in YAML and JSON.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a Mode from its name, as ParseMode does.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Options configure Check. The zero value checks a string attribute in
// strict mode with the upstream's limits.
type Options struct {
	// AttributeType is "string" (default) or "double".
	AttributeType string
	// AttributeName, when set, makes a first line equal to it a header:
	// reported in Result.Header and not counted as a value.
	AttributeName string
	// Charset lists every ASCII character a string value may contain.
	// Empty means DefaultCharset. Ignored for doubles.
	Charset string
	// MaxProblems caps Result.Problems. Zero means DefaultMaxProblems.
	MaxProblems int
	// MaxBytes is the largest file accepted, at most 4 GB. Zero means
	// DefaultMaxBytes.
	MaxBytes int64
	// Exact detects duplicates by comparing whole values instead of 64-bit
	// hashes. Memory then grows with the file; leave it off for big files.
	// Files with up to 16,384 distinct values are always checked exactly.
	Exact bool
	// Mode decides Result.Accepted.
	Mode Mode
	// Progress, when set, is called after each chunk with the bytes read so
	// far. It runs on the checking goroutine and must be quick.
	Progress func(bytesRead int64)
}

// withDefaults returns a copy of o with zero fields replaced by defaults.
func (o Options) withDefaults() Options {
	if o.AttributeType == "" {
		o.AttributeType = TypeString
	}
	if o.Charset == "" {
		o.Charset = DefaultCharset
	}
	if o.MaxProblems == 0 {
		o.MaxProblems = DefaultMaxProblems
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return o
}

// validate reports the first bad field of o (after defaults).
func (o Options) validate() error {
	switch o.AttributeType {
	case TypeString, TypeDouble:
	default:
		return fmt.Errorf("csvcheck: attribute_type %q: want %q or %q", o.AttributeType, TypeString, TypeDouble)
	}
	if o.MaxProblems < 0 {
		return errors.New("csvcheck: max_problems must not be negative")
	}
	if o.MaxBytes < 0 || o.MaxBytes > maxMaxBytes {
		return fmt.Errorf("csvcheck: max_bytes must be between 0 and %d", int64(maxMaxBytes))
	}
	if o.Mode != Strict && o.Mode != Lenient {
		return fmt.Errorf("csvcheck: unknown mode %d", o.Mode)
	}
	for i := 0; i < len(o.Charset); i++ {
		c := o.Charset[i]
		if c >= 0x80 || c <= ' ' || c == 0x7f || c == ',' || c == '"' || c == '\'' {
			return fmt.Errorf("csvcheck: charset: character %q cannot be allowed", rune(c))
		}
	}
	return nil
}

// byte classes of the lookup table; zero means allowed.
const (
	clsOK    = 0
	clsBad   = 1 << 0 // not in the charset
	clsComma = 1 << 1
	clsQuote = 1 << 2
	clsCR    = 1 << 3
)

// charTable maps each byte to its class for the given attribute type.
func charTable(o Options) *[256]uint8 {
	var t [256]uint8
	for i := range t {
		t[i] = clsBad
	}
	set := o.Charset
	if o.AttributeType == TypeDouble {
		set = doubleCharset
	}
	for i := 0; i < len(set); i++ {
		t[set[i]] = clsOK
	}
	t[','] = clsComma
	t['"'] = clsQuote
	t['\''] = clsQuote
	t['\r'] = clsCR
	return &t
}

// pairTables caches pair tables by attribute type and charset; building
// one costs more than checking a small file. Options come from
// configuration, so there are few distinct keys; the cache stops growing at
// maxPairTables anyway.
var pairTables struct {
	sync.Mutex
	m map[string]*[1 << 16]uint8
}

const maxPairTables = 16

// cachedPairTable returns the pair table for o, building it at most once.
func cachedPairTable(o Options, t *[256]uint8) *[1 << 16]uint8 {
	key := o.AttributeType + "\x00" + o.Charset
	pairTables.Lock()
	defer pairTables.Unlock()
	if p, ok := pairTables.m[key]; ok {
		return p
	}
	p := pairTable(t)
	if pairTables.m == nil {
		pairTables.m = make(map[string]*[1 << 16]uint8)
	}
	if len(pairTables.m) < maxPairTables {
		pairTables.m[key] = p
	}
	return p
}

// pairTable maps two bytes (little-endian) to the union of their classes.
func pairTable(t *[256]uint8) *[1 << 16]uint8 {
	var p [1 << 16]uint8
	for hi := range 256 {
		row := p[hi<<8 : hi<<8+256]
		for lo := range row {
			row[lo] = t[lo] | t[hi]
		}
	}
	return &p
}

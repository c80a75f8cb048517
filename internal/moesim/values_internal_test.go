package moesim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValueCounter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		in                      string
		double                  bool
		found, users, processed int64
	}{
		{name: "empty file", in: ""},
		{name: "one value without newline", in: "a", found: 1, users: 1, processed: 1},
		{name: "trailing newline", in: "a\nb\n", found: 2, users: 2, processed: 2},
		{name: "crlf and blanks", in: "a\r\n\r\n  \nb", found: 4, users: 2, processed: 2},
		{name: "doubles", in: "1\n2.5\nx\n-3e4\n", double: true, found: 4, users: 4, processed: 3},
		{name: "long row", in: strings.Repeat("9", 5000) + "\nz", double: true, found: 2, users: 2, processed: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Feed in small chunks so rows span writes.
			c := &valueCounter{double: tc.double}
			for in := tc.in; in != ""; {
				n := min(len(in), 3)
				_, _ = c.Write([]byte(in[:n]))
				in = in[n:]
			}
			c.finish()
			require.Equal(t, tc.found, c.found, "found")
			require.Equal(t, tc.users, c.users, "users")
			require.Equal(t, tc.processed, c.processed, "processed")
		})
	}
}

func TestCheckCountAndUsers(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	ev := []event{{at: t0, users: 4}, {at: t0.Add(time.Second), users: 3}, {at: t0.Add(2 * time.Second), users: 2}}
	now := t0.Add(2 * time.Second)

	require.Nil(t, checkCount(ev, Window{Length: time.Minute, Max: 4}, now))
	b := checkCount(ev, Window{Length: time.Minute, Max: 2}, now)
	require.Equal(t, t0.Add(time.Second+time.Minute), b.reset, "two must leave; the second leaves last")
	require.Nil(t, checkCount(ev, Window{Length: 2 * time.Second, Max: 3}, now), "the first is out at exactly now-Length")

	require.Nil(t, checkUsers(ev, Window{Length: time.Minute, Max: 10}, 1, now))
	b = checkUsers(ev, Window{Length: time.Minute, Max: 10}, 5, now)
	require.Equal(t, int64(1), b.remaining)
	require.Equal(t, t0.Add(time.Minute), b.reset)
	b = checkUsers(ev, Window{Length: time.Minute, Max: 10}, 11, now)
	require.True(t, b.reset.IsZero())

	exp := []time.Time{{}, t0.Add(time.Hour), t0.Add(time.Minute)}
	require.Nil(t, checkActive(exp, 4, now))
	require.Equal(t, t0.Add(time.Minute), checkActive(exp, 3, now).reset)
	require.Equal(t, t0.Add(time.Hour), checkActive(exp, 2, now).reset)
	require.True(t, checkActive(exp, 1, now).reset.IsZero(), "a segment without expiry never frees up")
}

// BenchmarkValueCounter measures counting a file's rows as it streams by.
func BenchmarkValueCounter(b *testing.B) {
	chunk := []byte(strings.Repeat("user-value-0123456789\n", 1500)) // ~32 KiB
	b.SetBytes(int64(len(chunk)))
	c := &valueCounter{}
	for b.Loop() {
		_, _ = c.Write(chunk)
	}
}

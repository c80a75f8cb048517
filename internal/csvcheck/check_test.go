package csvcheck

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// p is shorthand for a Problem in the tables below.
func p(line int64, reason string) Problem { return Problem{Line: line, Reason: reason} }

func TestCheckRules(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", MaxLineBytes+1)
	tests := []struct {
		name     string
		in       string
		opts     Options
		found    int64
		valid    int64
		header   bool
		problems []Problem
	}{
		{name: "good", in: "a\nb\nc\n", found: 3, valid: 3},
		{name: "no final newline", in: "a\nb\nc", found: 3, valid: 3},
		{name: "crlf", in: "a\r\nb\r\nc\r\n", found: 3, valid: 3},
		{name: "crlf no final newline", in: "a\r\nb\r\nc", found: 3, valid: 3},
		{name: "bom", in: "\xEF\xBB\xBFa\nb\n", found: 2, valid: 2},
		{name: "default charset", in: "ab-c_d.e@f+g:h\nAZ09\n", found: 2, valid: 2},
		{name: "header", in: "gaid\na\nb\n", opts: Options{AttributeName: "gaid"}, found: 2, valid: 2, header: true},
		{name: "header bom crlf", in: "\xEF\xBB\xBFgaid\r\na\r\n", opts: Options{AttributeName: "gaid"}, found: 1, valid: 1, header: true},
		{name: "header only on line 1", in: "a\ngaid\n", opts: Options{AttributeName: "gaid"}, found: 2, valid: 2},
		{name: "header is case sensitive", in: "GAID\na\n", opts: Options{AttributeName: "gaid"}, found: 2, valid: 2},
		{name: "header only", in: "gaid\n", opts: Options{AttributeName: "gaid"}, header: true,
			problems: []Problem{p(0, "file has no values")}},
		{name: "empty file", in: "", problems: []Problem{p(0, "file has no values")}},
		{name: "bom only", in: "\xEF\xBB\xBF", problems: []Problem{p(0, "file has no values")}},
		{name: "empty row", in: "a\n\nb\n", found: 3, valid: 2, problems: []Problem{p(2, "empty line")}},
		{name: "empty crlf row", in: "a\r\n\r\nb\r\n", found: 3, valid: 2, problems: []Problem{p(2, "empty line")}},
		{name: "trailing empty row", in: "a\nb\n\n", found: 3, valid: 2, problems: []Problem{p(3, "empty line")}},
		{name: "only newline", in: "\n", found: 1, problems: []Problem{p(1, "empty line")}},
		{name: "trailing comma", in: "abcd\nabcd,\n", found: 2, valid: 1, problems: []Problem{p(2, "value ends with a comma")}},
		{name: "two columns", in: "a,b\nc\n", found: 2, valid: 1, problems: []Problem{p(1, "more than one column (comma inside value)")}},
		{name: "empty second column", in: "a,,\n", found: 1, problems: []Problem{p(1, "more than one column (comma inside value)")}},
		{name: "double quotes", in: "\"abcd\"\n", found: 1, problems: []Problem{p(1, "value contains a quote")}},
		{name: "single quote", in: "o'neil\n", found: 1, problems: []Problem{p(1, "value contains a quote")}},
		{name: "special character", in: "abcd\na#bc\n", found: 2, valid: 1, problems: []Problem{p(2, `special character '#'`)}},
		{name: "space", in: " a\n", found: 1, problems: []Problem{p(1, "value contains a space")}},
		{name: "tab", in: "a\tb\n", found: 1, problems: []Problem{p(1, "control character 0x09")}},
		{name: "non-ascii", in: "caf\xC3\xA9\n", found: 1, problems: []Problem{p(1, "non-ASCII byte 0xC3")}},
		{name: "bare carriage return", in: "a\rb\n", found: 1, problems: []Problem{p(1, "carriage return inside value")}},
		{name: "duplicates", in: "a\nb\na\nc\nb\na\n", found: 6, valid: 3,
			problems: []Problem{p(3, "duplicate value"), p(5, "duplicate value"), p(6, "duplicate value")}},
		{name: "crlf and lf are the same value", in: "a\r\na\n", found: 2, valid: 1, problems: []Problem{p(2, "duplicate value")}},
		{name: "invalid values are not duplicates", in: "a#\na#\n", found: 2,
			problems: []Problem{p(1, `special character '#'`), p(2, `special character '#'`)}},
		{name: "long line", in: "a\n" + long + "\nb", found: 3, valid: 2, problems: []Problem{p(2, "line longer than 4096 bytes")}},
		{name: "custom charset", in: "abc\nabd\n", opts: Options{Charset: "abc"}, found: 2, valid: 1,
			problems: []Problem{p(2, `special character 'd'`)}},
		{name: "max problems", in: "\n\n\n", opts: Options{MaxProblems: 2}, found: 3,
			problems: []Problem{p(1, "empty line"), p(2, "empty line")}},
		{name: "double good", in: "1\n2.5\n-3e2\n+4\n.5\n6.\n1E3\n", opts: Options{AttributeType: TypeDouble}, found: 7, valid: 7},
		{name: "double header", in: "score\n1\n", opts: Options{AttributeType: TypeDouble, AttributeName: "score"}, found: 1, valid: 1, header: true},
		{name: "double duplicates by value", in: "1\n1.0\n10e-1\n-0\n0\n", opts: Options{AttributeType: TypeDouble}, found: 5, valid: 2,
			problems: []Problem{p(2, "duplicate value"), p(3, "duplicate value"), p(5, "duplicate value")}},
		{name: "double bad", in: "abc\n1e999\nNaN\nInf\n0x10\n1_000\n1-2\n.\n1,5\n", opts: Options{AttributeType: TypeDouble}, found: 9,
			problems: []Problem{p(1, "not a number"), p(2, "number out of range"), p(3, "not a number"), p(4, "not a number"),
				p(5, "not a number"), p(6, "not a number"), p(7, "not a number"), p(8, "not a number"),
				p(9, "more than one column (comma inside value)")}},
	}
	for _, tt := range tests {
		for _, mode := range []struct {
			name     string
			exactMax int
		}{{"exact", exactLimit}, {"hashed", 0}} {
			t.Run(tt.name+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				res, err := check(strings.NewReader(tt.in), tt.opts, mode.exactMax)
				require.NoError(t, err)
				want := tt.problems
				if want == nil {
					want = []Problem{}
				}
				require.Equal(t, want, res.Problems)
				require.Equal(t, tt.found, res.ValuesFound, "values_found")
				require.Equal(t, tt.valid, res.ValuesValid, "values_valid")
				require.Equal(t, tt.header, res.Header, "header")
				require.Equal(t, len(tt.problems) == 0, res.Valid, "valid")
				require.Equal(t, int64(len(tt.in)), res.Bytes)
				sum := sha256.Sum256([]byte(tt.in))
				require.Equal(t, hex.EncodeToString(sum[:]), res.SHA256)
				if tt.opts.MaxProblems == 0 {
					require.Equal(t, int64(len(want)), res.ProblemCount)
				}
			})
		}
	}
}

func TestCheckProblemCountBeyondMax(t *testing.T) {
	t.Parallel()
	res, err := Check(strings.NewReader(strings.Repeat("\n", 250)), Options{})
	require.NoError(t, err)
	require.Len(t, res.Problems, DefaultMaxProblems)
	require.Equal(t, int64(250), res.ProblemCount)
	require.Equal(t, int64(100), res.Problems[99].Line)
}

func TestCheckModes(t *testing.T) {
	t.Parallel()
	in := "a\na\n"
	strict, err := Check(strings.NewReader(in), Options{Mode: Strict})
	require.NoError(t, err)
	require.False(t, strict.Valid)
	require.False(t, strict.Accepted)

	lenient, err := Check(strings.NewReader(in), Options{Mode: Lenient})
	require.NoError(t, err)
	require.False(t, lenient.Valid)
	require.True(t, lenient.Accepted)
	require.Equal(t, int64(1), lenient.ValuesValid)

	none, err := Check(strings.NewReader("\n"), Options{Mode: Lenient})
	require.NoError(t, err)
	require.False(t, none.Accepted, "lenient still refuses a file without valid values")
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	m, err := ParseMode("Lenient")
	require.NoError(t, err)
	require.Equal(t, Lenient, m)
	m, err = ParseMode("strict")
	require.NoError(t, err)
	require.Equal(t, Strict, m)
	_, err = ParseMode("loose")
	require.Error(t, err)

	var u Mode
	require.NoError(t, u.UnmarshalText([]byte("lenient")))
	require.Equal(t, Lenient, u)
	b, err := u.MarshalText()
	require.NoError(t, err)
	require.Equal(t, "lenient", string(b))
}

func TestCheckBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{AttributeType: "int"},
		{Charset: "ab,"},
		{Charset: "a b"},
		{MaxProblems: -1},
		{MaxBytes: -1},
		{MaxBytes: 5e9},
		{Mode: Mode(7)},
	} {
		_, err := Check(strings.NewReader("a\n"), o)
		require.Error(t, err, "%+v", o)
	}
}

func TestCheckTooLarge(t *testing.T) {
	t.Parallel()
	res, err := Check(strings.NewReader("abc\ndef\nghi\n"), Options{MaxBytes: 6})
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
	require.Equal(t, int64(6), tl.Limit)
	require.False(t, res.Valid)
	require.Equal(t, int64(6), res.Bytes)
	require.Equal(t, []Problem{p(0, "file is larger than 6 bytes")}, res.Problems)

	// The file problem comes first even when line problems fill the list.
	res, err = Check(strings.NewReader("\n\n\n\n"), Options{MaxBytes: 3, MaxProblems: 2})
	require.ErrorAs(t, err, &tl)
	require.Equal(t, []Problem{p(0, "file is larger than 3 bytes"), p(1, "empty line")}, res.Problems)
	require.Equal(t, int64(4), res.ProblemCount)

	// Exactly at the limit is fine.
	res, err = Check(strings.NewReader("abc\nde"), Options{MaxBytes: 6})
	require.NoError(t, err)
	require.True(t, res.Valid)
}

func TestCheckReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	_, err := Check(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), Options{})
	var re *ReadError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, boom)
}

// TestCheckAcrossChunks checks lines that straddle read chunks, with the
// switch from exact to hashed duplicates in the middle, against the simple
// reference checker.
func TestCheckAcrossChunks(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	for i := 0; sb.Len() < 3*chunkSize+1000; i++ {
		switch {
		case i%9973 == 0:
			sb.WriteString(strings.Repeat("x", MaxLineBytes+i%3)) // long lines, some over the limit
		case i%7919 == 0:
			sb.WriteString("dup") // repeated value
		case i%5003 == 0:
			sb.WriteString("a#b")
		default:
			sb.WriteString(strings.Repeat("v", i%50))
			sb.WriteString(hex.EncodeToString([]byte{byte(i >> 16), byte(i >> 8), byte(i)}))
		}
		if i%3 == 0 {
			sb.WriteByte('\r')
		}
		sb.WriteByte('\n')
	}
	in := sb.String()
	for _, r := range []io.Reader{strings.NewReader(in), iotest.HalfReader(strings.NewReader(in))} {
		res, err := check(r, Options{MaxProblems: 1 << 20}, 1000)
		require.NoError(t, err)
		want := reference([]byte(in), Options{}.withDefaults())
		require.Equal(t, want.found, res.ValuesFound)
		require.Equal(t, want.valid, res.ValuesValid)
		require.Equal(t, want.lines, problemLines(res.Problems))
		require.False(t, res.Exact)
	}
}

func problemLines(ps []Problem) []int64 {
	lines := []int64{}
	for _, p := range ps {
		lines = append(lines, p.Line)
	}
	return lines
}

// refResult is what the reference checker computes.
type refResult struct {
	found, valid int64
	lines        []int64
}

// reference is a deliberately naive checker: split, trim, look up in a map.
func reference(data []byte, o Options) refResult {
	s := strings.TrimPrefix(string(data), "\xEF\xBB\xBF")
	res := refResult{lines: []int64{}}
	if s == "" {
		res.lines = append(res.lines, 0)
		return res
	}
	lines := strings.Split(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	seen := map[string]bool{}
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if i == 0 && o.AttributeName != "" && l == o.AttributeName {
			continue
		}
		res.found++
		ok := l != "" && len(l) <= MaxLineBytes
		for j := 0; ok && j < len(l); j++ {
			ok = strings.IndexByte(o.Charset, l[j]) >= 0
		}
		if !ok || seen[l] {
			res.lines = append(res.lines, int64(i+1))
			continue
		}
		seen[l] = true
		res.valid++
	}
	if res.found == 0 {
		res.lines = append(res.lines, 0)
	}
	return res
}

// TestCheckManyDuplicates repeats values often enough that partitions are
// resolved while reading, and checks the verdicts against the reference.
func TestCheckManyDuplicates(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	for i := range 3 * minResolve {
		sb.WriteString("same\n")
		sb.WriteString(strconv.Itoa(i % 5000))
		sb.WriteByte('\n')
	}
	in := sb.String()
	res, err := check(strings.NewReader(in), Options{MaxProblems: 1 << 20}, 0)
	require.NoError(t, err)
	want := reference([]byte(in), Options{}.withDefaults())
	require.Equal(t, int64(5001), res.ValuesValid)
	require.Equal(t, want.valid, res.ValuesValid)
	require.Equal(t, want.lines, problemLines(res.Problems))

	// With the default cap only the first problems are listed, in order.
	res, err = check(strings.NewReader(in), Options{}, 0)
	require.NoError(t, err)
	require.Equal(t, want.lines[:DefaultMaxProblems], problemLines(res.Problems))
	require.Equal(t, int64(len(want.lines)), res.ProblemCount)
}

// TestCheckLongLinesAtChunkEdge puts lines at the length limit, with and
// without CR, across the first read boundary.
func TestCheckLongLinesAtChunkEdge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line    string
		problem bool
	}{
		{strings.Repeat("x", MaxLineBytes) + "\r", false},
		{strings.Repeat("x", MaxLineBytes), false},
		{strings.Repeat("x", MaxLineBytes+1), true},
		{strings.Repeat("x", MaxLineBytes+1) + "\r", true},
	} {
		for _, shift := range []int{1, 2, MaxLineBytes / 2, len(tc.line) - 1} {
			pad, lines := padLines(chunkSize - shift)
			in := pad + tc.line + "\nend\n"
			res, err := check(strings.NewReader(in), Options{}, 0)
			require.NoError(t, err)
			require.Equal(t, lines+2, res.ValuesFound)
			if tc.problem {
				require.Equal(t, []Problem{p(lines+1, "line longer than 4096 bytes")}, res.Problems, "shift %d", shift)
			} else {
				require.Empty(t, res.Problems, "len %d shift %d", len(tc.line), shift)
			}
		}
	}
}

// padLines returns n bytes of short distinct lines and how many there are.
func padLines(n int) (string, int64) {
	var sb strings.Builder
	lines := int64(0)
	for n-sb.Len() >= 32 {
		fmt.Fprintf(&sb, "%015d\n", lines)
		lines++
	}
	sb.WriteString(strings.Repeat("q", n-sb.Len()-1) + "\n")
	return sb.String(), lines + 1
}

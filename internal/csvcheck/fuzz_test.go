package csvcheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// FuzzCheck holds Check to its invariants on arbitrary input: no panic,
// counts that add up, problems in line order within the file, the same
// answer with exact and hashed duplicates, and agreement with the naive
// reference checker.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"a\nb\nc\n", "a\r\nb\r\n", "\xEF\xBB\xBFid\r\na\n", "a\n\nb", "a,\n\"b\"\n", "a\na\n", "1\n1.0\n-0\n0\n", "",
	} {
		f.Add([]byte(s), false, "id")
	}
	f.Fuzz(func(t *testing.T, data []byte, double bool, attr string) {
		opts := Options{AttributeName: attr, MaxProblems: 1 << 20}
		if double {
			opts.AttributeType = TypeDouble
		}
		exact, errE := check(bytes.NewReader(data), opts, exactLimit)
		hashed, errH := check(bytes.NewReader(data), opts, 0)
		if errE != nil || errH != nil {
			t.Fatalf("unexpected errors: %v, %v", errE, errH)
		}
		checkInvariants(t, data, exact)
		checkInvariants(t, data, hashed)
		hashed.Exact = exact.Exact
		if !equalResults(exact, hashed) {
			t.Fatalf("exact and hashed disagree:\n%+v\n%+v", exact, hashed)
		}
		if !double {
			ref := reference(data, opts.withDefaults())
			got := problemLines(exact.Problems)
			if ref.found != exact.ValuesFound || ref.valid != exact.ValuesValid || !equalLines(ref.lines, got) {
				t.Fatalf("reference disagrees: %+v vs %+v", ref, exact)
			}
		}
	})
}

func checkInvariants(t *testing.T, data []byte, r Result) {
	t.Helper()
	if r.Bytes != int64(len(data)) {
		t.Fatalf("bytes %d, want %d", r.Bytes, len(data))
	}
	sum := sha256.Sum256(data)
	if r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("wrong sha256")
	}
	if r.ValuesValid < 0 || r.ValuesValid > r.ValuesFound {
		t.Fatalf("values_valid %d, values_found %d", r.ValuesValid, r.ValuesFound)
	}
	if r.Valid != (r.ProblemCount == 0) || int64(len(r.Problems)) != r.ProblemCount {
		t.Fatalf("valid %v with %d problems (%d listed)", r.Valid, r.ProblemCount, len(r.Problems))
	}
	lineProblems := int64(0)
	maxLine := int64(bytes.Count(data, []byte{'\n'}) + 1)
	prev := int64(0)
	for i, p := range r.Problems {

		if p.Line == 0 {
			if i != 0 {
				t.Fatalf("file problem not first: %+v", r.Problems)
			}
			continue
		}
		if p.Line <= prev || p.Line > maxLine {
			t.Fatalf("problem line %d after %d (max %d)", p.Line, prev, maxLine)
		}
		prev = p.Line
		lineProblems++
	}
	if r.ValuesFound-r.ValuesValid != lineProblems {
		t.Fatalf("found %d - valid %d != %d line problems", r.ValuesFound, r.ValuesValid, lineProblems)
	}
}

func equalResults(a, b Result) bool {
	if len(a.Problems) != len(b.Problems) {
		return false
	}
	for i := range a.Problems {
		if a.Problems[i] != b.Problems[i] {
			return false
		}
	}
	return a.Valid == b.Valid && a.Accepted == b.Accepted && a.ValuesFound == b.ValuesFound &&
		a.ValuesValid == b.ValuesValid && a.Bytes == b.Bytes && a.SHA256 == b.SHA256 &&
		a.ProblemCount == b.ProblemCount && a.Header == b.Header
}

func equalLines(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// runCheckCmd runs segq check with args and returns its stdout, stderr and
// exit code as main would compute it. Every error of check carries its
// exit code.
func runCheckCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	stdout, stderr, err := runCmd(t, newCheckCmd(), args...)
	if err != nil {
		var coded interface{ ExitCode() int }
		require.True(t, errors.As(err, &coded), "error without exit code: %v", err)
	}
	return stdout, stderr, codeOf(err)
}

// runCmd runs cmd with args and no input, and returns its stdout, its
// stderr (with the error main would print) and its error.
func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetIn(bytes.NewReader(nil))
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		stderr.WriteString(err.Error())
	}
	return stdout.String(), stderr.String(), err
}

// checkOutput mirrors the JSON contract of segq check --json.
type checkOutput struct {
	Valid       bool   `json:"valid"`
	ValuesFound int64  `json:"values_found"`
	ValuesValid int64  `json:"values_valid"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
	Problems    []struct {
		Line   int64  `json:"line"`
		Reason string `json:"reason"`
	} `json:"problems"`
}

func decodeCheck(t *testing.T, out string) checkOutput {
	t.Helper()
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &fields))
	keys := []string{}
	for k := range fields {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, []string{"valid", "values_found", "values_valid", "bytes", "sha256", "problems"}, keys)
	require.NotEqual(t, "null", string(fields["problems"]), "problems is always an array")
	var res checkOutput
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	return res
}

func TestCheckCmdValidFile(t *testing.T) {
	t.Parallel()
	out, _, code := runCheckCmd(t, "testdata/check/good.csv", "--attribute", "gaid", "--json")
	require.Equal(t, 0, code)
	res := decodeCheck(t, out)
	require.True(t, res.Valid)
	require.Equal(t, int64(3), res.ValuesFound)
	require.Equal(t, int64(3), res.ValuesValid)
	require.Equal(t, int64(96), res.Bytes)
	require.Len(t, res.SHA256, 64)
	require.Empty(t, res.Problems)

	out, _, code = runCheckCmd(t, "testdata/check/good.csv", "--attribute", "gaid")
	require.Equal(t, 0, code)
	require.Contains(t, out, "testdata/check/good.csv: valid\n")
	require.Contains(t, out, "header        line 1 is the attribute name")
}

func TestCheckCmdProblems(t *testing.T) {
	t.Parallel()
	out, stderr, code := runCheckCmd(t, "--json", "testdata/check/bad.csv")
	require.Equal(t, 1, code)
	require.Empty(t, stderr, "the problems are the output; no error message")
	res := decodeCheck(t, out)
	require.False(t, res.Valid)
	require.Equal(t, int64(7), res.ValuesFound)
	require.Equal(t, int64(2), res.ValuesValid)
	lines := []int64{}
	for _, p := range res.Problems {
		lines = append(lines, p.Line)
	}
	require.Equal(t, []int64{2, 3, 4, 5, 6}, lines)
	require.Equal(t, "value ends with a comma", res.Problems[0].Reason)
	require.Equal(t, "duplicate value", res.Problems[4].Reason)

	out, _, code = runCheckCmd(t, "testdata/check/bad.csv", "--max-problems", "2")
	require.Equal(t, 1, code)
	require.Contains(t, out, "5 problems, not accepted in strict mode")
	require.Contains(t, out, "  line 2: value ends with a comma\n")
	require.Contains(t, out, "... and 3 more problems")

	// Lenient mode accepts a file that still has valid values.
	out, _, code = runCheckCmd(t, "testdata/check/bad.csv", "--mode", "lenient")
	require.Equal(t, 0, code)
	require.Contains(t, out, "accepted in lenient mode")
}

func TestCheckCmdDouble(t *testing.T) {
	t.Parallel()
	out, _, code := runCheckCmd(t, "testdata/check/doubles.csv", "--type", "double", "--attribute", "score", "--json")
	require.Equal(t, 0, code)
	require.Equal(t, int64(3), decodeCheck(t, out).ValuesValid)

	_, _, code = runCheckCmd(t, "testdata/check/good.csv", "--type", "double")
	require.Equal(t, 1, code, "GAIDs are not numbers")
}

func TestCheckCmdUsageErrors(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"no args":      {},
		"two args":     {"a.csv", "b.csv"},
		"missing file": {"testdata/check/nope.csv"},
		"directory":    {"testdata/check"},
		"bad type":     {"--type", "int", "testdata/check/good.csv"},
		"bad mode":     {"--mode", "loose", "testdata/check/good.csv"},
		"bad flag":     {"--nope", "testdata/check/good.csv"},
		"bad url":      {"https://user:pw@example.com/a.csv"},
	} {
		_, stderr, code := runCheckCmd(t, args...)
		require.Equal(t, 2, code, name)
		require.NotEmpty(t, stderr, name)
	}
}

func TestCheckCmdTooLarge(t *testing.T) {
	t.Parallel()
	out, _, code := runCheckCmd(t, "testdata/check/good.csv", "--max-bytes", "10", "--json")
	require.Equal(t, 1, code)
	res := decodeCheck(t, out)
	require.False(t, res.Valid)
	require.Equal(t, int64(0), res.Problems[0].Line)
	require.Contains(t, res.Problems[0].Reason, "larger than 10 bytes")
}

func TestCheckCmdURL(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("testdata/check/good.csv")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big.csv" {
			w.Header().Set("Content-Length", "200000000")
			return
		}
		_, _ = w.Write(good)
	}))
	t.Cleanup(srv.Close)

	_, stderr, code := runCheckCmd(t, srv.URL+"/good.csv")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "loopback address (set allow-list to permit)")

	out, _, code := runCheckCmd(t, srv.URL+"/good.csv", "--allow-loopback", "--attribute", "gaid", "--json")
	require.Equal(t, 0, code)
	require.Equal(t, int64(3), decodeCheck(t, out).ValuesValid)

	out, _, code = runCheckCmd(t, srv.URL+"/big.csv", "--allow-loopback", "--json")
	require.Equal(t, 1, code)
	require.Contains(t, decodeCheck(t, out).Problems[0].Reason, "over the limit")
}

func TestCheckCmdStdin(t *testing.T) {
	t.Parallel()
	cmd := newCheckCmd()
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stdout)
	cmd.SetIn(bytes.NewBufferString("a\nb\na\n"))
	cmd.SetArgs([]string{"-", "--json"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	var coded interface{ ExitCode() int }
	require.True(t, errors.As(err, &coded))
	require.Equal(t, 1, coded.ExitCode())
	require.Equal(t, int64(2), decodeCheck(t, stdout.String()).ValuesValid)
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 157286371: "157,286,371", -1234: "-1,234"} {
		require.Equal(t, want, thousands(n))
	}
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := &progressBar{w: &buf, total: 100 << 20, on: true}
	p.update(50 << 20)
	require.Contains(t, buf.String(), "]  50% 50/100 MB")
	p.update(60 << 20) // within 100 ms of the last draw: skipped
	require.NotContains(t, buf.String(), "60%")
	p.done()
	require.True(t, strings.HasSuffix(buf.String(), "\r"))

	quiet := newProgressBar(&buf, 1<<30) // not a terminal
	require.False(t, quiet.on)
}

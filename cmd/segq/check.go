package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/segq/segq/internal/csvcheck"
	"github.com/segq/segq/internal/safehttp"
	"github.com/spf13/cobra"
)

// exitError carries a process exit code with an error; main's exitCode
// prints the message (when there is one) and exits with the code.
type exitError struct {
	code int
	err  error
}

// Error returns the wrapped error's message, or "" when the command has
// already said everything (e.g. the problems of a checked file).
func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// Unwrap returns the wrapped error.
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the process exit status to use.
func (e *exitError) ExitCode() int { return e.code }

// usageError marks err as bad arguments (exit 2).
func usageError(err error) error { return &exitError{code: codeUsage, err: err} }

// checkFlags are the flags of segq check.
type checkFlags struct {
	attrType      string
	attribute     string
	mode          string
	asJSON        bool
	allowLoopback bool
	exact         bool
	maxProblems   int
	maxBytes      int64
}

// progressMinBytes is the input size from which check draws a progress bar.
const progressMinBytes = 16 << 20

func newCheckCmd() *cobra.Command {
	f := checkFlags{}
	cmd := &cobra.Command{
		Use:   "check FILE|URL",
		Short: "Validate a segment file locally",
		Long: `Check a segment file against MoEngage's CSV rules before it spends quota:
one value per line, no commas, quotes, special characters, empty rows or
duplicates, and numbers for --type double. FILE may be - for stdin; an
http(s) URL is fetched with the same guard the workers use.

Exit status: 0 the file is valid (with --mode lenient: has valid values),
1 it has problems, 2 it could not be read or the arguments are wrong.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(fmt.Errorf("check takes one FILE or URL, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.attrType, "type", csvcheck.TypeString, "attribute type: string or double")
	fl.StringVar(&f.attribute, "attribute", "", "attribute name; a first line equal to it is a header")
	fl.StringVar(&f.mode, "mode", "strict", "strict (any problem fails) or lenient (valid values are enough)")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fl.BoolVar(&f.allowLoopback, "allow-loopback", false, "let a URL point at this machine (development)")
	fl.BoolVar(&f.exact, "exact", false, "compare whole values for duplicates instead of 64-bit hashes")
	fl.IntVar(&f.maxProblems, "max-problems", csvcheck.DefaultMaxProblems, "how many problems to list")
	fl.Int64Var(&f.maxBytes, "max-bytes", csvcheck.DefaultMaxBytes, "largest file accepted, in bytes")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	return cmd
}

// runCheck checks one input and prints the result.
func runCheck(cmd *cobra.Command, target string, f checkFlags) error {
	opts, err := f.options()
	if err != nil {
		return usageError(err)
	}
	in, size, err := openInput(cmd.Context(), cmd.InOrStdin(), target, f)
	var res csvcheck.Result
	switch {
	case tooLarge(err):
		res = tooLargeResult(err)
	case err != nil:
		return usageError(err)
	default:
		defer in.Close()
		bar := newProgressBar(cmd.ErrOrStderr(), size)
		opts.Progress = bar.update
		res, err = csvcheck.Check(in, opts)
		bar.done()
		if err != nil && !tooLarge(err) {
			return usageError(fmt.Errorf("check %s: %w", target, err))
		}
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		err = printCheckJSON(out, res)
	} else {
		err = printCheckHuman(out, target, res, opts.Mode)
	}
	if err != nil {
		return usageError(err)
	}
	if !res.Accepted {
		return &exitError{code: codeFailed}
	}
	return nil
}

// options turns the flags into csvcheck options.
func (f checkFlags) options() (csvcheck.Options, error) {
	mode, err := csvcheck.ParseMode(f.mode)
	if err != nil {
		return csvcheck.Options{}, fmt.Errorf("--mode: %w", err)
	}
	if f.attrType != csvcheck.TypeString && f.attrType != csvcheck.TypeDouble {
		return csvcheck.Options{}, fmt.Errorf("--type %q: want string or double", f.attrType)
	}
	if f.maxProblems < 1 || f.maxBytes < 1 {
		return csvcheck.Options{}, errors.New("--max-problems and --max-bytes must be positive")
	}
	return csvcheck.Options{
		AttributeType: f.attrType,
		AttributeName: f.attribute,
		MaxProblems:   f.maxProblems,
		MaxBytes:      f.maxBytes,
		Exact:         f.exact,
		Mode:          mode,
	}, nil
}

// openInput opens a file, stdin ("-") or a URL, returning its size or -1.
func openInput(ctx context.Context, stdin io.Reader, target string, f checkFlags) (io.ReadCloser, int64, error) {
	switch {
	case target == "-":
		return io.NopCloser(stdin), -1, nil
	case strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://"):
		opts := safehttp.Options{}
		if f.allowLoopback {
			opts.Allow = safehttp.LoopbackPrefixes
		}
		client := safehttp.NewClient(opts)
		body, size, err := safehttp.Fetch(ctx, client, target, f.maxBytes)
		if err != nil {
			client.CloseIdleConnections()
			return nil, -1, err
		}
		return fetchedBody{ReadCloser: body, client: client}, size, nil
	}
	file, err := os.Open(target)
	if err != nil {
		return nil, -1, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, -1, err
	}
	if st.IsDir() {
		file.Close()
		return nil, -1, fmt.Errorf("%s is a directory", target)
	}
	return file, st.Size(), nil
}

// fetchedBody closes the client's connections with the body: the command
// fetches one file and keeps no idle connection behind.
type fetchedBody struct {
	io.ReadCloser
	client interface{ CloseIdleConnections() }
}

// Close closes the body and the idle connections.
func (b fetchedBody) Close() error {
	err := b.ReadCloser.Close()
	b.client.CloseIdleConnections()
	return err
}

// tooLarge reports whether err says the input is over the size limit.
func tooLarge(err error) bool {
	var a *csvcheck.TooLargeError
	var b *safehttp.TooLargeError
	return errors.As(err, &a) || errors.As(err, &b)
}

// tooLargeResult is the result for a URL refused by its Content-Length.
func tooLargeResult(err error) csvcheck.Result {
	res := csvcheck.Result{
		Problems:     []csvcheck.Problem{{Line: 0, Reason: err.Error()}},
		ProblemCount: 1,
	}
	var b *safehttp.TooLargeError
	if errors.As(err, &b) {
		res.Bytes = max(b.Size, 0)
		res.Problems[0].Reason = b.Error()
	}
	return res
}

// checkJSON is the contract output of segq check --json (DESIGN §8).
type checkJSON struct {
	Valid       bool               `json:"valid"`
	ValuesFound int64              `json:"values_found"`
	ValuesValid int64              `json:"values_valid"`
	Bytes       int64              `json:"bytes"`
	SHA256      string             `json:"sha256"`
	Problems    []csvcheck.Problem `json:"problems"`
}

func printCheckJSON(w io.Writer, r csvcheck.Result) error {
	problems := r.Problems
	if problems == nil {
		problems = []csvcheck.Problem{}
	}
	return json.NewEncoder(w).Encode(checkJSON{
		Valid: r.Valid, ValuesFound: r.ValuesFound, ValuesValid: r.ValuesValid,
		Bytes: r.Bytes, SHA256: r.SHA256, Problems: problems,
	})
}

func printCheckHuman(w io.Writer, target string, r csvcheck.Result, mode csvcheck.Mode) error {
	verdict := "valid"
	switch {
	case !r.Valid && r.Accepted:
		verdict = fmt.Sprintf("%s, accepted in lenient mode (MoEngage skips invalid values)", plural(r.ProblemCount, "problem"))
	case !r.Valid:
		verdict = fmt.Sprintf("%s, not accepted in %s mode", plural(r.ProblemCount, "problem"), mode)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n", target, verdict)
	fmt.Fprintf(&b, "  values found  %s\n", thousands(r.ValuesFound))
	fmt.Fprintf(&b, "  values valid  %s  (the users this file counts for)\n", thousands(r.ValuesValid))
	fmt.Fprintf(&b, "  bytes         %s\n", thousands(r.Bytes))
	if r.SHA256 != "" {
		fmt.Fprintf(&b, "  sha256        %s\n", r.SHA256)
	}
	if r.Header {
		b.WriteString("  header        line 1 is the attribute name (not counted)\n")
	}
	for _, p := range r.Problems {
		if p.Line == 0 {
			fmt.Fprintf(&b, "  file: %s\n", p.Reason)
		} else {
			fmt.Fprintf(&b, "  line %d: %s\n", p.Line, p.Reason)
		}
	}
	if more := r.ProblemCount - int64(len(r.Problems)); more > 0 {
		word := "problems"
		if more == 1 {
			word = "problem"
		}
		fmt.Fprintf(&b, "  ... and %s more %s\n", thousands(more), word)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return thousands(n) + " " + word + "s"
}

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// progressBar draws a bar on a terminal stderr for large inputs, at most
// ten times a second; otherwise it does nothing.
type progressBar struct {
	w     io.Writer
	total int64
	on    bool
	last  time.Time
}

func newProgressBar(w io.Writer, total int64) *progressBar {
	f, ok := w.(*os.File)
	on := ok && (total < 0 || total >= progressMinBytes) && isTerminal(f)
	return &progressBar{w: w, total: total, on: on}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progressBar) update(n int64) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\rchecking: %s MB", thousands(n>>20))
		return
	}
	const width = 30
	filled := int(min(n, p.total) * width / p.total)
	fmt.Fprintf(p.w, "\r[%s%s] %3d%% %s/%s MB", strings.Repeat("#", filled), strings.Repeat(" ", width-filled),
		min(n, p.total)*100/p.total, thousands(n>>20), thousands(p.total>>20))
}

// done clears the bar.
func (p *progressBar) done() {
	if p.on && !p.last.IsZero() {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 60))
	}
}

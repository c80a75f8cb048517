// Package csvcheck validates and counts MoEngage file-segment CSV files in
// one streaming pass: one value per line, no commas, quotes, special
// characters, empty rows or duplicates, and numbers for "double"
// attributes. It reports how many values a file holds (the user count the
// limiter spends), its SHA-256, and the first problems with line numbers.
package csvcheck

import (
	"fmt"
	"io"
)

// Problem is one rule a file breaks, at a 1-based line number. Line 0 is a
// problem with the whole file (no values, too large).
type Problem struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

// Result is what Check learned about a file.
type Result struct {
	// Valid is true when the file breaks no rule, whatever the mode.
	Valid bool `json:"valid"`
	// Accepted says whether Options.Mode lets the file through: strict
	// accepts only a valid file, lenient any file with a valid value.
	Accepted bool `json:"accepted"`
	// ValuesFound counts the lines after the header, empty ones included,
	// as the upstream's values_found does.
	ValuesFound int64 `json:"values_found"`
	// ValuesValid counts the values that break no rule, each distinct value
	// once. It is the number of users the job is weighed as.
	ValuesValid int64 `json:"values_valid"`
	// Bytes is the size of the file read, BOM included.
	Bytes int64 `json:"bytes"`
	// SHA256 is the hex SHA-256 of the bytes read.
	SHA256 string `json:"sha256"`
	// Problems lists the first Options.MaxProblems problems in line order;
	// never nil.
	Problems []Problem `json:"problems"`
	// ProblemCount counts every problem, listed or not.
	ProblemCount int64 `json:"problem_count"`
	// Header is true when the first line was the attribute name.
	Header bool `json:"header,omitempty"`
	// Exact is true when duplicates were found by comparing whole values
	// rather than 64-bit hashes.
	Exact bool `json:"exact"`
}

// TooLargeError is returned by Check when the input is longer than
// Options.MaxBytes. Reading stops at the limit.
type TooLargeError struct {
	Limit int64
}

// Error says the file is over the limit.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("file is larger than the limit of %d bytes", e.Limit)
}

// ReadError is returned by Check when reading the input fails.
type ReadError struct {
	Err error
}

// Error describes the read failure.
func (e *ReadError) Error() string { return "read file: " + e.Err.Error() }

// Unwrap returns the reader's error.
func (e *ReadError) Unwrap() error { return e.Err }

// Check reads r to the end and checks it against the segment file rules.
// Rule violations are reported in the Result, not as an error. The error is
// a *ReadError when r fails, a *TooLargeError when r holds more than
// Options.MaxBytes (the Result then also lists it as a problem), or an
// error naming a bad Options field.
func Check(r io.Reader, opts Options) (Result, error) {
	return check(r, opts, exactLimit)
}

// check is Check with the number of distinct values kept exactly before the
// switch to hashes (tests lower it to exercise the hashed path).
func check(r io.Reader, opts Options, exactMax int) (Result, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return Result{Problems: []Problem{}}, err
	}
	c := newChecker(opts, exactMax)
	err := c.run(r)
	return c.result(), err
}

package moesim

import (
	"bytes"
	"strconv"
)

// maxValueBytes caps how much of one row is kept to parse it as a number;
// a longer row still counts as a value but is not a valid double.
const maxValueBytes = 1024

// valueCounter counts the rows of a single-column file as it streams by.
// A row is a line (LF or CRLF); a last line without a newline counts too.
// Rows are taken as they are: there is no header row, and duplicates are
// not merged.
type valueCounter struct {
	double    bool
	found     int64 // rows
	users     int64 // non-empty rows
	processed int64 // non-empty rows, and numbers when double
	line      []byte
	long      bool // the current row is over maxValueBytes
	open      bool // bytes seen since the last newline
}

// Write consumes a chunk of the file.
func (c *valueCounter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.keep(p)
			break
		}
		c.keep(p[:i])
		c.endRow()
		p = p[i+1:]
	}
	return n, nil
}

func (c *valueCounter) keep(b []byte) {
	if len(b) == 0 {
		return
	}
	c.open = true
	if room := maxValueBytes - len(c.line); len(b) > room {
		c.line = append(c.line, b[:max(room, 0)]...)
		c.long = true
		return
	}
	c.line = append(c.line, b...)
}

func (c *valueCounter) endRow() {
	c.found++
	v := bytes.TrimSpace(c.line) // also drops the CR of CRLF
	if len(v) > 0 || c.long {
		c.users++
		if !c.double || (!c.long && isNumber(v)) {
			c.processed++
		}
	}
	c.line, c.long, c.open = c.line[:0], false, false
}

// finish counts a last row that has no newline.
func (c *valueCounter) finish() {
	if c.open {
		c.endRow()
	}
}

func isNumber(v []byte) bool {
	_, err := strconv.ParseFloat(string(v), 64)
	return err == nil
}

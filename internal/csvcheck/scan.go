package csvcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"unsafe"
)

// hashSeed seeds the 64-bit hashes of string values. It is random per
// process, so no input can be crafted to collide, and a false duplicate
// (odds in docs/csvcheck.md) does not repeat on the next check.
var hashSeed = maphash.MakeSeed()

// utf8BOM is the byte order mark some editors put at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// checker holds the state of one Check.
type checker struct {
	opts     Options
	table    *[256]uint8
	pairs    *[1 << 16]uint8 // class of two bytes at once: table[lo] | table[hi]
	isDouble bool

	lineNo   int64
	found    int64
	bytes    int64
	header   bool
	over     bool // input exceeded MaxBytes
	started  bool
	carry    []byte
	carryLen int // true length of the pending partial line (carry is capped)

	exact    map[string]struct{} // nil once values are hashed
	exactMax int                 // distinct values kept exactly; <0: no cap
	hashes   *dedupStage         // nil while values are kept exactly
	resolved *dedupSet           // set by finish when values were hashed

	problems     []Problem // line problems other than hashed duplicates
	fileProblems []Problem // line 0
	problemCount int64     // of problems and fileProblems
	sha          string
}

func newChecker(opts Options, exactMax int) *checker {
	table := charTable(opts)
	c := &checker{
		opts:     opts,
		table:    table,
		pairs:    cachedPairTable(opts, table),
		isDouble: opts.AttributeType == TypeDouble,
		exactMax: exactMax,
		problems: []Problem{},
	}
	if opts.Exact {
		c.exactMax = -1
	}
	if c.isDouble || c.exactMax == 0 {
		c.hashes = newDedupStage(opts.MaxProblems)
		c.hashes.start()
	} else {
		c.exact = make(map[string]struct{})
	}
	return c
}

// scan checks every complete line of data and keeps the last partial line.
func (c *checker) scan(data []byte) {
	if !c.started {
		c.started = true
		data = bytes.TrimPrefix(data, utf8BOM)
	}
	if c.carryLen > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			c.keep(data)
			return
		}
		c.keep(data[:i])
		c.carryLine()
		data = data[i+1:]
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		c.line(data[:i])
		data = data[i+1:]
	}
	c.keep(data)
}

// keep appends part of a line that continues in the next chunk.
func (c *checker) keep(b []byte) {
	if len(b) == 0 {
		return
	}
	// Keep one byte more than a line may have, plus one for a CR.
	room := MaxLineBytes + 2 - len(c.carry)
	c.carry = append(c.carry, b[:min(room, len(b))]...)
	c.carryLen += len(b)
}

// carryLine checks the line assembled in carry.
func (c *checker) carryLine() {
	if c.carryLen > MaxLineBytes+1 { // too long even without a trailing CR
		c.lineNo++
		c.found++
		c.problem(fmt.Sprintf("line longer than %d bytes", MaxLineBytes))
	} else {
		c.line(c.carry)
	}
	c.carry = c.carry[:0]
	c.carryLen = 0
}

// finish checks a last line without newline and settles pending values.
func (c *checker) finish() {
	if c.carryLen > 0 {
		c.carryLine()
	}
	if c.hashes != nil {
		c.resolved = c.hashes.finish()
	}
	if c.found == 0 {
		c.fileProblem("file has no values")
	}
}

// line checks one line without its newline.
func (c *checker) line(b []byte) {
	c.lineNo++
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	if c.lineNo == 1 && c.opts.AttributeName != "" && string(b) == c.opts.AttributeName {
		c.header = true
		return
	}
	c.found++
	if len(b) == 0 {
		c.problem("empty line")
		return
	}
	if len(b) > MaxLineBytes {
		c.problem(fmt.Sprintf("line longer than %d bytes", MaxLineBytes))
		return
	}
	if cls := c.classify(b); cls != clsOK {
		c.problem(c.charReason(b, cls))
		return
	}
	if c.isDouble {
		c.number(b)
		return
	}
	c.value(b)
}

// classify returns the union of the classes of b's bytes, eight at a time.
func (c *checker) classify(b []byte) uint8 {
	cls, p := uint8(0), c.pairs
	for len(b) >= 8 {
		v := binary.LittleEndian.Uint64(b)
		cls |= p[uint16(v)] | p[uint16(v>>16)] | p[uint16(v>>32)] | p[v>>48]
		b = b[8:]
	}
	t := c.table
	for _, ch := range b {
		cls |= t[ch]
	}
	return cls
}

// number checks and records a double value. Equal numbers written
// differently ("1", "1.0") are duplicates; the set of float64 bits through a
// bijective mixer is exact.
func (c *checker) number(b []byte) {
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		c.problem("number out of range")
		return
	case err != nil:
		c.problem("not a number")
		return
	}
	if f == 0 {
		f = 0 // -0 and 0 are one value
	}
	c.hashes.add(mix64(math.Float64bits(f)), c.lineNo)
}

// value records a string value, exactly while the file is small.
func (c *checker) value(b []byte) {
	if c.exact == nil {
		c.hashes.add(maphash.Bytes(hashSeed, b), c.lineNo)
		return
	}
	if _, dup := c.exact[string(b)]; dup {
		c.problem("duplicate value")
		return
	}
	if c.exactMax >= 0 && len(c.exact) >= c.exactMax {
		c.toHashes()
		c.hashes.add(maphash.Bytes(hashSeed, b), c.lineNo)
		return
	}
	c.exact[string(b)] = struct{}{}
}

// toHashes moves the exact set into a dedupSet.
func (c *checker) toHashes() {
	s := newDedupStage(c.opts.MaxProblems)
	for k := range c.exact {
		s.set.addDistinct(maphash.String(hashSeed, k))
	}
	s.start()
	c.hashes = s
	c.exact = nil
}

// problem records a problem on the current line.
func (c *checker) problem(reason string) {
	c.problemCount++
	if len(c.problems) < c.opts.MaxProblems {
		c.problems = append(c.problems, Problem{Line: c.lineNo, Reason: reason})
	}
}

// fileProblem records a problem with the whole file (line 0).
func (c *checker) fileProblem(reason string) {
	c.problemCount++
	c.fileProblems = append(c.fileProblems, Problem{Line: 0, Reason: reason})
}

// listProblems merges file problems, line problems and hashed duplicates
// in line order, keeping the first MaxProblems (file problems always).
func (c *checker) listProblems() []Problem {
	out := append([]Problem{}, c.fileProblems...)
	var dups []int64
	if c.resolved != nil {
		c.resolved.dups.trim()
		dups = c.resolved.dups.lines
	}
	ps := c.problems
	for len(out) < c.opts.MaxProblems && (len(ps) > 0 || len(dups) > 0) {
		if len(dups) == 0 || (len(ps) > 0 && ps[0].Line < dups[0]) {
			out = append(out, ps[0])
			ps = ps[1:]
		} else {
			out = append(out, Problem{Line: dups[0], Reason: "duplicate value"})
			dups = dups[1:]
		}
	}
	return out
}

// charReason explains why a value failed the character table.
func (c *checker) charReason(b []byte, cls uint8) string {
	switch {
	case cls&clsComma != 0:
		if bytes.IndexByte(b, ',') == len(b)-1 {
			return "value ends with a comma"
		}
		return "more than one column (comma inside value)"
	case cls&clsQuote != 0:
		return "value contains a quote"
	case cls&clsCR != 0:
		return "carriage return inside value"
	case c.isDouble:
		return "not a number"
	}
	for _, ch := range b {
		if c.table[ch] == clsOK {
			continue
		}
		switch {
		case ch >= 0x80:
			return fmt.Sprintf("non-ASCII byte 0x%02X", ch)
		case ch == ' ':
			return "value contains a space"
		case ch < ' ' || ch == 0x7f:
			return fmt.Sprintf("control character 0x%02X", ch)
		default:
			return fmt.Sprintf("special character %q", rune(ch))
		}
	}
	return "invalid value"
}

// result assembles the Result.
func (c *checker) result() Result {
	r := Result{
		ValuesFound:  c.found,
		Bytes:        c.bytes,
		SHA256:       c.sha,
		Problems:     c.listProblems(),
		ProblemCount: c.problemCount,
		Header:       c.header,
		Exact:        c.exact != nil || c.isDouble,
	}
	if c.exact != nil {
		r.ValuesValid = int64(len(c.exact))
	} else {
		r.ValuesValid = c.resolved.distinct
		r.ProblemCount += c.resolved.dups.count
	}
	r.Valid = r.ProblemCount == 0
	if c.opts.Mode == Lenient {
		r.Accepted = r.ValuesValid > 0 && !c.over
	} else {
		r.Accepted = r.Valid
	}
	return r
}

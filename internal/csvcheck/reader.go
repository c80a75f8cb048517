package csvcheck

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
)

// chunkPool recycles read buffers between checks: zeroing a fresh 1 MiB
// buffer costs more than checking a small file.
var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// chunkSize is the size of one read. Large reads keep syscalls and
// per-chunk work negligible.
const chunkSize = 1 << 20

// chunkBuffers is how many chunks may be in flight between the reading
// goroutine and the line scanner.
const chunkBuffers = 4

// chunk is a piece of input handed from the reader to the scanner. The last
// chunk carries the reason reading stopped.
type chunk struct {
	data []byte
	err  error // io.EOF, *ReadError or *TooLargeError on the last chunk
}

// reader reads the input and computes its SHA-256 on its own goroutine, so
// that copying from the kernel and hashing (about 1.5 GB/s with SHA-NI)
// overlap with line checking on another core. Buffers go back and forth
// through channels; the scanner returns each buffer when it is done with
// it, so the reader never overwrites bytes being scanned.
type reader struct {
	r     io.Reader
	limit int64
	free  chan []byte
	out   chan chunk
	sum   string
	bufs  []*[chunkSize]byte // every buffer taken from chunkPool
}

// startReader starts reading r. The caller must receive from out until it
// is closed; sum is set by then.
func startReader(r io.Reader, limit int64) *reader {
	rd := &reader{
		r:     r,
		limit: limit,
		free:  make(chan []byte, chunkBuffers),
		out:   make(chan chunk, chunkBuffers),
	}
	go rd.loop()
	return rd
}

func (rd *reader) loop() {
	defer close(rd.out)
	h := sha256.New()
	allocated, total := 0, int64(0)
	for {
		var buf []byte
		select {
		case buf = <-rd.free:
		default:
			if allocated < chunkBuffers {
				allocated++
				b := chunkPool.Get().(*[chunkSize]byte)
				rd.bufs = append(rd.bufs, b)
				buf = b[:]
			} else {
				buf = <-rd.free
			}
		}
		if room := rd.limit + 1 - total; int64(len(buf)) > room {
			buf = buf[:room]
		}
		n, err := fill(rd.r, buf)
		switch {
		case total+int64(n) > rd.limit:
			n = int(rd.limit - total)
			err = &TooLargeError{Limit: rd.limit}
		case errors.Is(err, io.EOF):
			err = io.EOF
		case err != nil:
			err = &ReadError{Err: err}
		}
		total += int64(n)
		h.Write(buf[:n])
		if err != nil {
			rd.sum = hex.EncodeToString(h.Sum(nil))
		}
		rd.out <- chunk{data: buf[:n], err: err}
		if err != nil {
			return
		}
	}
}

// recycle returns the buffers to the pool once the reader has stopped and
// every chunk has been scanned.
func (rd *reader) recycle() {
	for _, b := range rd.bufs {
		chunkPool.Put(b)
	}
	rd.bufs = nil
}

// release gives a scanned buffer back to the reader.
func (rd *reader) release(b []byte) {
	select {
	case rd.free <- b[:cap(b)]:
	default: // the reader has stopped
	}
}

// fill reads into b until it is full, r is exhausted or r fails.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// run reads r to the end, scanning lines as chunks arrive.
func (c *checker) run(r io.Reader) error {
	rd := startReader(r, c.opts.MaxBytes)
	var err error
	for ch := range rd.out {
		if len(ch.data) > 0 {
			c.bytes += int64(len(ch.data))
			c.scan(ch.data)
			if c.opts.Progress != nil {
				c.opts.Progress(c.bytes)
			}
		}
		rd.release(ch.data)
		err = ch.err
	}
	c.sha = rd.sum
	rd.recycle()
	c.finish()
	if tl := (*TooLargeError)(nil); errors.As(err, &tl) {
		c.over = true
		c.fileProblem(fmt.Sprintf("file is larger than %d bytes", tl.Limit))
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

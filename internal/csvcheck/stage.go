package csvcheck

import "sync"

// batchPool recycles hash batches between checks.
var batchPool = sync.Pool{New: func() any {
	return &hashBatch{hash: make([]uint64, 0, batchLen), line: make([]uint32, 0, batchLen)}
}}

// batchLen is how many hashes the scanner hands to the dedup goroutine at
// once, and stageBatches how many batches circulate between them.
const (
	batchLen     = 4096
	stageBatches = 4
)

// hashBatch is a run of hashed values and their line numbers.
type hashBatch struct {
	hash []uint64
	line []uint32
}

// dedupStage runs a dedupSet on its own goroutine, so that duplicate
// detection overlaps with scanning (the reader hashes the file on a third
// goroutine). Batches go back and forth through channels, as chunks do
// between the reader and the scanner.
type dedupStage struct {
	set     dedupSet
	cur     *hashBatch
	work    chan *hashBatch
	free    chan *hashBatch
	done    chan struct{}
	batches []*hashBatch // every batch taken from batchPool
}

// newDedupStage returns a stage that keeps the first maxProblems
// duplicate lines. Hashes known to be distinct may be added to its set
// before start.
func newDedupStage(maxProblems int) *dedupStage {
	return &dedupStage{
		set:  dedupSet{dups: lineSet{limit: maxProblems}},
		work: make(chan *hashBatch, stageBatches),
		free: make(chan *hashBatch, stageBatches),
		done: make(chan struct{}),
	}
}

// start launches the goroutine; finish must be called.
func (s *dedupStage) start() {
	s.cur = s.get()
	go s.loop()
}

func (s *dedupStage) loop() {
	defer close(s.done)
	for b := range s.work {
		for i, h := range b.hash {
			s.set.add(h, int64(b.line[i]))
		}
		b.hash, b.line = b.hash[:0], b.line[:0]
		s.free <- b
	}
	s.set.finish()
}

// add queues a hashed value seen on line.
func (s *dedupStage) add(h uint64, line int64) {
	b := s.cur
	b.hash = append(b.hash, h)
	b.line = append(b.line, uint32(line))
	if len(b.hash) == batchLen {
		s.work <- b
		s.cur = s.get()
	}
}

func (s *dedupStage) get() *hashBatch {
	select {
	case b := <-s.free:
		return b
	default:
	}
	if len(s.batches) < stageBatches {
		b := batchPool.Get().(*hashBatch)
		s.batches = append(s.batches, b)
		return b
	}
	return <-s.free
}

// finish hands over the last values, waits for every verdict and returns
// the resolved set.
func (s *dedupStage) finish() *dedupSet {
	if len(s.cur.hash) > 0 {
		s.work <- s.cur
	}
	s.cur = nil
	close(s.work)
	<-s.done
	for _, b := range s.batches {
		b.hash, b.line = b.hash[:0], b.line[:0]
		batchPool.Put(b)
	}
	s.batches = nil
	return &s.set
}

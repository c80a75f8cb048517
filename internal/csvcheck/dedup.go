package csvcheck

import (
	"math/bits"
	"slices"
	"sync"
)

// blockPool recycles blocks between checks, sparing a long-running worker
// the page faults of fresh memory for every large file.
var blockPool = sync.Pool{New: func() any { return new(block) }}

// The duplicate finder stores 64-bit hashes, not values. Random lookups in
// one big hash table are slow on large inputs: each one misses the CPU
// caches and the TLB. Instead, each hash is appended, with its line, to one
// of numParts partitions (by its top bits), which is sequential writing; a
// partition is resolved later, all at once, in a small table that fits in
// the L2 cache. Resolving keeps the first occurrence of each hash and
// reports the later ones as duplicates.
const (
	partBits = 8
	numParts = 1 << partBits
	// blockLen is how many entries a block holds (6 KiB a block).
	blockLen = 512
	// minResolve is how many entries a partition gathers before it is
	// resolved early, to bound the memory of files with many duplicates.
	minResolve = 1 << 14
)

// block holds queued hashes and their line numbers.
type block struct {
	n    int
	hash [blockLen]uint64
	line [blockLen]uint32
}

// part is one partition: hashes already resolved (distinct, no lines
// needed) and blocks of hashes not yet resolved, in line order.
type part struct {
	cur      *block // last block of pending, being filled
	curN     int    // entries in cur
	queued   int
	distinct []uint64
	pending  []*block
}

// dedupSet finds repeated hashes in a stream in bounded, cache-friendly
// work: about 12 bytes per queued value and 8 bytes per distinct value.
type dedupSet struct {
	parts    [numParts]part
	free     []*block
	table    []uint64
	hasZero  bool
	distinct int64
	dups     lineSet
}

// add queues h, seen on line; its verdict comes when its partition is
// resolved.
func (d *dedupSet) add(h uint64, line int64) {
	if h == 0 { // 0 marks an empty table slot, so it is tracked on its own
		if d.hasZero {
			d.dups.add(line)
		} else {
			d.hasZero = true
			d.distinct++
		}
		return
	}
	p := &d.parts[h>>(64-partBits)]
	if p.curN == blockLen || p.cur == nil {
		if p.cur != nil {
			p.cur.n = p.curN
		}
		p.cur = d.newBlock()
		p.curN = 0
		p.pending = append(p.pending, p.cur)
	}
	p.cur.hash[p.curN] = h
	p.cur.line[p.curN] = uint32(line)
	p.curN++
	p.queued++
	if p.queued >= max(minResolve, len(p.distinct)) {
		d.resolve(p, true)
	}
}

// addDistinct records a hash known to be new (a value moved from the exact
// set).
func (d *dedupSet) addDistinct(h uint64) {
	if h == 0 {
		d.hasZero = true
	} else {
		p := &d.parts[h>>(64-partBits)]
		p.distinct = append(p.distinct, h)
	}
	d.distinct++
}

func (d *dedupSet) newBlock() *block {
	if n := len(d.free); n > 0 {
		b := d.free[n-1]
		d.free = d.free[:n-1]
		b.n = 0
		return b
	}
	b := blockPool.Get().(*block)
	b.n = 0
	return b
}

// resolve settles a partition's queued hashes against its distinct ones.
// With keep false the partition is not needed afterwards, so its distinct
// hashes are not stored.
func (d *dedupSet) resolve(p *part, keep bool) {
	if p.queued == 0 {
		return
	}
	p.cur.n = p.curN
	size := 1 << bits.Len(uint(2*(len(p.distinct)+p.queued)))
	if cap(d.table) < size {
		d.table = make([]uint64, size)
	}
	t := d.table[:size]
	clear(t)
	mask := uint64(size - 1)
	for _, h := range p.distinct {
		insertHash(t, mask, h)
	}
	for _, b := range p.pending {
		for i, h := range b.hash[:b.n] {
			if insertHash(t, mask, h) {
				if keep {
					p.distinct = append(p.distinct, h)
				}
				d.distinct++
			} else {
				d.dups.add(int64(b.line[i]))
			}
		}
		if keep {
			d.free = append(d.free, b)
		} else {
			blockPool.Put(b)
		}
	}
	clear(p.pending)
	p.pending = p.pending[:0]
	p.queued, p.cur, p.curN = 0, nil, 0
}

// insertHash adds a non-zero h to the power-of-two table t and reports
// whether it was absent. The low bits pick the slot; the top bits, which
// picked the partition, are the same for every hash in t.
func insertHash(t []uint64, mask, h uint64) bool {
	for i := h & mask; ; i = (i + 1) & mask {
		switch t[i] {
		case 0:
			t[i] = h
			return true
		case h:
			return false
		}
	}
}

// finish resolves every partition and drops the stored hashes.
func (d *dedupSet) finish() {
	for i := range d.parts {
		d.resolve(&d.parts[i], false)
		d.parts[i] = part{}
	}
	for _, b := range d.free {
		blockPool.Put(b)
	}
	d.free, d.table = nil, nil
}

// lineSet keeps the smallest limit line numbers added, in any order, and
// counts all of them.
type lineSet struct {
	limit int
	lines []int64
	count int64
}

func (s *lineSet) add(line int64) {
	s.count++
	if s.limit == 0 {
		return
	}
	s.lines = append(s.lines, line)
	if len(s.lines) >= 4*s.limit {
		s.trim()
	}
}

// trim sorts the lines and keeps the smallest limit.
func (s *lineSet) trim() {
	slices.Sort(s.lines)
	s.lines = s.lines[:min(len(s.lines), s.limit)]
}

// mix64 is the bijective finalizer of SplitMix64. It spreads the bits of a
// float64 so that the set of numbers stays exact and uniform.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

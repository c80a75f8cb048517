package limiter

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// never is the slot of a request that can never fit.
const never = int64(math.MaxInt64)

// spec is Limits resolved to integer milliseconds, as the scripts see them.
type spec struct {
	margin, grace, horizon, aging int64
	ops                           []winSpec
	users                         winSpec
	gauge                         int64
	maxLen                        int64 // longest window interval, margin included
}

// winSpec is one window: raw length (no margin) and capacity.
type winSpec struct{ length, max int64 }

func newSpec(lim Limits) spec {
	sp := spec{
		margin:  lim.SafetyMargin.Milliseconds(),
		grace:   lim.Grace.Milliseconds(),
		horizon: lim.Horizon.Milliseconds(),
		aging:   lim.Aging.Milliseconds(),
		users:   winSpec{lim.Users.Length.Milliseconds(), lim.Users.Max},
		gauge:   lim.ActiveSegments,
	}
	sp.maxLen = sp.users.length + sp.margin
	for _, w := range lim.Ops {
		sp.ops = append(sp.ops, winSpec{w.Length.Milliseconds(), w.Max})
		sp.maxLen = max(sp.maxLen, w.Length.Milliseconds()+sp.margin)
	}
	return sp
}

// args encodes the spec as the scripts' limit ARGV block: grace, maxLen
// (all that trimming and the fast paths read) and one string "margin
// horizon users_len users_max gauge_max n_ops len1 max1 ...", parsed only
// by scripts that search (fewer arguments make every call cheaper).
func (sp spec) args() []any {
	b := make([]byte, 0, 96)
	for _, n := range []int64{sp.margin, sp.horizon, sp.users.length, sp.users.max, sp.gauge, int64(len(sp.ops))} {
		b = append(strconv.AppendInt(b, n, 10), ' ')
	}
	for _, w := range sp.ops {
		b = append(strconv.AppendInt(b, w.length, 10), ' ')
		b = append(strconv.AppendInt(b, w.max, 10), ' ')
	}
	return []any{sp.grace, sp.maxLen, string(b)}
}

// winEntry is a reserved or committed request as the windows see it: every
// window interval starts at the slot.
type winEntry struct{ start, ops, users int64 }

// timeline holds the intervals of one workspace: window entries sorted by
// start, and the gauge intervals as sorted starts and sorted ends.
type timeline struct {
	win     []winEntry
	gStarts []int64
	gEnds   []int64
}

func (tl *timeline) addWin(e winEntry) {
	i, _ := slices.BinarySearchFunc(tl.win, e.start, func(a winEntry, t int64) int {
		if a.start <= t {
			return -1 // insert after equal starts
		}
		return 1
	})
	tl.win = slices.Insert(tl.win, i, e)
}

func (tl *timeline) addGauge(start, end int64) {
	i, _ := slices.BinarySearch(tl.gStarts, start)
	tl.gStarts = slices.Insert(tl.gStarts, i, start)
	j, _ := slices.BinarySearch(tl.gEnds, end)
	tl.gEnds = slices.Insert(tl.gEnds, j, end)
}

// need is what a request asks of each limit.
type need struct{ ops, users, gaugeLen int64 }

// constraint is one limit for one request: the bad set B (sorted disjoint
// [a,b) pairs, flattened) where the limit's count plus the request's weight
// exceeds the capacity, and the length of the request's interval in it.
type constraint struct {
	length int64
	bad    []int64
}

// constraints builds the constraints of request n against tl from t0 on.
func (tl *timeline) constraints(sp spec, n need, t0 int64) []constraint {
	var cs []constraint
	if n.ops > 0 {
		for _, w := range sp.ops {
			l := w.length + sp.margin
			cs = append(cs, constraint{l, badEqual(tl.win, func(e winEntry) int64 { return e.ops }, l, w.max, n.ops, t0)})
		}
	}
	if n.users > 0 {
		l := sp.users.length + sp.margin
		cs = append(cs, constraint{l, badEqual(tl.win, func(e winEntry) int64 { return e.users }, l, sp.users.max, n.users, t0)})
	}
	if n.gaugeLen > 0 && int64(len(tl.gEnds))+1 > sp.gauge {
		cs = append(cs, constraint{n.gaugeLen, badMerge(tl.gStarts, tl.gEnds, sp.gauge, 1)})
	}
	return cs
}

// badEqual is the bad set of a window whose intervals all have length l:
// entries sorted by start, so their ends are sorted too and the sweep is a
// merge. Intervals ending at or before t0 are skipped.
func badEqual(win []winEntry, weight func(winEntry) int64, l, limit, w, t0 int64) []int64 {
	var out []int64
	n := len(win)
	i := 0
	for i < n && win[i].start+l <= t0 {
		i++
	}
	j := i
	var c int64
	open, isOpen := int64(0), false
	for j < n {
		x := win[j].start + l
		if i < n && win[i].start < x {
			x = win[i].start
		}
		for i < n && win[i].start == x {
			c += weight(win[i])
			i++
		}
		for j < i && win[j].start+l == x {
			c -= weight(win[j])
			j++
		}
		out, open, isOpen = step(out, c+w > limit, x, open, isOpen)
	}
	if isOpen {
		out = append(out, open, never)
	}
	return out
}

// badMerge is the bad set of unit-weight intervals given as sorted starts
// and sorted ends (the gauge, whose intervals have different lengths).
func badMerge(starts, ends []int64, limit, w int64) []int64 {
	var out []int64
	var c int64
	open, isOpen := int64(0), false
	i, j := 0, 0
	for j < len(ends) {
		x := ends[j]
		if i < len(starts) && starts[i] < x {
			x = starts[i]
		}
		for i < len(starts) && starts[i] == x {
			c++
			i++
		}
		for j < len(ends) && ends[j] == x {
			c--
			j++
		}
		out, open, isOpen = step(out, c+w > limit, x, open, isOpen)
	}
	if isOpen {
		out = append(out, open, never)
	}
	return out
}

// step opens a bad interval at x when the sweep turns bad and closes it
// when it turns good.
func step(out []int64, bad bool, x, open int64, isOpen bool) ([]int64, int64, bool) {
	switch {
	case bad && !isOpen:
		return out, x, true
	case !bad && isOpen:
		return append(out, open, x), 0, false
	}
	return out, open, isOpen
}

// earliest is the smallest t >= t0 such that [t, t+length) misses every
// constraint's bad set: while t lies in (a-length, b) of some bad [a,b),
// jump to b; repeat over all constraints until nothing moves. Candidates are
// t0 and interval ends only, so integer milliseconds make it exact.
func earliest(t0 int64, cs []constraint) int64 {
	t := t0
	ptr := make([]int, len(cs))
	for moved := true; moved && t != never; {
		moved = false
		for k, c := range cs {
			p := ptr[k]
			for p < len(c.bad) && c.bad[p+1] <= t {
				p += 2
			}
			ptr[k] = p
			if p < len(c.bad) && c.bad[p] < t+c.length {
				t, moved = c.bad[p+1], true
				if t == never {
					break
				}
			}
		}
	}
	return t
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time {
	if v == 0 || v == never {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

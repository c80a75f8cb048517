package limiter

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// consistent checks that the indexes of a Lua snapshot agree with its
// entries: w holds reserved+committed, r reserved, q pending, and the three
// gauge structures hold the same ids.
func (s snapshot) consistent() error {
	want := map[string]map[string]int64{"w": {}, "r": {}, "q": {}}
	var users int64
	for id, raw := range s.entries {
		e, err := decodeEntry(id, raw)
		if err != nil {
			return err
		}
		switch e.status {
		case Pending:
			want["q"][id] = e.order
		case Reserved:
			want["r"][id] = e.slot
			fallthrough
		default:
			users += e.users
			want["w"][strconv.FormatInt(e.ops, 10)+":"+strconv.FormatInt(e.users, 10)+":"+id] = e.slot
		}
	}
	if users != s.usersSum {
		return fmt.Errorf("users sum key %d, entries say %d", s.usersSum, users)
	}
	got := map[string][]pair{"w": s.w, "r": s.r, "q": s.q}
	for name, ps := range got {
		m := map[string]int64{}
		for _, p := range ps {
			m[p.key] = p.score
		}
		if !maps.Equal(m, want[name]) {
			return fmt.Errorf("index %s = %v, entries say %v", name, m, want[name])
		}
	}
	ids := func(ps []pair) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.key)
		}
		slices.Sort(out)
		return out
	}
	gm := slices.Sorted(maps.Keys(s.gm))
	if !slices.Equal(ids(s.gz), ids(s.gs)) || !slices.Equal(ids(s.gz), gm) {
		return fmt.Errorf("gauge indexes disagree: gz %v gs %v gm %v", ids(s.gz), ids(s.gs), gm)
	}
	if err := s.boundsHold(); err != nil {
		return err
	}
	return s.headBound()
}

// headBound checks the h bound of the m hash: present only while q is not
// empty, and at least q's smallest score (the fast path puts a request
// ordering after h behind the head without reading q).
func (s snapshot) headBound() error {
	h, ok := s.bounds["h"]
	if !ok {
		return nil
	}
	if len(s.q) == 0 {
		return fmt.Errorf("head bound %s with an empty queue", h)
	}
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil {
		return fmt.Errorf("head bound: %w", err)
	}
	if lo := slices.MinFunc(s.q, func(a, b pair) int { return int(a.score - b.score) }).score; n < lo {
		return fmt.Errorf("head bound %d below the smallest order %d", n, lo)
	}
	return nil
}

// boundsHold checks the trimming bounds of the m hash: each known bound is
// at most the smallest score of its set, and "n" only for an empty set, so
// a script that skips trimming because of them skips nothing due.
func (s snapshot) boundsHold() error {
	for f, ps := range map[string][]pair{"r": s.r, "w": s.w, "g": s.gz} {
		b, ok := s.bounds[f]
		switch {
		case !ok:
		case b == "n" && len(ps) > 0:
			return fmt.Errorf("bound %s says empty, set has %d members", f, len(ps))
		case b != "n" && len(ps) > 0:
			n, err := strconv.ParseInt(b, 10, 64)
			if err != nil {
				return fmt.Errorf("bound %s: %w", f, err)
			}
			if lo := slices.MinFunc(ps, func(a, b pair) int { return int(a.score - b.score) }).score; n > lo {
				return fmt.Errorf("bound %s = %d above the smallest score %d", f, n, lo)
			}
		}
	}
	return nil
}

// interval is a weighted [start, end) for the brute-force checks.
type interval struct{ start, end, w int64 }

// limitIntervals returns, per limit of sp (ops windows, users, gauge), the
// intervals m holds and the capacity.
func limitIntervals(m *Model, sp spec) (names []string, ivs [][]interval, caps []int64) {
	for i, w := range sp.ops {
		var l []interval
		for _, e := range m.entries {
			if e.status != Pending && e.ops > 0 {
				l = append(l, interval{e.slot, e.slot + w.length + sp.margin, e.ops})
			}
		}
		names, ivs, caps = append(names, fmt.Sprintf("ops[%d]", i)), append(ivs, l), append(caps, w.max)
	}
	var u []interval
	for _, e := range m.entries {
		if e.status != Pending && e.users > 0 {
			u = append(u, interval{e.slot, e.slot + sp.users.length + sp.margin, e.users})
		}
	}
	names, ivs, caps = append(names, "users"), append(ivs, u), append(caps, sp.users.max)
	var g []interval
	for _, gi := range m.gauge {
		g = append(g, interval{gi.start, gi.end, 1})
	}
	return append(names, "gauge"), append(ivs, g), append(caps, sp.gauge)
}

// countAt is the weighted count of ivs at instant x.
func countAt(ivs []interval, x int64) int64 {
	var c int64
	for _, iv := range ivs {
		if iv.start <= x && x < iv.end {
			c += iv.w
		}
	}
	return c
}

// bruteCapacity checks every limit at every instant where a count can rise
// (every start), by brute force.
func bruteCapacity(m *Model, sp spec) error {
	names, all, caps := limitIntervals(m, sp)
	for k, ivs := range all {
		for _, iv := range ivs {
			if c := countAt(ivs, iv.start); c > caps[k] {
				return fmt.Errorf("%s: count %d > max %d at %d", names[k], c, caps[k], iv.start-t0)
			}
		}
	}
	return nil
}

// bruteEarliest is the earliest t >= from at which request e fits m, found
// by trying every candidate (from and every interval end) in order and
// checking each limit at t and at every start inside the request's interval.
func bruteEarliest(m *Model, sp spec, e *entry, from int64) int64 {
	_, all, caps := limitIntervals(m, sp)
	n := e.need(sp)
	type req struct{ w, length int64 }
	reqs := []req{}
	for range sp.ops {
		reqs = append(reqs, req{n.ops, 0})
	}
	for i, w := range sp.ops {
		reqs[i].length = w.length + sp.margin
	}
	reqs = append(reqs, req{n.users, sp.users.length + sp.margin}, req{1, n.gaugeLen})
	if n.gaugeLen == 0 {
		reqs[len(reqs)-1].w = 0
	}
	cands := []int64{from}
	for _, ivs := range all {
		for _, iv := range ivs {
			if iv.end > from {
				cands = append(cands, iv.end)
			}
		}
	}
	slices.Sort(cands)
	for _, t := range cands {
		if fitsAt(all, caps, t, func(k int) (int64, int64) { return reqs[k].w, reqs[k].length }) {
			return t
		}
	}
	return never
}

func fitsAt(all [][]interval, caps []int64, t int64, req func(k int) (w, length int64)) bool {
	for k, ivs := range all {
		w, length := req(k)
		if w == 0 {
			continue
		}
		points := []int64{t}
		for _, iv := range ivs {
			if iv.start > t && iv.start < t+length {
				points = append(points, iv.start)
			}
		}
		for _, x := range points {
			if countAt(ivs, x)+w > caps[k] {
				return false
			}
		}
	}
	return true
}

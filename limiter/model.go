package limiter

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Model is the plain-Go reference model of one workspace's limiter: the same
// semantics as the Lua scripts, with the clock passed in. Property tests hold
// the scripts against it, and Estimate runs it on a snapshot of Redis.
// A Model is not safe for concurrent use.
type Model struct {
	entries map[string]*entry
	gauge   map[string]gaugeInterval
	blocked int64
}

// entry is one request's record.
type entry struct {
	id     string
	status Status
	slot   int64 // 0 while pending
	order  int64
	enq    int64
	prio   Priority
	ops    int64
	users  int64
	hold   int64
	seg    string
}

// gaugeInterval is an active-segment unit held over [start, end) by request
// id for segment seg. The model keys it by gaugeKey, as Redis does.
type gaugeInterval struct {
	id         string
	start, end int64
	seg        string
}

// gaugeKey names a gauge interval: "id@slot", unique even if an ID is
// reserved again after its old record was trimmed.
func gaugeKey(id string, slot int64) string { return id + "@" + strconv.FormatInt(slot, 10) }

// NewModel returns an empty model.
func NewModel() *Model {
	return &Model{entries: map[string]*entry{}, gauge: map[string]gaugeInterval{}}
}

// Reserve is Limiter.Reserve at time now.
func (m *Model) Reserve(now time.Time, lim Limits, req Request) (Reservation, error) {
	if err := checkReserve(lim, req); err != nil {
		return Reservation{}, err
	}
	sp, t := newSpec(lim), ms(now)
	m.trim(t, sp)
	if e, ok := m.entries[req.ID]; ok {
		return e.reservation(), nil
	}
	e := &entry{
		id: req.ID, status: Pending, order: orderScore(ms(req.EnqueuedAt), req.Priority, lim.Aging),
		enq: ms(req.EnqueuedAt), prio: req.Priority, ops: min(req.Ops, 1), users: req.Users,
		hold: req.Hold.Milliseconds(), seg: req.Segment,
	}
	m.entries[e.id] = e
	if head := m.head(); head != e {
		return e.reservation(), nil
	}
	if slot := m.timeline().earliest(max(t, m.blocked), sp, e); slot <= t+sp.horizon {
		m.reserve(e, slot, sp)
	}
	return e.reservation(), nil
}

// Promote is Limiter.Promote at time now.
func (m *Model) Promote(now time.Time, lim Limits) ([]Reservation, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	sp, t := newSpec(lim), ms(now)
	m.trim(t, sp)
	var out []Reservation
	for e := m.head(); e != nil; e = m.head() {
		slot := m.timeline().earliest(max(t, m.blocked), sp, e)
		if slot > t+sp.horizon {
			break
		}
		m.reserve(e, slot, sp)
		out = append(out, e.reservation())
	}
	return out, nil
}

// Confirm is Limiter.Confirm at time now.
func (m *Model) Confirm(now time.Time, id string, slot time.Time, lim Limits) (ConfirmResult, error) {
	if err := lim.Validate(); err != nil {
		return ConfirmResult{}, err
	}
	sp, t, s := newSpec(lim), ms(now), ms(slot)
	m.trim(t, sp)
	res := ConfirmResult{At: fromMs(t)}
	e, ok := m.entries[id]
	switch {
	case !ok:
		res.Outcome = Lost
		return res, nil
	case e.status == Pending || e.slot != s:
		res.Outcome = Moved
	case e.status == Committed && t > s+sp.grace:
		res.Outcome = Lost
	case e.status == Reserved && t < s:
		res.Outcome, res.Slot = Wait, slot
	default:
		e.status = Committed
		res.Outcome, res.Slot = Go, slot
	}
	res.Reservation = e.reservation()
	return res, nil
}

// Cancel is Limiter.Cancel.
func (m *Model) Cancel(id string) error {
	e, ok := m.entries[id]
	switch {
	case !ok:
		return nil
	case e.status == Committed:
		return ErrCommitted
	case e.status == Reserved:
		m.unreserve(e)
	}
	delete(m.entries, id)
	return nil
}

// Block is Limiter.Block.
func (m *Model) Block(until time.Time) {
	m.blocked = max(m.blocked, ms(until))
	for _, e := range m.entries {
		if e.status == Reserved {
			m.unreserve(e)
			e.status, e.slot = Pending, 0
		}
	}
}

// ReleaseSegment is Limiter.ReleaseSegment: the gauge units of committed
// requests for segment are freed.
func (m *Model) ReleaseSegment(segment string) {
	for key, g := range m.gauge {
		if g.seg != segment {
			continue
		}
		if e, ok := m.entries[g.id]; !ok || e.status == Committed {
			delete(m.gauge, key)
		}
	}
}

// Reserved is Limiter.Reserved: uncommitted reservations by slot, then ID.
func (m *Model) Reserved() []Reservation {
	var es []*entry
	for _, e := range m.entries {
		if e.status == Reserved {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.slot, b.slot), cmp.Compare(a.id, b.id))
	})
	out := make([]Reservation, len(es))
	for i, e := range es {
		out[i] = e.reservation()
	}
	return out
}

func checkReserve(lim Limits, req Request) error {
	if err := lim.Validate(); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	return CheckWeight(lim, req)
}

func (e *entry) reservation() Reservation {
	r := Reservation{ID: e.id, Status: e.status}
	if e.status != Pending {
		r.Slot = fromMs(e.slot)
		r.ETA = r.Slot
	}
	return r
}

func (e *entry) need(sp spec) need {
	n := need{ops: e.ops, users: e.users}
	if e.hold > 0 {
		n.gaugeLen = e.hold + sp.margin
	}
	return n
}

// before reports whether a orders before b among pending requests.
func (a *entry) before(b *entry) bool {
	return a.order < b.order || (a.order == b.order && a.id < b.id)
}

// head is the first pending entry, or nil.
func (m *Model) head() *entry {
	var h *entry
	for _, e := range m.entries {
		if e.status == Pending && (h == nil || e.before(h)) {
			h = e
		}
	}
	return h
}

func (m *Model) reserve(e *entry, slot int64, sp spec) {
	e.status, e.slot = Reserved, slot
	if e.hold > 0 {
		m.gauge[gaugeKey(e.id, slot)] = gaugeInterval{id: e.id, start: slot, end: slot + e.hold + sp.margin, seg: e.seg}
	}
}

// unreserve removes e's intervals (not its record).
func (m *Model) unreserve(e *entry) {
	if e.hold > 0 {
		delete(m.gauge, gaugeKey(e.id, e.slot))
	}
}

// trim drops what can no longer matter: uncommitted reservations past their
// grace, records whose windows all ended, gauge intervals that ended.
func (m *Model) trim(t int64, sp spec) {
	for id, e := range m.entries {
		switch {
		case e.status == Reserved && e.slot < t-sp.grace:
			m.unreserve(e)
			delete(m.entries, id)
		case e.status != Pending && e.slot <= t-sp.maxLen:
			delete(m.entries, id)
		}
	}
	for id, g := range m.gauge {
		if g.end <= t {
			delete(m.gauge, id)
		}
	}
}

// timeline collects the model's intervals.
func (m *Model) timeline() *timeline {
	tl := &timeline{}
	for _, e := range m.entries {
		if e.status != Pending {
			tl.win = append(tl.win, winEntry{e.slot, e.ops, e.users})
		}
	}
	slices.SortFunc(tl.win, func(a, b winEntry) int { return cmp.Compare(a.start, b.start) })
	for _, g := range m.gauge {
		tl.gStarts = append(tl.gStarts, g.start)
		tl.gEnds = append(tl.gEnds, g.end)
	}
	slices.Sort(tl.gStarts)
	slices.Sort(tl.gEnds)
	return tl
}

// earliest is the earliest slot >= t0 for e.
func (tl *timeline) earliest(t0 int64, sp spec, e *entry) int64 {
	return earliest(t0, tl.constraints(sp, e.need(sp), t0))
}

// clone deep-copies m.
func (m *Model) clone() *Model {
	c := NewModel()
	c.blocked = m.blocked
	for id, e := range m.entries {
		cp := *e
		c.entries[id] = &cp
	}
	maps.Copy(c.gauge, m.gauge)
	return c
}

package limiter

import (
	"cmp"
	"slices"
	"time"
)

// Usage is one workspace's use of its limits at a moment, for GET /v1/limits
// and `segq status`. Committed and reserved ops count from their slot.
type Usage struct {
	// At is the Redis time the usage was read.
	At time.Time `json:"at"`
	// Ops has one entry per count window of Limits.Ops, in the same order:
	// ops whose slot lies in (At-Length, At].
	Ops []WindowUsage `json:"ops"`
	// Users are the users of ops whose slot lies in (At-Length, At].
	Users WindowUsage `json:"users"`
	// ActiveSegments are the gauge units held at At, against their limit.
	ActiveSegments      int64 `json:"active_segments"`
	ActiveSegmentsLimit int64 `json:"active_segments_limit"`
	// NextSlot is the earliest slot a 1-op, 1-user request without a hold
	// would get, ignoring pending requests; zero if none can ever fit.
	NextSlot time.Time `json:"next_slot_at,omitzero"`
	// Reserved and Pending count uncommitted reservations and pending requests.
	Reserved int64 `json:"reserved"`
	Pending  int64 `json:"pending"`
	// BlockedUntil is set while an upstream 429 blocks the workspace.
	BlockedUntil time.Time `json:"blocked_until,omitzero"`
}

// WindowUsage is the use of one rolling window.
type WindowUsage struct {
	// Length is the window; Window is the same as text, e.g. "1h0m0s".
	Length time.Duration `json:"-"`
	Window string        `json:"window"`
	Used   int64         `json:"used"`
	Max    int64         `json:"max"`
}

// rawUsage is usage as integers, the shape the usage script returns.
type rawUsage struct {
	now, users, active, next, reserved, pending, blocked int64
	ops                                                  []int64
}

func (r rawUsage) usage(lim Limits) Usage {
	u := Usage{
		At:                  fromMs(r.now),
		Users:               windowUsage(lim.Users, r.users),
		ActiveSegments:      r.active,
		ActiveSegmentsLimit: lim.ActiveSegments,
		Reserved:            r.reserved,
		Pending:             r.pending,
		Ops:                 make([]WindowUsage, len(lim.Ops)),
	}
	for i, w := range lim.Ops {
		u.Ops[i] = windowUsage(w, r.ops[i])
	}
	if r.next >= 0 {
		u.NextSlot = fromMs(r.next)
	}
	if r.blocked > r.now {
		u.BlockedUntil = fromMs(r.blocked)
	}
	return u
}

func windowUsage(w Window, used int64) WindowUsage {
	return WindowUsage{Length: w.Length, Window: w.Length.String(), Used: used, Max: w.Max}
}

// Usage is Limiter.Usage at time now.
func (m *Model) Usage(now time.Time, lim Limits) (Usage, error) {
	if err := lim.Validate(); err != nil {
		return Usage{}, err
	}
	sp, t := newSpec(lim), ms(now)
	m.trim(t, sp)
	r := rawUsage{now: t, blocked: m.blocked, ops: make([]int64, len(sp.ops))}
	for _, e := range m.entries {
		switch e.status {
		case Pending:
			r.pending++
			continue
		case Reserved:
			r.reserved++
		}
		if e.slot > t {
			continue
		}
		for i, w := range sp.ops {
			if e.slot > t-w.length {
				r.ops[i] += e.ops
			}
		}
		if e.slot > t-sp.users.length {
			r.users += e.users
		}
	}
	for _, g := range m.gauge {
		if g.start <= t {
			r.active++
		}
	}
	r.next = nextSlot(m.timeline(), sp, max(t, m.blocked))
	return r.usage(lim), nil
}

// nextSlot is the earliest slot of a 1-op, 1-user request without hold, or
// -1 when such a request can never fit.
func nextSlot(tl *timeline, sp spec, t0 int64) int64 {
	for _, w := range sp.ops {
		if w.max < 1 {
			return -1
		}
	}
	if sp.users.max < 1 {
		return -1
	}
	s := earliest(t0, tl.constraints(sp, need{ops: 1, users: 1}, t0))
	if s == never {
		return -1
	}
	return s
}

// Estimate is Limiter.Estimate at time now: the slot of every uncommitted
// reservation, and for pending requests the slot each would get if nothing
// else changed. Pending requests are placed in order; each is handed its
// slot once the horizon reaches it, so a later request never starts its
// search before the time its predecessor was promoted. Requests that can
// never fit (and all behind them) get no ETA.
func (m *Model) Estimate(now time.Time, lim Limits) (map[string]time.Time, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	sp, t := newSpec(lim), ms(now)
	m = m.clone()
	m.trim(t, sp)
	out := map[string]time.Time{}
	var pending []*entry
	for _, e := range m.entries {
		switch e.status {
		case Reserved:
			out[e.id] = fromMs(e.slot)
		case Pending:
			pending = append(pending, e)
		}
	}
	slices.SortFunc(pending, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.order, b.order), cmp.Compare(a.id, b.id))
	})
	tl := m.timeline()
	for _, e := range pending {
		s := tl.earliest(max(t, m.blocked), sp, e)
		if s == never {
			break
		}
		out[e.id] = fromMs(s)
		t = max(t, s-sp.horizon)
		tl.addWin(winEntry{s, e.ops, e.users})
		if e.hold > 0 {
			tl.addGauge(s, s+e.hold+sp.margin)
		}
	}
	return out, nil
}

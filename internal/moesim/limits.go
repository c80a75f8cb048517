package moesim

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// event is one accepted op as the limits see it.
type event struct {
	at    time.Time
	users int64
}

// breach describes the limit a request would exceed, for the 429 headers.
type breach struct {
	limit     int64
	remaining int64
	reset     time.Time // zero when unknown (a request heavier than the window)
}

// later keeps the breach whose window frees up last: the request cannot
// pass before every breached limit allows it.
func later(a, b *breach) *breach {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.reset.IsZero() || (!a.reset.IsZero() && b.reset.After(a.reset)):
		return b
	}
	return a
}

// inWindow returns the events of (now-length, now], oldest first.
func inWindow(events []event, length time.Duration, now time.Time) []event {
	from := now.Add(-length)
	i, _ := slices.BinarySearchFunc(events, from, func(e event, t time.Time) int {
		if e.at.After(t) {
			return 1
		}
		return -1
	})
	return events[i:]
}

// checkCount reports whether one more event breaches w. When it does, the
// reset is the moment enough old events have left the window.
func checkCount(events []event, w Window, now time.Time) *breach {
	in := inWindow(events, w.Length, now)
	n := int64(len(in))
	if n+1 <= w.Max {
		return nil
	}
	// n+1-Max events must leave; the last of them leaves at its time+Length.
	k := n + 1 - w.Max
	return &breach{limit: w.Max, remaining: 0, reset: in[k-1].at.Add(w.Length)}
}

// checkUsers reports whether an op of users users breaches the users window.
func checkUsers(events []event, w Window, users int64, now time.Time) *breach {
	if w.Length <= 0 {
		return nil
	}
	in := inWindow(events, w.Length, now)
	var sum int64
	for _, e := range in {
		sum += e.users
	}
	if sum+users <= w.Max {
		return nil
	}
	b := &breach{limit: w.Max, remaining: max(w.Max-sum, 0)}
	if users > w.Max {
		return b // never fits
	}
	for _, e := range in {
		sum -= e.users
		if sum+users <= w.Max {
			b.reset = e.at.Add(w.Length)
			break
		}
	}
	return b
}

// checkActive reports whether one more active segment breaches max, given
// the expiry times of the active ones (zero: never expires).
func checkActive(expiries []time.Time, limit int, now time.Time) *breach {
	if limit <= 0 || len(expiries)+1 <= limit {
		return nil
	}
	b := &breach{limit: int64(limit), remaining: 0}
	var ends []time.Time
	for _, e := range expiries {
		if !e.IsZero() {
			ends = append(ends, e)
		}
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	if k := len(expiries) + 1 - limit; k <= len(ends) {
		b.reset = ends[k-1]
	}
	return b
}

// checkOps checks every limit an op of the given users would count against.
// It returns the binding breach, or nil when the op may be accepted.
func (w *workspace) checkOps(users int64, creates bool, now time.Time) *breach {
	var worst *breach
	for _, win := range w.cfg.Limits.Ops {
		worst = later(worst, checkCount(w.ops, win, now))
	}
	worst = later(worst, checkUsers(w.ops, w.cfg.Limits.Users, users, now))
	if creates {
		worst = later(worst, checkActive(w.activeExpiries(now), w.cfg.Limits.ActiveSegments, now))
	}
	return worst
}

// checkLookups checks look-up windows and records the look-up if allowed.
func checkLookups(events *[]event, windows []Window, now time.Time) *breach {
	var worst *breach
	for _, win := range windows {
		worst = later(worst, checkCount(*events, win, now))
	}
	if worst == nil {
		*events = append(*events, event{at: now})
		*events = prune(*events, windows, now)
	}
	return worst
}

// prune drops events older than the longest window.
func prune(events []event, windows []Window, now time.Time) []event {
	var longest time.Duration
	for _, w := range windows {
		longest = max(longest, w.Length)
	}
	keep := inWindow(events, longest, now)
	if len(keep) == len(events) {
		return events
	}
	return append(events[:0:0], keep...)
}

// okHeaders describes, after an accepted op, the ops window with the least
// room left, the way upstream's x-ratelimit-* headers may.
func (w *workspace) okHeaders(now time.Time) *breach {
	var tight *breach
	for _, win := range w.cfg.Limits.Ops {
		in := inWindow(w.ops, win.Length, now)
		b := &breach{limit: win.Max, remaining: max(win.Max-int64(len(in)), 0)}
		if len(in) > 0 {
			b.reset = in[0].at.Add(win.Length)
		}
		if tight == nil || b.remaining < tight.remaining {
			tight = b
		}
	}
	return tight
}

// setRateHeaders writes x-ratelimit-limit, -remaining and -reset (epoch
// seconds, rounded up so that retrying at that second is never early).
func setRateHeaders(h http.Header, b *breach) {
	if b == nil {
		return
	}
	h.Set("x-ratelimit-limit", strconv.FormatInt(b.limit, 10))
	h.Set("x-ratelimit-remaining", strconv.FormatInt(b.remaining, 10))
	if !b.reset.IsZero() {
		secs := b.reset.Unix()
		if b.reset.Nanosecond() > 0 {
			secs++
		}
		h.Set("x-ratelimit-reset", strconv.FormatInt(secs, 10))
	}
}

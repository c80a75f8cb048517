package limiter

import (
	"cmp"
	"errors"
	"fmt"
	"time"
)

// Upstream defaults of one MoEngage workspace (DESIGN §2) and segq's own
// defaults for the reservation machinery.
const (
	DefaultSafetyMargin   = 60 * time.Second
	DefaultHorizon        = time.Hour
	DefaultAging          = time.Hour
	DefaultActiveSegments = 1000
)

// Window is a rolling window: no interval of Length may hold more than Max
// units (ops for a count window, users for the weighted user window).
type Window struct {
	Length time.Duration
	Max    int64
}

// Limits are one workspace's quotas and the knobs of the reservation
// machinery. Build them from configuration and call WithDefaults; every
// Limiter method validates them and returns Validate's error unchanged.
type Limits struct {
	// Ops are the count windows over file-segment ops (10/1h and 100/24h
	// upstream). A request of Ops n weighs n in each of them.
	Ops []Window
	// Users is the weighted window over the users a request uploads.
	Users Window
	// ActiveSegments is the gauge of segments alive at once; a request with
	// Hold > 0 holds one unit for Hold (+ SafetyMargin) or until
	// ReleaseSegment.
	ActiveSegments int64
	// SafetyMargin is added to every interval a request occupies, to absorb
	// clock skew and network latency between segq and upstream.
	SafetyMargin time.Duration
	// Horizon bounds how far ahead a slot is handed out: a request whose
	// earliest slot is later than now+Horizon stays pending without a slot,
	// so later high-priority requests can still overtake it.
	Horizon time.Duration
	// Aging is the head start of one priority level over the next: a
	// default request enqueued Aging before a high one orders before it.
	Aging time.Duration
	// Grace is how late after its slot a reservation may still be confirmed.
	// It must not exceed SafetyMargin (see docs/limiter.md).
	Grace time.Duration
}

// DefaultLimits returns the upstream's default limits with segq's defaults.
func DefaultLimits() Limits {
	return Limits{}.WithDefaults()
}

// WithDefaults returns a copy of l with every zero field set to its default:
// the upstream quotas of DESIGN §2, a 60 s safety margin, a 1 h horizon, 1 h
// aging and a grace of half the safety margin.
func (l Limits) WithDefaults() Limits {
	if l.Ops == nil {
		l.Ops = []Window{{Length: time.Hour, Max: 10}, {Length: 24 * time.Hour, Max: 100}}
	}
	if l.Users == (Window{}) {
		l.Users = Window{Length: 24 * time.Hour, Max: 2_000_000}
	}
	l.ActiveSegments = cmp.Or(l.ActiveSegments, DefaultActiveSegments)
	l.SafetyMargin = cmp.Or(l.SafetyMargin, DefaultSafetyMargin)
	l.Horizon = cmp.Or(l.Horizon, DefaultHorizon)
	l.Aging = cmp.Or(l.Aging, DefaultAging)
	l.Grace = cmp.Or(l.Grace, l.SafetyMargin/2)
	return l
}

// Validate reports the first invalid field of l, naming it.
func (l Limits) Validate() error {
	for i, w := range l.Ops {
		if err := w.validate(func() string { return fmt.Sprintf("ops[%d]", i) }); err != nil {
			return err
		}
	}
	if err := l.Users.validate(func() string { return "users" }); err != nil {
		return err
	}
	checks := []struct {
		name string
		bad  bool
		why  string
	}{
		{"active_segments", l.ActiveSegments < 0, "must not be negative"},
		{"safety_margin", l.SafetyMargin < 0, "must not be negative"},
		{"horizon", l.Horizon < 0, "must not be negative"},
		{"aging", l.Aging < 0, "must not be negative"},
		{"grace", l.Grace < 0, "must not be negative"},
		{"grace", l.Grace > l.SafetyMargin, "must not exceed safety_margin"},
	}
	for _, c := range checks {
		if c.bad {
			return fmt.Errorf("limits: %s %s", c.name, c.why)
		}
	}
	return nil
}

// validate checks w; name is called only to word an error (Validate runs
// on every limiter call).
func (w Window) validate(name func() string) error {
	switch {
	case w.Length < time.Millisecond:
		return fmt.Errorf("limits: %s.window must be at least 1ms", name())
	case w.Max < 0:
		return fmt.Errorf("limits: %s.max must not be negative", name())
	}
	return nil
}

// Priority orders pending requests: FIFO within a priority, and a request of
// a higher priority overtakes lower ones that have waited less than
// Limits.Aging per level of difference. The zero value is PriorityDefault.
type Priority int

// Priorities, from the most urgent.
const (
	PriorityDefault Priority = iota
	PriorityHigh
	PriorityLow
)

// ParsePriority parses "high", "default" or "low"; the empty string is
// "default".
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "high":
		return PriorityHigh, nil
	case "default", "":
		return PriorityDefault, nil
	case "low":
		return PriorityLow, nil
	}
	return 0, fmt.Errorf("priority %q: want high, default or low", s)
}

// String returns "high", "default" or "low".
func (p Priority) String() string {
	switch p {
	case PriorityHigh:
		return "high"
	case PriorityDefault:
		return "default"
	case PriorityLow:
		return "low"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// MarshalText encodes p as its name.
func (p Priority) MarshalText() ([]byte, error) {
	if p < PriorityDefault || p > PriorityLow {
		return nil, errors.New("invalid priority")
	}
	return []byte(p.String()), nil
}

// UnmarshalText decodes a name written by MarshalText.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// level is the number of Aging steps p sits behind high.
func (p Priority) level() int64 {
	switch p {
	case PriorityHigh:
		return 0
	case PriorityLow:
		return 2
	}
	return 1
}

// orderScore is the pending-order key of a request: its enqueue time plus
// one Aging per priority level below high. Ties break on the request ID.
func orderScore(enqueuedMs int64, p Priority, aging time.Duration) int64 {
	return enqueuedMs + p.level()*aging.Milliseconds()
}

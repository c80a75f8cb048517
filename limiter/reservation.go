package limiter

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Request asks for a slot for one upstream op.
type Request struct {
	// ID identifies the request; unique per job attempt ("<jobULID>/<attempt>").
	// Among requests of equal order score, the smaller ID goes first.
	ID string
	// Priority and EnqueuedAt give the request its place among pending ones.
	// A request that re-reserves after Lost keeps its place by passing the
	// same values.
	Priority   Priority
	EnqueuedAt time.Time
	// Ops > 0 marks a file-segment op (create, add, remove, replace): it
	// counts 1 in every count window. 0 for archive and unarchive.
	Ops int64
	// Users is the weight in the user window.
	Users int64
	// Segment names the segment a Hold belongs to, for ReleaseSegment.
	Segment string
	// Hold > 0 takes one active-segment unit for Hold (+ SafetyMargin) from
	// the slot: a create (its expiry) or an unarchive.
	Hold time.Duration
}

func (r Request) validate() error {
	switch {
	case r.ID == "":
		return errors.New("request: id is empty")
	case r.EnqueuedAt.IsZero():
		return errors.New("request: enqueued_at is zero")
	case r.Ops < 0:
		return errors.New("request: ops must not be negative")
	case r.Users < 0:
		return errors.New("request: users must not be negative")
	case r.Hold < 0:
		return errors.New("request: hold must not be negative")
	case r.Hold > 0 && r.Hold < time.Millisecond:
		return errors.New("request: hold must be at least 1ms")
	}
	return nil
}

// Status is the state of a reservation.
type Status int

// Reservation states.
const (
	// Reserved holds a slot, recorded in every limit, not yet confirmed.
	Reserved Status = iota + 1
	// Pending waits for a slot (behind earlier requests or beyond the horizon).
	Pending
	// Committed was confirmed: the op went upstream and is never freed.
	Committed
)

// String returns "reserved", "pending" or "committed".
func (s Status) String() string {
	switch s {
	case Reserved:
		return "reserved"
	case Pending:
		return "pending"
	case Committed:
		return "committed"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText encodes s as its name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reservation is the state of one request.
type Reservation struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Slot is when the op may go upstream; zero while pending.
	Slot time.Time `json:"slot,omitzero"`
	// ETA is the expected start: the slot when there is one; zero for a
	// pending request (Estimate computes ETAs for pending requests).
	ETA time.Time `json:"eta,omitzero"`
}

// Outcome is Confirm's answer.
type Outcome int

// Confirm outcomes.
const (
	// Go: send upstream now; the reservation is committed.
	Go Outcome = iota + 1
	// Wait: the slot has not come yet; confirm again at Slot.
	Wait
	// Moved: the reservation has another slot or is pending again (after a
	// Block); ConfirmResult.Reservation is its current state.
	Moved
	// Lost: the slot passed beyond the grace, or the request is unknown.
	// Reserve again with the same ID, Priority and EnqueuedAt to keep the
	// request's place.
	Lost
)

// String returns "go", "wait", "moved" or "lost".
func (o Outcome) String() string {
	switch o {
	case Go:
		return "go"
	case Wait:
		return "wait"
	case Moved:
		return "moved"
	case Lost:
		return "lost"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// ConfirmResult is the answer of Confirm.
type ConfirmResult struct {
	Outcome Outcome
	// Slot is the slot to wait for (Wait) or the confirmed slot (Go).
	Slot time.Time
	// Reservation is the request's current state (zero when Lost).
	Reservation Reservation
	// At is the Redis time of the decision: for Go, when the op counts as sent.
	At time.Time
}

// ErrCommitted is returned by Cancel for a request already confirmed: it
// happened upstream and its quota is spent.
var ErrCommitted = errors.New("limiter: request already committed")

// TooHeavyError reports a request that can never fit: its weight exceeds a
// limit's whole capacity.
type TooHeavyError struct {
	// Limit is "users", "active_segments" or "ops/<window>" (e.g. "ops/1h0m0s").
	Limit string
	// Need is the request's weight in that limit, Max the limit's capacity.
	Need, Max int64
}

// Error says which limit and by how much, e.g. "users 2500000 exceed the
// user window max 2000000 by 500000".
func (e *TooHeavyError) Error() string {
	by := e.Need - e.Max
	switch {
	case e.Limit == "users":
		return fmt.Sprintf("users %d exceed the user window max %d by %d", e.Need, e.Max, by)
	case e.Limit == "active_segments":
		return fmt.Sprintf("active segments %d exceed the active segment max %d by %d", e.Need, e.Max, by)
	case strings.HasPrefix(e.Limit, "ops/"):
		return fmt.Sprintf("ops %d exceed the %s window max %d by %d",
			e.Need, strings.TrimPrefix(e.Limit, "ops/"), e.Max, by)
	}
	return fmt.Sprintf("%s %d exceeds max %d by %d", e.Limit, e.Need, e.Max, by)
}

// CheckWeight returns a *TooHeavyError when req can never fit lim (a weight
// above a whole capacity), nil otherwise. Reserve calls it first.
func CheckWeight(lim Limits, req Request) error {
	if req.Ops > 0 {
		for _, w := range lim.Ops {
			if w.Max < 1 {
				return &TooHeavyError{Limit: "ops/" + w.Length.String(), Need: 1, Max: w.Max}
			}
		}
	}
	if req.Users > lim.Users.Max {
		return &TooHeavyError{Limit: "users", Need: req.Users, Max: lim.Users.Max}
	}
	if req.Hold > 0 && lim.ActiveSegments < 1 {
		return &TooHeavyError{Limit: "active_segments", Need: 1, Max: lim.ActiveSegments}
	}
	return nil
}

package queue

import "fmt"

// State is where a job is in its life (DESIGN §4).
type State string

// Job states. The main line runs accepted → validating → waiting →
// submitting → submitted → succeeded | failed; the others are side states.
const (
	StateAccepted   State = "accepted"
	StateValidating State = "validating"
	StateWaiting    State = "waiting"
	StateSubmitting State = "submitting"
	StateSubmitted  State = "submitted"
	StateSucceeded  State = "succeeded"
	StateFailed     State = "failed"
	StateRetrying   State = "retrying"
	StateCancelled  State = "cancelled"
	StateOverdue    State = "overdue"
	StateUnknown    State = "unknown"
)

// States lists every state in lifecycle order.
var States = []State{
	StateAccepted, StateValidating, StateWaiting, StateSubmitting, StateSubmitted,
	StateSucceeded, StateFailed, StateRetrying, StateCancelled, StateOverdue, StateUnknown,
}

// transitions is the state machine: the states each state may move to.
var transitions = map[State][]State{
	StateAccepted:   {StateValidating, StateCancelled},
	StateValidating: {StateWaiting, StateFailed, StateCancelled, StateValidating},
	StateWaiting:    {StateSubmitting, StateWaiting, StateCancelled, StateFailed},
	StateSubmitting: {StateSubmitted, StateSucceeded, StateRetrying, StateFailed, StateWaiting, StateUnknown},
	StateSubmitted:  {StateSucceeded, StateFailed, StateRetrying, StateOverdue},
	StateOverdue:    {StateSucceeded, StateFailed, StateRetrying},
	StateRetrying:   {StateWaiting, StateFailed, StateCancelled},
	StateUnknown:    {StateSucceeded, StateFailed, StateRetrying},
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok || s.Terminal()
}

// Terminal reports whether no further transition can leave s.
func (s State) Terminal() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCancelled
}

// Cancellable reports whether a job in s has not been sent upstream yet and
// may be cancelled.
func (s State) Cancellable() bool {
	switch s {
	case StateAccepted, StateValidating, StateWaiting, StateRetrying:
		return true
	}
	return false
}

// CanMove reports whether the state machine allows from → to.
func CanMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// StateError says a transition was refused because the job was in another
// state, e.g. a cancel after submission or a duplicate callback.
type StateError struct {
	ID   string
	From State
	To   State
}

// Error implements error.
func (e *StateError) Error() string {
	return fmt.Sprintf("job %s: cannot move from %s to %s", e.ID, e.From, e.To)
}

package queue

import (
	"context"
	"strings"
)

// Resolution is an operator's verdict on a job whose outcome segq cannot
// know by itself: `unknown` (a submission may or may not have reached
// MoEngage) or `overdue` (MoEngage never called back). The operator looks
// the segment up in MoEngage first (docs/operations.md §6).
type Resolution struct {
	// State is the outcome: StateSucceeded or StateFailed.
	State State `json:"state"`
	// Reason says what the operator found. It goes in the timeline, and in
	// the job's error when State is failed. Required.
	Reason string `json:"reason"`
	// CSID is the segment's id in MoEngage, for a create that succeeded
	// (optional; a create that never heard its answer has none).
	CSID string `json:"cs_id,omitempty"`
}

// maxReasonLen bounds Resolution.Reason.
const maxReasonLen = 500

func (r Resolution) validate() error {
	if r.State != StateSucceeded && r.State != StateFailed {
		return fieldErr("state", "must be succeeded or failed")
	}
	reason := strings.TrimSpace(r.Reason)
	switch {
	case reason == "":
		return fieldErr("reason", "required: say what MoEngage showed")
	case len(reason) > maxReasonLen:
		return fieldErr("reason", "at most %d characters", maxReasonLen)
	case len(r.CSID) > maxNameLen:
		return fieldErr("cs_id", "at most %d characters", maxNameLen)
	case r.CSID != "" && r.State != StateSucceeded:
		return fieldErr("cs_id", "only a job resolved as succeeded has a segment id")
	}
	return nil
}

// Resolvable reports whether a job in state s awaits an operator's
// Resolution.
func (s State) Resolvable() bool { return s == StateUnknown || s == StateOverdue }

// Resolve settles a job in state unknown or overdue as r says, like a
// callback would: the name of a create is released, the producer's
// callback_url is notified, and the attempt's slot stays counted (the
// request may have reached MoEngage). A job in any other state is a
// *StateError; a bad r is a *FieldError. A callback that arrives later is
// acknowledged and ignored.
func (c *Client) Resolve(ctx context.Context, id string, r Resolution) (*Job, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(r.Reason)
	return c.store.Transition(ctx, id, r.State, "resolved by operator: "+reason, func(j *Job) error {
		if !j.State.Resolvable() {
			return &StateError{ID: j.ID, From: j.State, To: r.State}
		}
		if r.CSID != "" {
			if j.Op != OpCreate && r.CSID != j.CSID {
				return fieldErr("cs_id", "job %s is an op %q on segment %s: only a create takes its id from a resolution", j.ID, j.Op, j.CSID)
			}
			j.CSID = r.CSID
		}
		j.Error = ""
		if r.State == StateFailed {
			j.Error = "resolved by operator: " + reason
		}
		j.ETA = nil
		return nil
	})
}

// Package queue is the producer's side of segq: the job model and its state
// machine, the Redis job store, the asynq task types, and Client, which
// producers import to enqueue, inspect and cancel segment jobs.
package queue

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Op is one upstream file-segment operation.
type Op string

// The ops of MoEngage's file-segment API family.
const (
	OpCreate    Op = "create"
	OpAdd       Op = "add"
	OpRemove    Op = "remove"
	OpReplace   Op = "replace"
	OpArchive   Op = "archive"
	OpUnarchive Op = "unarchive"
)

// Ops lists every op in a stable order.
var Ops = []Op{OpCreate, OpAdd, OpRemove, OpReplace, OpArchive, OpUnarchive}

// HasFile reports whether the op uploads a file (and so counts towards the
// file-operation and user windows).
func (o Op) HasFile() bool {
	switch o {
	case OpCreate, OpAdd, OpRemove, OpReplace:
		return true
	}
	return false
}

// Valid reports whether o is a known op.
func (o Op) Valid() bool {
	for _, k := range Ops {
		if k == o {
			return true
		}
	}
	return false
}

// Job is one upstream op and everything segq knows about it. Its JSON form
// is the contract of DESIGN §4; it never holds a secret.
type Job struct {
	ID              string   `json:"id"`
	Workspace       string   `json:"workspace"`
	Op              Op       `json:"op"`
	Name            string   `json:"name,omitempty"`
	CSID            string   `json:"cs_id,omitempty"`
	AttributeName   string   `json:"attribute_name,omitempty"`
	AttributeType   string   `json:"attribute_type,omitempty"`
	FileURL         string   `json:"file_url,omitempty"`
	ExpiryTime      int      `json:"expiry_time,omitempty"`
	CallbackURL     string   `json:"callback_url,omitempty"`
	Emails          []string `json:"emails,omitempty"`
	Priority        string   `json:"priority"`
	Users           int64    `json:"users"`
	State           State    `json:"state"`
	Attempts        int      `json:"attempts"`
	ETA             *Time    `json:"eta,omitempty"`
	Error           string   `json:"error,omitempty"`
	ValuesFound     *int64   `json:"values_found,omitempty"`
	ValuesProcessed *int64   `json:"values_processed,omitempty"`
	UserCount       *int64   `json:"user_count,omitempty"`
	CreatedAt       Time     `json:"created_at"`
	UpdatedAt       Time     `json:"updated_at"`
	Timeline        []Event  `json:"timeline"`

	// SubmitOp is the op actually sent on the current attempt: a retried
	// create whose segment exists upstream is sent as add.
	SubmitOp Op `json:"submit_op,omitempty"`
	// SlotAt is the reserved slot of the current attempt.
	SlotAt *Time `json:"slot_at,omitempty"`
	// SubmittedAt is when the current attempt was accepted upstream.
	SubmittedAt *Time `json:"submitted_at,omitempty"`
	// FailedAttempts counts attempts that ended in a server-side failure;
	// the retry policy gives up after its maximum. Attempts refused for
	// quota (429) are not failures.
	FailedAttempts int `json:"failed_attempts,omitempty"`
	// RequestID is MoEngage's request id from the last callback.
	RequestID string `json:"request_id,omitempty"`
	// RelayFormat is the body callback_url receives (see Request).
	RelayFormat string `json:"relay_format,omitempty"`
	// UpstreamCallback is the body of the MoEngage callback that ended the
	// job, as received (compacted).
	UpstreamCallback json.RawMessage `json:"upstream_callback,omitempty"`
}

// Event is one entry of a job's timeline.
type Event struct {
	At     Time   `json:"at"`
	State  State  `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Time is a time.Time that marshals as RFC 3339 in UTC with milliseconds.
type Time struct{ time.Time }

// NewTime wraps t, truncated to milliseconds, in UTC.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// TimePtr returns a pointer to NewTime(t).
func TimePtr(t time.Time) *Time { v := NewTime(t); return &v }

// timeLayout is RFC 3339 with milliseconds; times are always UTC.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON renders RFC 3339 in UTC. It formats into one small buffer:
// a job record holds a dozen times and is encoded on every change.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(timeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, timeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON parses RFC 3339.
func (t *Time) UnmarshalJSON(b []byte) error {
	var tt time.Time
	if err := tt.UnmarshalJSON(b); err != nil {
		return err
	}
	t.Time = tt.UTC()
	return nil
}

// ReservationID names the limiter reservation of the job's current attempt.
func (j *Job) ReservationID() string { return ReservationID(j.ID, j.Attempts) }

// ReservationID names the limiter reservation of one attempt of a job.
// IDs of one job sort by attempt for attempts below 100, and IDs of
// different jobs sort by job id, which is enqueue order.
func ReservationID(jobID string, attempt int) string {
	return fmt.Sprintf("%s/%02d", jobID, attempt)
}

// ParseReservationID splits a ReservationID into job id and attempt.
func ParseReservationID(rid string) (jobID string, attempt int, err error) {
	i := strings.LastIndexByte(rid, '/')
	if i < 0 {
		return "", 0, fmt.Errorf("reservation id %q: no attempt", rid)
	}
	attempt, err = strconv.Atoi(rid[i+1:])
	if err != nil || attempt < 1 {
		return "", 0, fmt.Errorf("reservation id %q: bad attempt", rid)
	}
	return rid[:i], attempt, nil
}

package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// asynq task types. Tasks carry only ids; the job record is the truth.
const (
	// TypeValidate checks a job's file and reserves its slot (also the
	// re-reservation step of a retry).
	TypeValidate = "segq:validate"
	// TypeSubmit sends one attempt of a job upstream at its slot.
	TypeSubmit = "segq:submit"
	// TypeRelay delivers a finished job to the producer's callback_url.
	TypeRelay = "segq:relay"
)

// Queue names. Relays get their own queue so a slow producer endpoint
// never delays submissions.
const (
	QueueJobs  = "segq"
	QueueRelay = "segq-relay"
)

// TaskPayload is the body of every segq task.
type TaskPayload struct {
	JobID   string `json:"job_id"`
	Attempt int    `json:"attempt"`
	// SlotMS is the reserved slot a submit task was scheduled for (Unix ms).
	SlotMS int64 `json:"slot_ms,omitempty"`
	// State is the final state a relay task reports.
	State State `json:"state,omitempty"`
}

// ParsePayload decodes a task's payload.
func ParsePayload(t *asynq.Task) (TaskPayload, error) {
	var p TaskPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("task %s payload: %w", t.Type(), err)
	}
	if p.JobID == "" {
		return p, fmt.Errorf("task %s payload: no job_id", t.Type())
	}
	return p, nil
}

// taskRetention keeps finished task ids around so that a re-enqueue by the
// reconciler after a crash is refused as a duplicate instead of running
// the step twice.
const taskRetention = 24 * time.Hour

// NewValidateTask returns the task that validates (attempt 1) or
// re-reserves (later attempts) a job, and its unique id.
func NewValidateTask(jobID string, attempt int) (*asynq.Task, []asynq.Option) {
	p, _ := json.Marshal(TaskPayload{JobID: jobID, Attempt: attempt})
	return asynq.NewTask(TypeValidate, p), []asynq.Option{
		asynq.TaskID(fmt.Sprintf("validate:%s:%d", jobID, attempt)),
		asynq.Queue(QueueJobs), asynq.MaxRetry(25), asynq.Retention(taskRetention),
	}
}

// NewSubmitTask returns the task that submits an attempt at its slot.
func NewSubmitTask(jobID string, attempt int, slot time.Time) (*asynq.Task, []asynq.Option) {
	p, _ := json.Marshal(TaskPayload{JobID: jobID, Attempt: attempt, SlotMS: slot.UnixMilli()})
	return asynq.NewTask(TypeSubmit, p), []asynq.Option{
		asynq.TaskID(SubmitTaskID(jobID, attempt, slot)),
		asynq.Queue(QueueJobs), asynq.ProcessAt(slot), asynq.MaxRetry(25), asynq.Retention(taskRetention),
	}
}

// SubmitTaskID is the asynq task id of the submit task of an attempt's
// slot.
func SubmitTaskID(jobID string, attempt int, slot time.Time) string {
	return fmt.Sprintf("submit:%s:%d:%d", jobID, attempt, slot.UnixMilli())
}

// NewRelayTask returns the task that tells the producer a job ended.
func NewRelayTask(jobID string, attempt int, state State) (*asynq.Task, []asynq.Option) {
	p, _ := json.Marshal(TaskPayload{JobID: jobID, Attempt: attempt, State: state})
	return asynq.NewTask(TypeRelay, p), []asynq.Option{
		asynq.TaskID(fmt.Sprintf("relay:%s:%d:%s", jobID, attempt, state)),
		asynq.Queue(QueueRelay), asynq.MaxRetry(12), asynq.Retention(taskRetention),
	}
}

// LastAttempt reports whether asynq will not retry the running task again
// after it fails.
func LastAttempt(ctx context.Context) bool {
	n, ok1 := asynq.GetRetryCount(ctx)
	m, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && n >= m
}

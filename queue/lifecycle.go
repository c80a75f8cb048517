package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"
)

// Transition moves a job like Store.Transition. A job reaching a final
// state with a callback_url enters the relay outbox in the same write; the
// workers' dispatcher relays it to the producer.
func (c *Client) Transition(ctx context.Context, id string, to State, detail string, mutate func(j *Job) error) (*Job, error) {
	return c.store.Transition(ctx, id, to, detail, mutate)
}

// Fail moves a job to failed with the reason kept in its error field.
func (c *Client) Fail(ctx context.Context, id, reason string) (*Job, error) {
	return c.Transition(ctx, id, StateFailed, reason, func(j *Job) error {
		j.Error = reason
		j.ETA = nil
		return nil
	})
}

// Retry records a server-side failure of attempt and schedules the next
// attempt after the policy's backoff, or fails the job when the policy's
// attempts are spent. A stale attempt is ignored (returns a *StateError).
func (c *Client) Retry(ctx context.Context, id string, attempt int, reason string, policy Backoff) (*Job, error) {
	var delay time.Duration
	exhausted := false
	j, err := c.Transition(ctx, id, StateRetrying, reason, func(j *Job) error {
		if j.Attempts != attempt {
			return &StateError{ID: j.ID, From: j.State, To: StateRetrying}
		}
		j.FailedAttempts++
		if j.FailedAttempts >= policy.MaxAttempts {
			exhausted = true
			return errExhausted
		}
		delay = policy.Delay(j.FailedAttempts)
		j.Attempts++
		j.SlotAt, j.SubmittedAt = nil, nil
		j.ETA = TimePtr(c.store.now().Add(delay))
		j.Error = reason
		return nil
	})
	if exhausted {
		return c.Fail(ctx, id, fmt.Sprintf("gave up after %d failed attempts: %s", policy.MaxAttempts, reason))
	}
	if err != nil {
		return j, err
	}
	task, opts := NewValidateTask(j.ID, j.Attempts)
	c.enqueue(ctx, j.ID, task, append(opts, asynq.ProcessIn(delay))...)
	return j, nil
}

var errExhausted = errors.New("retry attempts exhausted")

// Tasks returns the asynq client the Client enqueues with.
func (c *Client) Tasks() *asynq.Client { return c.tasks }

// enqueue adds a task, treating a duplicate id as success. A failure is
// logged: the worker's reconciler repairs work whose task is missing.
func (c *Client) enqueue(ctx context.Context, jobID string, task *asynq.Task, opts ...asynq.Option) {
	if _, err := c.tasks.EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		c.log.Warn("enqueue task", zap.String("job_id", jobID), zap.String("type", task.Type()), zap.Error(err))
	}
}

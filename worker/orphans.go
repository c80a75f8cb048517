package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// recoverOrphans re-runs tasks left active by a worker that died. asynq
// marks such a task orphaned once its lease (30 s) expires, but moves it
// back to its queue only a minute or more later, and after a retry delay;
// a job would sit in validating or waiting all that time. A copy under a
// derived id runs instead. Every handler checks the job's state and
// attempt, so the original, when asynq finally re-runs it, finds the job
// moved on and does nothing (a relay may be delivered twice, which the
// webhook id lets producers ignore).
func (w *Worker) recoverOrphans(ctx context.Context) error {
	for _, q := range []string{queue.QueueJobs, queue.QueueRelay} {
		tasks, err := w.inspector.ListActiveTasks(q, asynq.PageSize(1000))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("list active tasks of %s: %w", q, err)
		}
		for _, ti := range tasks {
			if !ti.IsOrphaned {
				continue
			}
			opts := []asynq.Option{asynq.TaskID(ti.ID + ":orphan"), asynq.Queue(ti.Queue),
				asynq.MaxRetry(ti.MaxRetry), asynq.Retention(max(ti.Retention, time.Hour))}
			_, err := w.jobs.Tasks().EnqueueContext(ctx, asynq.NewTask(ti.Type, ti.Payload), opts...)
			switch {
			case err == nil:
				w.log.Warn("re-running the task of a dead worker", zap.String("task_id", ti.ID), zap.String("type", ti.Type))
			case !errors.Is(err, asynq.ErrTaskIDConflict):
				return fmt.Errorf("re-enqueue orphaned task %s: %w", ti.ID, err)
			}
		}
	}
	return nil
}

// retryDelay is when asynq runs a failed task again. A task whose worker
// died (its lease expired) runs at once. Handler errors are mostly
// transient (Redis restarting, a file host blip; upstream failures follow
// segq's own retry policy instead), so the first retries come after 1, 2
// and 4 s, then asynq's default schedule takes over.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	switch {
	case errors.Is(err, asynq.ErrLeaseExpired):
		return 0
	case n < 3:
		return time.Second << n
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

package worker

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// recordReservation records the limiter's answer on the job: state
// waiting, its slot and ETA. It refuses (with a *StateError) when the job
// moved on, e.g. was cancelled meanwhile.
func (w *Worker) recordReservation(ctx context.Context, id string, attempt int, res limiter.Reservation) (*queue.Job, error) {
	detail := "slot reserved at " + fmtTime(res.Slot)
	if res.Status == limiter.Pending {
		// The dispatcher estimates its ETA within etaEvery.
		detail = "waiting for a slot: none free within the horizon"
	}
	return w.jobs.Transition(ctx, id, queue.StateWaiting, detail, func(j *queue.Job) error {
		// Only a job still before its send takes a slot: the dispatcher may
		// hand out a slot (after a 429 block) while a worker is sending.
		if j.Attempts != attempt || !beforeSend(j.State) {
			return &queue.StateError{ID: id, From: j.State, To: queue.StateWaiting}
		}
		j.SlotAt = nil
		if res.Status == limiter.Reserved {
			j.SlotAt = queue.TimePtr(res.Slot)
		}
		if !res.ETA.IsZero() {
			j.ETA = queue.TimePtr(res.ETA)
		}
		return nil
	})
}

// scheduleSubmit enqueues the submit task of the job's attempt for slot.
// The task id includes the slot, so a repeat is a no-op and a new slot
// gets a new task; a task left for an old slot finds it moved and exits.
// A slot handed out again at the same instant (after a 429 block) meets
// the retained id of its finished first task: that one is dropped so the
// new one can run.
func (w *Worker) scheduleSubmit(ctx context.Context, j *queue.Job, slot time.Time) {
	task, opts := queue.NewSubmitTask(j.ID, j.Attempts, slot)
	_, err := w.jobs.Tasks().EnqueueContext(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) && w.dropFinished(queue.SubmitTaskID(j.ID, j.Attempts, slot)) {
		_, err = w.jobs.Tasks().EnqueueContext(ctx, task, opts...)
	}
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		// The reconciler enqueues it from the limiter's reservations.
		w.log.Warn("schedule submit", zap.String("job_id", j.ID), zap.Int("attempt", j.Attempts), zap.Error(err))
	}
}

// dropFinished deletes a submit task that has already run (completed or
// archived) and reports whether it did.
func (w *Worker) dropFinished(id string) bool {
	info, err := w.inspector.GetTaskInfo(queue.QueueJobs, id)
	if err != nil || (info.State != asynq.TaskStateCompleted && info.State != asynq.TaskStateArchived) {
		return false
	}
	return w.inspector.DeleteTask(queue.QueueJobs, id) == nil
}

// ignoreStateError turns "the job moved on" into success: another actor
// (a cancel, a callback, a duplicate task) got there first.
func ignoreStateError(err error) error {
	var se *queue.StateError
	if errors.As(err, &se) {
		return nil
	}
	return err
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// freeSlot gives back the reservation of a job that will not use it
// (cancelled, gone). A committed one stays: its op happened. Failures are
// logged; the reconciler tries again.
func (w *Worker) freeSlot(ctx context.Context, ws, rid string) {
	if err := w.lim.Cancel(ctx, ws, rid); err != nil && !errors.Is(err, limiter.ErrCommitted) {
		w.log.Warn("free slot", zap.String("workspace", ws), zap.String("reservation", rid), zap.Error(err))
	}
}

// beforeSend reports whether a job in state s has not been sent yet in its
// current attempt.
func beforeSend(s queue.State) bool {
	return s == queue.StateValidating || s == queue.StateRetrying || s == queue.StateWaiting
}

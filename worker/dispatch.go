package worker

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// etaEvery is how often the dispatcher re-estimates the ETA of jobs
// waiting without a slot: one estimate per workspace serves all of them,
// instead of one per reservation on the hot path.
const etaEvery = time.Second

// dispatch runs until ctx is done: every Tick it turns new jobs into
// validation tasks, hands slots to pending jobs whose turn came within the
// horizon and relays finished jobs; every etaEvery it refreshes the ETAs
// of jobs without a slot; every ReconcileEvery it repairs what a crash may
// have left half done. Every replica runs it; the
// limiter's scripts make concurrent runs safe.
func (w *Worker) dispatch(ctx context.Context) {
	tick := time.NewTicker(w.cfg.Tick)
	defer tick.Stop()
	var lastReconcile, lastETA time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, ws := range w.ws {
			if err := w.drainInbox(ctx, ws); err != nil && ctx.Err() == nil {
				w.log.Warn("drain inbox", zap.String("workspace", ws.ID), zap.Error(err))
			}
			if err := w.promote(ctx, ws); err != nil && ctx.Err() == nil {
				w.log.Warn("promote", zap.String("workspace", ws.ID), zap.Error(err))
			}
			if err := w.relayOutbox(ctx, ws); err != nil && ctx.Err() == nil {
				w.log.Warn("relay outbox", zap.String("workspace", ws.ID), zap.Error(err))
			}
		}
		if time.Since(lastETA) >= etaEvery {
			lastETA = time.Now()
			for _, ws := range w.ws {
				if err := w.refreshETAs(ctx, ws); err != nil && ctx.Err() == nil {
					w.log.Warn("refresh ETAs", zap.String("workspace", ws.ID), zap.Error(err))
				}
			}
		}
		if time.Since(lastReconcile) >= w.cfg.ReconcileEvery {
			lastReconcile = time.Now()
			w.reconcileAll(ctx)
			if err := w.recoverOrphans(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("recover orphaned tasks", zap.Error(err))
			}
		}
	}
}

// inboxBatch bounds the new jobs one tick enqueues per workspace.
const inboxBatch = 500

// drainInbox enqueues the validation of newly stored jobs.
func (w *Worker) drainInbox(ctx context.Context, ws *Workspace) error {
	ids, err := w.jobs.Store().TakeInbox(ctx, ws.ID, inboxBatch)
	if err != nil {
		return err
	}
	return w.enqueueValidations(ctx, ids)
}

// enqueueValidations enqueues the first validation of each job; a task
// that exists already makes it a no-op.
func (w *Worker) enqueueValidations(ctx context.Context, ids []string) error {
	for _, id := range ids {
		task, opts := queue.NewValidateTask(id, 1)
		if _, err := w.jobs.Tasks().EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return err
		}
	}
	return nil
}

// promote schedules the jobs the limiter just gave a slot to. A workspace
// paused for this worker's credentials gets no slots: its jobs wait in
// line, without being handed a slot at the end of each renewal.
func (w *Worker) promote(ctx context.Context, ws *Workspace) error {
	if paused, err := w.renewPause(ctx, ws); paused || err != nil {
		return err
	}
	got, err := w.lim.Promote(ctx, ws.ID, ws.Limits)
	if err != nil {
		return err
	}
	for _, r := range got {
		w.scheduleReservation(ctx, ws.ID, r)
	}
	return nil
}

// scheduleReservation records a reservation's slot on its job and
// enqueues its submit task; a reservation whose job is gone or cancelled
// is freed.
func (w *Worker) scheduleReservation(ctx context.Context, ws string, r limiter.Reservation) {
	id, attempt, err := queue.ParseReservationID(r.ID)
	if err != nil {
		w.log.Error("reservation with a foreign id", zap.String("reservation", r.ID))
		return
	}
	j, err := w.recordReservation(ctx, id, attempt, r)
	var se *queue.StateError
	switch {
	case errors.As(err, &se) && se.From == queue.StateCancelled, errors.Is(err, queue.ErrNotFound):
		w.freeSlot(ctx, ws, r.ID)
	case err != nil:
		w.log.Warn("record slot", zap.String("job_id", id), zap.Error(err))
	default:
		w.scheduleSubmit(ctx, j, r.Slot)
	}
}

// reconcileAll repairs every workspace; errors are logged, the next round
// tries again.
func (w *Worker) reconcileAll(ctx context.Context) {
	for _, ws := range w.ws {
		for _, step := range []func(context.Context, *Workspace) error{
			w.reenqueueAccepted, w.rescheduleReserved, w.reconcileSubmitting, w.markOverdue,
		} {
			if err := step(ctx, ws); err != nil && ctx.Err() == nil {
				w.log.Warn("reconcile", zap.String("workspace", ws.ID), zap.Error(err))
			}
		}
	}
}

// scanLimit bounds one reconcile step's work per workspace.
const scanLimit = 1000

// reenqueueAccepted gives accepted jobs whose validation task was lost
// (a crash between taking the job from the inbox and enqueuing its task)
// their task.
func (w *Worker) reenqueueAccepted(ctx context.Context, ws *Workspace) error {
	ids, err := w.jobs.Store().IDsInState(ctx, ws.ID, queue.StateAccepted, scanLimit)
	if err != nil {
		return err
	}
	return w.enqueueValidations(ctx, ids)
}

// rescheduleReserved makes sure every reserved slot has its submit task.
func (w *Worker) rescheduleReserved(ctx context.Context, ws *Workspace) error {
	rs, err := w.lim.Reserved(ctx, ws.ID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		id, attempt, err := queue.ParseReservationID(r.ID)
		if err != nil {
			continue
		}
		j, err := w.jobs.Get(ctx, id)
		switch {
		case errors.Is(err, queue.ErrNotFound) || (err == nil && (j.State.Terminal() || j.Attempts != attempt)):
			w.freeSlot(ctx, ws.ID, r.ID)
		case err != nil:
			return err
		case j.State == queue.StateWaiting:
			w.scheduleSubmit(ctx, j, r.Slot)
		}
	}
	return nil
}

// reconcileSubmitting settles jobs left in submitting by a worker that
// died mid-call: after 1.5 upstream timeouts no live worker still waits
// for that answer. (asynq would re-run the task too, but only once its
// lease has expired, a minute or two later.)
func (w *Worker) reconcileSubmitting(ctx context.Context, ws *Workspace) error {
	ids, err := w.jobs.Store().IDsInState(ctx, ws.ID, queue.StateSubmitting, scanLimit)
	if err != nil {
		return err
	}
	stale := w.cfg.UpstreamTimeout * 3 / 2
	for _, id := range ids {
		j, err := w.jobs.Get(ctx, id)
		if err != nil || w.cfg.Now().Sub(j.UpdatedAt.Time) < stale {
			continue
		}
		if err := w.reconcile(ctx, ws, j); err != nil {
			return err
		}
	}
	return nil
}

// relayLease is how long a relay task may stay unacknowledged before the
// dispatcher enqueues it again (a no-op while asynq still holds it).
const relayLease = 10 * time.Minute

// relayOutbox enqueues the relays of jobs that finished with a
// callback_url, and again those whose relay a crash may have lost.
func (w *Worker) relayOutbox(ctx context.Context, ws *Workspace) error {
	now := w.cfg.Now()
	ids, err := w.jobs.Store().Outbox(ctx, ws.ID, now, inboxBatch)
	if err != nil || len(ids) == 0 {
		return err
	}
	for _, id := range ids {
		j, err := w.jobs.Get(ctx, id)
		if errors.Is(err, queue.ErrNotFound) {
			_ = w.jobs.Store().AckOutbox(ctx, ws.ID, id)
			continue
		}
		if err != nil {
			return err
		}
		task, opts := queue.NewRelayTask(j.ID, j.Attempts, j.State)
		if _, err := w.jobs.Tasks().EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return err
		}
	}
	return w.jobs.Store().DeferOutbox(ctx, ws.ID, ids, now.Add(relayLease))
}

// markOverdue moves submitted jobs whose callback is late to overdue; a
// late callback is still accepted.
func (w *Worker) markOverdue(ctx context.Context, ws *Workspace) error {
	ids, err := w.jobs.Store().IDsInState(ctx, ws.ID, queue.StateSubmitted, scanLimit)
	if err != nil {
		return err
	}
	now := w.cfg.Now()
	for _, id := range ids {
		j, err := w.jobs.Get(ctx, id)
		if err != nil || j.SubmittedAt == nil || now.Sub(j.SubmittedAt.Time) < w.cfg.CallbackTimeout {
			continue
		}
		_, err = w.jobs.Transition(ctx, id, queue.StateOverdue, "no callback within "+w.cfg.CallbackTimeout.String(), func(j *queue.Job) error {
			if j.SubmittedAt == nil || now.Sub(j.SubmittedAt.Time) < w.cfg.CallbackTimeout {
				return &queue.StateError{ID: id, From: j.State, To: queue.StateOverdue}
			}
			return nil
		})
		if ignoreStateError(err) != nil {
			return err
		}
	}
	return nil
}

// refreshETAs updates the estimate of jobs waiting without a slot.
func (w *Worker) refreshETAs(ctx context.Context, ws *Workspace) error {
	etas, err := w.lim.Estimate(ctx, ws.ID, ws.Limits)
	if err != nil {
		return err
	}
	for rid, eta := range etas {
		id, attempt, err := queue.ParseReservationID(rid)
		if err != nil {
			continue
		}
		_, err = w.jobs.Store().Update(ctx, id, func(j *queue.Job) error {
			if j.State != queue.StateWaiting || j.Attempts != attempt || (j.ETA != nil && j.ETA.Sub(eta).Abs() < time.Second) {
				return errUnchanged
			}
			j.ETA = queue.TimePtr(eta)
			return nil
		})
		if err != nil && !errors.Is(err, errUnchanged) && !errors.Is(err, queue.ErrNotFound) {
			return err
		}
	}
	return nil
}

var errUnchanged = errors.New("unchanged")

// pauseTicks is how many dispatcher ticks one renewal of a credentials
// pause blocks a workspace for: the pause lapses this soon after a worker
// with other credentials lifts it. Renewals come every tick; if they stop
// (no worker with the refused credentials runs), the block lapses but the
// pause does not: sendable checks it before every request.
const pauseTicks = 10

func pauseKey(ws string) string { return "segq:{" + ws + "}:paused" }

// pause stops dispatch for a workspace whose credentials MoEngage refused,
// until a worker runs with other credentials.
func (w *Worker) pause(ctx context.Context, ws *Workspace) {
	if err := w.cfg.Redis.Set(ctx, pauseKey(ws.ID), ws.KeyFingerprint, 0).Err(); err != nil {
		w.log.Warn("pause workspace", zap.String("workspace", ws.ID), zap.Error(err))
	}
	if err := w.blockPaused(ctx, ws); err != nil {
		w.log.Warn("pause workspace", zap.String("workspace", ws.ID), zap.Error(err))
	}
	w.log.Error("workspace paused: MoEngage refused its credentials", zap.String("workspace", ws.ID))
}

// blockPaused holds a paused workspace's slots for pauseTicks more ticks;
// reserved jobs go back to waiting for a slot, in order.
func (w *Worker) blockPaused(ctx context.Context, ws *Workspace) error {
	return w.lim.Block(ctx, ws.ID, w.cfg.Now().Add(pauseTicks*w.cfg.Tick))
}

// pausedFor returns the fingerprint of the credentials ws is paused for,
// or "" when it is not paused.
func (w *Worker) pausedFor(ctx context.Context, ws *Workspace) (string, error) {
	fp, err := w.cfg.Redis.Get(ctx, pauseKey(ws.ID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return fp, err
}

// renewPause keeps a credentials pause in force while this worker has
// the refused credentials, and lifts it when they changed. It reports
// whether the workspace stays paused.
func (w *Worker) renewPause(ctx context.Context, ws *Workspace) (bool, error) {
	fp, err := w.pausedFor(ctx, ws)
	switch {
	case err != nil || fp == "":
		return false, err
	case fp != ws.KeyFingerprint:
		w.log.Info("credentials changed: workspace resumes", zap.String("workspace", ws.ID))
		return false, w.cfg.Redis.Del(ctx, pauseKey(ws.ID)).Err()
	}
	return true, w.blockPaused(ctx, ws)
}

// sendable reports whether this worker may send ws's requests: not while
// ws is paused for the credentials it holds (they would be refused
// again). A job it may not send keeps waiting: blocking sends its
// reservation back to the queue, in order, and Promote hands it a slot
// once the pause is lifted.
func (w *Worker) sendable(ctx context.Context, ws *Workspace) (bool, error) {
	fp, err := w.pausedFor(ctx, ws)
	if err != nil || fp != ws.KeyFingerprint {
		return err == nil, err
	}
	return false, w.blockPaused(ctx, ws)
}

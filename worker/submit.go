package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// handleSubmit runs TypeSubmit at a reserved slot: confirm the slot with
// the limiter, record submitting, call MoEngage, record the answer. A job
// found in submitting was interrupted mid-call and is reconciled instead.
func (w *Worker) handleSubmit(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParsePayload(t)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	j, err := w.jobs.Get(ctx, p.JobID)
	if errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("submit %s: %w: %w", p.JobID, err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	ws := w.ws[j.Workspace]
	switch {
	case ws == nil:
		return fmt.Errorf("submit %s: workspace %s not configured here", j.ID, j.Workspace)
	case j.State == queue.StateCancelled:
		w.freeSlot(ctx, j.Workspace, queue.ReservationID(j.ID, p.Attempt))
		return nil
	case j.Attempts != p.Attempt:
		return nil
	case j.State == queue.StateWaiting:
		return w.confirmAndSend(ctx, ws, j, time.UnixMilli(p.SlotMS))
	case j.State == queue.StateSubmitting:
		return w.reconcile(ctx, ws, j)
	}
	return nil
}

// confirmAndSend asks the limiter whether the slot is open now and acts
// on the answer.
func (w *Worker) confirmAndSend(ctx context.Context, ws *Workspace, j *queue.Job, slot time.Time) error {
	if ok, err := w.sendable(ctx, ws); !ok {
		return err
	}
	for {
		res, err := w.lim.Confirm(ctx, ws.ID, j.ReservationID(), slot, ws.Limits)
		if err != nil {
			return fmt.Errorf("confirm %s: %w", j.ID, err)
		}
		switch res.Outcome {
		case limiter.Wait:
			// asynq fired a little early (its clock against Redis's).
			if err := sleep(ctx, time.Until(res.Slot)); err != nil {
				return err
			}
			continue
		case limiter.Moved:
			return w.moved(ctx, j, res.Reservation)
		case limiter.Lost:
			return w.reserve(ctx, j)
		}
		if w.cfg.Metrics != nil {
			w.cfg.Metrics.SlotGap.Observe(max(0, w.cfg.Now().Sub(slot).Seconds()))
		}
		return w.send(ctx, ws, j)
	}
}

// moved follows a reservation that the limiter moved (upstream 429
// block, or a newer reservation of the same attempt).
func (w *Worker) moved(ctx context.Context, j *queue.Job, r limiter.Reservation) error {
	j, err := w.recordReservation(ctx, j.ID, j.Attempts, r)
	if err != nil {
		return ignoreStateError(err)
	}
	if r.Status == limiter.Reserved {
		w.scheduleSubmit(ctx, j, r.Slot)
	}
	return nil
}

// send records submitting, then calls MoEngage once.
func (w *Worker) send(ctx context.Context, ws *Workspace, j *queue.Job) error {
	op, err := w.submitOp(ctx, ws, j)
	if err != nil {
		return err
	}
	j, err = w.jobs.Transition(ctx, j.ID, queue.StateSubmitting, "sending "+string(op), func(j *queue.Job) error {
		if op != j.Op {
			j.SubmitOp = op
		}
		return nil
	})
	if err != nil {
		return ignoreStateError(err)
	}
	acc, err := w.call(ctx, ws, j, op)
	w.countUpstream(ws.ID, op, err)
	if err != nil {
		return w.upstreamFailed(ctx, ws, j, err)
	}
	return w.accepted(ctx, ws, j, op, acc)
}

// submitOp decides what to send: a create that already exists upstream
// (a retry after a 5xx, or a crash) is sent as add to its cs_id.
func (w *Worker) submitOp(ctx context.Context, ws *Workspace, j *queue.Job) (queue.Op, error) {
	if j.Op != queue.OpCreate || j.Attempts == 1 {
		return j.Op, nil
	}
	if j.CSID != "" {
		return queue.OpAdd, nil
	}
	segs, err := ws.Upstream.FindByName(ctx, j.Name)
	if err != nil {
		return "", fmt.Errorf("look up segment %q before retrying create: %w", j.Name, err)
	}
	for _, s := range segs {
		if s.Name == j.Name {
			_, err := w.jobs.Store().Update(ctx, j.ID, func(j *queue.Job) error { j.CSID = s.ID; return nil })
			return queue.OpAdd, err
		}
	}
	return queue.OpCreate, nil
}

func (w *Worker) call(ctx context.Context, ws *Workspace, j *queue.Job, op queue.Op) (moengage.Accepted, error) {
	req := moengage.SegmentRequest{
		Name: j.Name, CSID: j.CSID, AttributeName: j.AttributeName, AttributeType: j.AttributeType,
		FileURL: j.FileURL, CallbackURL: w.cfg.Signer.URL(j.ID, j.Attempts), Emails: j.Emails,
	}
	switch op {
	case queue.OpCreate:
		req.ExpiryTime = j.ExpiryTime
		return ws.Upstream.Create(ctx, req)
	case queue.OpAdd:
		return ws.Upstream.AddUsers(ctx, req)
	case queue.OpRemove:
		return ws.Upstream.RemoveUsers(ctx, req)
	case queue.OpReplace:
		return ws.Upstream.Replace(ctx, req)
	case queue.OpArchive:
		return moengage.Accepted{}, ws.Upstream.Archive(ctx, j.Name, j.CSID)
	case queue.OpUnarchive:
		return moengage.Accepted{}, ws.Upstream.Unarchive(ctx, j.Name, j.CSID)
	}
	return moengage.Accepted{}, fmt.Errorf("unknown op %q", op)
}

// accepted records upstream's acceptance. File ops then wait for the
// callback; archive and unarchive are synchronous and finish here.
func (w *Worker) accepted(ctx context.Context, ws *Workspace, j *queue.Job, op queue.Op, acc moengage.Accepted) error {
	detail := "accepted by MoEngage"
	if acc.CSID != "" {
		detail += ", cs_id " + acc.CSID
	}
	j, err := w.jobs.Transition(ctx, j.ID, queue.StateSubmitted, detail, func(j *queue.Job) error {
		if acc.CSID != "" {
			j.CSID = acc.CSID
		}
		j.SubmittedAt = queue.TimePtr(w.cfg.Now())
		j.ETA = nil
		return nil
	})
	if err != nil || op.HasFile() {
		return ignoreStateError(err)
	}
	if op == queue.OpArchive {
		if err := w.lim.ReleaseSegment(ctx, ws.ID, segmentKey(j)); err != nil {
			w.log.Warn("release archived segment", zap.String("job_id", j.ID), zap.Error(err))
		}
	}
	_, err = w.jobs.Transition(ctx, j.ID, queue.StateSucceeded, string(op)+" done", nil)
	return ignoreStateError(err)
}

// upstreamFailed classifies a failed call (DESIGN §4).
func (w *Worker) upstreamFailed(ctx context.Context, ws *Workspace, j *queue.Job, callErr error) error {
	switch moengage.Classify(callErr) {
	case moengage.ClassQuota:
		until := moengage.RetryAt(callErr, w.cfg.Now())
		if until.IsZero() {
			until = w.cfg.Now().Add(w.cfg.Retry.Delay(1))
		}
		if err := w.lim.Block(ctx, ws.ID, until); err != nil {
			return err
		}
		return w.requeue(ctx, j, "quota refused upstream (429); workspace blocked until "+fmtTime(until))
	case moengage.ClassAuth:
		w.pause(ctx, ws)
		_, err := w.jobs.Fail(ctx, j.ID, "configuration error: MoEngage refused the credentials: "+callErr.Error())
		return err
	case moengage.ClassPermanent:
		_, err := w.jobs.Fail(ctx, j.ID, "MoEngage: "+callErr.Error())
		return err
	}
	_, err := w.jobs.Retry(ctx, j.ID, j.Attempts, "submit failed: "+callErr.Error(), w.cfg.Retry)
	return ignoreStateError(err)
}

// requeue puts a job that was not processed upstream back to waiting with
// a new attempt that keeps its place in line (same enqueue time).
func (w *Worker) requeue(ctx context.Context, j *queue.Job, reason string) error {
	j, err := w.jobs.Transition(ctx, j.ID, queue.StateWaiting, reason, func(j *queue.Job) error {
		j.Attempts++
		j.SlotAt = nil
		return nil
	})
	if err != nil {
		return ignoreStateError(err)
	}
	return w.reserve(ctx, j)
}

// reconcile settles an attempt interrupted between recording submitting
// and recording the answer. A create is looked up by name: found means
// upstream accepted it; otherwise (and for the other ops, which are safe
// to repeat) the job goes back to waiting with a fresh attempt. The
// interrupted attempt's slot stays counted in case it reached upstream.
func (w *Worker) reconcile(ctx context.Context, ws *Workspace, j *queue.Job) error {
	if (j.SubmitOp == "" && j.Op == queue.OpCreate) || j.SubmitOp == queue.OpCreate {
		segs, err := ws.Upstream.FindByName(ctx, j.Name)
		if err != nil {
			if queue.LastAttempt(ctx) {
				_, err := w.jobs.Transition(ctx, j.ID, queue.StateUnknown, "cannot tell whether the create reached MoEngage: "+err.Error(), nil)
				return err
			}
			return fmt.Errorf("reconcile %s: %w", j.ID, err)
		}
		for _, s := range segs {
			if s.Name == j.Name {
				return w.accepted(ctx, ws, j, queue.OpCreate, moengage.Accepted{CSID: s.ID})
			}
		}
	}
	return w.requeue(ctx, j, "interrupted before MoEngage answered; sending again")
}

func (w *Worker) countUpstream(ws string, op queue.Op, err error) {
	if w.cfg.Metrics == nil {
		return
	}
	status := "202"
	var apiErr *moengage.APIError
	switch {
	case errors.As(err, &apiErr):
		status = fmt.Sprint(apiErr.Status)
	case err != nil:
		status = "error"
	}
	w.cfg.Metrics.Upstream.WithLabelValues(ws, string(op), status).Inc()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

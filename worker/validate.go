package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/segq/segq/internal/csvcheck"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
)

// handleValidate runs TypeValidate: check the file of a new job, then
// reserve a slot; for a retry (state retrying) only reserve again.
func (w *Worker) handleValidate(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParsePayload(t)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	j, err := w.jobs.Get(ctx, p.JobID)
	if errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("validate %s: %w: %w", p.JobID, err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	if j.Attempts != p.Attempt {
		return nil // a stale task of an earlier attempt
	}
	switch j.State {
	case queue.StateAccepted:
		if j, err = w.jobs.Transition(ctx, j.ID, queue.StateValidating, "checking file", nil); err != nil {
			return ignoreStateError(err)
		}
		fallthrough
	case queue.StateValidating:
		if j, err = w.validate(ctx, j); err != nil || j == nil {
			return err
		}
	case queue.StateRetrying, queue.StateWaiting:
	default:
		return nil
	}
	return w.reserve(ctx, j)
}

// validate checks the job's file and records the user count. It returns a
// nil job when the job failed (strict mode problems, unreachable file).
func (w *Worker) validate(ctx context.Context, j *queue.Job) (*queue.Job, error) {
	if !j.Op.HasFile() {
		return j, nil
	}
	ws := w.ws[j.Workspace]
	if ws == nil {
		_, err := w.jobs.Fail(ctx, j.ID, fmt.Sprintf("workspace %s is not configured on this worker", j.Workspace))
		return nil, err
	}
	res, err := w.checkFile(ctx, ws, j)
	if err != nil {
		if permanentFetchError(err) || queue.LastAttempt(ctx) {
			_, ferr := w.jobs.Fail(ctx, j.ID, "file: "+err.Error())
			return nil, ferr
		}
		return nil, fmt.Errorf("fetch file of %s: %w", j.ID, err)
	}
	if reason := fileVerdict(res, ws.FileMode); reason != "" {
		_, err := w.jobs.Fail(ctx, j.ID, reason)
		return nil, err
	}
	detail := fmt.Sprintf("file ok: %d values, %d valid, %d bytes", res.ValuesFound, res.ValuesValid, res.Bytes)
	if len(res.Problems) > 0 {
		detail += fmt.Sprintf(" (%d problems, lenient)", res.ProblemCount)
	}
	return w.jobs.Store().Update(ctx, j.ID, func(j *queue.Job) error {
		if j.State != queue.StateValidating {
			return &queue.StateError{ID: j.ID, From: j.State, To: queue.StateValidating}
		}
		j.Users = res.ValuesValid
		j.Timeline = append(j.Timeline, queue.Event{At: queue.NewTime(w.cfg.Now()), State: j.State, Detail: detail})
		return nil
	})
}

func (w *Worker) checkFile(ctx context.Context, ws *Workspace, j *queue.Job) (csvcheck.Result, error) {
	body, _, err := safehttp.Fetch(ctx, w.cfg.Fetcher, j.FileURL, ws.FileSize)
	if err != nil {
		return csvcheck.Result{}, err
	}
	defer body.Close()
	return csvcheck.Check(body, csvcheck.Options{
		AttributeType: j.AttributeType, AttributeName: j.AttributeName,
		MaxBytes: ws.FileSize, Mode: ws.FileMode,
	})
}

// fileVerdict returns why a checked file fails the job, or "".
func fileVerdict(res csvcheck.Result, mode csvcheck.Mode) string {
	if res.ValuesValid == 0 {
		return "file invalid: no valid values"
	}
	if mode != csvcheck.Strict || len(res.Problems) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "file invalid: %d problems", res.ProblemCount)
	for i, p := range res.Problems {
		if i == 5 {
			b.WriteString("; …")
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", p.Line, p.Reason)
	}
	return b.String()
}

// permanentFetchError reports fetch failures a retry cannot cure.
func permanentFetchError(err error) bool {
	var blocked *safehttp.BlockedError
	var tooLarge *safehttp.TooLargeError
	var csvTooLarge *csvcheck.TooLargeError
	var status *safehttp.StatusError
	return errors.As(err, &blocked) || errors.As(err, &tooLarge) || errors.As(err, &csvTooLarge) ||
		(errors.As(err, &status) && status.Code >= 400 && status.Code < 500 && status.Code != 408 && status.Code != 429)
}

// request is the limiter request of the job's current attempt.
func (w *Worker) request(j *queue.Job) limiter.Request {
	prio, _ := limiter.ParsePriority(j.Priority)
	r := limiter.Request{ID: j.ReservationID(), Priority: prio, EnqueuedAt: j.CreatedAt.Time, Users: j.Users, Segment: segmentKey(j)}
	if j.Op.HasFile() {
		r.Ops = 1
	}
	// A create holds an active segment until it expires; a retried create
	// sent as add reuses the unit of its first attempt.
	if (j.Op == queue.OpCreate && j.Attempts == 1) || (j.Op == queue.OpUnarchive && j.ExpiryTime > 0) {
		r.Hold = time.Duration(j.ExpiryTime) * 24 * time.Hour
	}
	return r
}

// segmentKey names a job's segment in the active-segment gauge.
func segmentKey(j *queue.Job) string { return cmp.Or(j.Name, j.CSID) }

// reserve asks the limiter for the job's slot and records the job as
// waiting with its ETA; a reserved slot gets its submit task at once,
// a pending one when the dispatcher promotes it.
func (w *Worker) reserve(ctx context.Context, j *queue.Job) error {
	ws := w.ws[j.Workspace]
	if ws == nil {
		_, err := w.jobs.Fail(ctx, j.ID, fmt.Sprintf("workspace %s is not configured on this worker", j.Workspace))
		return err
	}
	res, err := w.lim.Reserve(ctx, j.Workspace, ws.Limits, w.request(j))
	var heavy *limiter.TooHeavyError
	if errors.As(err, &heavy) {
		_, ferr := w.jobs.Fail(ctx, j.ID, "over limit: "+heavy.Error())
		return ferr
	}
	if err != nil {
		return fmt.Errorf("reserve %s: %w", j.ID, err)
	}
	wsID, rid := j.Workspace, j.ReservationID()
	j, err = w.recordReservation(ctx, j.ID, j.Attempts, res)
	if err != nil {
		var se *queue.StateError
		if errors.As(err, &se) && se.From == queue.StateCancelled {
			w.freeSlot(ctx, wsID, rid)
			return nil
		}
		return ignoreStateError(err)
	}
	if res.Status == limiter.Reserved {
		w.scheduleSubmit(ctx, j, res.Slot)
	}
	return nil
}

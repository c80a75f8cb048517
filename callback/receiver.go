package callback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// MaxBody is the largest callback body accepted (DESIGN §6).
const MaxBody = 64 << 10

// Receiver handles POST /v1/callbacks/{job_id}/{attempt}?sig=. It is
// idempotent: the first terminal callback of the current attempt wins and
// every duplicate or stale callback is acknowledged with 200 and ignored.
type Receiver struct {
	jobs    *queue.Client
	signer  *Signer
	retry   queue.Backoff
	log     *zap.Logger
	metrics *obs.Metrics
}

// NewReceiver returns a Receiver. metrics may be nil.
func NewReceiver(jobs *queue.Client, signer *Signer, retry queue.Backoff, log *zap.Logger, metrics *obs.Metrics) *Receiver {
	return &Receiver{jobs: jobs, signer: signer, retry: retry, log: log, metrics: metrics}
}

// result labels for the callbacks metric and the answer's body.
const (
	resultAccepted  = "accepted"
	resultDuplicate = "duplicate"
	resultStale     = "stale"
	resultForged    = "forged"
	resultTooLarge  = "too_large"
	resultMalformed = "malformed"
	resultError     = "error"
)

// ServeHTTP implements http.Handler. The route must bind the path values
// job_id and attempt.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	result, status := rc.handle(r)
	if rc.metrics != nil {
		rc.metrics.Callbacks.WithLabelValues(result).Inc()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusOK {
		fmt.Fprintf(w, `{"result":%q}`+"\n", result)
		return
	}
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`+"\n", result, http.StatusText(status))
}

func (rc *Receiver) handle(r *http.Request) (result string, status int) {
	id := r.PathValue("job_id")
	attempt, err := strconv.Atoi(r.PathValue("attempt"))
	if err != nil || attempt < 1 || !rc.signer.Valid(id, attempt, r.URL.Query().Get("sig")) {
		return resultForged, http.StatusNotFound
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return resultTooLarge, http.StatusRequestEntityTooLarge
	}
	if err != nil {
		return resultMalformed, http.StatusBadRequest
	}
	var p moengage.CallbackPayload
	if err := json.Unmarshal(body, &p); err != nil || p.Status == 0 {
		return resultMalformed, http.StatusBadRequest
	}
	result, err = rc.apply(r, id, attempt, p, body)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return resultForged, http.StatusNotFound
	case err != nil:
		rc.log.Error("callback", zap.String("job_id", id), zap.Int("attempt", attempt), zap.Error(err))
		return resultError, http.StatusServiceUnavailable
	}
	return result, http.StatusOK
}

// apply moves the job according to the payload, in one compare-and-set
// that also checks the callback is for the job's current attempt and that
// the attempt was sent and not settled yet.
func (rc *Receiver) apply(r *http.Request, id string, attempt int, p moengage.CallbackPayload, body []byte) (string, error) {
	ctx := r.Context()
	var (
		j   *queue.Job
		err error
	)
	switch {
	case p.Succeeded():
		j, err = rc.settle(ctx, id, attempt, queue.StateSucceeded, "callback 201: "+counts(p), func(j *queue.Job) {
			j.ValuesFound, j.ValuesProcessed, j.UserCount = p.ValuesFound, p.ValuesProcessed, p.UserCount
			j.RequestID, j.Error, j.UpstreamCallback = p.RequestID, "", compact(body)
		})
	case p.Retryable():
		j, err = rc.jobs.Retry(ctx, id, attempt, fmt.Sprintf("callback %d: %s", p.Status, p.ErrorMessage), rc.retry)
	default:
		j, err = rc.settle(ctx, id, attempt, queue.StateFailed, fmt.Sprintf("callback %d", p.Status), func(j *queue.Job) {
			j.Error, j.RequestID = fmt.Sprintf("MoEngage callback %d: %s", p.Status, p.ErrorMessage), p.RequestID
			j.UpstreamCallback = compact(body)
		})
	}
	var se *queue.StateError
	switch {
	case errors.Is(err, errStale):
		return resultStale, nil
	case errors.As(err, &se):
		return resultDuplicate, nil
	case err != nil:
		return "", err
	}
	rc.log.Info("callback applied", zap.String("job_id", id), zap.String("workspace", j.Workspace),
		zap.String("op", string(j.Op)), zap.Int("attempt", attempt), zap.Int("status", p.Status))
	return resultAccepted, nil
}

// compact returns the JSON body without insignificant white space, to be
// kept in the job (a body that failed to compact is kept as it is).
func compact(body []byte) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, body); err != nil {
		return body
	}
	return b.Bytes()
}

// errStale marks a callback for an attempt other than the job's current.
var errStale = errors.New("callback for an earlier attempt")

// settle ends an attempt that is waiting for its callback.
func (rc *Receiver) settle(ctx context.Context, id string, attempt int, to queue.State, detail string, apply func(j *queue.Job)) (*queue.Job, error) {
	return rc.jobs.Transition(ctx, id, to, detail, func(j *queue.Job) error {
		if j.Attempts != attempt {
			return errStale
		}
		if !awaitsCallback(j.State) {
			return &queue.StateError{ID: id, From: j.State, To: to}
		}
		apply(j)
		j.ETA = nil
		return nil
	})
}

// awaitsCallback reports whether a job in state s has sent its current
// attempt and not heard the outcome.
func awaitsCallback(s queue.State) bool {
	switch s {
	case queue.StateSubmitting, queue.StateSubmitted, queue.StateOverdue, queue.StateUnknown:
		return true
	}
	return false
}

func counts(p moengage.CallbackPayload) string {
	v := func(n *int64) int64 {
		if n == nil {
			return 0
		}
		return *n
	}
	return fmt.Sprintf("values_found=%d values_processed=%d user_count=%d", v(p.ValuesFound), v(p.ValuesProcessed), v(p.UserCount))
}

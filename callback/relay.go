package callback

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// Relayer delivers finished jobs to their producers' callback_url as
// Standard Webhooks: a POST of the job JSON with webhook-id,
// webhook-timestamp and webhook-signature headers. It is the handler of
// queue.TypeRelay tasks; asynq retries failed deliveries with backoff.
type Relayer struct {
	jobs    *queue.Client
	key     []byte
	http    *http.Client
	now     func() time.Time
	log     *zap.Logger
	metrics *obs.Metrics
}

// NewRelayer returns a Relayer signing with key and posting through client,
// which should be SSRF-guarded (the URLs come from producers). metrics may
// be nil.
func NewRelayer(jobs *queue.Client, key []byte, client *http.Client, log *zap.Logger, metrics *obs.Metrics) *Relayer {
	return &Relayer{jobs: jobs, key: key, http: client, now: time.Now, log: log, metrics: metrics}
}

// ProcessTask implements asynq.Handler.
func (rl *Relayer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParsePayload(t)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	j, err := rl.jobs.Get(ctx, p.JobID)
	if errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("relay %s: %w: %w", p.JobID, err, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	body, err := RelayBody(j)
	if err != nil {
		return err
	}
	msgID := fmt.Sprintf("msg_%s_%d_%s", j.ID, p.Attempt, p.State)
	status, derr := rl.deliver(ctx, j.CallbackURL, msgID, body)
	result, detail := "delivered", fmt.Sprintf("relay to producer: HTTP %d", status)
	if derr != nil {
		result, detail = "failed", "relay to producer failed: "+derr.Error()
	}
	if rl.metrics != nil {
		rl.metrics.Relays.WithLabelValues(result).Inc()
	}
	done := derr == nil || queue.LastAttempt(ctx)
	if derr != nil && done {
		detail += "; giving up"
	}
	if _, err := rl.jobs.Store().Update(ctx, j.ID, func(j *queue.Job) error {
		j.Timeline = append(j.Timeline, queue.Event{At: queue.NewTime(rl.now()), State: j.State, Detail: detail})
		return nil
	}); err != nil {
		rl.log.Warn("record relay attempt", zap.String("job_id", j.ID), zap.Error(err))
	}
	if done {
		if err := rl.jobs.Store().AckOutbox(ctx, j.Workspace, j.ID); err != nil {
			return err
		}
	}
	return derr
}

// RelayBody is what a finished job's callback_url receives: the job JSON,
// or for RelayFormat moengage the payload MoEngage itself would have sent.
// That is the callback MoEngage sent, verbatim, when one ended the job;
// otherwise (the job failed or was cancelled before MoEngage processed
// it, or an operator resolved it) a payload of the same shape: status 201
// for succeeded, 500 for a job that gave up after server-side failures,
// 400 otherwise, with the job's error as error_message.
func RelayBody(j *queue.Job) ([]byte, error) {
	if j.RelayFormat != queue.RelayMoEngage {
		return json.Marshal(j)
	}
	if len(j.UpstreamCallback) > 0 {
		return j.UpstreamCallback, nil
	}
	p := moengage.CallbackPayload{SegmentName: j.Name, RequestID: j.RequestID, Status: moengage.CallbackClientError,
		ErrorMessage: j.Error}
	switch {
	case j.State == queue.StateSucceeded:
		p.Status, p.ErrorMessage = moengage.CallbackSucceeded, ""
		p.ValuesFound, p.ValuesProcessed, p.UserCount = j.ValuesFound, j.ValuesProcessed, j.UserCount
	case j.State == queue.StateCancelled:
		p.ErrorMessage = "cancelled in segq before it was sent to MoEngage"
	case j.FailedAttempts > 0:
		p.Status = moengage.CallbackServerError
	}
	return json.Marshal(p)
}

func (rl *Relayer) deliver(ctx context.Context, target, msgID string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range SignWebhook(rl.key, msgID, rl.now(), body) {
		req.Header[k] = v
	}
	resp, err := rl.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// Standard Webhooks header names.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// SignWebhook returns the Standard Webhooks headers for a message:
// webhook-signature is "v1," + base64(HMAC-SHA256(key, id.timestamp.body)).
func SignWebhook(key []byte, msgID string, at time.Time, body []byte) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	h := http.Header{}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, "v1,"+webhookMAC(key, msgID, ts, body))
	return h
}

func webhookMAC(key []byte, msgID, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID + "." + ts + "."))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by VerifyWebhook for a message that was not
// signed with the key, or is outside the timestamp tolerance.
var ErrBadSignature = errors.New("webhook signature invalid")

// VerifyWebhook checks a relayed webhook; producers call it in their
// handler. tolerance bounds the age of the timestamp (replay protection);
// five minutes is the Standard Webhooks recommendation.
func VerifyWebhook(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp outside tolerance", ErrBadSignature)
	}
	want := webhookMAC(key, h.Get(HeaderID), ts, body)
	for _, sig := range strings.Fields(h.Get(HeaderSignature)) {
		if v, mac, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(mac), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}

// WebhookKey derives the relay signing key from the callback secret, so
// that producers who hold it cannot forge MoEngage callbacks.
func WebhookKey(callbackSecret string) []byte {
	m := hmac.New(sha256.New, []byte(callbackSecret))
	m.Write([]byte("segq webhook v1"))
	return m.Sum(nil)
}

package callback_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/callback"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

type receiverBundle struct {
	srv    *httptest.Server
	jobs   *queue.Client
	signer *callback.Signer
	job    *queue.Job
}

// setupReceiver serves a Receiver and stores one job in state submitted.
func setupReceiver(t *testing.T) *receiverBundle {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	jobs := queue.NewClient(rdb, queue.ClientOptions{})
	t.Cleanup(func() { _ = jobs.Close() })
	signer, err := callback.NewSigner("0123456789abcdef0123", "http://segq.test")
	require.NoError(t, err)
	mux := http.NewServeMux()
	policy := queue.Backoff{Base: time.Minute, Factor: 2, Cap: time.Hour, MaxAttempts: 3}
	mux.Handle("POST /v1/callbacks/{job_id}/{attempt}", callback.NewReceiver(jobs, signer, policy, zap.NewNop(), nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	ctx := context.Background()
	j, _, err := jobs.Enqueue(ctx, queue.Request{Workspace: "ws", Name: "seg", AttributeName: "id", AttributeType: "string",
		FileURL: "https://f.example.com/a.csv", ExpiryTime: 1}, queue.EnqueueOptions{})
	require.NoError(t, err)
	for _, s := range []queue.State{queue.StateValidating, queue.StateWaiting, queue.StateSubmitting, queue.StateSubmitted} {
		j, err = jobs.Store().Transition(ctx, j.ID, s, "test", nil)
		require.NoError(t, err)
	}
	return &receiverBundle{srv: srv, jobs: jobs, signer: signer, job: j}
}

func (b *receiverBundle) post(t *testing.T, url, body string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func (b *receiverBundle) url(attempt int) string {
	return b.srv.URL + strings.TrimPrefix(b.signer.URL(b.job.ID, attempt), "http://segq.test")
}

func (b *receiverBundle) state(t *testing.T) *queue.Job {
	j, err := b.jobs.Get(context.Background(), b.job.ID)
	require.NoError(t, err)
	return j
}

const success = `{"db_name":"db","segment_name":"seg","request_id":"r1","status":201,"values_found":10,"values_processed":9,"user_count":8}`

func TestReceiverRejects(t *testing.T) {
	t.Parallel()
	b := setupReceiver(t)
	good := b.url(1)
	cases := []struct {
		name, url, body string
		status          int
	}{
		{"forged token", strings.Replace(good, "sig=", "sig=x", 1), success, http.StatusNotFound},
		{"no token", strings.Split(good, "?")[0], success, http.StatusNotFound},
		{"token of another attempt", b.srv.URL + "/v1/callbacks/" + b.job.ID + "/2?sig=" + b.signer.Token(b.job.ID, 1), success, http.StatusNotFound},
		{"unknown job", b.srv.URL + "/v1/callbacks/01UNKNOWN/1?sig=" + b.signer.Token("01UNKNOWN", 1), success, http.StatusNotFound},
		{"too large", good, `{"status":201,"x":"` + strings.Repeat("a", callback.MaxBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"malformed", good, `{"status":`, http.StatusBadRequest},
		{"no status", good, `{}`, http.StatusBadRequest},
	}
	for _, tc := range cases {
		require.Equal(t, tc.status, b.post(t, tc.url, tc.body), tc.name)
	}
	require.Equal(t, queue.StateSubmitted, b.state(t).State, "rejected callbacks change nothing")
}

func TestReceiverSuccessIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setupReceiver(t)
	require.Equal(t, http.StatusOK, b.post(t, b.url(1), success))
	j := b.state(t)
	require.Equal(t, queue.StateSucceeded, j.State)
	require.Equal(t, int64(8), *j.UserCount)
	require.JSONEq(t, success, string(j.UpstreamCallback), "MoEngage's callback is kept for the relay")
	n := len(j.Timeline)
	require.Equal(t, http.StatusOK, b.post(t, b.url(1), `{"status":500,"error_message":"late dup"}`))
	j = b.state(t)
	require.Equal(t, queue.StateSucceeded, j.State)
	require.Len(t, j.Timeline, n, "a duplicate changes nothing")
}

// An operator's resolution of an overdue job stands when the callback
// turns up after all.
func TestReceiverAfterResolution(t *testing.T) {
	t.Parallel()
	b := setupReceiver(t)
	ctx := context.Background()
	_, err := b.jobs.Store().Transition(ctx, b.job.ID, queue.StateOverdue, "test", nil)
	require.NoError(t, err)
	_, err = b.jobs.Resolve(ctx, b.job.ID, queue.Resolution{State: queue.StateFailed, Reason: "not in MoEngage"})
	require.NoError(t, err)
	n := len(b.state(t).Timeline)
	require.Equal(t, http.StatusOK, b.post(t, b.url(1), success))
	j := b.state(t)
	require.Equal(t, queue.StateFailed, j.State)
	require.Len(t, j.Timeline, n)
}

func TestReceiverServerErrorRetries(t *testing.T) {
	t.Parallel()
	b := setupReceiver(t)
	require.Equal(t, http.StatusOK, b.post(t, b.url(1), `{"status":500,"error_message":"Internal Server Error. Contact MoEngage Team."}`))
	j := b.state(t)
	require.Equal(t, queue.StateRetrying, j.State)
	require.Equal(t, 2, j.Attempts)
	require.Equal(t, 1, j.FailedAttempts)
	require.NotNil(t, j.ETA)
	// The old attempt's callback is stale now.
	require.Equal(t, http.StatusOK, b.post(t, b.url(1), success))
	require.Equal(t, queue.StateRetrying, b.state(t).State)
}

func TestReceiverClientErrorFails(t *testing.T) {
	t.Parallel()
	b := setupReceiver(t)
	msg := "File download failed. Created custom_segment contains 0 users."
	require.Equal(t, http.StatusOK, b.post(t, b.url(1), `{"status":400,"error_message":"`+msg+`"}`))
	j := b.state(t)
	require.Equal(t, queue.StateFailed, j.State)
	require.Contains(t, j.Error, msg)
}

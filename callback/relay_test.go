package callback_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/callback"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// TestRelayDeliversSignedJob runs a relay task against a producer that
// verifies the Standard Webhooks signature, and checks the outbox is
// acknowledged and the attempt is in the timeline.
func TestRelayDeliversSignedJob(t *testing.T) {
	t.Parallel()
	key := callback.WebhookKey("0123456789abcdef0123")
	got := make(chan queue.Job, 1)
	producer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := callback.VerifyWebhook(key, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var j queue.Job
		_ = json.Unmarshal(body, &j)
		got <- j
	}))
	t.Cleanup(producer.Close)

	ctx := context.Background()
	jobs, j := enqueueWithCallback(t, producer.URL+"/hook")
	_, err := jobs.Cancel(ctx, j.ID)
	require.NoError(t, err)
	ids, err := jobs.Store().Outbox(ctx, "ws", time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Equal(t, []string{j.ID}, ids, "a finished job with a callback_url is in the outbox")

	client := safehttp.NewClient(safehttp.Options{Allow: safehttp.LoopbackPrefixes})
	relayer := callback.NewRelayer(jobs, key, client, zap.NewNop(), nil)
	task, _ := queue.NewRelayTask(j.ID, 1, queue.StateCancelled)
	require.NoError(t, relayer.ProcessTask(ctx, task))
	delivered := <-got
	require.Equal(t, j.ID, delivered.ID)
	require.Equal(t, queue.StateCancelled, delivered.State)

	ids, err = jobs.Store().Outbox(ctx, "ws", time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Empty(t, ids, "delivered: outbox acknowledged")
	after, err := jobs.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Contains(t, after.Timeline[len(after.Timeline)-1].Detail, "relay to producer: HTTP 200")
}

// TestRelayRefusesPrivateTargets: producer URLs go through the SSRF guard.
func TestRelayRefusesPrivateTargets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	jobs, j := enqueueWithCallback(t, "http://169.254.169.254/latest/meta-data")
	relayer := callback.NewRelayer(jobs, []byte("k"), safehttp.NewClient(safehttp.Options{}), zap.NewNop(), nil)
	task, _ := queue.NewRelayTask(j.ID, 1, queue.StateCancelled)
	err := relayer.ProcessTask(ctx, task)
	var blocked *safehttp.BlockedError
	require.ErrorAs(t, err, &blocked)
}

// enqueueWithCallback stores a job with the given callback_url on a fresh
// miniredis.
func enqueueWithCallback(t *testing.T, callbackURL string) (*queue.Client, *queue.Job) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	jobs := queue.NewClient(rdb, queue.ClientOptions{})
	t.Cleanup(func() { _ = jobs.Close() })
	j, _, err := jobs.Enqueue(context.Background(), queue.Request{Workspace: "ws", Name: "seg", AttributeName: "id",
		AttributeType: "string", FileURL: "https://f.example.com/a.csv", ExpiryTime: 1, CallbackURL: callbackURL}, queue.EnqueueOptions{})
	require.NoError(t, err)
	return jobs, j
}

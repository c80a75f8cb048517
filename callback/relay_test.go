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

// TestRelayBodyMoEngageFormat: a drop-in job's producer gets MoEngage's
// callback as MoEngage sent it, or one of the same shape when MoEngage
// never sent one.
func TestRelayBodyMoEngageFormat(t *testing.T) {
	t.Parallel()
	n := func(v int64) *int64 { return &v }
	upstream := `{"db_name":"db1","segment_name":"seg","request_id":"r9","status":201,"values_found":3,"values_processed":3,"user_count":2}`
	cases := []struct {
		name string
		job  queue.Job
		want string
	}{
		{"job format", queue.Job{ID: "01J", Name: "seg", State: queue.StateFailed, Error: "bad file"}, ""},
		{"verbatim upstream callback", queue.Job{Name: "seg", State: queue.StateSucceeded, RelayFormat: queue.RelayMoEngage,
			UpstreamCallback: json.RawMessage(upstream)}, upstream},
		{"failed before submission", queue.Job{Name: "seg", State: queue.StateFailed, RelayFormat: queue.RelayMoEngage,
			Error: "file check failed: line 2: empty line"},
			`{"db_name":"","segment_name":"seg","request_id":"","status":400,"error_message":"file check failed: line 2: empty line"}`},
		{"gave up after server errors", queue.Job{Name: "seg", State: queue.StateFailed, RelayFormat: queue.RelayMoEngage,
			FailedAttempts: 8, RequestID: "r3", Error: "MoEngage 503"},
			`{"db_name":"","segment_name":"seg","request_id":"r3","status":500,"error_message":"MoEngage 503"}`},
		{"cancelled", queue.Job{Name: "seg", State: queue.StateCancelled, RelayFormat: queue.RelayMoEngage},
			`{"db_name":"","segment_name":"seg","request_id":"","status":400,"error_message":"cancelled in segq before it was sent to MoEngage"}`},
		{"resolved as succeeded", queue.Job{Name: "seg", State: queue.StateSucceeded, RelayFormat: queue.RelayMoEngage,
			UserCount: n(5)}, `{"db_name":"","segment_name":"seg","request_id":"","status":201,"user_count":5}`},
	}
	for _, c := range cases {
		got, err := callback.RelayBody(&c.job)
		require.NoError(t, err, c.name)
		if c.want == "" {
			want, err := json.Marshal(&c.job)
			require.NoError(t, err)
			c.want = string(want)
		}
		require.JSONEq(t, c.want, string(got), c.name)
	}
}

package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// apiCall sends a request to the harness's API (with the bearer token
// when given) and returns the status and raw body.
func (h *harness) apiCall(method, path, token, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, h.API.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// jobBody is the POST /v1/jobs body of a create with a file of n values.
func (h *harness) jobBody(ws, name string, n int) string {
	return fmt.Sprintf(`{"workspace":%q,"name":%q,"attribute_name":"uid","attribute_type":"string","file_url":"%s/%s/%d.csv","expiry_time":1}`,
		ws, name, h.Files.URL, name, n)
}

// accepted is a job the API answered 202 for.
type acceptedJob struct{ id, name string }

// TestRedisRestartLosesNothing restarts redis-server (SIGKILL, then the
// same data directory: AOF with appendfsync always) while producers
// enqueue through the API and workers submit. Every job the API answered
// 202 for still exists and ends succeeded — or overdue when its callback
// hit the outage (MoEngage does not retry callbacks) — MoEngage saw one
// create per job, and no window was exceeded across the restart.
func TestRedisRestartLosesNothing(t *testing.T) {
	t.Parallel()
	n, restarts := 24, 1
	if long() {
		n, restarts = 100, 4
	}
	r := startRedis(t)
	h := newHarnessWith(t, testsystem.Options{Redis: &config.Redis{URL: r.URL()}, Configure: func(c *config.Config) {
		c.Worker.CallbackTimeout = 4 * time.Second
	}}, "ws-r1", "ws-r2")
	h.StartWorker()
	h.StartWorker()

	var (
		mu       sync.Mutex
		accepted []acceptedJob
		refused  int
	)
	restartAt := map[int]bool{}
	for k := 1; k <= restarts; k++ {
		restartAt[k*n/(restarts+1)] = true
	}
	tick := time.NewTicker(150 * time.Millisecond) // the producers' pace
	defer tick.Stop()
	for i := range n {
		<-tick.C
		if restartAt[i] {
			r.restart()
		}
		name := fmt.Sprintf("restart-%03d", i)
		ws := []string{"ws-r1", "ws-r2"}[i%2]
		status, raw, err := h.apiCall(http.MethodPost, "/v1/jobs", "", h.jobBody(ws, name, 10+i))
		require.NoError(t, err)
		switch status {
		case http.StatusAccepted:
			var j queue.Job
			require.NoError(t, json.Unmarshal(raw, &j))
			mu.Lock()
			accepted = append(accepted, acceptedJob{j.ID, name})
			mu.Unlock()
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("enqueue %s: %d %s", name, status, raw)
		}
	}

	ids := make([]string, len(accepted))
	names := make([]string, len(accepted))
	for i, a := range accepted {
		ids[i], names[i] = a.id, a.name
	}
	jobs := h.waitFinal(ids, 2*time.Minute, queue.StateSucceeded, queue.StateOverdue)
	overdue := 0
	for _, j := range jobs {
		if j.State == queue.StateOverdue {
			overdue++
			t.Logf("overdue (callback lost in the outage): %s", testsystem.Timeline(j))
		}
	}
	st := h.Sim.Stats()
	require.LessOrEqual(t, int64(overdue), st.CallbacksFailed, "an overdue job must have lost its callback")
	h.assertOneCreateEach(names)
	require.Zero(t, st.Rejected429)
	require.Zero(t, st.Rejected4xx)
	h.AssertWindows()
	t.Logf("%d restarts: %d jobs accepted, %d refused with 503, %d overdue, %d callbacks failed",
		restarts, len(accepted), refused, overdue, st.CallbacksFailed)
}

// waitFinal polls the jobs until each is in one of states, then returns
// them; it fails the test after timeout.
func (h *harness) waitFinal(ids []string, timeout time.Duration, states ...queue.State) []*queue.Job {
	h.t.Helper()
	ok := func(s queue.State) bool {
		for _, want := range states {
			if s == want {
				return true
			}
		}
		return false
	}
	var jobs []*queue.Job
	require.Eventually(h.t, func() bool {
		jobs = jobs[:0]
		for _, id := range ids {
			j, err := h.Jobs.Get(context.Background(), id)
			if err != nil || !ok(j.State) {
				return false
			}
			jobs = append(jobs, j)
		}
		return true
	}, timeout, 50*time.Millisecond, "jobs never all reached %v", states)
	return jobs
}

// TestRedisDownAPI503WorkersResume stops Redis entirely: /readyz turns 503,
// enqueues and reads answer 503 (never a 2xx for a job that was not
// stored), and the worker keeps running. When Redis comes back with its
// AOF, /readyz is 200 again, the job finished before the outage is still
// there, the job caught mid-flight and a new one finish on the same worker.
func TestRedisDownAPI503WorkersResume(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	h := newHarnessWith(t, testsystem.Options{Redis: &config.Redis{URL: r.URL()}}, "ws-d")
	h.StartWorker()
	before := h.Create("ws-d", "before-outage", 10)
	h.WaitState(before.ID, queue.StateSucceeded, 30*time.Second)

	inflight := h.Create("ws-d", "during-outage", 10)
	r.kill()
	require.Eventually(t, func() bool {
		status, _, err := h.apiCall(http.MethodGet, "/readyz", "", "")
		return err == nil && status == http.StatusServiceUnavailable
	}, 15*time.Second, 50*time.Millisecond, "/readyz must report Redis down")
	status, raw, err := h.apiCall(http.MethodPost, "/v1/jobs", "", h.jobBody("ws-d", "refused", 10))
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, status, "%s", raw)
	require.Contains(t, string(raw), `"code":"unavailable"`)
	status, _, err = h.apiCall(http.MethodGet, "/v1/jobs/"+before.ID, "", "")
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, status)

	r.start()
	require.Eventually(t, func() bool {
		status, _, err := h.apiCall(http.MethodGet, "/readyz", "", "")
		return err == nil && status == http.StatusOK
	}, 15*time.Second, 50*time.Millisecond, "/readyz must recover with Redis")
	got, err := h.Jobs.Get(context.Background(), before.ID)
	require.NoError(t, err, "a finished job must survive a Redis crash (AOF)")
	require.Equal(t, queue.StateSucceeded, got.State)
	h.WaitState(inflight.ID, queue.StateSucceeded, 60*time.Second)
	after := h.Create("ws-d", "after-outage", 10)
	h.WaitState(after.ID, queue.StateSucceeded, 30*time.Second)
	h.assertOneCreateEach([]string{"before-outage", "during-outage", "after-outage"})
	_, err = h.Jobs.Get(context.Background(), "refused")
	require.ErrorIs(t, err, queue.ErrNotFound)
}

// TestCheckRedisWarns: the start-up check warns about a server without
// AOF and with an evicting policy, and is silent about a well-configured
// one.
func TestCheckRedisWarns(t *testing.T) {
	t.Parallel()
	check := func(r *redisProc) []observer.LoggedEntry {
		opt, err := redis.ParseURL(r.URL())
		require.NoError(t, err)
		c := redis.NewClient(opt)
		defer c.Close()
		core, logs := observer.New(zapcore.InfoLevel)
		stack.CheckRedis(context.Background(), c, zap.New(core))
		return logs.FilterLevelExact(zapcore.WarnLevel).All()
	}
	good := startRedis(t)
	require.Empty(t, check(good))
	bad := startRedis(t, "--appendonly", "no", "--maxmemory-policy", "allkeys-lru")
	warns := check(bad)
	require.Len(t, warns, 2)
	require.Contains(t, warns[0].Message+warns[1].Message, "appendonly")
	require.Contains(t, warns[0].Message+warns[1].Message, "noeviction")
}

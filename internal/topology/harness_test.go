package topology_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The harness is internal/testsystem's (simulator, file host, API with
// callbacks and worker replicas), here on any Redis topology.

// tick is the workers' dispatcher period and asynq's scheduled-task check.
const tick = testsystem.Tick

// options configure a harness.
type options struct {
	redis      config.Redis
	workspaces []string
	// workerKeys replaces the API key segq uses for a workspace (the
	// simulator keeps "key-<id>"), to get credentials refused.
	workerKeys map[string]string
}

type harness struct {
	*testsystem.Harness
	t *testing.T
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	h := testsystem.NewHarness(t, testsystem.Options{
		Redis:      &o.redis,
		Quiet:      true,
		WorkerKeys: o.workerKeys,
		Configure:  func(c *config.Config) { c.Retry.MaxAttempts = 6 },
	}, o.workspaces...)
	return &harness{Harness: h, t: t}
}

// create enqueues a create of name with a file of n values, retrying
// while Redis is unavailable (a failover in progress): the API answers 503
// then and the producer tries again.
func (h *harness) create(ws, name string, n int) *queue.Job {
	h.t.Helper()
	var j *queue.Job
	require.Eventually(h.t, func() bool {
		var err error
		j, _, err = h.Jobs.Enqueue(context.Background(), h.Request(ws, name, n),
			queue.EnqueueOptions{IdempotencyKey: ws + "/" + name})
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "enqueue %s", name)
	return j
}

// waitState polls the job until it is in state, failing the test after
// timeout (a deadline on a poll, not a timed assertion). Unlike
// testsystem's WaitState it rides out errors (a failover in progress).
func (h *harness) waitState(id string, want queue.State, timeout time.Duration) *queue.Job {
	h.t.Helper()
	var (
		j       *queue.Job
		lastErr error
	)
	ok := assert.Eventually(h.t, func() bool {
		got, err := h.Jobs.Get(context.Background(), id)
		if err != nil {
			lastErr = err
			return false
		}
		j = got
		return got.State == want
	}, timeout, 20*time.Millisecond)
	if !ok {
		h.t.Fatalf("job %s never reached %s: last seen %+v, last error %v", id, want, j, lastErr)
	}
	return j
}

// runScenario enqueues perWS creates in every workspace with two worker
// replicas running, and waits for all of them to succeed. mid, when not
// nil, runs once half the jobs have succeeded.
func (h *harness) runScenario(perWS int, mid func()) []*queue.Job {
	h.t.Helper()
	h.StartWorker()
	h.StartWorker()
	var jobs []*queue.Job
	for i := range perWS {
		for _, w := range h.Cfg.Workspaces {
			jobs = append(jobs, h.create(w.ID, fmt.Sprintf("%s-seg-%02d", w.ID, i), 40))
		}
	}
	for i, j := range jobs {
		if i == len(jobs)/2 && mid != nil {
			mid()
		}
		got := h.waitState(j.ID, queue.StateSucceeded, 45*time.Second)
		require.Equal(h.t, int64(40), *got.UserCount)
	}
	return jobs
}

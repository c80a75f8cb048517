package topology_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/testredis"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// TestRefusedCredentialsPauseOnlyTheirWorkspace: segq holds a wrong API
// key for ws-bad. Its first submissions are refused (401): those jobs fail
// with a configuration error and the workspace pauses, its other jobs
// keep waiting. Meanwhile ws-good's ten jobs run on the tightest schedule
// its windows allow.
func TestRefusedCredentialsPauseOnlyTheirWorkspace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		redis:      config.Redis{URL: testredis.URL(t)},
		workspaces: []string{"ws-bad", "ws-good"},
		workerKeys: map[string]string{"ws-bad": "not-the-key"},
	})
	var bad []*queue.Job
	for i := range 6 {
		bad = append(bad, h.create("ws-bad", fmt.Sprintf("bad-%02d", i), 40))
	}
	good := h.runScenarioIn("ws-good", 10)
	h.requireOnSchedule("ws-good", len(good))

	var failed, waiting int
	for _, j := range bad {
		got, err := h.Jobs.Get(context.Background(), j.ID)
		require.NoError(t, err)
		switch got.State {
		case queue.StateFailed:
			require.Contains(t, got.Error, "configuration error")
			failed++
		case queue.StateWaiting:
			waiting++
		default:
			t.Fatalf("ws-bad job %s is %s", got.ID, got.State)
		}
	}
	require.Positive(t, failed, "the refused submission fails its job")
	require.Positive(t, waiting, "the paused workspace's other jobs keep waiting")
	require.Zero(t, h.Sim.Stats().Rejected429)
	require.Empty(t, h.AcceptedAt()["ws-bad"])
}

// TestUpstreamQuotaBlockOnlyDelaysItsWorkspace: someone else spends
// ws-busy's quota upstream, so segq's next ws-busy submission gets a 429
// and blocks ws-busy until the reset. ws-free's jobs run on schedule, none
// of them needing a second attempt, and ws-busy's jobs all succeed once
// the block lifts, without a window exceeded.
func TestUpstreamQuotaBlockOnlyDelaysItsWorkspace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{
		redis:      config.Redis{URL: testredis.URL(t)},
		workspaces: []string{"ws-busy", "ws-free"},
	})
	h.spendQuota("ws-busy", 3)
	var busy []*queue.Job
	for i := range 4 {
		busy = append(busy, h.create("ws-busy", fmt.Sprintf("busy-%02d", i), 40))
	}
	free := h.runScenarioIn("ws-free", 10)
	h.requireOnSchedule("ws-free", len(free))
	for _, j := range free {
		got, err := h.Jobs.Get(context.Background(), j.ID)
		require.NoError(t, err)
		require.Equal(t, 1, got.Attempts, "ws-free job %s was retried", j.ID)
	}
	blocked := false
	for _, j := range busy {
		got := h.waitState(j.ID, queue.StateSucceeded, 45*time.Second)
		for _, e := range got.Timeline {
			blocked = blocked || strings.Contains(e.Detail, "429")
		}
	}
	require.True(t, blocked, "no ws-busy job met the 429")
	require.Positive(t, h.Sim.Stats().Rejected429)
	h.AssertWindows()
}

// spendQuota submits n creates to the simulator for ws directly, as
// another team sharing the workspace would.
func (h *harness) spendQuota(ws string, n int) {
	h.t.Helper()
	up, err := moengage.New(moengage.Config{WorkspaceID: ws, APIKey: "key-" + ws, BaseURL: h.SimURL})
	require.NoError(h.t, err)
	for i := range n {
		name := fmt.Sprintf("other-team-%02d", i)
		_, err := up.Create(context.Background(), moengage.SegmentRequest{
			Name: name, AttributeName: "uid", AttributeType: "string", FileURL: h.FileURL(name, 10), ExpiryTime: 1,
		})
		require.NoError(h.t, err)
	}
}

// runScenarioIn starts two workers, enqueues n creates in ws and waits
// for all of them to succeed.
func (h *harness) runScenarioIn(ws string, n int) []*queue.Job {
	h.t.Helper()
	h.StartWorker()
	h.StartWorker()
	var jobs []*queue.Job
	for i := range n {
		jobs = append(jobs, h.create(ws, fmt.Sprintf("%s-seg-%02d", ws, i), 40))
	}
	for _, j := range jobs {
		h.waitState(j.ID, queue.StateSucceeded, 45*time.Second)
	}
	return jobs
}

// requireOnSchedule checks that ws's n submissions were as early as its
// windows (with the safety margin) allow after the first one, give or
// take the dispatcher's tick and request latency: another workspace's
// trouble cost it nothing.
func (h *harness) requireOnSchedule(ws string, n int) {
	h.t.Helper()
	w, ok := h.Cfg.Workspace(ws)
	require.True(h.t, ok)
	at := h.AcceptedAt()[ws]
	require.Len(h.t, at, n)
	ideal := testsystem.EarliestSchedule(at[0], n, w.Limits.Ops, w.Limits.SafetyMargin)
	late := at[n-1].Sub(ideal[n-1])
	h.t.Logf("workspace %s: last submission %v after the ideal schedule", ws, late)
	require.Less(h.t, late, tick+time.Second, "schedule of %s far behind the ideal", ws)
}

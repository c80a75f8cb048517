package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// TestScaledScheduleManyWorkers is the foundation's acceptance test: 24
// jobs over 2 workspaces, 3 worker replicas on one Redis, windows of 3 ops
// per second and 5 per 4 seconds. Every job succeeds, the simulator
// rejects nothing, no window is ever exceeded, and the schedule is as
// tight as the limits allow.
func TestScaledScheduleManyWorkers(t *testing.T) {
	h := newHarness(t, "ws-a", "ws-b")
	for range 3 {
		h.StartWorker()
	}
	const perWS = 12
	var jobs []*queue.Job
	for i := range perWS {
		for _, ws := range []string{"ws-a", "ws-b"} {
			jobs = append(jobs, h.Create(ws, fmt.Sprintf("%s-seg-%02d", ws, i), 50))
		}
	}
	for _, j := range jobs {
		got := h.WaitState(j.ID, queue.StateSucceeded, 60*time.Second)
		require.Equal(t, int64(50), *got.UserCount)
		require.NotNil(t, got.CSID)
	}
	st := h.Sim.Stats()
	require.Zero(t, st.Rejected429, "segq must never cause a 429")
	require.Equal(t, int64(len(jobs)), st.Accepted)
	h.AssertWindows()

	// The last submission of each workspace comes no later than the
	// earliest schedule the windows (with the safety margin) allow after
	// its first one, plus the scheduler's tick and request latency.
	byWS := map[string][]time.Time{}
	for _, r := range h.Sim.Accepted() {
		byWS[r.Workspace] = append(byWS[r.Workspace], r.At)
	}
	for _, w := range h.Cfg.Workspaces {
		at := byWS[w.ID]
		require.Len(t, at, perWS)
		ideal := testsystem.EarliestSchedule(at[0], perWS, w.Limits.Ops, w.Limits.SafetyMargin)
		late := at[perWS-1].Sub(ideal[perWS-1])
		t.Logf("workspace %s: last submission %v after the ideal schedule (tick %v)", w.ID, late, tick)
		require.Less(t, late, tick+time.Second, "schedule of %s far behind the ideal", w.ID)
	}
}

// TestCallbackServerErrorRetriesAsAdd: a 500 callback retries the create
// as add to the same cs_id; duplicate and forged callbacks change nothing.
func TestCallbackServerErrorRetriesAsAdd(t *testing.T) {
	// A retry waits at least a second (half the 2 s base): time enough to
	// turn the fault off before the second attempt is sent.
	h := newHarnessWith(t, testsystem.Options{Configure: func(c *config.Config) { c.Retry.Base, c.Retry.Cap = 2*time.Second, 4*time.Second }}, "ws-r")
	h.Sim.SetFaults(moesim.Faults{Callback5xx: 1, DuplicateCallback: 1})
	h.StartWorker()
	j := h.Create("ws-r", "retry-me", 20)
	h.WaitState(j.ID, queue.StateRetrying, 30*time.Second)
	h.Sim.SetFaults(moesim.Faults{DuplicateCallback: 1})
	got := h.WaitState(j.ID, queue.StateSucceeded, 30*time.Second)
	require.Equal(t, 2, got.Attempts)
	require.Equal(t, queue.OpAdd, got.SubmitOp)

	var ops []string
	var ids []string
	for _, r := range h.Sim.Accepted() {
		if r.Name == "retry-me" {
			ops, ids = append(ops, r.Op), append(ids, r.CSID)
		}
	}
	require.Equal(t, []string{"create", "add"}, ops)
	require.Equal(t, ids[0], ids[1], "the add goes to the segment the create made")
	require.Equal(t, got.CSID, ids[0])

	// A forged callback for a finished job: 404, nothing changes.
	n := len(got.Timeline)
	resp, err := http.Post(fmt.Sprintf("%s/v1/callbacks/%s/2?sig=forged", h.API.URL, j.ID), "application/json",
		strings.NewReader(`{"status":400,"error_message":"forged"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	after, err := h.Jobs.Get(context.Background(), j.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateSucceeded, after.State)
	require.Len(t, after.Timeline, n)
	require.Zero(t, h.Sim.Stats().Rejected429)
}

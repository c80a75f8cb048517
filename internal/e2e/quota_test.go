package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// TestUpstream429BlocksWorkspace: another client of the same workspace
// spends the quota behind segq's back, upstream answers 429, the workspace
// is blocked until x-ratelimit-reset, and every job still ends succeeded.
func TestUpstream429BlocksWorkspace(t *testing.T) {
	h := newHarness(t, "ws-q")
	w := h.Cfg.Workspaces[0]
	other, err := moengage.New(moengage.Config{WorkspaceID: w.ID, APIKey: w.APIKey.Reveal(), BaseURL: w.BaseURL})
	require.NoError(t, err)
	for i := range 3 {
		_, err := other.Create(context.Background(), moengage.SegmentRequest{
			Name: fmt.Sprintf("other-%d", i), AttributeName: "uid", AttributeType: "string",
			FileURL: fmt.Sprintf("%s/other/%d.csv", h.Files.URL, 5), ExpiryTime: 1,
		})
		require.NoError(t, err)
	}
	h.StartWorker()
	var jobs []*queue.Job
	for i := range 6 {
		jobs = append(jobs, h.Create("ws-q", fmt.Sprintf("q-%02d", i), 10))
	}
	blocked := 0
	for _, j := range jobs {
		got := h.WaitState(j.ID, queue.StateSucceeded, 60*time.Second)
		for _, e := range got.Timeline {
			if strings.Contains(e.Detail, "quota refused upstream (429)") {
				blocked++
			}
		}
	}
	st := h.Sim.Stats()
	require.Positive(t, st.Rejected429, "the scenario must provoke a 429")
	require.Equal(t, int64(blocked), st.Rejected429, "every 429 is recorded on its job")
	require.Equal(t, int64(len(jobs)+3), st.Accepted)
}

// TestCredentialsRefusedPauseWorkspace: a 401 fails the job with a
// configuration error and pauses the workspace: the next job waits instead
// of spending requests on bad credentials, also when no worker renews the
// pause for a while; once a worker runs with the right key, it goes.
func TestCredentialsRefusedPauseWorkspace(t *testing.T) {
	h := newHarness(t, "ws-auth")
	h.Cfg.Workspaces[0].APIKey = config.Secret("wrong-key")
	h.StartWorker()
	first := h.Create("ws-auth", "auth-1", 5)
	got := h.WaitState(first.ID, queue.StateFailed, 30*time.Second)
	require.Contains(t, got.Error, "configuration error")

	second := h.Create("ws-auth", "auth-2", 5)
	h.WaitState(second.ID, queue.StateWaiting, 30*time.Second)
	requests := h.Sim.Stats().Requests
	// Give the dispatcher many ticks: the paused workspace sends nothing.
	require.Never(t, func() bool {
		j, err := h.Jobs.Get(context.Background(), second.ID)
		return err != nil || j.State != queue.StateWaiting || h.Sim.Stats().Requests != requests
	}, 20*tick, tick)

	// No worker for longer than a renewal lasts: the block lapses, the
	// pause does not. A worker with the same wrong key sends nothing.
	h.StopWorkers()
	lim := limiter.New(h.Stack().Redis)
	require.Eventually(t, func() bool {
		u, err := lim.Usage(context.Background(), "ws-auth", stack.Limits(h.Cfg.Workspaces[0]))
		return err == nil && u.BlockedUntil.IsZero()
	}, 30*time.Second, tick, "the block lapses without renewals")
	third := h.Create("ws-auth", "auth-3", 5) // may get a slot before the first renewal
	h.StartWorker()
	h.WaitState(third.ID, queue.StateWaiting, 30*time.Second)
	require.Never(t, func() bool { return h.Sim.Stats().Requests != requests }, 20*tick, tick)

	// The key is fixed: both jobs go, in order of their slots (which may
	// coincide: the windows have room for both).
	h.StopWorkers()
	h.Cfg.Workspaces[0].APIKey = config.Secret(h.SimWS[0].APIKey)
	h.StartWorker()
	a := h.WaitState(second.ID, queue.StateSucceeded, 30*time.Second)
	b := h.WaitState(third.ID, queue.StateSucceeded, 30*time.Second)
	require.False(t, b.SlotAt.Before(a.SlotAt.Time), "slots %v then %v", a.SlotAt, b.SlotAt)
}

// TestUnknownSegmentFailsPermanently: a 404 from upstream (add to a
// segment that does not exist) fails the job with upstream's message and
// is not retried.
func TestUnknownSegmentFailsPermanently(t *testing.T) {
	h := newHarness(t, "ws-404")
	h.StartWorker()
	j, _, err := h.Jobs.Enqueue(context.Background(), queue.Request{
		Workspace: "ws-404", Op: queue.OpAdd, Name: "no-such-segment", AttributeName: "uid", AttributeType: "string",
		FileURL: h.Files.URL + "/x/5.csv",
	}, queue.EnqueueOptions{})
	require.NoError(t, err)
	got := h.WaitState(j.ID, queue.StateFailed, 30*time.Second)
	require.Contains(t, got.Error, "no-such-segment")
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, int64(1), h.Sim.Stats().Requests)
}

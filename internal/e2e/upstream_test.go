package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segq/segq/callback"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// signer returns the callback signer the harness's segq uses, to play
// MoEngage by hand.
func (h *harness) signer() *callback.Signer {
	s, err := callback.NewSigner(h.Cfg.CallbackSecret.Reveal(), h.Cfg.PublicURL)
	require.NoError(h.t, err)
	return s
}

// postCallback posts a callback body to url and returns the status.
func (h *harness) postCallback(url, body string) int {
	h.t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(h.t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func (h *harness) get(id string) *queue.Job {
	h.t.Helper()
	j, err := h.Jobs.Get(context.Background(), id)
	require.NoError(h.t, err)
	return j
}

// ops returns the ops MoEngage accepted for a segment name, in order.
func (h *harness) ops(name string) []string {
	var out []string
	for _, r := range h.Sim.Accepted() {
		if r.Name == name {
			out = append(out, r.Op)
		}
	}
	return out
}

const (
	success201 = `{"status":201,"values_found":10,"values_processed":10,"user_count":10}`
	failure500 = `{"status":500,"error_message":"Internal Server Error. Contact MoEngage Team."}`
)

// TestSubmit5xxRetried: MoEngage answers the create 500; the job retries
// after the backoff (state retrying, a failed attempt) and succeeds with
// a create once upstream recovers. The 500 made nothing upstream, so the
// retry is a create, not an add.
func TestSubmit5xxRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "ws-5")
	h.Sim.SetFaults(moesim.Faults{Submit5xx: 1})
	h.StartWorker()
	j := h.Create("ws-5", "five-hundred", 10)
	h.WaitState(j.ID, queue.StateRetrying, 30*time.Second)
	h.Sim.SetFaults(moesim.Faults{})
	got := h.WaitState(j.ID, queue.StateSucceeded, 30*time.Second)
	require.GreaterOrEqual(t, got.Attempts, 2)
	require.GreaterOrEqual(t, got.FailedAttempts, 1)
	require.Contains(t, testsystem.Timeline(got), "submit failed")
	require.Equal(t, []string{"create"}, h.ops("five-hundred"))
	require.NotZero(t, h.Sim.Stats().Failed5xx)
}

// TestSubmitTimeout: MoEngage accepts the create but answers after the
// worker's upstream timeout (2 s). When its callback comes first, the job
// simply succeeds on it. When the callback is late too, the timeout is a
// retryable failure: the retry finds the segment upstream and sends add
// to its cs_id instead of a second create, and the first attempt's
// callback, arriving later, is stale.
func TestSubmitTimeout(t *testing.T) {
	t.Parallel()
	t.Run("callback first", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "ws-to1")
		h.Sim.SetFaults(moesim.Faults{AnswerDelay: 3 * time.Second})
		h.StartWorker()
		j := h.Create("ws-to1", "slow-answer", 10)
		got := h.WaitState(j.ID, queue.StateSucceeded, 30*time.Second)
		require.Equal(t, 1, got.Attempts)
		require.Equal(t, []string{"create"}, h.ops("slow-answer"))
	})
	t.Run("retried as add", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "ws-to2")
		h.Sim.SetFaults(moesim.Faults{AnswerDelay: 3 * time.Second, CallbackDelay: 4 * time.Second})
		h.StartWorker()
		j := h.Create("ws-to2", "slow-answer", 10)
		h.WaitState(j.ID, queue.StateRetrying, 30*time.Second)
		h.Sim.SetFaults(moesim.Faults{})
		got := h.WaitState(j.ID, queue.StateSucceeded, 30*time.Second)
		require.Equal(t, queue.OpAdd, got.SubmitOp)
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, []string{"create", "add"}, h.ops("slow-answer"))
		rec := h.Sim.Accepted()
		require.Equal(t, rec[0].CSID, rec[1].CSID, "the add goes to the created segment")
		require.Zero(t, h.Sim.Stats().Rejected4xx, "no second create (409)")
		// The first attempt's callback arrives after all: stale.
		require.Eventually(t, func() bool { return h.Sim.Stats().CallbacksSent == 2 }, 15*time.Second, 20*time.Millisecond)
		require.Equal(t, queue.StateSucceeded, h.get(j.ID).State)
		require.Equal(t, 2, h.get(j.ID).Attempts)
	})
}

// TestCallbacksOutOfOrderAndDuplicate plays MoEngage by hand against a job
// on its second attempt: the first attempt's late 500 (out of order) is
// stale, the second attempt's success wins, and every later duplicate —
// success or failure — is acknowledged and ignored.
func TestCallbacksOutOfOrderAndDuplicate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "ws-oo")
	h.Sim.SetFaults(moesim.Faults{LostCallback: 1}) // segq hears only what the test sends
	h.StartWorker()
	j := h.Create("ws-oo", "out-of-order", 10)
	h.WaitState(j.ID, queue.StateSubmitted, 30*time.Second)
	s := h.signer()

	// Attempt 1 fails with a 500: the job retries as attempt 2.
	require.Equal(t, http.StatusOK, h.postCallback(s.URL(j.ID, 1), failure500))
	require.Eventually(t, func() bool {
		g := h.get(j.ID)
		return g.Attempts == 2 && g.State == queue.StateSubmitted
	}, 30*time.Second, 20*time.Millisecond)

	// A duplicate of attempt 1's 500 arrives late: stale, ignored.
	n := len(h.get(j.ID).Timeline)
	require.Equal(t, http.StatusOK, h.postCallback(s.URL(j.ID, 1), failure500))
	require.Equal(t, http.StatusOK, h.postCallback(s.URL(j.ID, 1), success201))
	require.Len(t, h.get(j.ID).Timeline, n)
	require.Equal(t, queue.StateSubmitted, h.get(j.ID).State)

	// Attempt 2 succeeds; duplicates and contradictions after it change nothing.
	require.Equal(t, http.StatusOK, h.postCallback(s.URL(j.ID, 2), success201))
	got := h.WaitState(j.ID, queue.StateSucceeded, 5*time.Second)
	for _, body := range []string{success201, failure500, `{"status":400,"error_message":"late"}`} {
		require.Equal(t, http.StatusOK, h.postCallback(s.URL(j.ID, 2), body))
	}
	after := h.get(j.ID)
	require.Equal(t, queue.StateSucceeded, after.State)
	require.Equal(t, len(got.Timeline), len(after.Timeline))
	require.Equal(t, []string{"create", "add"}, h.ops("out-of-order"))
}

// TestLostCallbackOverdueThenLate: MoEngage never calls back. After the
// configured callback timeout the job is overdue (logged and counted as a
// transition), and a callback arriving later still finishes it.
func TestLostCallbackOverdueThenLate(t *testing.T) {
	t.Parallel()
	logs := &testsystem.LockedBuffer{}
	h := newHarnessWith(t, testsystem.Options{Logs: logs, Configure: func(c *config.Config) {
		c.Worker.CallbackTimeout = time.Second
	}}, "ws-lost")
	h.Sim.SetFaults(moesim.Faults{LostCallback: 1})
	h.StartWorker()
	j := h.Create("ws-lost", "lost-callback", 10)
	od := h.WaitState(j.ID, queue.StateOverdue, 30*time.Second)
	require.Contains(t, testsystem.Timeline(od), "no callback within 1s")
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), `"msg":"job overdue"`)
	}, 5*time.Second, 20*time.Millisecond, "the overdue transition is logged")
	require.EqualValues(t, 1, h.Sim.Stats().CallbacksLost)

	require.Equal(t, http.StatusOK, h.postCallback(h.signer().URL(j.ID, 1), success201))
	got := h.WaitState(j.ID, queue.StateSucceeded, 5*time.Second)
	require.Equal(t, int64(10), *got.UserCount)
	require.Equal(t, []string{"create"}, h.ops("lost-callback"))
}

// TestCallbackDelayedAndDuplicated: callbacks that come late (after a
// delay) and twice still finish the job exactly once.
func TestCallbackDelayedAndDuplicated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "ws-dd")
	h.Sim.SetFaults(moesim.Faults{DuplicateCallback: 1, CallbackDelay: 700 * time.Millisecond})
	h.StartWorker()
	j := h.Create("ws-dd", "delayed-dup", 10)
	h.WaitState(j.ID, queue.StateSucceeded, 30*time.Second)
	require.Eventually(t, func() bool { return h.Sim.Stats().CallbacksSent == 2 }, 10*time.Second, 20*time.Millisecond)
	got := h.get(j.ID)
	succeeded := 0
	for _, e := range got.Timeline {
		if e.State == queue.StateSucceeded {
			succeeded++
		}
	}
	require.Equal(t, 1, succeeded, "one terminal transition: %s", testsystem.Timeline(got))
	require.Equal(t, []string{"create"}, h.ops("delayed-dup"))
}

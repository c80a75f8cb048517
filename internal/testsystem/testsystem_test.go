package testsystem_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestServeFile(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	testsystem.ServeFile(rec, httptest.NewRequest(http.MethodGet, "/seg/3.csv", nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	require.Equal(t, "text/csv", rec.Header().Get("Content-Type"))
	require.Equal(t, "seg-000000\nseg-000001\nseg-000002\n", string(body))

	rec = httptest.NewRecorder()
	testsystem.ServeFile(rec, httptest.NewRequest(http.MethodGet, "/seg/x.csv", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
}

func TestEarliestSchedule(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	wins := []config.Window{{Window: time.Second, Max: 2}}
	got := testsystem.EarliestSchedule(t0, 5, wins, 100*time.Millisecond)
	want := []time.Time{t0, t0, t0.Add(1100 * time.Millisecond), t0.Add(1100 * time.Millisecond), t0.Add(2200 * time.Millisecond)}
	require.Equal(t, want, got)
}

// TestHarnessRunsAJob is a smoke test of the whole harness on the test
// Redis: one create succeeds within the scaled windows.
func TestHarnessRunsAJob(t *testing.T) {
	t.Parallel()
	h := testsystem.NewHarness(t, testsystem.Options{}, "ws-smoke")
	h.StartWorker()
	j := h.Create("ws-smoke", "smoke", 7)
	got := h.WaitState(j.ID, queue.StateSucceeded, 30*time.Second)
	require.Equal(t, int64(7), *got.UserCount)
	require.Len(t, h.AcceptedAt()["ws-smoke"], 1)
	h.AssertWindows()
	require.NotEmpty(t, testsystem.Timeline(got))
	h.StopWorkers()
}

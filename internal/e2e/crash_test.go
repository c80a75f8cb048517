package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// buildSegq compiles the segq binary into dir.
func buildSegq(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "segq")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/segq/segq/cmd/segq")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// workerProcess writes the harness's config to a file and returns a
// command that runs `segq worker` with it, as ops would.
func (h *harness) workerProcess(bin, dir string) func() *exec.Cmd {
	h.t.Helper()
	env := append(os.Environ(), "SEGQ_CALLBACK_SECRET="+h.cfg.CallbackSecret.Reveal(), "SEGQ_LOG_FORMAT=json", "SEGQ_LOG_LEVEL=warn")
	cfg := *h.cfg
	cfg.Workspaces = nil
	for _, w := range h.cfg.Workspaces {
		name := "SEGQ_TEST_KEY_" + strings.ToUpper(strings.ReplaceAll(w.ID, "-", "_"))
		w.APIKeyEnv = name
		env = append(env, name+"="+w.APIKey.Reveal())
		cfg.Workspaces = append(cfg.Workspaces, w)
	}
	raw, err := yaml.Marshal(&cfg)
	require.NoError(h.t, err)
	path := filepath.Join(dir, "segq.yaml")
	require.NoError(h.t, os.WriteFile(path, raw, 0o600))
	return func() *exec.Cmd {
		cmd := exec.Command(bin, "worker", "--config", path)
		cmd.Env = env
		cmd.Stderr = testWriter{h.t}
		return cmd
	}
}

// testWriter forwards a child's log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestWorkerKilledMidSubmit kills a worker process (SIGKILL) after it
// recorded submitting and while MoEngage had accepted the create but not
// yet answered. A new worker finishes the job, and MoEngage saw exactly
// one create for it.
func TestWorkerKilledMidSubmit(t *testing.T) {
	dir := t.TempDir()
	bin := buildSegq(t, dir)
	h := newHarness(t, "ws-k")
	newWorker := h.workerProcess(bin, dir)
	// The 202 is held back long enough to kill the worker while it waits;
	// the callback comes after the new worker had time to reconcile.
	h.sim.SetFaults(moesim.Faults{AnswerDelay: 3 * time.Second, CallbackDelay: 5 * time.Second})

	first := newWorker()
	require.NoError(t, first.Start())
	j := h.create("ws-k", "crash-me", 30)
	h.waitState(j.ID, queue.StateSubmitting, 30*time.Second)
	require.NoError(t, first.Process.Kill())
	_ = first.Wait()
	h.sim.SetFaults(moesim.Faults{CallbackDelay: 5 * time.Second})

	second := newWorker()
	require.NoError(t, second.Start())
	t.Cleanup(func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	})
	got := h.waitState(j.ID, queue.StateSucceeded, 60*time.Second)

	creates := 0
	for _, r := range h.sim.Accepted() {
		if r.Name == "crash-me" {
			require.Equal(t, "create", r.Op)
			creates++
		}
	}
	require.Equal(t, 1, creates, "MoEngage must see exactly one create")
	require.Equal(t, 1, got.Attempts)
	var states []string
	for _, e := range got.Timeline {
		states = append(states, string(e.State))
	}
	t.Logf("timeline: %s", strings.Join(states, " → "))
}

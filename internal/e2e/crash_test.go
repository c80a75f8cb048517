package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// buildSegq compiles the segq binary once per test run and returns its
// path; TestMain removes it.
func buildSegq(t *testing.T, _ string) string {
	t.Helper()
	segqBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "segq-e2e-")
		if err != nil {
			segqBuild.err = err
			return
		}
		segqBuild.dir = dir
		bin := filepath.Join(dir, "segq")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/segq/segq/cmd/segq").CombinedOutput()
		if err != nil {
			segqBuild.err = fmt.Errorf("go build: %w: %s", err, out)
			return
		}
		segqBuild.bin = bin
	})
	require.NoError(t, segqBuild.err)
	return segqBuild.bin
}

// segqBuild is the binary built by buildSegq.
var segqBuild struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// workerProcess writes the harness's config to a file and returns a
// command that runs `segq worker` with it, as ops would.
// midSubmit starts a worker process from newWorker and creates a job of n
// values, and returns once the job is submitting and MoEngage has its
// create, while the worker waits for the answer (the simulator must hold
// answers back: Faults.AnswerDelay).
func (h *harness) midSubmit(newWorker func() *exec.Cmd, ws, name string, n int) (*exec.Cmd, *queue.Job) {
	h.t.Helper()
	w := newWorker()
	require.NoError(h.t, w.Start())
	j := h.Create(ws, name, n)
	h.WaitState(j.ID, queue.StateSubmitting, 30*time.Second)
	require.Eventually(h.t, func() bool { return len(h.ops(name)) == 1 }, 30*time.Second, 10*time.Millisecond)
	return w, j
}

func (h *harness) workerProcess(bin, dir string) func() *exec.Cmd {
	h.t.Helper()
	env := append(os.Environ(), "SEGQ_CALLBACK_SECRET="+h.Cfg.CallbackSecret.Reveal(), "SEGQ_LOG_FORMAT=json", "SEGQ_LOG_LEVEL=warn")
	cfg := *h.Cfg
	cfg.Workspaces = nil
	for _, w := range h.Cfg.Workspaces {
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
	h.Sim.SetFaults(moesim.Faults{AnswerDelay: 3 * time.Second, CallbackDelay: 5 * time.Second})

	// Kill only once MoEngage has the create: before that, the worker
	// could die with the request unsent, a different (second-attempt) case.
	first, j := h.midSubmit(newWorker, "ws-k", "crash-me", 30)
	require.NoError(t, first.Process.Kill())
	_ = first.Wait()
	h.Sim.SetFaults(moesim.Faults{CallbackDelay: 5 * time.Second})

	second := newWorker()
	require.NoError(t, second.Start())
	t.Cleanup(func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	})
	got := h.WaitState(j.ID, queue.StateSucceeded, 60*time.Second)

	creates := 0
	for _, r := range h.Sim.Accepted() {
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

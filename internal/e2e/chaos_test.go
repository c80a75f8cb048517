package e2e_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// EnvChaos turns on the long versions of the fault and load tests
// (`make chaos`).
const EnvChaos = "SEGQ_CHAOS"

// long reports whether the long versions run.
func long() bool { return os.Getenv(EnvChaos) == "1" }

// fleet is a set of `segq worker` processes that a test kills and
// replaces.
type fleet struct {
	t      *testing.T
	newCmd func() *exec.Cmd

	mu    sync.Mutex
	procs []*exec.Cmd
	kills int
}

func newFleet(t *testing.T, newCmd func() *exec.Cmd, n int) *fleet {
	f := &fleet{t: t, newCmd: newCmd}
	for range n {
		require.NoError(t, f.start())
	}
	t.Cleanup(f.stop)
	return f
}

// start starts one more worker process.
func (f *fleet) start() error {
	cmd := f.newCmd()
	if err := cmd.Start(); err != nil {
		return err
	}
	f.mu.Lock()
	f.procs = append(f.procs, cmd)
	f.mu.Unlock()
	return nil
}

// killRandom SIGKILLs one worker process, as a crash or an OOM kill would.
func (f *fleet) killRandom(rng *rand.Rand) {
	f.mu.Lock()
	if len(f.procs) == 0 {
		f.mu.Unlock()
		return
	}
	i := rng.IntN(len(f.procs))
	cmd := f.procs[i]
	f.procs = slices.Delete(f.procs, i, i+1)
	f.kills++
	f.mu.Unlock()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// stop ends every process gracefully (SIGTERM) and waits for it.
func (f *fleet) stop() {
	f.mu.Lock()
	procs := f.procs
	f.procs = nil
	f.mu.Unlock()
	for _, cmd := range procs {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, cmd := range procs {
		_ = cmd.Wait()
	}
}

// chaos runs the kill driver until stop is closed: every period (with
// jitter) it SIGKILLs a random worker and starts a new one.
func (f *fleet) chaos(period time.Duration, seed uint64, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 1))
		for {
			jitter := time.Duration(rng.Int64N(int64(period))) - period/2
			timer := time.NewTimer(period + jitter)
			select {
			case <-stop:
				timer.Stop()
				return
			case <-timer.C:
			}
			f.killRandom(rng)
			if err := f.start(); err != nil {
				f.t.Errorf("start worker: %v", err)
				return
			}
		}
	}()
	return &wg
}

// assertOneCreateEach checks the simulator's log: every job's segment was
// created exactly once and nothing else was sent for it.
func (h *harness) assertOneCreateEach(names []string) {
	h.t.Helper()
	ops := map[string][]string{}
	for _, r := range h.Sim.Accepted() {
		ops[r.Name] = append(ops[r.Name], r.Op)
	}
	for _, name := range names {
		require.Equal(h.t, []string{"create"}, ops[name], "segment %s: MoEngage must see exactly one create", name)
	}
}

// TestChaosKillWorkers is the crash test of issue 6: jobs flow through
// scaled windows while a driver SIGKILLs a random `segq worker` process
// every couple of seconds and starts a new one. Every job succeeds,
// MoEngage saw exactly one create per job, nothing was refused (no 429,
// no 409) and no window was ever exceeded. The short version runs 20
// jobs; SEGQ_CHAOS=1 runs 100.
func TestChaosKillWorkers(t *testing.T) {
	t.Parallel()
	n, wss, period := 20, []string{"ws-c1", "ws-c2"}, 1500*time.Millisecond
	if long() {
		n, wss, period = 100, []string{"ws-c1", "ws-c2", "ws-c3", "ws-c4"}, time.Second
	}
	dir := t.TempDir()
	bin := buildSegq(t, dir)
	h := newHarness(t, wss...)
	f := newFleet(t, h.workerProcess(bin, dir), 3)

	var ids, names []string
	for i := range n {
		name := fmt.Sprintf("chaos-%03d", i)
		j := h.Create(wss[i%len(wss)], name, 20+i)
		ids, names = append(ids, j.ID), append(names, name)
	}
	stop := make(chan struct{})
	driver := f.chaos(period, uint64(time.Now().UnixNano()), stop)
	// Windows allow 5 ops per 4.4 s per workspace; a task on a killed
	// worker comes back when its asynq lease expires (about a minute).
	perWS := (n + len(wss) - 1) / len(wss)
	budget := time.Duration(perWS)*900*time.Millisecond + 2*time.Minute
	jobs := h.WaitAll(ids, queue.StateSucceeded, budget)
	close(stop)
	driver.Wait()

	for _, j := range jobs {
		require.NotNil(t, j.UserCount)
		if j.Attempts > 1 {
			t.Logf("%s took a detour: %s", j.Name, testsystem.Timeline(j)) // the kills at work
		}
	}
	h.assertOneCreateEach(names)
	st := h.Sim.Stats()
	require.Zero(t, st.Rejected429, "segq must never cause a 429")
	require.Zero(t, st.Rejected4xx, "no create may be sent twice (409)")
	h.AssertWindows()
	f.mu.Lock()
	t.Logf("%d jobs over %d workspaces succeeded with %d workers killed", n, len(wss), f.kills)
	f.mu.Unlock()
}

// TestWorkerSIGTERMHandsBack sends SIGTERM to a worker process while its
// create is held upstream (MoEngage accepted it but answers after the
// shutdown timeout). The process exits after the shutdown timeout with
// the submit task handed back to the queue, not left active; a new worker
// picks it up, reconciles (the segment exists upstream) and the job
// finishes exactly once.
func TestWorkerSIGTERMHandsBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := buildSegq(t, dir)
	h := newHarnessWith(t, testsystem.Options{Configure: func(c *config.Config) {
		c.Worker.ShutdownTimeout = time.Second
		c.Worker.UpstreamTimeout = 20 * time.Second
	}}, "ws-term")
	newWorker := h.workerProcess(bin, dir)
	h.Sim.SetFaults(moesim.Faults{AnswerDelay: 5 * time.Second, CallbackDelay: 5 * time.Second})

	first, j := h.midSubmit(newWorker, "ws-term", "term-me", 10)
	require.NoError(t, first.Process.Signal(syscall.SIGTERM))
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	select {
	case err := <-exited:
		require.NoError(t, err, "a SIGTERM is a clean exit")
	case <-time.After(time.Minute): // a deadline, not a measurement
		_ = first.Process.Kill()
		t.Fatal("worker did not exit after SIGTERM")
	}

	// Handed back: the submit task waits in its queue, no longer active.
	opt, err := redis.ParseURL(h.Cfg.Redis.URL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	active, err := insp.ListActiveTasks(queue.QueueJobs)
	require.NoError(t, err)
	require.Empty(t, active, "no task may stay active on a stopped worker")
	pending, err := insp.ListPendingTasks(queue.QueueJobs)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, queue.TypeSubmit, pending[0].Type)

	h.Sim.SetFaults(moesim.Faults{CallbackDelay: 5 * time.Second})
	second := newWorker()
	require.NoError(t, second.Start())
	t.Cleanup(func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	})
	h.WaitState(j.ID, queue.StateSubmitted, 30*time.Second)
	got := h.WaitState(j.ID, queue.StateSucceeded, 60*time.Second)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, []string{"create"}, h.ops("term-me"))
	t.Logf("timeline: %s", testsystem.Timeline(got))
}

package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/latency"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// loadPlan is one load run: each kind of request at rate per second for
// duration.
type loadPlan struct {
	rate     int
	duration time.Duration
}

// loadStats are the measured results of one kind of request.
type loadStats struct {
	latencies latency.Recorder
	errors    atomic.Int64
	behind    atomic.Int64
	firstErr  atomic.Value
}

func (s *loadStats) record(d time.Duration, err error) {
	if err != nil {
		s.errors.Add(1)
		s.firstErr.CompareAndSwap(nil, err.Error())
		return
	}
	s.latencies.Add(d)
}

func (s *loadStats) summary(name string, elapsed time.Duration) string {
	n, q := s.latencies.Len(), s.latencies.Quantile
	return fmt.Sprintf("%s: %d ok (%.0f/s), %d errors, %d behind schedule, latency p50 %v p99 %v max %v",
		name, n, float64(n)/elapsed.Seconds(), s.errors.Load(), s.behind.Load(),
		q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), q(1).Round(10*time.Microsecond))
}

// memSampler records the process's heap and resident memory.
type memSampler struct {
	mu              sync.Mutex
	heap, rss       []uint64
	stop            chan struct{}
	done            sync.WaitGroup
	maxHeap, maxRSS uint64
}

func startMemSampler(every time.Duration) *memSampler {
	m := &memSampler{stop: make(chan struct{})}
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			rss := residentBytes()
			m.mu.Lock()
			m.heap, m.rss = append(m.heap, ms.HeapInuse), append(m.rss, rss)
			m.maxHeap, m.maxRSS = max(m.maxHeap, ms.HeapInuse), max(m.maxRSS, rss)
			m.mu.Unlock()
		}
	}()
	return m
}

func (m *memSampler) finish() {
	close(m.stop)
	m.done.Wait()
}

// residentBytes reads VmRSS from /proc (0 where there is none).
func residentBytes() uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// serveReal serves the harness's API with the production http.Server
// settings on a loopback port and returns its base URL.
func serveReal(t *testing.T, h *harness) string {
	t.Helper()
	return "http://" + serveOn(t, httpapi.NewHTTPServer("127.0.0.1:0", h.Handler))
}

// serveOn serves srv on a loopback port until the test ends and returns
// the port's address.
func serveOn(t *testing.T, srv *http.Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return l.Addr().String()
}

// TestLoadEnqueueAndCallbacks drives POST /v1/jobs and MoEngage callbacks,
// each at a fixed rate (a ticker, not as fast as possible), against a real
// server on loopback with real Redis. Every request succeeds and the
// process's memory stays bounded. The short version runs 5 s; SEGQ_CHAOS=1
// runs 60 s at 500/s each. The numbers go to docs/reliability.md.
func TestLoadEnqueueAndCallbacks(t *testing.T) {
	t.Parallel()
	plan := loadPlan{rate: 100, duration: 5 * time.Second}
	if long() {
		plan = loadPlan{rate: 500, duration: time.Minute}
	}
	if raceEnabled && plan.rate > 100 {
		t.Logf("race detector on: %d/s instead of %d/s (run without -race for the real numbers)", 100, plan.rate)
		plan.rate = 100
	}
	h := newHarness(t, "ws-load")
	base := serveReal(t, h)
	s := h.signer()

	// Callbacks go to jobs in submitted, as MoEngage's would; past the
	// pool, callbacks repeat (duplicates are part of the load).
	pool := min(plan.rate*int(plan.duration/time.Second), 3000)
	ids := make([]string, pool)
	for i := range pool {
		ids[i] = submittedJob(t, h.Jobs, fmt.Sprintf("load-cb-%05d", i))
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	post := func(url string, body []byte) error {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
		}
		return nil
	}
	var enq, cb loadStats
	work := make(chan func(), 4096)
	var workers sync.WaitGroup
	for range 128 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for fn := range work {
				fn()
			}
		}()
	}
	// submit hands one request to the pool; a full pool means the
	// generator cannot hold its rate, which the test reports.
	submit := func(st *loadStats, fn func() error) {
		select {
		case work <- func() {
			start := time.Now()
			err := fn()
			st.record(time.Since(start), err)
		}:
		default:
			st.behind.Add(1)
		}
	}

	mem := startMemSampler(250 * time.Millisecond)
	// Every 10 ms the generator sends what the rate owes by now, so a late
	// tick does not lower the rate.
	tick := time.NewTicker(10 * time.Millisecond)
	start := time.Now()
	n := 0
	for time.Since(start) < plan.duration {
		<-tick.C
		due := int(float64(plan.rate) * time.Since(start).Seconds())
		for ; n < due; n++ {
			body := []byte(h.jobBody("ws-load", fmt.Sprintf("load-%06d", n), 10))
			submit(&enq, func() error { return post(base+"/v1/jobs", body) })
			url := base + strings.TrimPrefix(s.URL(ids[n%pool], 1), h.Cfg.PublicURL)
			submit(&cb, func() error { return post(url, []byte(success201)) })
		}
	}
	tick.Stop()
	close(work)
	workers.Wait()
	elapsed := time.Since(start)
	mem.finish()

	t.Log(enq.summary("enqueue", elapsed))
	t.Log(cb.summary("callback", elapsed))
	t.Logf("memory: heap in use max %d MiB, RSS max %d MiB (test process: server, Redis clients and load generator)",
		mem.maxHeap>>20, mem.maxRSS>>20)
	for name, st := range map[string]*loadStats{"enqueue": &enq, "callback": &cb} {
		require.Zero(t, st.errors.Load(), "%s errors, first: %v", name, st.firstErr.Load())
		require.Zero(t, st.behind.Load(), "%s: the generator fell behind its rate", name)
	}
	// Bounded memory: the heap after the first second never more than
	// doubles (plus slack for GC timing) while the load continues.
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if len(mem.heap) > 8 {
		warm := slices.Max(mem.heap[:4])
		require.Less(t, slices.Max(mem.heap[4:]), 2*warm+64<<20, "heap grows under steady load: %v", mem.heap)
	}
	page, err := h.Jobs.List(context.Background(), queue.ListOptions{Workspace: "ws-load", State: queue.StateSucceeded, Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, page.Jobs, "callbacks finished jobs")
}

// submittedJob stores a create and walks it to submitted, as a worker
// that sent it upstream would.
func submittedJob(t *testing.T, jobs *queue.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	j, _, err := jobs.Enqueue(ctx, queue.Request{Workspace: "ws-load", Name: name, AttributeName: "uid",
		AttributeType: "string", FileURL: "http://127.0.0.1:1/" + name + ".csv", ExpiryTime: 1}, queue.EnqueueOptions{})
	require.NoError(t, err)
	for _, st := range []queue.State{queue.StateValidating, queue.StateWaiting, queue.StateSubmitting, queue.StateSubmitted} {
		_, err := jobs.Store().Transition(ctx, j.ID, st, "load test", nil)
		require.NoError(t, err)
	}
	return j.ID
}

package topology_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// The harness is a small copy of internal/e2e's: simulator, file host,
// API with callbacks and worker replicas, here on any Redis topology.

// scaled are limits with hours turned into seconds: 3 ops per second and 5
// per 4 seconds, with a 400 ms safety margin.
func scaled() config.Limits {
	return config.Limits{
		Ops:            []config.Window{{Window: time.Second, Max: 3}, {Window: 4 * time.Second, Max: 5}},
		Users:          config.Window{Window: 4 * time.Second, Max: 2000},
		ActiveSegments: 50,
		FileSize:       config.MB,
		SafetyMargin:   400 * time.Millisecond,
		Horizon:        time.Minute,
	}
}

// tick is the workers' dispatcher period and asynq's scheduled-task check.
const tick = 50 * time.Millisecond

// options configure a harness.
type options struct {
	redis      config.Redis
	workspaces []string
	// workerKeys replaces the API key segq uses for a workspace (the
	// simulator keeps "key-<id>"), to get credentials refused.
	workerKeys map[string]string
}

type harness struct {
	t      *testing.T
	cfg    *config.Config
	sim    *moesim.Server
	simWS  []moesim.Workspace
	simURL string
	files  *httptest.Server
	jobs   *queue.Client
	log    *zap.Logger

	mu      sync.Mutex
	workers []context.CancelFunc
	wg      sync.WaitGroup
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	h := &harness{t: t, log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))}
	h.files = httptest.NewServer(http.HandlerFunc(serveFile))
	t.Cleanup(h.files.Close)
	var apiHandler, simHandler http.Handler
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apiHandler.ServeHTTP(w, r) }))
	t.Cleanup(api.Close)
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { simHandler.ServeHTTP(w, r) }))
	t.Cleanup(simSrv.Close)
	h.simURL = simSrv.URL

	h.cfg = &config.Config{
		Redis:     o.redis,
		PublicURL: api.URL,
		Worker: config.Worker{Tick: tick, ReconcileEvery: 300 * time.Millisecond, UpstreamTimeout: 2 * time.Second,
			ShutdownTimeout: 2 * time.Second, Concurrency: 8},
		Retry:          config.Retry{Base: 100 * time.Millisecond, Factor: 2, Cap: time.Second, MaxAttempts: 6},
		Files:          config.Files{AllowNetworks: []string{"127.0.0.0/8"}},
		CallbackSecret: "topology-callback-secret-0123456789",
	}
	for _, id := range o.workspaces {
		h.cfg.Workspaces = append(h.cfg.Workspaces, config.Workspace{
			ID: id, BaseURL: simSrv.URL, APIKey: config.Secret("key-" + id), DBName: "db-" + id, Limits: scaled(),
		})
	}
	h.cfg.WithDefaults()
	require.NoError(t, h.cfg.Validate())

	h.simWS = stack.SimWorkspaces(h.cfg, func(config.Workspace) bool { return true })
	for i := range h.cfg.Workspaces {
		if k, ok := o.workerKeys[h.cfg.Workspaces[i].ID]; ok {
			h.cfg.Workspaces[i].APIKey = config.Secret(k)
		}
	}
	sim, err := moesim.New(moesim.Config{
		Workspaces: h.simWS, ProcessingDelay: 100 * time.Millisecond, Logger: h.log.Named("sim"),
		HTTPClient: safehttp.NewClient(safehttp.Options{Allow: safehttp.LoopbackPrefixes}),
	})
	require.NoError(t, err)
	h.sim = sim
	simHandler = sim.Handler()
	t.Cleanup(sim.Close)

	s := h.stack()
	handler, closeAPI, err := s.API(nil)
	require.NoError(t, err)
	apiHandler = handler
	h.jobs = s.Jobs(nil)
	t.Cleanup(func() { closeAPI(); _ = h.jobs.Close(); s.Close() })
	t.Cleanup(h.stopWorkers)
	return h
}

// stack connects a new set of components (as a separate process would).
func (h *harness) stack() *stack.Stack {
	s, err := stack.New(h.cfg, h.log)
	require.NoError(h.t, err)
	return s
}

// startWorker starts one more worker replica.
func (h *harness) startWorker() {
	s := h.stack()
	w, err := s.Worker()
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	h.mu.Lock()
	h.workers = append(h.workers, cancel)
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer s.Close()
		_ = w.Run(ctx)
	}()
}

func (h *harness) stopWorkers() {
	h.mu.Lock()
	for _, c := range h.workers {
		c()
	}
	h.workers = nil
	h.mu.Unlock()
	h.wg.Wait()
}

// serveFile answers /<prefix>/<n>.csv with n distinct values.
func serveFile(w http.ResponseWriter, r *http.Request) {
	prefix, file, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	n, err := strconv.Atoi(strings.TrimSuffix(file, ".csv"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	for i := range n {
		fmt.Fprintf(w, "%s-%06d\n", prefix, i)
	}
}

// fileURL is the URL of a file of n values named after name.
func (h *harness) fileURL(name string, n int) string {
	return fmt.Sprintf("%s/%s/%d.csv", h.files.URL, name, n)
}

// create enqueues a create of name with a file of n values, retrying
// while Redis is unavailable (a failover in progress): the API answers 503
// then and the producer tries again.
func (h *harness) create(ws, name string, n int) *queue.Job {
	h.t.Helper()
	var j *queue.Job
	require.Eventually(h.t, func() bool {
		var err error
		j, _, err = h.jobs.Enqueue(context.Background(), queue.Request{
			Workspace: ws, Name: name, AttributeName: "uid", AttributeType: "string",
			FileURL: h.fileURL(name, n), ExpiryTime: 1,
		}, queue.EnqueueOptions{IdempotencyKey: ws + "/" + name})
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "enqueue %s", name)
	return j
}

// waitState polls the job until it is in state, failing the test after
// timeout (a deadline on a poll, not a timed assertion).
func (h *harness) waitState(id string, want queue.State, timeout time.Duration) *queue.Job {
	h.t.Helper()
	var (
		j       *queue.Job
		lastErr error
	)
	ok := assert.Eventually(h.t, func() bool {
		got, err := h.jobs.Get(context.Background(), id)
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

// assertWindows checks the simulator's log of accepted requests: no
// rolling window of any workspace ever held more than its max.
func (h *harness) assertWindows() {
	h.t.Helper()
	byWS := h.acceptedAt()
	for _, w := range h.cfg.Workspaces {
		at := byWS[w.ID]
		for _, win := range w.Limits.Ops {
			for k := range at {
				n := 0
				for _, t := range at[:k+1] {
					if t.After(at[k].Add(-win.Window)) {
						n++
					}
				}
				require.LessOrEqual(h.t, int64(n), win.Max, "workspace %s: %d ops in the %s before %s", w.ID, n, win.Window, at[k])
			}
		}
	}
}

// acceptedAt returns the times of accepted segment ops by workspace.
func (h *harness) acceptedAt() map[string][]time.Time {
	byWS := map[string][]time.Time{}
	for _, r := range h.sim.Accepted() {
		if r.Op != "archive" && r.Op != "unarchive" {
			byWS[r.Workspace] = append(byWS[r.Workspace], r.At)
		}
	}
	return byWS
}

// runScenario enqueues perWS creates in every workspace with two worker
// replicas running, and waits for all of them to succeed. mid, when not
// nil, runs once half the jobs have succeeded.
func (h *harness) runScenario(perWS int, mid func()) []*queue.Job {
	h.t.Helper()
	h.startWorker()
	h.startWorker()
	var jobs []*queue.Job
	for i := range perWS {
		for _, w := range h.cfg.Workspaces {
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

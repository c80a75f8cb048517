package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/internal/testredis"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// scaled are limits with hours turned into seconds: 3 ops per second and 5
// per 4 seconds (in place of 10/h and 100/day), with a 400 ms safety margin
// for the latency of the race detector and of the simulator, which counts
// an op only once it has downloaded its file.
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

// harness is a running segq: simulator, file host, API with callbacks, and
// worker replicas, sharing one fresh database of the test redis-server.
type harness struct {
	t     *testing.T
	cfg   *config.Config
	sim   *moesim.Server
	simWS []moesim.Workspace
	files *httptest.Server
	api   *httptest.Server
	// handler is the API's handler, for tests that serve it themselves.
	handler http.Handler
	jobs    *queue.Client
	log     *zap.Logger

	mu      sync.Mutex
	workers []context.CancelFunc
	wg      sync.WaitGroup
}

// tick is the workers' dispatcher period and asynq's scheduled-task check.
const tick = 50 * time.Millisecond

// options change what newHarnessWith builds; the zero value is
// newHarness's setup.
type options struct {
	// redisURL is the Redis to use; a fresh database of the test server
	// when empty.
	redisURL string
	// tokens turn on API authentication.
	tokens []config.Secret
	// dashboard mounts asynqmon at /monitoring/.
	dashboard bool
	// logs receives every log line (debug level, JSON) besides the test log.
	logs io.Writer
	// configure edits the configuration before it is validated.
	configure func(*config.Config)
}

func newHarness(t *testing.T, workspaces ...string) *harness {
	t.Helper()
	return newHarnessWith(t, options{}, workspaces...)
}

func newHarnessWith(t *testing.T, opt options, workspaces ...string) *harness {
	t.Helper()
	h := &harness{t: t, log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}
	if opt.logs != nil {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		h.log = zap.New(zapcore.NewTee(h.log.Core(), zapcore.NewCore(enc, zapcore.AddSync(opt.logs), zap.DebugLevel)))
	}
	h.files = httptest.NewServer(http.HandlerFunc(serveFile))
	t.Cleanup(h.files.Close)
	var apiHandler http.Handler
	h.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apiHandler.ServeHTTP(w, r) }))
	t.Cleanup(h.api.Close)

	var simHandler http.Handler
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { simHandler.ServeHTTP(w, r) }))
	t.Cleanup(simSrv.Close)

	if opt.redisURL == "" {
		opt.redisURL = testredis.URL(t)
	}
	h.cfg = &config.Config{
		Redis:     config.Redis{URL: opt.redisURL},
		PublicURL: h.api.URL,
		Worker: config.Worker{Tick: tick, ReconcileEvery: 300 * time.Millisecond, UpstreamTimeout: 2 * time.Second,
			ShutdownTimeout: 2 * time.Second, Concurrency: 8},
		Retry:          config.Retry{Base: 100 * time.Millisecond, Factor: 2, Cap: time.Second, MaxAttempts: 4},
		Files:          config.Files{AllowNetworks: []string{"127.0.0.0/8"}},
		CallbackSecret: "e2e-callback-secret-0123456789",
		APITokens:      opt.tokens,
	}
	for _, id := range workspaces {
		h.cfg.Workspaces = append(h.cfg.Workspaces, config.Workspace{
			ID: id, BaseURL: simSrv.URL, APIKey: config.Secret("key-" + id), DBName: "db-" + id, Limits: scaled(),
		})
	}
	if opt.configure != nil {
		opt.configure(h.cfg)
	}
	h.cfg.WithDefaults()
	require.NoError(t, h.cfg.Validate())

	h.simWS = stack.SimWorkspaces(h.cfg, func(config.Workspace) bool { return true })
	sim, err := moesim.New(moesim.Config{
		Workspaces: h.simWS, ProcessingDelay: 100 * time.Millisecond, Logger: h.log.Named("sim"),
		HTTPClient: safehttp.NewClient(safehttp.Options{Allow: safehttp.LoopbackPrefixes}),
	})
	require.NoError(t, err)
	h.sim = sim
	simHandler = sim.Handler()
	t.Cleanup(sim.Close)

	api := h.stack()
	var dash asynq.RedisConnOpt
	if opt.dashboard {
		dash, err = stack.DashboardConn(h.cfg.Redis)
		require.NoError(t, err)
	}
	handler, closeAPI, err := api.API(dash)
	require.NoError(t, err)
	apiHandler = handler
	h.handler = handler
	h.jobs = api.Jobs(nil)
	t.Cleanup(func() { closeAPI(); _ = h.jobs.Close(); api.Close() })
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

// create enqueues a create of name with a file of n values.
func (h *harness) create(ws, name string, n int) *queue.Job {
	h.t.Helper()
	j, _, err := h.jobs.Enqueue(context.Background(), queue.Request{
		Workspace: ws, Name: name, AttributeName: "uid", AttributeType: "string",
		FileURL: fmt.Sprintf("%s/%s/%d.csv", h.files.URL, name, n), ExpiryTime: 1,
	}, queue.EnqueueOptions{})
	require.NoError(h.t, err)
	return j
}

// waitState polls the job until it is in state, failing the test with
// its timeline after timeout (a deadline on a poll, not a timed
// assertion).
func (h *harness) waitState(id string, want queue.State, timeout time.Duration) *queue.Job {
	h.t.Helper()
	return h.waitAll([]string{id}, want, timeout)[0]
}

// assertWindows checks the simulator's own log of accepted requests: no
// rolling window of any workspace ever held more than its max.
func (h *harness) assertWindows() {
	h.t.Helper()
	byWS := map[string][]time.Time{}
	for _, r := range h.sim.Accepted() {
		if r.Op != "archive" && r.Op != "unarchive" {
			byWS[r.Workspace] = append(byWS[r.Workspace], r.At)
		}
	}
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

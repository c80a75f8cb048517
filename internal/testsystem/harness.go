package testsystem

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
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

// Tick is the workers' dispatcher period and asynq's scheduled-task check
// in the default configuration.
const Tick = 50 * time.Millisecond

// CallbackSecret is the callback signing secret of every harness.
const CallbackSecret = "testsystem-callback-secret-0123456789"

// Options change what NewHarness builds; the zero value is the default
// setup on a fresh database of the test Redis.
type Options struct {
	// Redis is the Redis to use; a fresh database of the test server
	// when nil.
	Redis *config.Redis
	// Config, when not nil, is the configuration to complete in place of
	// the default one: its workspaces (with their limits), worker and
	// retry settings are kept.
	Config *config.Config
	// Tokens turn on API authentication.
	Tokens []config.Secret
	// Dashboard mounts asynqmon at /monitoring/.
	Dashboard bool
	// Logs receives every log line (debug level, JSON) besides the test log.
	Logs io.Writer
	// Quiet writes only errors to the test log (warnings too otherwise).
	Quiet bool
	// Configure edits the configuration before it is validated.
	Configure func(*config.Config)
	// WorkerKeys replaces the API key segq uses for a workspace (the
	// simulator keeps "key-<id>"), to get credentials refused.
	WorkerKeys map[string]string
	// Sim configures the simulator; its workspaces, logger and HTTP
	// client are filled in, and a zero ProcessingDelay becomes 100 ms.
	Sim moesim.Config
}

// Harness is a running segq: simulator, file host, API with callbacks,
// and worker replicas, sharing one Redis.
type Harness struct {
	// T is the test the harness belongs to.
	T testing.TB
	// Cfg is the validated configuration of every component.
	Cfg *config.Config
	// Sim is the MoEngage simulator.
	Sim *moesim.Server
	// SimWS are the simulator's workspaces (with their real API keys).
	SimWS []moesim.Workspace
	// SimURL is the simulator's base URL.
	SimURL string
	// Files serves the CSV files (see ServeFile).
	Files *httptest.Server
	// API serves the API's handler.
	API *httptest.Server
	// Handler is the API's handler, for tests that serve it themselves.
	Handler http.Handler
	// Jobs is a client of the job store.
	Jobs *queue.Client
	// Log is the components' logger.
	Log *zap.Logger

	mu      sync.Mutex
	workers []context.CancelFunc
	wg      sync.WaitGroup
}

// NewHarness starts a harness for workspaces (each with Scaled limits and
// the simulator as upstream), closed when the test ends.
func NewHarness(t testing.TB, opt Options, workspaces ...string) *Harness {
	t.Helper()
	level := zap.WarnLevel
	if opt.Quiet {
		level = zap.ErrorLevel
	}
	h := &Harness{T: t, Log: zaptest.NewLogger(t, zaptest.Level(level))}
	if opt.Logs != nil {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		h.Log = zap.New(zapcore.NewTee(h.Log.Core(), zapcore.NewCore(enc, zapcore.AddSync(opt.Logs), zap.DebugLevel)))
	}
	h.Files = httptest.NewServer(http.HandlerFunc(ServeFile))
	t.Cleanup(h.Files.Close)
	var apiHandler, simHandler http.Handler
	h.API = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apiHandler.ServeHTTP(w, r) }))
	t.Cleanup(h.API.Close)
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { simHandler.ServeHTTP(w, r) }))
	t.Cleanup(simSrv.Close)
	h.SimURL = simSrv.URL

	h.Cfg = h.config(opt, workspaces)
	h.SimWS = stack.SimWorkspaces(h.Cfg, func(config.Workspace) bool { return true })
	for i := range h.Cfg.Workspaces {
		if k, ok := opt.WorkerKeys[h.Cfg.Workspaces[i].ID]; ok {
			h.Cfg.Workspaces[i].APIKey = config.Secret(k)
		}
	}
	simCfg := opt.Sim
	if simCfg.ProcessingDelay == 0 {
		simCfg.ProcessingDelay = 100 * time.Millisecond
	}
	simCfg.Workspaces, simCfg.Logger = h.SimWS, h.Log.Named("sim")
	simCfg.HTTPClient = safehttp.NewClient(safehttp.Options{Allow: safehttp.LoopbackPrefixes})
	sim, err := moesim.New(simCfg)
	require.NoError(t, err)
	h.Sim = sim
	simHandler = sim.Handler()
	t.Cleanup(sim.Close)

	api := h.Stack()
	var dash asynq.RedisConnOpt
	if opt.Dashboard {
		dash, err = stack.DashboardConn(h.Cfg.Redis)
		require.NoError(t, err)
	}
	handler, closeAPI, err := api.API(dash)
	require.NoError(t, err)
	apiHandler = handler
	h.Handler = handler
	h.Jobs = api.Jobs(nil)
	t.Cleanup(func() { closeAPI(); _ = h.Jobs.Close(); api.Close() })
	t.Cleanup(h.StopWorkers)
	return h
}

// config builds the validated configuration of a harness whose API and
// simulator are already listening.
func (h *Harness) config(opt Options, workspaces []string) *config.Config {
	cfg := opt.Config
	if cfg == nil {
		cfg = &config.Config{
			Worker: config.Worker{Tick: Tick, ReconcileEvery: 300 * time.Millisecond, UpstreamTimeout: 2 * time.Second,
				ShutdownTimeout: 2 * time.Second, Concurrency: 8},
			Retry: config.Retry{Base: 100 * time.Millisecond, Factor: 2, Cap: time.Second, MaxAttempts: 4},
		}
	}
	if opt.Redis != nil {
		cfg.Redis = *opt.Redis
	} else {
		cfg.Redis = config.Redis{URL: testredis.URL(h.T)}
	}
	cfg.PublicURL = h.API.URL
	cfg.Files = config.Files{AllowNetworks: []string{"127.0.0.0/8"}}
	cfg.CallbackSecret = CallbackSecret
	if opt.Tokens != nil {
		cfg.APITokens = opt.Tokens
	}
	for _, id := range workspaces {
		cfg.Workspaces = append(cfg.Workspaces, config.Workspace{ID: id, Limits: Scaled()})
	}
	for i := range cfg.Workspaces {
		w := &cfg.Workspaces[i]
		w.BaseURL, w.APIKey, w.DBName = h.SimURL, config.Secret("key-"+w.ID), "db-"+w.ID
	}
	if opt.Configure != nil {
		opt.Configure(cfg)
	}
	cfg.WithDefaults()
	require.NoError(h.T, cfg.Validate())
	return cfg
}

// Stack connects a new set of components (as a separate process would).
func (h *Harness) Stack() *stack.Stack {
	s, err := stack.New(h.Cfg, h.Log)
	require.NoError(h.T, err)
	return s
}

// StartWorker starts one more worker replica.
func (h *Harness) StartWorker() {
	s := h.Stack()
	w, err := s.Worker()
	require.NoError(h.T, err)
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

// StopWorkers stops every worker replica and waits for them to return.
func (h *Harness) StopWorkers() {
	h.mu.Lock()
	for _, c := range h.workers {
		c()
	}
	h.workers = nil
	h.mu.Unlock()
	h.wg.Wait()
}

package bench_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/internal/testredis"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// system is a running segq (API with callbacks, one worker) in front of
// the simulator and a file host, on a fresh database of the test Redis:
// a trimmed copy of internal/e2e's harness.
type system struct {
	t     *testing.T
	cfg   *config.Config
	sim   *moesim.Server
	files *httptest.Server
	jobs  *queue.Client
	stop  func()
}

// newSystem builds the system for cfg's workspaces (BaseURL and PublicURL
// are filled in); the simulator gets the same limits, with one expiry day
// lasting expiryUnit.
func newSystem(t *testing.T, cfg *config.Config, sim moesim.Config) *system {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	s := &system{t: t, cfg: cfg}
	s.files = httptest.NewServer(http.HandlerFunc(serveFile))
	t.Cleanup(s.files.Close)
	var apiHandler, simHandler http.Handler
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apiHandler.ServeHTTP(w, r) }))
	t.Cleanup(api.Close)
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { simHandler.ServeHTTP(w, r) }))
	t.Cleanup(simSrv.Close)

	cfg.Redis = config.Redis{URL: testredis.URL(t)}
	cfg.PublicURL = api.URL
	cfg.Files = config.Files{AllowNetworks: []string{"127.0.0.0/8"}}
	cfg.CallbackSecret = "bench-callback-secret-0123456789"
	for i := range cfg.Workspaces {
		w := &cfg.Workspaces[i]
		w.BaseURL, w.APIKey, w.DBName = simSrv.URL, config.Secret("key-"+w.ID), "db-"+w.ID
	}
	cfg.WithDefaults()
	require.NoError(t, cfg.Validate())

	sim.Workspaces = stack.SimWorkspaces(cfg, func(config.Workspace) bool { return true })
	sim.Logger = log.Named("sim")
	sim.HTTPClient = safehttp.NewClient(safehttp.Options{Allow: safehttp.LoopbackPrefixes})
	var err error
	s.sim, err = moesim.New(sim)
	require.NoError(t, err)
	simHandler = s.sim.Handler()
	t.Cleanup(s.sim.Close)

	st, err := stack.New(cfg, log)
	require.NoError(t, err)
	h, closeAPI, err := st.API(nil)
	require.NoError(t, err)
	apiHandler = h
	s.jobs = st.Jobs(nil)
	t.Cleanup(func() { closeAPI(); _ = s.jobs.Close(); st.Close() })
	return s
}

// startWorker starts one worker replica; stopWorker stops it and waits.
func (s *system) startWorker() {
	st, err := stack.New(s.cfg, zaptest.NewLogger(s.t, zaptest.Level(zap.WarnLevel)))
	require.NoError(s.t, err)
	w, err := st.Worker()
	require.NoError(s.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer st.Close()
		_ = w.Run(ctx)
	}()
	s.stop = func() { cancel(); wg.Wait() }
	s.t.Cleanup(s.stopWorker)
}

func (s *system) stopWorker() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// create enqueues a create of name with a file of n values.
func (s *system) create(ws, name, priority string, n int) *queue.Job {
	s.t.Helper()
	j, _, err := s.jobs.Enqueue(context.Background(), queue.Request{
		Workspace: ws, Name: name, AttributeName: "uid", AttributeType: "string", Priority: priority,
		FileURL: fmt.Sprintf("%s/%s/%d.csv", s.files.URL, name, n), ExpiryTime: 1,
	}, queue.EnqueueOptions{})
	require.NoError(s.t, err)
	return j
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

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/callback"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/csvcheck"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/segq/segq/worker"
	"go.uber.org/zap"
)

// app holds what every long-running command builds from the config.
type app struct {
	cfg     *config.Config
	log     *zap.Logger
	rdb     redis.UniversalClient
	metrics *obs.Metrics
}

// loadConfig reads --config and the environment.
func loadConfig(g *globalFlags) (*config.Config, error) {
	return config.Load(g.configPath, os.Getenv)
}

// newApp connects to Redis and builds the logger and metrics.
func newApp(cfg *config.Config) (*app, error) {
	log, err := obs.NewLogger(cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(cfg.Redis.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	return &app{cfg: cfg, log: log, rdb: redis.NewClient(opt), metrics: obs.NewMetrics()}, nil
}

func (a *app) close() {
	_ = a.rdb.Close()
	_ = a.log.Sync()
}

// limits converts a workspace's configured quotas for the limiter.
func limits(w config.Workspace) limiter.Limits {
	l := limiter.Limits{
		Users:          limiter.Window{Length: w.Limits.Users.Window, Max: w.Limits.Users.Max},
		ActiveSegments: w.Limits.ActiveSegments,
		SafetyMargin:   w.Limits.SafetyMargin,
		Horizon:        w.Limits.Horizon,
	}
	for _, o := range w.Limits.Ops {
		l.Ops = append(l.Ops, limiter.Window{Length: o.Window, Max: o.Max})
	}
	return l.WithDefaults()
}

// fetcher returns the SSRF-guarded client for files and producer webhooks.
func (a *app) fetcher() (*http.Client, error) {
	var allow []netip.Prefix
	for _, s := range a.cfg.Files.AllowNetworks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("files.allow_networks: %w", err)
		}
		allow = append(allow, p)
	}
	return safehttp.NewClient(safehttp.Options{Allow: allow, Timeout: a.cfg.Files.FetchTimeout}), nil
}

func (a *app) signer() (*callback.Signer, error) {
	if a.cfg.PublicURL == "" {
		return nil, fmt.Errorf("config: public_url is required (MoEngage must reach the callback endpoint)")
	}
	return callback.NewSigner(a.cfg.CallbackSecret.Reveal(), a.cfg.PublicURL)
}

func (a *app) retry() queue.Backoff {
	r := a.cfg.Retry
	return queue.Backoff{Base: r.Base, Factor: r.Factor, Cap: r.Cap, MaxAttempts: r.MaxAttempts}
}

func fingerprint(ws, key string) string {
	sum := sha256.Sum256([]byte(ws + ":" + key))
	return hex.EncodeToString(sum[:8])
}

// newWorker builds a worker for every configured workspace.
func (a *app) newWorker() (*worker.Worker, error) {
	signer, err := a.signer()
	if err != nil {
		return nil, err
	}
	fetch, err := a.fetcher()
	if err != nil {
		return nil, err
	}
	var wss []worker.Workspace
	for _, w := range a.cfg.Workspaces {
		up, err := moengage.New(moengage.Config{
			WorkspaceID: w.ID, APIKey: w.APIKey.Reveal(), DBName: w.DBName,
			DataCenter: w.DataCenter, BaseURL: w.BaseURL, Timeout: 30 * time.Second,
		})
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", w.ID, err)
		}
		mode, err := csvcheck.ParseMode(w.FileMode)
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", w.ID, err)
		}
		wss = append(wss, worker.Workspace{
			ID: w.ID, Limits: limits(w), FileMode: mode, FileSize: int64(w.Limits.FileSize),
			Upstream: up, KeyFingerprint: fingerprint(w.ID, w.APIKey.Reveal()),
		})
	}
	jobs := a.queueClient(nil)
	relayer := callback.NewRelayer(jobs, a.webhookKey(), fetch, a.log, a.metrics)
	c := a.cfg.Worker
	return worker.New(worker.Config{
		Redis: a.rdb, Workspaces: wss, Signer: signer, Relayer: relayer, Fetcher: fetch, Retry: a.retry(),
		Concurrency: c.Concurrency, Tick: c.Tick, ReconcileEvery: c.ReconcileEvery,
		CallbackTimeout: c.CallbackTimeout, ShutdownTimeout: c.ShutdownTimeout,
		Logger: a.log, Metrics: a.metrics,
	})
}

func (a *app) webhookKey() []byte {
	return callback.WebhookKey(a.cfg.CallbackSecret.Reveal())
}

func (a *app) workspaceIDs() []string {
	ids := make([]string, 0, len(a.cfg.Workspaces))
	for _, w := range a.cfg.Workspaces {
		ids = append(ids, w.ID)
	}
	return ids
}

// queueClient returns a producer client that logs transitions.
func (a *app) queueClient(slots queue.SlotCanceller) *queue.Client {
	return queue.NewClient(a.rdb, queue.ClientOptions{
		Workspaces: a.workspaceIDs(), Slots: slots, Logger: a.log,
		StoreOptions: []queue.StoreOption{queue.WithObserver(worker.Observer(a.log, a.metrics))},
	})
}

// newAPI builds the HTTP API with the callback receiver and dashboard.
// dashboard is the asynqmon connection; nil leaves it out.
func (a *app) newAPI(dashboard asynq.RedisConnOpt) (http.Handler, func(), error) {
	signer, err := a.signer()
	if err != nil {
		return nil, nil, err
	}
	lim := limiter.New(a.rdb)
	jobs := a.queueClient(lim)
	var wss []httpapi.Workspace
	for _, w := range a.cfg.Workspaces {
		wss = append(wss, httpapi.Workspace{ID: w.ID, Limits: limits(w), APIKey: w.APIKey})
	}
	cfg := httpapi.Config{
		Jobs: jobs, Limiter: lim, Redis: a.rdb, Workspaces: wss, Tokens: a.cfg.APITokens,
		Callbacks: callback.NewReceiver(jobs, signer, a.retry(), a.log, a.metrics),
		Metrics:   a.metrics, Logger: a.log,
	}
	closeFn := func() { _ = jobs.Close() }
	if dashboard != nil {
		mon := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: dashboard})
		cfg.Dashboard = mon
		closeFn = func() { _ = mon.Close(); _ = jobs.Close() }
	}
	return httpapi.New(cfg).Handler(), closeFn, nil
}

// dashboardConn returns asynqmon's connection options for a Redis URL.
func dashboardConn(url string) (asynq.RedisConnOpt, error) {
	return asynq.ParseRedisURI(url)
}

// serveHTTP serves srv on l until ctx is done, then shuts it down
// gracefully.
func serveHTTP(ctx context.Context, srv *http.Server, l net.Listener, log *zap.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn("http shutdown", zap.Error(err))
	}
	return nil
}

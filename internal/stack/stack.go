// Package stack assembles segq's components — API, callback receiver,
// worker, relay — from a configuration, for the segq binary and for tests
// that run the real system in-process.
package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/callback"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/csvcheck"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/segq/segq/worker"
	"go.uber.org/zap"
)

// Stack holds what every long-running command builds from the config.
type Stack struct {
	Cfg     *config.Config
	Log     *zap.Logger
	Redis   redis.UniversalClient
	Metrics *obs.Metrics
}

// New connects to cfg's Redis (any topology, see RedisClient) and builds
// the metrics. log may be nil (the logger of cfg.Log is built then).
func New(cfg *config.Config, log *zap.Logger) (*Stack, error) {
	if log == nil {
		var err error
		if log, err = obs.NewLogger(cfg.Log.Format, cfg.Log.Level); err != nil {
			return nil, err
		}
	}
	rdb, err := RedisClient(cfg.Redis)
	if err != nil {
		return nil, err
	}
	return &Stack{Cfg: cfg, Log: log, Redis: rdb, Metrics: obs.NewMetrics()}, nil
}

// Close closes the Redis client and flushes the log.
func (a *Stack) Close() {
	_ = a.Redis.Close()
	_ = a.Log.Sync()
}

// Limits converts a workspace's configured quotas for the limiter.
func Limits(w config.Workspace) limiter.Limits {
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

// Fetcher returns the SSRF-guarded client for files and producer webhooks.
func (a *Stack) Fetcher() (*http.Client, error) {
	var allow []netip.Prefix
	for _, s := range a.Cfg.Files.AllowNetworks {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("files.allow_networks: %w", err)
		}
		allow = append(allow, p)
	}
	return safehttp.NewClient(safehttp.Options{Allow: allow, Timeout: a.Cfg.Files.FetchTimeout}), nil
}

func (a *Stack) signer() (*callback.Signer, error) {
	if a.Cfg.PublicURL == "" {
		return nil, fmt.Errorf("config: public_url is required (MoEngage must reach the callback endpoint)")
	}
	return callback.NewSigner(a.Cfg.CallbackSecret.Reveal(), a.Cfg.PublicURL)
}

func (a *Stack) retry() queue.Backoff {
	r := a.Cfg.Retry
	return queue.Backoff{Base: r.Base, Factor: r.Factor, Cap: r.Cap, MaxAttempts: r.MaxAttempts}
}

func fingerprint(ws, key string) string {
	sum := sha256.Sum256([]byte(ws + ":" + key))
	return hex.EncodeToString(sum[:8])
}

// Worker builds a worker for every configured workspace.
func (a *Stack) Worker() (*worker.Worker, error) {
	signer, err := a.signer()
	if err != nil {
		return nil, err
	}
	fetch, err := a.Fetcher()
	if err != nil {
		return nil, err
	}
	var wss []worker.Workspace
	for _, w := range a.Cfg.Workspaces {
		up, err := moengage.New(moengage.Config{
			WorkspaceID: w.ID, APIKey: w.APIKey.Reveal(), DBName: w.DBName,
			DataCenter: w.DataCenter, BaseURL: w.BaseURL, Timeout: a.Cfg.Worker.UpstreamTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", w.ID, err)
		}
		mode, err := csvcheck.ParseMode(w.FileMode)
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", w.ID, err)
		}
		wss = append(wss, worker.Workspace{
			ID: w.ID, Limits: Limits(w), FileMode: mode, FileSize: int64(w.Limits.FileSize),
			Upstream: up, KeyFingerprint: fingerprint(w.ID, w.APIKey.Reveal()),
		})
	}
	jobs := a.Jobs(nil)
	relayer := callback.NewRelayer(jobs, a.webhookKey(), fetch, a.Log, a.Metrics)
	c := a.Cfg.Worker
	return worker.New(worker.Config{
		Redis: a.Redis, Workspaces: wss, Signer: signer, Relayer: relayer, Fetcher: fetch, Retry: a.retry(),
		Concurrency: c.Concurrency, Tick: c.Tick, ReconcileEvery: c.ReconcileEvery,
		CallbackTimeout: c.CallbackTimeout, ShutdownTimeout: c.ShutdownTimeout, UpstreamTimeout: c.UpstreamTimeout,
		Logger: a.Log, Metrics: a.Metrics,
	})
}

func (a *Stack) webhookKey() []byte {
	return callback.WebhookKey(a.Cfg.CallbackSecret.Reveal())
}

// WorkspaceIDs lists the configured workspaces.
func (a *Stack) WorkspaceIDs() []string {
	ids := make([]string, 0, len(a.Cfg.Workspaces))
	for _, w := range a.Cfg.Workspaces {
		ids = append(ids, w.ID)
	}
	return ids
}

// Jobs returns a producer client that logs transitions.
func (a *Stack) Jobs(slots queue.SlotCanceller) *queue.Client {
	return queue.NewClient(a.Redis, queue.ClientOptions{
		Workspaces: a.WorkspaceIDs(), Slots: slots, Logger: a.Log,
		StoreOptions: []queue.StoreOption{queue.WithObserver(worker.Observer(a.Log, a.Metrics))},
	})
}

// API builds the HTTP API with the callback receiver and dashboard.
// dashboard is the asynqmon connection; nil leaves it out.
func (a *Stack) API(dashboard asynq.RedisConnOpt) (http.Handler, func(), error) {
	signer, err := a.signer()
	if err != nil {
		return nil, nil, err
	}
	lim := limiter.New(a.Redis)
	jobs := a.Jobs(lim)
	var wss []httpapi.Workspace
	for _, w := range a.Cfg.Workspaces {
		wss = append(wss, httpapi.Workspace{ID: w.ID, Limits: Limits(w), APIKey: w.APIKey})
	}
	cfg := httpapi.Config{
		Jobs: jobs, Limiter: lim, Redis: a.Redis, Workspaces: wss, Tokens: a.Cfg.APITokens,
		Callbacks: callback.NewReceiver(jobs, signer, a.retry(), a.Log, a.Metrics),
		Metrics:   a.Metrics, Logger: a.Log,
		// Shares a.Redis: nothing to close.
		Inspector: asynq.NewInspectorFromRedisClient(a.Redis),
	}
	closeFn := func() { _ = jobs.Close() }
	if dashboard != nil {
		mon := asynqmon.New(asynqmon.Options{RootPath: "/monitoring", RedisConnOpt: dashboard})
		cfg.Dashboard = mon
		closeFn = func() { _ = mon.Close(); _ = jobs.Close() }
	}
	return httpapi.New(cfg).Handler(), closeFn, nil
}

// ServeHTTP serves srv on l until ctx is done, then shuts it down
// gracefully.
func ServeHTTP(ctx context.Context, srv *http.Server, l net.Listener, log *zap.Logger) error {
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

// SimWorkspaces returns the configured workspaces that keep, for the
// simulator; with none configured, a workspace "demo" with key "demo-key".
func SimWorkspaces(cfg *config.Config, keep func(config.Workspace) bool) []moesim.Workspace {
	if len(cfg.Workspaces) == 0 {
		return []moesim.Workspace{{ID: "demo", APIKey: "demo-key", Limits: moesim.DefaultLimits()}}
	}
	var out []moesim.Workspace
	for _, w := range cfg.Workspaces {
		if !keep(w) {
			continue
		}
		out = append(out, moesim.Workspace{ID: w.ID, APIKey: w.APIKey.Reveal(), DBName: w.DBName, Limits: SimLimits(w.Limits)})
	}
	return out
}

// SimLimits converts configured limits for the simulator.
func SimLimits(l config.Limits) moesim.Limits {
	out := moesim.Limits{
		Users:          moesim.Window{Length: l.Users.Window, Max: l.Users.Max},
		ActiveSegments: int(l.ActiveSegments),
		FileSize:       int64(l.FileSize),
	}
	for _, o := range l.Ops {
		out.Ops = append(out.Ops, moesim.Window{Length: o.Window, Max: o.Max})
	}
	return out
}

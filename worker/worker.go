// Package worker runs segq's job processing on asynq: it validates files,
// reserves slots with the limiter, submits each attempt upstream at its
// exact slot, and runs the dispatcher that hands out slots as the horizon
// moves and repairs work a crash left between two steps.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/callback"
	"github.com/segq/segq/internal/csvcheck"
	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// Workspace is what a worker needs to know about one MoEngage workspace.
type Workspace struct {
	ID       string
	Limits   limiter.Limits
	FileMode csvcheck.Mode
	// FileSize caps a segment file in bytes.
	FileSize int64
	// Upstream is the MoEngage client with this workspace's credentials.
	Upstream *moengage.Client
	// KeyFingerprint identifies the credentials (not the key itself): a
	// workspace paused for bad credentials resumes when it changes.
	KeyFingerprint string
}

// Config configures a Worker. Redis, Workspaces, Signer and Fetcher are
// required.
type Config struct {
	Redis      redis.UniversalClient
	Workspaces []Workspace
	// Signer builds the callback URLs given to MoEngage.
	Signer *callback.Signer
	// Relayer delivers finished jobs to producers; nil disables relays.
	Relayer asynq.Handler
	// Fetcher downloads segment files; it must be SSRF-guarded.
	Fetcher *http.Client
	// Retry is the backoff policy for server-side failures.
	Retry queue.Backoff
	// Concurrency is the number of task handlers (default 10).
	Concurrency int
	// Tick is the dispatcher period and asynq's scheduled-task check
	// interval (default 200 ms); it bounds the slot-to-submission gap.
	Tick time.Duration
	// ReconcileEvery is the period of the reconciler (default 30 s).
	ReconcileEvery time.Duration
	// CallbackTimeout turns a submitted job overdue (default 24 h).
	CallbackTimeout time.Duration
	// ShutdownTimeout bounds graceful shutdown (default 30 s).
	ShutdownTimeout time.Duration
	// UpstreamTimeout is the upstream clients' request timeout (default
	// 30 s); a job in submitting for 1.5 times as long was interrupted.
	UpstreamTimeout time.Duration
	Logger          *zap.Logger
	Metrics         *obs.Metrics
	// Now is the clock for timestamps (default time.Now). Slot decisions
	// use Redis time inside the limiter.
	Now func() time.Time
}

func (c *Config) withDefaults() {
	c.Concurrency = cmp.Or(c.Concurrency, 10)
	c.Tick = cmp.Or(c.Tick, 200*time.Millisecond)
	c.ReconcileEvery = cmp.Or(c.ReconcileEvery, 30*time.Second)
	c.CallbackTimeout = cmp.Or(c.CallbackTimeout, 24*time.Hour)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, 30*time.Second)
	c.UpstreamTimeout = cmp.Or(c.UpstreamTimeout, 30*time.Second)
	if c.Retry == (queue.Backoff{}) {
		c.Retry = queue.DefaultBackoff
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	switch {
	case c.Redis == nil:
		return errors.New("worker: Redis is required")
	case c.Signer == nil:
		return errors.New("worker: Signer is required")
	case c.Fetcher == nil:
		return errors.New("worker: Fetcher is required")
	}
	for _, w := range c.Workspaces {
		if w.Upstream == nil {
			return fmt.Errorf("worker: workspace %s has no upstream client", w.ID)
		}
		if err := w.Limits.Validate(); err != nil {
			return fmt.Errorf("worker: workspace %s: %w", w.ID, err)
		}
	}
	return nil
}

// Worker processes segq tasks. Run any number of replicas against one
// Redis: every decision that must be exclusive is an atomic script.
type Worker struct {
	cfg       Config
	jobs      *queue.Client
	lim       *limiter.Limiter
	inspector *asynq.Inspector
	ws        map[string]*Workspace
	log       *zap.Logger
}

// New returns a Worker for cfg.
func New(cfg Config) (*Worker, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, lim: limiter.New(cfg.Redis), inspector: asynq.NewInspectorFromRedisClient(cfg.Redis),
		ws: map[string]*Workspace{}, log: cfg.Logger}
	ids := make([]string, 0, len(cfg.Workspaces))
	for i := range cfg.Workspaces {
		ws := &cfg.Workspaces[i]
		w.ws[ws.ID] = ws
		ids = append(ids, ws.ID)
	}
	w.jobs = queue.NewClient(cfg.Redis, queue.ClientOptions{Workspaces: ids, Slots: w.lim, Logger: cfg.Logger,
		StoreOptions: []queue.StoreOption{queue.WithClock(cfg.Now), queue.WithObserver(Observer(cfg.Logger, cfg.Metrics))}})
	return w, nil
}

// Mux returns the asynq handlers of every segq task type.
func (w *Worker) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(queue.TypeValidate, w.handleValidate)
	mux.HandleFunc(queue.TypeSubmit, w.handleSubmit)
	if w.cfg.Relayer != nil {
		mux.Handle(queue.TypeRelay, w.cfg.Relayer)
	}
	return mux
}

// Run processes tasks and runs the dispatcher until ctx is done, then
// shuts down gracefully: tasks still running after ShutdownTimeout are
// handed back to the queue.
func (w *Worker) Run(ctx context.Context) error {
	srv := asynq.NewServerFromRedisClient(w.cfg.Redis, asynq.Config{
		Concurrency:              w.cfg.Concurrency,
		Queues:                   map[string]int{queue.QueueJobs: 4, queue.QueueRelay: 1},
		TaskCheckInterval:        w.cfg.Tick,
		DelayedTaskCheckInterval: w.cfg.Tick,
		ShutdownTimeout:          w.cfg.ShutdownTimeout,
		RetryDelayFunc:           retryDelay,
		Logger:                   asynqLogger{w.log.Sugar().Named("asynq")},
		LogLevel:                 asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			w.log.Warn("task failed", zap.String("type", t.Type()), zap.ByteString("payload", t.Payload()), zap.Error(err))
		}),
	})
	if err := srv.Start(w.Mux()); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.dispatch(ctx)
	}()
	<-ctx.Done()
	<-done
	srv.Shutdown()
	return nil
}

// Jobs returns the queue client the worker records transitions with.
func (w *Worker) Jobs() *queue.Client { return w.jobs }

// Limiter returns the worker's limiter.
func (w *Worker) Limiter() *limiter.Limiter { return w.lim }

// asynqLogger adapts zap to asynq.Logger.
type asynqLogger struct{ s *zap.SugaredLogger }

func (l asynqLogger) Debug(args ...any) { l.s.Debug(args...) }
func (l asynqLogger) Info(args ...any)  { l.s.Info(args...) }
func (l asynqLogger) Warn(args ...any)  { l.s.Warn(args...) }
func (l asynqLogger) Error(args ...any) { l.s.Error(args...) }
func (l asynqLogger) Fatal(args ...any) { l.s.Fatal(args...) }

// Package httpapi is segq's HTTP API (DESIGN §7): jobs, limits, the
// MoEngage drop-in paths, the callback receiver, health, metrics and the
// dashboard, on the standard library's method-pattern ServeMux.
package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// Workspace is what the API knows of one workspace.
type Workspace struct {
	ID     string
	Limits limiter.Limits
	// APIKey is the workspace's MoEngage key; the drop-in paths accept it
	// as the Basic auth password, like upstream.
	APIKey config.Secret
}

// Config configures a Server. Jobs, Limiter and Redis are required.
type Config struct {
	Jobs       *queue.Client
	Limiter    *limiter.Limiter
	Redis      redis.UniversalClient
	Workspaces []Workspace
	// Callbacks handles POST /v1/callbacks/{job_id}/{attempt}.
	Callbacks http.Handler
	// Dashboard is mounted at /monitoring/ (asynqmon); optional.
	Dashboard http.Handler
	// Tokens are the API tokens of /v1, the status page and the
	// dashboard, sent as Bearer or as the Basic password. Empty means no
	// authentication (segq dev only).
	Tokens []config.Secret
	// Metrics is served at /metrics together with the scrape-time
	// collectors of limiter usage, jobs by state and (with Inspector)
	// asynq's queues. Nil serves no /metrics.
	Metrics *obs.Metrics
	// Inspector reads asynq's queue statistics for /metrics; optional.
	Inspector *asynq.Inspector
	// Logger receives request and error logs; nil discards them.
	Logger *zap.Logger
}

// Server serves the API.
type Server struct {
	cfg Config
	ws  map[string]*Workspace
	log *zap.Logger
	// scrape holds this server's collectors that read Redis at scrape
	// time; it is served beside cfg.Metrics.Registry, which other
	// components of the process share.
	scrape *prometheus.Registry
}

// New returns a Server.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, ws: map[string]*Workspace{}, log: cfg.Logger, scrape: prometheus.NewRegistry()}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	ids := make([]string, len(cfg.Workspaces))
	limits := make([]obs.Workspace, len(cfg.Workspaces))
	for i, w := range cfg.Workspaces {
		s.ws[w.ID] = &cfg.Workspaces[i]
		ids[i], limits[i] = w.ID, obs.Workspace{ID: w.ID, Limits: w.Limits}
	}
	s.scrape.MustRegister(obs.NewLimitCollector(cfg.Limiter, limits, s.log),
		obs.NewJobStateCollector(cfg.Jobs.Store(), ids, s.log))
	if cfg.Inspector != nil {
		s.scrape.MustRegister(obs.NewQueueCollector(cfg.Inspector, s.log))
	}
	return s
}

// route is one registration on the ServeMux.
type route struct {
	pattern string
	handler http.Handler
}

// routes lists every route this configuration serves, in ServeMux pattern
// syntax. It is the single source for Handler and Routes.
func (s *Server) routes() []route {
	rs := []route{
		{"POST /v1/jobs", s.auth(http.HandlerFunc(s.handleEnqueue))},
		{"GET /v1/jobs", s.auth(http.HandlerFunc(s.handleList))},
		{"GET /v1/jobs/{id}", s.auth(http.HandlerFunc(s.handleGet))},
		{"DELETE /v1/jobs/{id}", s.auth(http.HandlerFunc(s.handleCancel))},
		{"POST /v1/jobs/{id}/resolve", s.auth(http.HandlerFunc(s.handleResolve))},
		{"GET /v1/limits", s.auth(http.HandlerFunc(s.handleLimits))},
		{"POST /v2/custom-segments/file-segment", s.dropIn(queue.OpCreate)},
		{"PUT /v2/custom-segments/file-segment/add-users", s.dropIn(queue.OpAdd)},
		{"PUT /v2/custom-segments/file-segment/remove-users", s.dropIn(queue.OpRemove)},
		{"PUT /v2/custom-segments/file-segment/replace", s.dropIn(queue.OpReplace)},
		{"GET /{$}", s.authPage(http.HandlerFunc(s.handleStatus))},
		{"GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})},
		{"GET /readyz", http.HandlerFunc(s.handleReady)},
		{"GET /openapi.json", http.HandlerFunc(handleOpenAPI)},
	}
	if s.cfg.Callbacks != nil {
		rs = append(rs, route{"POST /v1/callbacks/{job_id}/{attempt}", s.cfg.Callbacks})
	}
	if s.cfg.Metrics != nil {
		gather := prometheus.Gatherers{s.cfg.Metrics.Registry, s.scrape}
		rs = append(rs, route{"GET /metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{})})
	}
	if s.cfg.Dashboard != nil {
		rs = append(rs, route{"/monitoring/", s.authPage(s.cfg.Dashboard)})
	}
	return rs
}

// Routes returns the ServeMux patterns the Handler serves with this
// configuration ("METHOD /path"; the dashboard's prefix has no method).
// The OpenAPI document is checked against it.
func (s *Server) Routes() []string {
	rs := s.routes()
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.pattern
	}
	return out
}

// Handler returns the routed handler with request ids, logging and panic
// recovery around it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		mux.Handle(r.pattern, r.handler)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path)
	})
	return s.logRequests(mux)
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Redis.Ping(ctx).Err(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "redis unreachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// NewHTTPServer wraps h in an http.Server with timeouts on every phase, so
// slow clients cannot hold connections.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

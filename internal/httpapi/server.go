// Package httpapi is segq's HTTP API (DESIGN §7): jobs, limits, the
// MoEngage drop-in paths, the callback receiver, health, metrics and the
// dashboard, on the standard library's method-pattern ServeMux.
package httpapi

import (
	"context"
	"net/http"
	"time"

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
	// Tokens are the bearer tokens of /v1 and the dashboard. Empty means
	// no authentication (segq dev only).
	Tokens  []config.Secret
	Metrics *obs.Metrics
	Logger  *zap.Logger
}

// Server serves the API.
type Server struct {
	cfg Config
	ws  map[string]*Workspace
	log *zap.Logger
}

// New returns a Server.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, ws: map[string]*Workspace{}, log: cfg.Logger}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	for i := range cfg.Workspaces {
		s.ws[cfg.Workspaces[i].ID] = &cfg.Workspaces[i]
	}
	return s
}

// Handler returns the routed handler with request ids, logging and panic
// recovery around it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/jobs", s.auth(http.HandlerFunc(s.handleEnqueue)))
	mux.Handle("GET /v1/jobs", s.auth(http.HandlerFunc(s.handleList)))
	mux.Handle("GET /v1/jobs/{id}", s.auth(http.HandlerFunc(s.handleGet)))
	mux.Handle("DELETE /v1/jobs/{id}", s.auth(http.HandlerFunc(s.handleCancel)))
	mux.Handle("GET /v1/limits", s.auth(http.HandlerFunc(s.handleLimits)))
	mux.HandleFunc("POST /v2/custom-segments/file-segment", s.dropIn(queue.OpCreate))
	mux.HandleFunc("PUT /v2/custom-segments/file-segment/add-users", s.dropIn(queue.OpAdd))
	mux.HandleFunc("PUT /v2/custom-segments/file-segment/remove-users", s.dropIn(queue.OpRemove))
	mux.HandleFunc("PUT /v2/custom-segments/file-segment/replace", s.dropIn(queue.OpReplace))
	if s.cfg.Callbacks != nil {
		mux.Handle("POST /v1/callbacks/{job_id}/{attempt}", s.cfg.Callbacks)
	}
	if s.cfg.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	if s.cfg.Dashboard != nil {
		mux.Handle("/monitoring/", s.auth(s.cfg.Dashboard))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
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

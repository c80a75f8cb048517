// Package config loads segq's settings from a YAML file and SEGQ_*
// environment variables, applies defaults, and validates them, naming the
// offending field in every error.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole of segq's configuration. The zero value plus
// WithDefaults is a valid single-node development setup.
type Config struct {
	// Redis says where the one stateful part lives.
	Redis Redis `yaml:"redis"`
	// PublicURL is the base URL MoEngage uses to reach the callback
	// endpoint, e.g. https://segq.example.com.
	PublicURL string `yaml:"public_url"`
	// Addr is the listen address of the API server (serve, dev).
	Addr string `yaml:"addr"`
	// SimAddr is the listen address of the simulator (simulate, dev).
	SimAddr string `yaml:"sim_addr"`
	// Log configures zap.
	Log Log `yaml:"log"`
	// Worker tunes the asynq server and the dispatcher.
	Worker Worker `yaml:"worker"`
	// Retry is the backoff policy for 5xx outcomes and submit timeouts.
	Retry Retry `yaml:"retry"`
	// Files configures file validation and fetching.
	Files Files `yaml:"files"`
	// Workspaces are the MoEngage workspaces segq may submit to.
	Workspaces []Workspace `yaml:"workspaces"`

	// CallbackSecret signs callback URLs and relayed webhooks. From
	// SEGQ_CALLBACK_SECRET or SEGQ_CALLBACK_SECRET_FILE; never logged.
	CallbackSecret Secret `yaml:"-"`
	// APITokens are the bearer tokens accepted by /v1 and the dashboard.
	// From SEGQ_API_TOKENS (comma separated) or SEGQ_API_TOKENS_FILE.
	APITokens []Secret `yaml:"-"`
}

// Log configures logging.
type Log struct {
	// Format is "json" (default for serve and worker) or "console".
	Format string `yaml:"format"`
	// Level is a zap level name: debug, info, warn, error.
	Level string `yaml:"level"`
}

// Worker tunes job processing.
type Worker struct {
	// Addr is where `segq worker` serves /healthz, /readyz and /metrics
	// (e.g. ":9090"); empty serves nothing.
	Addr string `yaml:"addr"`
	// Concurrency is the number of asynq handler goroutines per replica.
	Concurrency int `yaml:"concurrency"`
	// Tick is how often the dispatcher hands out slots and asynq checks
	// for scheduled tasks; it bounds the slot-to-submission gap.
	Tick time.Duration `yaml:"tick"`
	// ReconcileEvery is how often the reconciler repairs work that a
	// crash left between two steps.
	ReconcileEvery time.Duration `yaml:"reconcile_every"`
	// CallbackTimeout is how long a submitted job waits for MoEngage's
	// callback before it becomes overdue.
	CallbackTimeout time.Duration `yaml:"callback_timeout"`
	// ShutdownTimeout bounds graceful shutdown; in-flight tasks are handed
	// back to the queue when it expires.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// UpstreamTimeout bounds one request to MoEngage. A job left in
	// submitting for 1.5 times this long was interrupted by a crash and
	// is reconciled.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
}

// Retry is an exponential backoff with jitter.
type Retry struct {
	Base        time.Duration `yaml:"base"`
	Factor      float64       `yaml:"factor"`
	Cap         time.Duration `yaml:"cap"`
	MaxAttempts int           `yaml:"max_attempts"`
}

// Files configures how segment files are fetched and checked.
type Files struct {
	// Mode is "strict" (any problem fails the job) or "lenient".
	Mode string `yaml:"mode"`
	// AllowNetworks lists CIDR prefixes the fetcher may reach even though
	// they are private or loopback (dev and tests only).
	AllowNetworks []string `yaml:"allow_networks"`
	// FetchTimeout bounds one download.
	FetchTimeout time.Duration `yaml:"fetch_timeout"`
}

// Workspace is one MoEngage workspace: credentials, location and limits.
type Workspace struct {
	ID         string `yaml:"id"`
	DataCenter string `yaml:"data_center"`
	BaseURL    string `yaml:"base_url"`
	APIKeyEnv  string `yaml:"api_key_env"`
	APIKeyFile string `yaml:"api_key_file"`
	DBName     string `yaml:"db_name"`
	Limits     Limits `yaml:"limits"`
	// FileMode overrides Files.Mode for this workspace.
	FileMode string `yaml:"file_mode"`

	// APIKey is read from APIKeyEnv or APIKeyFile at load time.
	APIKey Secret `yaml:"-"`
}

// Limits are a workspace's upstream quotas (DESIGN §2).
type Limits struct {
	Ops            []Window      `yaml:"ops"`
	Users          Window        `yaml:"users"`
	ActiveSegments int64         `yaml:"active_segments"`
	FileSize       ByteSize      `yaml:"file_size"`
	SafetyMargin   time.Duration `yaml:"safety_margin"`
	// Horizon is how far ahead slots are handed out; later jobs wait
	// in priority order without a slot.
	Horizon time.Duration `yaml:"horizon"`
}

// Window is a rolling window with a maximum.
type Window struct {
	Window time.Duration `yaml:"window"`
	Max    int64         `yaml:"max"`
}

// DefaultLimits are MoEngage's published defaults.
func DefaultLimits() Limits {
	return Limits{
		Ops:            []Window{{Window: time.Hour, Max: 10}, {Window: 24 * time.Hour, Max: 100}},
		Users:          Window{Window: 24 * time.Hour, Max: 2_000_000},
		ActiveSegments: 1000,
		FileSize:       150 * MB,
		SafetyMargin:   60 * time.Second,
		Horizon:        time.Hour,
	}
}

// Load reads the YAML file at path (skipped when path is empty), then the
// SEGQ_* environment through getenv, then applies defaults and validates.
func Load(path string, getenv func(string) string) (*Config, error) {
	cfg := &Config{}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := Parse(raw, cfg); err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(cfg, getenv); err != nil {
		return nil, err
	}
	if err := cfg.loadSecrets(getenv); err != nil {
		return nil, err
	}
	cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse decodes YAML into cfg, rejecting unknown fields.
func Parse(raw []byte, cfg *Config) error {
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// WithDefaults fills every unset field with its default.
func (c *Config) WithDefaults() {
	c.Redis.withDefaults()
	c.Addr = cmp.Or(c.Addr, ":8080")
	c.SimAddr = cmp.Or(c.SimAddr, ":8090")
	c.Log.Format = cmp.Or(c.Log.Format, "json")
	c.Log.Level = cmp.Or(c.Log.Level, "info")
	c.Worker.Concurrency = cmp.Or(c.Worker.Concurrency, 10)
	c.Worker.Tick = cmp.Or(c.Worker.Tick, 200*time.Millisecond)
	c.Worker.ReconcileEvery = cmp.Or(c.Worker.ReconcileEvery, 30*time.Second)
	c.Worker.CallbackTimeout = cmp.Or(c.Worker.CallbackTimeout, 24*time.Hour)
	c.Worker.ShutdownTimeout = cmp.Or(c.Worker.ShutdownTimeout, 30*time.Second)
	c.Worker.UpstreamTimeout = cmp.Or(c.Worker.UpstreamTimeout, 30*time.Second)
	c.Retry.Base = cmp.Or(c.Retry.Base, time.Minute)
	c.Retry.Factor = cmp.Or(c.Retry.Factor, 2)
	c.Retry.Cap = cmp.Or(c.Retry.Cap, time.Hour)
	c.Retry.MaxAttempts = cmp.Or(c.Retry.MaxAttempts, 8)
	c.Files.Mode = cmp.Or(c.Files.Mode, "strict")
	c.Files.FetchTimeout = cmp.Or(c.Files.FetchTimeout, 5*time.Minute)
	def := DefaultLimits()
	for i := range c.Workspaces {
		w := &c.Workspaces[i]
		w.FileMode = cmp.Or(w.FileMode, c.Files.Mode)
		l := &w.Limits
		if l.Ops == nil {
			l.Ops = def.Ops
		}
		l.Users.Window = cmp.Or(l.Users.Window, def.Users.Window)
		l.Users.Max = cmp.Or(l.Users.Max, def.Users.Max)
		l.ActiveSegments = cmp.Or(l.ActiveSegments, def.ActiveSegments)
		l.FileSize = cmp.Or(l.FileSize, def.FileSize)
		l.SafetyMargin = cmp.Or(l.SafetyMargin, def.SafetyMargin)
		l.Horizon = cmp.Or(l.Horizon, def.Horizon)
	}
}

// Validate reports the first invalid setting, naming its field.
func (c *Config) Validate() error {
	if err := c.Redis.validate(); err != nil {
		return err
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fieldErr("public_url", "must be an absolute http(s) URL")
		}
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		return fieldErr("log.format", "must be json or console")
	}
	if c.Files.Mode != "strict" && c.Files.Mode != "lenient" {
		return fieldErr("files.mode", "must be strict or lenient")
	}
	if c.Retry.Factor < 1 {
		return fieldErr("retry.factor", "must be at least 1")
	}
	if c.Worker.Concurrency < 1 {
		return fieldErr("worker.concurrency", "must be positive")
	}
	seen := map[string]bool{}
	for i, w := range c.Workspaces {
		if err := w.validate(fmt.Sprintf("workspaces[%d]", i)); err != nil {
			return err
		}
		if seen[w.ID] {
			return fieldErr(fmt.Sprintf("workspaces[%d].id", i), "duplicate workspace id "+w.ID)
		}
		seen[w.ID] = true
	}
	return nil
}

func (w Workspace) validate(path string) error {
	if w.ID == "" {
		return fieldErr(path+".id", "is required")
	}
	if w.BaseURL != "" {
		if u, err := url.Parse(w.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fieldErr(path+".base_url", "must be an absolute http(s) URL")
		}
	}
	if w.FileMode != "strict" && w.FileMode != "lenient" {
		return fieldErr(path+".file_mode", "must be strict or lenient")
	}
	l := w.Limits
	for j, op := range l.Ops {
		if op.Window <= 0 || op.Max <= 0 {
			return fieldErr(fmt.Sprintf("%s.limits.ops[%d]", path, j), "window and max must be positive")
		}
	}
	if l.Users.Window <= 0 || l.Users.Max <= 0 {
		return fieldErr(path+".limits.users", "window and max must be positive")
	}
	if l.ActiveSegments <= 0 {
		return fieldErr(path+".limits.active_segments", "must be positive")
	}
	if l.SafetyMargin < 0 {
		return fieldErr(path+".limits.safety_margin", "must not be negative")
	}
	return nil
}

// Workspace returns the workspace with the given id.
func (c *Config) Workspace(id string) (Workspace, bool) {
	for _, w := range c.Workspaces {
		if w.ID == id {
			return w, true
		}
	}
	return Workspace{}, false
}

// FieldError names the setting that is wrong and why.
type FieldError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *FieldError) Error() string { return "config: " + e.Field + " " + e.Message }

func fieldErr(field, msg string) error { return &FieldError{Field: field, Message: msg} }

// Package moesim is a simulator of MoEngage's file-segment API family, for
// tests, `segq dev` and `segq simulate`. It checks requests and credentials
// like upstream, answers with upstream's error bodies, enforces the
// workspace limits at request arrival (without any safety margin), downloads
// the segment file, processes it in the background and POSTs upstream's
// callback payloads. Faults (5xx answers, 5xx, late, duplicate and lost
// callbacks, slow downloads) can be injected, and the limits' windows can be
// shortened so that hours pass in seconds. docs/simulator.md lists what is
// upstream behaviour and what was chosen where upstream says nothing.
package moesim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Window is a rolling limit: at most Max units in any interval of Length,
// counted over (now-Length, now].
type Window struct {
	Length time.Duration `json:"length"`
	Max    int64         `json:"max"`
}

// Limits are one workspace's upstream limits. The zero Limits means
// DefaultLimits; inside a non-zero Limits, a zero Users window, a zero
// ActiveSegments and nil look-up windows switch that limit off, and a zero
// FileSize means DefaultFileSize.
type Limits struct {
	// Ops are the count windows of create, add, remove and replace.
	Ops []Window `json:"ops"`
	// Users sums the users (non-empty file values) of those ops.
	Users Window `json:"users"`
	// ActiveSegments caps segments neither archived nor expired.
	ActiveSegments int `json:"active_segments"`
	// FileSize is the largest file, in bytes, that is processed.
	FileSize int64 `json:"file_size"`
	// FindByName and GetByID are the count windows of the v3 look-ups.
	FindByName []Window `json:"find_by_name"`
	GetByID    []Window `json:"get_by_id"`
}

// DefaultFileSize is upstream's 150 MB file limit, read as MiB.
const DefaultFileSize int64 = 150 << 20

// DefaultLimits returns upstream's documented limits: 10 ops per hour, 100
// per day, 2,000,000 users per day, 1000 active segments, 150 MB files, and
// the look-up limits (50/min, 200/h, 1000/day by name; 100/min, 1000/h,
// 4000/day by id).
func DefaultLimits() Limits {
	return Limits{
		Ops:            []Window{{Length: time.Hour, Max: 10}, {Length: 24 * time.Hour, Max: 100}},
		Users:          Window{Length: 24 * time.Hour, Max: 2_000_000},
		ActiveSegments: 1000,
		FileSize:       DefaultFileSize,
		FindByName:     []Window{{Length: time.Minute, Max: 50}, {Length: time.Hour, Max: 200}, {Length: 24 * time.Hour, Max: 1000}},
		GetByID:        []Window{{Length: time.Minute, Max: 100}, {Length: time.Hour, Max: 1000}, {Length: 24 * time.Hour, Max: 4000}},
	}
}

func (l Limits) isZero() bool {
	return len(l.Ops) == 0 && l.Users == (Window{}) && l.ActiveSegments == 0 && l.FileSize == 0 &&
		len(l.FindByName) == 0 && len(l.GetByID) == 0
}

func (l Limits) validate() error {
	for name, ws := range map[string][]Window{"Ops": l.Ops, "FindByName": l.FindByName, "GetByID": l.GetByID} {
		for i, w := range ws {
			if w.Length <= 0 || w.Max <= 0 {
				return fmt.Errorf("%s[%d]: Length and Max must be positive", name, i)
			}
		}
	}
	if l.Users != (Window{}) && (l.Users.Length <= 0 || l.Users.Max <= 0) {
		return errors.New("Users: Length and Max must be positive (or both zero)")
	}
	if l.ActiveSegments < 0 || l.FileSize < 0 {
		return errors.New("ActiveSegments and FileSize must not be negative")
	}
	return nil
}

// Workspace is one simulated MoEngage workspace and its credentials.
type Workspace struct {
	// ID is the workspace id, the Basic-auth user name.
	ID string
	// APIKey is the Basic-auth password.
	APIKey string `json:"-"`
	// DBName, when set, must match a MOE-DBNAME header that is sent; it is
	// the db_name of callbacks (ID when empty).
	DBName string
	// Limits are enforced at request arrival; zero means DefaultLimits.
	Limits Limits
}

// Faults are injected failures. Shares are probabilities in [0, 1] drawn
// from the simulator's seeded random source.
type Faults struct {
	// Submit5xx answers a v2 request 500 before anything is checked or
	// counted against a limit.
	Submit5xx float64 `json:"submit_5xx"`
	// Callback5xx ends processing with upstream's 500 failure payload.
	Callback5xx float64 `json:"callback_5xx"`
	// DuplicateCallback sends the callback twice.
	DuplicateCallback float64 `json:"duplicate_callback"`
	// LostCallback processes the file but never sends the callback.
	LostCallback float64 `json:"lost_callback"`
	// CallbackDelay is waited after processing, before the callback.
	CallbackDelay time.Duration `json:"callback_delay"`
	// SlowDownload is added to the processing time, as a slow file host.
	SlowDownload time.Duration `json:"slow_download"`
	// AnswerDelay is waited after a submission is accepted and logged,
	// before its 202 is written: a request that landed upstream while its
	// caller may die before hearing the answer (crash tests).
	AnswerDelay time.Duration `json:"answer_delay"`
}

func (f Faults) validate() error {
	for name, v := range map[string]float64{"Submit5xx": f.Submit5xx, "Callback5xx": f.Callback5xx,
		"DuplicateCallback": f.DuplicateCallback, "LostCallback": f.LostCallback} {
		if v < 0 || v > 1 {
			return fmt.Errorf("Faults.%s must be in [0, 1]", name)
		}
	}
	if f.CallbackDelay < 0 || f.SlowDownload < 0 || f.AnswerDelay < 0 {
		return errors.New("Faults.CallbackDelay, Faults.SlowDownload and Faults.AnswerDelay must not be negative")
	}
	return nil
}

// Config configures a simulator.
type Config struct {
	// Workspaces are the known workspaces; at least one.
	Workspaces []Workspace
	// ProcessingDelay is waited between accepting a request and finishing
	// its processing (then the callback is sent).
	ProcessingDelay time.Duration
	// Faults are the initial injected failures (see Server.SetFaults).
	Faults Faults
	// Seed seeds the random source of faults and ids, for reproducible runs.
	Seed int64
	// HTTPClient downloads files and sends callbacks. Pass an SSRF-guarded
	// client in production and a loopback-allowed one in tests and dev; a
	// plain client with a 30 s timeout when nil.
	HTTPClient *http.Client
	// CallbackTimeout bounds one callback POST; 10 s when zero.
	CallbackTimeout time.Duration
	// ExpiryUnit is the length of one expiry_time day; 24 h when zero.
	// Shorten it with the windows to compress time.
	ExpiryUnit time.Duration
	// Logger receives structured logs; none when nil.
	Logger *zap.Logger
	// Now is the clock of limits, segment times and the log; time.Now when
	// nil. Delays (processing, callbacks) always use real time.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.CallbackTimeout == 0 {
		c.CallbackTimeout = 10 * time.Second
	}
	if c.ExpiryUnit == 0 {
		c.ExpiryUnit = 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	ws := make([]Workspace, len(c.Workspaces))
	for i, w := range c.Workspaces {
		if w.Limits.isZero() {
			w.Limits = DefaultLimits()
		}
		if w.Limits.FileSize == 0 {
			w.Limits.FileSize = DefaultFileSize
		}
		ws[i] = w
	}
	c.Workspaces = ws
	return c
}

func (c Config) validate() error {
	if len(c.Workspaces) == 0 {
		return errors.New("moesim: Workspaces: at least one workspace is required")
	}
	seen := map[string]bool{}
	for i, w := range c.Workspaces {
		switch {
		case w.ID == "":
			return fmt.Errorf("moesim: Workspaces[%d].ID is required", i)
		case w.APIKey == "":
			return fmt.Errorf("moesim: Workspaces[%d].APIKey is required", i)
		case seen[w.ID]:
			return fmt.Errorf("moesim: Workspaces[%d].ID %q is repeated", i, w.ID)
		}
		seen[w.ID] = true
		if err := w.Limits.validate(); err != nil {
			return fmt.Errorf("moesim: Workspaces[%d].Limits.%w", i, err)
		}
	}
	if c.ProcessingDelay < 0 || c.CallbackTimeout < 0 || c.ExpiryUnit < 0 {
		return errors.New("moesim: ProcessingDelay, CallbackTimeout and ExpiryUnit must not be negative")
	}
	if err := c.Faults.validate(); err != nil {
		return fmt.Errorf("moesim: %w", err)
	}
	return nil
}

// Server is a running simulator. Serve Handler() with any HTTP server and
// Close the Server when done. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *zap.Logger
	handler http.Handler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	faults  Faults
	rng     *rand.Rand
	ws      map[string]*workspace
	stats   Stats
	records []Record
}

// New checks cfg and returns a simulator with no segments.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.Named("moesim"),
		ctx:    ctx,
		cancel: cancel,
		faults: cfg.Faults,
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5e67_5e67)),
		ws:     make(map[string]*workspace, len(cfg.Workspaces)),
	}
	for _, w := range cfg.Workspaces {
		s.ws[w.ID] = newWorkspace(w)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the simulator's HTTP handler: the upstream paths plus
// GET /_sim/stats, /_sim/log and /_sim/segments?workspace=.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops background processing (pending callbacks are dropped) and
// waits for every goroutine the simulator started. Requests arriving after
// Close are answered 503.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// SetFaults replaces the injected faults; work already accepted uses the
// new ones from its next step. Invalid shares are clamped to [0, 1].
func (s *Server) SetFaults(f Faults) {
	clamp := func(v float64) float64 { return min(max(v, 0), 1) }
	f.Submit5xx, f.Callback5xx = clamp(f.Submit5xx), clamp(f.Callback5xx)
	f.DuplicateCallback, f.LostCallback = clamp(f.DuplicateCallback), clamp(f.LostCallback)
	f.CallbackDelay, f.SlowDownload = max(f.CallbackDelay, 0), max(f.SlowDownload, 0)
	f.AnswerDelay = max(f.AnswerDelay, 0)
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// chance draws one fault decision; the caller holds s.mu.
func (s *Server) chance(share float64) bool {
	return share > 0 && s.rng.Float64() < share
}

// randomHex returns n random hex digits; the caller holds s.mu.
func (s *Server) randomHex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[s.rng.IntN(16)]
	}
	return string(b)
}

// goBackground runs f in a tracked goroutine unless the simulator is
// closed; the caller holds s.mu. It reports whether f was started.
func (s *Server) goBackground(f func()) bool {
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// sleep waits d or until Close; it reports whether the wait completed.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

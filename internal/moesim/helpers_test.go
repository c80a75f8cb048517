package moesim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/moesim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	wsID  = "WS1"
	wsKey = "secret-key-1"
	wsDB  = "main"
)

// fakeClock is an injectable clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// sink is a callback receiver that records the payloads it gets.
type sink struct {
	mu       sync.Mutex
	payloads []moengage.CallbackPayload
	status   int
}

func (k *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p moengage.CallbackPayload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	k.mu.Lock()
	k.payloads = append(k.payloads, p)
	status := k.status
	k.mu.Unlock()
	w.WriteHeader(max(status, http.StatusOK))
}

func (k *sink) got() []moengage.CallbackPayload {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]moengage.CallbackPayload(nil), k.payloads...)
}

// waitPayloads polls until the sink holds n payloads.
func (k *sink) waitPayloads(t *testing.T, n int) []moengage.CallbackPayload {
	t.Helper()
	require.Eventually(t, func() bool { return len(k.got()) >= n }, 10*time.Second, 2*time.Millisecond,
		"waiting for %d callbacks", n)
	return k.got()
}

// bundle is a running simulator with a file host and a callback sink.
type bundle struct {
	sim    *moesim.Server
	api    *httptest.Server
	files  *httptest.Server
	hook   *httptest.Server
	sink   *sink
	clock  *fakeClock
	client *http.Client

	mu      sync.Mutex
	content map[string]string
}

type option func(*moesim.Config)

func withLimits(l moesim.Limits) option {
	return func(c *moesim.Config) { c.Workspaces[0].Limits = l }
}

func withDelay(d time.Duration) option {
	return func(c *moesim.Config) { c.ProcessingDelay = d }
}

func withFaults(f moesim.Faults) option {
	return func(c *moesim.Config) { c.Faults = f }
}

func setup(t *testing.T, opts ...option) *bundle {
	t.Helper()
	b := &bundle{sink: &sink{}, clock: newFakeClock(), content: map[string]string{}}
	tr := &http.Transport{}
	b.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	cfg := moesim.Config{
		Workspaces: []moesim.Workspace{{ID: wsID, APIKey: wsKey, DBName: wsDB}},
		HTTPClient: b.client,
		Now:        b.clock.Now,
		Seed:       1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	sim, err := moesim.New(cfg)
	require.NoError(t, err)
	b.sim = sim
	b.api = httptest.NewServer(sim.Handler())
	b.files = httptest.NewServer(http.HandlerFunc(b.serveFile))
	b.hook = httptest.NewServer(b.sink)
	t.Cleanup(func() {
		b.api.Close()
		sim.Close()
		b.files.Close()
		b.hook.Close()
		tr.CloseIdleConnections()
	})
	return b
}

func (b *bundle) serveFile(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	body, ok := b.content[r.URL.Path]
	b.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = io.WriteString(w, body)
}

// file publishes content and returns its URL.
func (b *bundle) file(path, content string) string {
	b.mu.Lock()
	b.content[path] = content
	b.mu.Unlock()
	return b.files.URL + path
}

// values returns a file body of n distinct values.
func values(n int) string {
	var sb strings.Builder
	for i := range n {
		sb.WriteString("user")
		sb.WriteString(strings.Repeat("x", i%3))
		sb.WriteString(string(rune('a' + i%26)))
		sb.WriteString("\n")
	}
	return sb.String()
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body %s", r.body)
	return m
}

// call sends one request with the workspace's credentials unless user is
// "-" (no auth) or set to something else.
func (b *bundle) call(t *testing.T, method, path string, body any, auth ...string) reply {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.api.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	user, key := wsID, wsKey
	if len(auth) == 2 {
		user, key = auth[0], auth[1]
	}
	if user != "-" {
		req.SetBasicAuth(user, key)
	}
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// createBody is a valid create request for name with a file of n values.
func (b *bundle) createBody(name string, n int) map[string]any {
	return map[string]any{
		"name": name, "attribute_name": "id", "attribute_type": "string",
		"file_url":     b.file("/"+name+".csv", values(n)),
		"callback_url": b.hook.URL + "/cb?sig=x", "expiry_time": 30,
	}
}

// opBody is a valid add/remove/replace request for name with n values.
func (b *bundle) opBody(name string, n int, file string) map[string]any {
	return map[string]any{
		"name": name, "attribute_name": "id", "attribute_type": "string",
		"file_url":     b.file("/"+file+".csv", values(n)),
		"callback_url": b.hook.URL + "/cb",
	}
}

func (b *bundle) create(t *testing.T, name string, n int) string {
	t.Helper()
	r := b.call(t, http.MethodPost, moengage.PathCreate, b.createBody(name, n))
	require.Equal(t, http.StatusAccepted, r.status, "create %s: %s", name, r.body)
	return r.json(t)["cs_id"].(string)
}

// waitProcessed polls until n processing runs have finished.
func (b *bundle) waitProcessed(t *testing.T, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return b.sim.Stats().Processed >= n }, 10*time.Second, 2*time.Millisecond)
}

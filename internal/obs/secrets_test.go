package obs_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/segq/segq/callback"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/safehttp"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/internal/testsystem"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// webhooks records the producer-side relay deliveries.
type webhooks struct {
	mu     sync.Mutex
	bodies []string
}

func (w *webhooks) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	w.bodies = append(w.bodies, string(body)+"\n"+fmt.Sprint(r.Header))
	w.mu.Unlock()
}

func (w *webhooks) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.bodies, "\n")
}

const (
	secretAPIKey   = "moe-api-key-SECRET-4f1c2a"
	secretCallback = "callback-secret-SECRET-9b7e3d1a"
	secretToken    = "api-token-SECRET-c0ffee77"
)

// TestNoSecretsInLogs runs two jobs to success through the real stack
// (API with tokens, worker, simulator, relay to the producer), with every
// component logging JSON at debug level into one buffer, and checks that
// no secret appears in a log line, a job's JSON or a relayed webhook: the
// MoEngage API key (also as the drop-in's Basic credentials), the callback
// secret and the webhook key derived from it, the API token, and the sig=
// tokens of the callback URLs.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	logs := &testsystem.LockedBuffer{}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(logs), zap.DebugLevel))
	mr := miniredis.RunT(t)

	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 25 {
			fmt.Fprintf(w, "user-%03d\n", i)
		}
	}))
	t.Cleanup(files.Close)
	hooks := &webhooks{}
	producer := httptest.NewServer(hooks)
	t.Cleanup(producer.Close)
	var apiHandler, simHandler http.Handler
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { apiHandler.ServeHTTP(w, r) }))
	t.Cleanup(api.Close)
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { simHandler.ServeHTTP(w, r) }))
	t.Cleanup(simSrv.Close)

	cfg := &config.Config{
		Redis: config.Redis{URL: "redis://" + mr.Addr() + "/0"}, PublicURL: api.URL,
		Log:    config.Log{Format: "json", Level: "debug"},
		Worker: config.Worker{Tick: 50 * time.Millisecond, ReconcileEvery: 300 * time.Millisecond, ShutdownTimeout: 2 * time.Second},
		Files:  config.Files{AllowNetworks: []string{"127.0.0.0/8"}},
		Workspaces: []config.Workspace{{ID: "main", BaseURL: simSrv.URL, APIKey: secretAPIKey, DBName: "db-main",
			Limits: config.Limits{Ops: []config.Window{{Window: time.Hour, Max: 10}}, Users: config.Window{Window: time.Hour, Max: 1000},
				ActiveSegments: 10, SafetyMargin: time.Second}}},
		CallbackSecret: secretCallback,
		APITokens:      []config.Secret{secretToken},
	}
	cfg.WithDefaults()
	require.NoError(t, cfg.Validate())
	log.Info("configuration", zap.Any("config", cfg))

	sim, err := moesim.New(moesim.Config{
		Workspaces: stack.SimWorkspaces(cfg, func(config.Workspace) bool { return true }), ProcessingDelay: 50 * time.Millisecond,
		Logger: zap.NewNop(), HTTPClient: safehttp.NewClient(safehttp.Options{Allow: safehttp.LoopbackPrefixes}),
	})
	require.NoError(t, err)
	simHandler = sim.Handler()
	t.Cleanup(sim.Close)

	st, err := stack.New(cfg, log)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	h, closeAPI, err := st.API(nil)
	require.NoError(t, err)
	t.Cleanup(closeAPI)
	apiHandler = h
	w, err := st.Worker()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)

	hook := producer.URL + "/hook"
	viaAPI := request(t, "POST", api.URL+"/v1/jobs", fmt.Sprintf(`{"workspace":"main","name":"api-seg","attribute_name":"uid",
		"attribute_type":"string","file_url":%q,"expiry_time":5,"callback_url":%q}`, files.URL+"/a.csv", hook),
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secretToken) })
	viaDropIn := request(t, "POST", api.URL+"/v2/custom-segments/file-segment", fmt.Sprintf(`{"name":"dropin-seg","attribute_name":"uid",
		"attribute_type":"string","file_url":%q,"expiry_time":5,"callback_url":%q}`, files.URL+"/b.csv", hook),
		func(r *http.Request) { r.SetBasicAuth("main", secretAPIKey) })

	var jobJSON []string
	for _, id := range []string{viaAPI["id"].(string), viaDropIn["job_id"].(string)} {
		body := waitSucceeded(t, api.URL+"/v1/jobs/"+id, logs)
		jobJSON = append(jobJSON, body)
	}
	require.Eventually(t, func() bool {
		all := hooks.all()
		return strings.Contains(all, `"state":"succeeded"`) && strings.Contains(all, `"status":201`)
	}, 30*time.Second, 20*time.Millisecond, "both outcomes relayed: the job JSON, and MoEngage's payload to the drop-in producer")
	stop() // flushes the worker's last log lines

	secrets := secretForms(t, jobJSON)
	for name, text := range map[string]string{"logs": logs.String(), "job JSON": strings.Join(jobJSON, "\n"), "webhooks": hooks.all()} {
		require.NotEmpty(t, text)
		for what, s := range secrets {
			require.NotContains(t, text, s, "%s leak the %s", name, what)
		}
	}
	require.Contains(t, logs.String(), `"job_id"`, "the logs were captured")
	require.Contains(t, logs.String(), "[redacted]", "the configuration was logged, redacted")
}

// waitSucceeded polls a job until it succeeds and returns its JSON; on
// timeout it fails with the job and the logs.
func waitSucceeded(t *testing.T, url string, logs *testsystem.LockedBuffer) string {
	t.Helper()
	var body string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		body = requestRaw(t, "GET", url, func(r *http.Request) { r.SetBasicAuth("ops", secretToken) })
		if strings.Contains(body, `"state":"succeeded"`) {
			return body
		}
	}
	t.Fatalf("job never succeeded: %s\nlogs:\n%s", body, logs)
	return ""
}

// secretForms lists each secret in the forms it could leak in.
func secretForms(t *testing.T, jobJSON []string) map[string]string {
	t.Helper()
	key := callback.WebhookKey(secretCallback)
	out := map[string]string{
		"MoEngage API key":          secretAPIKey,
		"drop-in Basic credentials": base64.StdEncoding.EncodeToString([]byte("main:" + secretAPIKey)),
		"callback secret":           secretCallback,
		"webhook key (hex)":         hex.EncodeToString(key),
		"webhook key (base64)":      base64.StdEncoding.EncodeToString(key),
		"API token":                 secretToken,
		"API token as Basic":        base64.StdEncoding.EncodeToString([]byte("ops:" + secretToken)),
		"sig= parameter":            "sig=",
	}
	signer, err := callback.NewSigner(secretCallback, "http://unused.example")
	require.NoError(t, err)
	for i, body := range jobJSON {
		id := body[strings.Index(body, `"id":"`)+6:][:26]
		for attempt := 1; attempt <= 3; attempt++ {
			out[fmt.Sprintf("sig token of job %d attempt %d", i, attempt)] = signer.Token(id, attempt)
		}
	}
	return out
}

func requestRaw(t *testing.T, method, url string, auth func(*http.Request), body ...string) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(strings.Join(body, "")))
	require.NoError(t, err)
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Less(t, resp.StatusCode, 300, "%s %s: %s", method, url, raw)
	return string(raw)
}

func request(t *testing.T, method, url, body string, auth func(*http.Request)) map[string]any {
	t.Helper()
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(requestRaw(t, method, url, auth, body)), &out))
	return out
}

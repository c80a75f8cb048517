package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

type testBundle struct {
	mr   *miniredis.Miniredis
	srv  *httptest.Server
	jobs *queue.Client
}

const token = "test-token-0123456789"

func setup(t *testing.T) *testBundle {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	lim := limiter.New(rdb)
	jobs := queue.NewClient(rdb, queue.ClientOptions{Workspaces: []string{"ws1"}, Slots: lim})
	t.Cleanup(func() { _ = jobs.Close() })
	srv := httptest.NewServer(httpapi.New(httpapi.Config{
		Jobs: jobs, Limiter: lim, Redis: rdb, Tokens: []config.Secret{token},
		Workspaces: []httpapi.Workspace{{ID: "ws1", Limits: limiter.DefaultLimits(), APIKey: "moe-key"}},
	}).Handler())
	t.Cleanup(srv.Close)
	return &testBundle{mr: mr, srv: srv, jobs: jobs}
}

// do sends a request with the bearer token and returns status and body.
func (b *testBundle) do(t *testing.T, method, path, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

const goodJob = `{"workspace":"ws1","name":"seg","attribute_name":"gaid","attribute_type":"string",
 "file_url":"https://files.example.com/a.csv","expiry_time":30}`

func errMessage(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

func TestEnqueueBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, field string }{
		{"missing field", `{"workspace":"ws1","attribute_name":"a","attribute_type":"string","file_url":"https://x/a.csv","expiry_time":3}`, "name"},
		{"bad type", `{"workspace":"ws1","name":"s","attribute_name":"a","attribute_type":"string","file_url":"https://x/a.csv","expiry_time":"30"}`, "expiry_time"},
		{"bad url", `{"workspace":"ws1","name":"s","attribute_name":"a","attribute_type":"string","file_url":"file:///etc/passwd","expiry_time":3}`, "file_url"},
		{"unknown workspace", `{"workspace":"nope","name":"s","attribute_name":"a","attribute_type":"string","file_url":"https://x/a.csv","expiry_time":3}`, "workspace"},
		{"expiry zero", `{"workspace":"ws1","name":"s","attribute_name":"a","attribute_type":"string","file_url":"https://x/a.csv","expiry_time":0}`, "expiry_time"},
		{"unknown field", `{"workspace":"ws1","users":5}`, "users"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			status, body := b.do(t, "POST", "/v1/jobs", tc.body)
			require.Equal(t, http.StatusBadRequest, status)
			require.True(t, strings.HasPrefix(errMessage(body), tc.field+":"), "message %q should name %s", errMessage(body), tc.field)
			require.Empty(t, b.mr.Keys(), "nothing stored")
		})
	}
	b := setup(t)
	status, _ := b.do(t, "POST", "/v1/jobs", `{"workspace":`)
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = b.do(t, "POST", "/v1/jobs", `{"name":"`+strings.Repeat("a", 2<<20)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
}

func TestEnqueueGetCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, job := b.do(t, "POST", "/v1/jobs", goodJob)
	require.Equal(t, http.StatusAccepted, status)
	id := job["id"].(string)
	require.Equal(t, "accepted", job["state"])

	status, got := b.do(t, "GET", "/v1/jobs/"+id, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, id, got["id"])

	status, page := b.do(t, "GET", "/v1/jobs?state=accepted&workspace=ws1&limit=10", "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, page["jobs"], 1)

	status, _ = b.do(t, "POST", "/v1/jobs", goodJob)
	require.Equal(t, http.StatusConflict, status, "duplicate active create")

	status, got = b.do(t, "DELETE", "/v1/jobs/"+id, "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "cancelled", got["state"])
	status, _ = b.do(t, "DELETE", "/v1/jobs/"+id, "")
	require.Equal(t, http.StatusConflict, status)

	status, _ = b.do(t, "GET", "/v1/jobs/01NOPE", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = b.do(t, "GET", "/v1/jobs?limit=0", "")
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = b.do(t, "GET", "/v1/jobs?state=nope", "")
	require.Equal(t, http.StatusBadRequest, status)
}

func TestResolve(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, job := b.do(t, "POST", "/v1/jobs", goodJob)
	id := job["id"].(string)
	path := "/v1/jobs/" + id + "/resolve"
	const verdict = `{"state":"succeeded","reason":"found in MoEngage with 10 users","cs_id":"cs-9"}`

	status, body := b.do(t, "POST", path, verdict)
	require.Equal(t, http.StatusConflict, status, "an accepted job runs by itself")
	require.Equal(t, "job is accepted", errMessage(body))

	ctx := t.Context()
	for _, st := range []queue.State{queue.StateValidating, queue.StateWaiting, queue.StateSubmitting, queue.StateUnknown} {
		_, err := b.jobs.Store().Transition(ctx, id, st, "test", nil)
		require.NoError(t, err)
	}
	for _, bad := range []struct{ body, field string }{
		{`{"state":"cancelled","reason":"x"}`, "state"},
		{`{"state":"failed"}`, "reason"},
		{`{"state":"failed","reason":"x","cs_id":"cs-9"}`, "cs_id"},
		{`{"state":"failed","reason":"x","users":1}`, "users"},
	} {
		status, body = b.do(t, "POST", path, bad.body)
		require.Equal(t, http.StatusBadRequest, status, bad.body)
		require.True(t, strings.HasPrefix(errMessage(body), bad.field+":"), "message %q should name %s", errMessage(body), bad.field)
	}
	req, err := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(verdict))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	status, _ = b.do(t, "POST", "/v1/jobs/01NOPE/resolve", verdict)
	require.Equal(t, http.StatusNotFound, status)

	status, got := b.do(t, "POST", path, verdict)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "succeeded", got["state"])
	require.Equal(t, "cs-9", got["cs_id"])
	status, _ = b.do(t, "POST", path, `{"state":"failed","reason":"second thoughts"}`)
	require.Equal(t, http.StatusConflict, status, "the first verdict stands")
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	status, first := b.do(t, "POST", "/v1/jobs", goodJob, "Idempotency-Key", "abc")
	require.Equal(t, http.StatusAccepted, status)
	status, again := b.do(t, "POST", "/v1/jobs", goodJob, "Idempotency-Key", "abc")
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, first["id"], again["id"])
	other := strings.Replace(goodJob, `"seg"`, `"other"`, 1)
	status, body := b.do(t, "POST", "/v1/jobs", other, "Idempotency-Key", "abc")
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, "idempotency_mismatch", body["error"].(map[string]any)["code"])
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, hdr := range []string{"", "Bearer wrong", "Basic " + token} {
		req, _ := http.NewRequest("GET", b.srv.URL+"/v1/jobs", nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "header %q", hdr)
	}
	resp, err := http.Get(b.srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "health needs no token")
}

func TestDropInCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"name":"vip","attribute_name":"gaid","attribute_type":"string","file_url":"https://x/a.csv","expiry_time":30,"emails":["a@example.com"]}`
	post := func(user, pass string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("POST", b.srv.URL+"/v2/custom-segments/file-segment", strings.NewReader(body))
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp, out
	}
	resp, out := post("ws1", "wrong")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "Authentication required", out["title"])
	resp, out = post("ws1", "moe-key")
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Equal(t, true, out["success"])
	require.Equal(t, "vip", out["cs_name"])
	require.NotEmpty(t, out["job_id"])
}

func TestRedisDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mr.Close()
	status, _ := b.do(t, "POST", "/v1/jobs", goodJob)
	require.Equal(t, http.StatusServiceUnavailable, status)
	resp, err := http.Get(b.srv.URL + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

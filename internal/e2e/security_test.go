package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// TestCallbackTokens: only the exact signature of a job's current attempt
// moves it. Another job's token, another attempt's token, a tampered or
// missing token and a well-signed token for a job that does not exist all
// get the same 404 (no existence leak) and change nothing; a replay of the
// accepted callback is acknowledged and ignored.
func TestCallbackTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "ws-sec")
	h.Sim.SetFaults(moesim.Faults{LostCallback: 1})
	h.StartWorker()
	a := h.Create("ws-sec", "victim", 10)
	b := h.Create("ws-sec", "other", 10)
	h.WaitState(a.ID, queue.StateSubmitted, 30*time.Second)
	h.WaitState(b.ID, queue.StateSubmitted, 30*time.Second)
	s := h.signer()
	path := func(id string, attempt int) string {
		return fmt.Sprintf("%s/v1/callbacks/%s/%d", h.API.URL, id, attempt)
	}
	tokA := s.Token(a.ID, 1)

	forged := map[string]string{
		"other job's token":      path(a.ID, 1) + "?sig=" + s.Token(b.ID, 1),
		"other attempt's token":  path(a.ID, 1) + "?sig=" + s.Token(a.ID, 2),
		"token on other attempt": path(a.ID, 2) + "?sig=" + tokA,
		"tampered token":         path(a.ID, 1) + "?sig=" + tokA[:len(tokA)-2] + "AA",
		"truncated token":        path(a.ID, 1) + "?sig=" + tokA[:20],
		"no token":               path(a.ID, 1),
		"empty token":            path(a.ID, 1) + "?sig=",
		"attempt zero":           path(a.ID, 0) + "?sig=" + s.Token(a.ID, 0),
		"attempt not a number":   path(a.ID, 1) + "x?sig=" + tokA,
		"signed unknown job":     s.URL("01ARZ3NDEKTSV4RRFFQ69G5FAV", 1),
	}
	var bodies []string
	for name, url := range forged {
		resp, err := http.Post(url, "application/json", strings.NewReader(success201))
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode, name)
		bodies = append(bodies, string(raw))
	}
	for _, body := range bodies[1:] {
		require.Equal(t, bodies[0], body, "every refusal looks the same")
	}
	require.Equal(t, queue.StateSubmitted, h.get(a.ID).State)
	require.Equal(t, queue.StateSubmitted, h.get(b.ID).State)

	// Bad bodies on a valid URL.
	require.Equal(t, http.StatusRequestEntityTooLarge,
		h.postCallback(s.URL(a.ID, 1), `{"status":201,"x":"`+strings.Repeat("a", 64<<10)+`"}`))
	for _, body := range []string{`{`, `[]`, `{"status":"201"}`, `{}`, "\x00\xff", ``} {
		require.Equal(t, http.StatusBadRequest, h.postCallback(s.URL(a.ID, 1), body), "body %q", body)
	}
	require.Equal(t, queue.StateSubmitted, h.get(a.ID).State)

	// The real callback, then replays of it and of a contradiction.
	require.Equal(t, http.StatusOK, h.postCallback(s.URL(a.ID, 1), success201))
	done := h.WaitState(a.ID, queue.StateSucceeded, 5*time.Second)
	require.Equal(t, http.StatusOK, h.postCallback(s.URL(a.ID, 1), success201))
	require.Equal(t, http.StatusOK, h.postCallback(s.URL(a.ID, 1), `{"status":400,"error_message":"replayed"}`))
	require.Len(t, h.get(a.ID).Timeline, len(done.Timeline))
	require.Equal(t, queue.StateSubmitted, h.get(b.ID).State, "a's token never moved b")
}

// slowServer serves the harness's API with the production server settings
// of httpapi.NewHTTPServer, checked and then shortened for the test.
func slowServer(t *testing.T, h *harness) string {
	t.Helper()
	srv := httpapi.NewHTTPServer("127.0.0.1:0", h.Handler)
	require.Positive(t, srv.ReadHeaderTimeout, "slow headers must be cut off")
	require.Positive(t, srv.ReadTimeout, "slow bodies must be cut off")
	require.Positive(t, srv.WriteTimeout)
	require.Positive(t, srv.IdleTimeout)
	require.Positive(t, srv.MaxHeaderBytes)
	srv.ReadHeaderTimeout, srv.ReadTimeout = 300*time.Millisecond, 600*time.Millisecond
	return serveOn(t, srv)
}

// closedByServer reads from conn until the server answers or hangs up;
// the read deadline is only the test's bound.
func closedByServer(t *testing.T, conn net.Conn) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	first, err := bufio.NewReader(conn).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a slow client's connection open")
	}
	return first
}

// TestSlowClients: a client that trickles its headers or its body is cut
// off by the server's timeouts instead of holding a connection (and a
// handler) forever.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "ws-slow")
	addr := slowServer(t, h)
	t.Run("headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "POST /v1/jobs HTTP/1.1\r\nHost: segq\r\n")
		require.NoError(t, err)
		closedByServer(t, conn)
	})
	for _, path := range []string{"/v1/jobs", "/v1/callbacks/01ARZ3NDEKTSV4RRFFQ69G5FAV/1?sig=" + h.signer().Token("01ARZ3NDEKTSV4RRFFQ69G5FAV", 1)} {
		t.Run("body "+strings.SplitN(path, "?", 2)[0], func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: segq\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"status\":", path)
			require.NoError(t, err)
			line := closedByServer(t, conn)
			require.NotContains(t, line, " 2", "a truncated body is never accepted: %q", line)
		})
	}
}

// TestAPIAuth: with tokens configured, /v1 and the dashboard refuse
// requests without a token or with a wrong one; probes stay open.
func TestAPIAuth(t *testing.T) {
	t.Parallel()
	const token = "api-token-0123456789abcdef"
	h := newHarnessWith(t, testsystem.Options{Tokens: []config.Secret{token}, Dashboard: true}, "ws-auth")
	for _, path := range []string{"/v1/jobs", "/v1/limits?workspace=ws-auth", "/monitoring/", "/monitoring/api/queues"} {
		for _, bad := range []string{"", "wrong-token", token + "x", strings.ToUpper(token)} {
			status, _, err := h.apiCall(http.MethodGet, path, bad, "")
			require.NoError(t, err)
			require.Equal(t, http.StatusUnauthorized, status, "%s with token %q", path, bad)
		}
		status, _, err := h.apiCall(http.MethodGet, path, token, "")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, path)
	}
	status, _, err := h.apiCall(http.MethodPost, "/v1/jobs", "", h.jobBody("ws-auth", "no-token", 5))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, status)
	page, err := h.Jobs.List(context.Background(), queue.ListOptions{Workspace: "ws-auth"})
	require.NoError(t, err)
	require.Empty(t, page.Jobs, "a refused request stores nothing")
	for _, path := range []string{"/healthz", "/readyz"} {
		status, _, err := h.apiCall(http.MethodGet, path, "", "")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, path)
	}
}

// TestSSRFTargets: file URLs that point at cloud metadata or private
// networks are refused by the fetcher; the job fails at once with an error
// that says why, and nothing is sent upstream.
func TestSSRFTargets(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "ws-ssrf")
	h.StartWorker()
	cases := map[string]string{
		"http://169.254.169.254/latest/meta-data/iam/x.csv": "link-local",
		"http://10.0.0.1/segment.csv":                       "private",
		"http://[fd00::1]/segment.csv":                      "",
		"http://0.0.0.0:8080/segment.csv":                   "unspecified",
	}
	i := 0
	for url, reason := range cases {
		i++
		j, _, err := h.Jobs.Enqueue(context.Background(), queue.Request{
			Workspace: "ws-ssrf", Name: fmt.Sprintf("ssrf-%d", i), AttributeName: "uid", AttributeType: "string",
			FileURL: url, ExpiryTime: 1,
		}, queue.EnqueueOptions{})
		require.NoError(t, err)
		got := h.WaitState(j.ID, queue.StateFailed, 30*time.Second)
		require.Contains(t, got.Error, "refusing to connect", url)
		require.Contains(t, got.Error, reason, url)
	}
	require.Zero(t, h.Sim.Stats().Requests, "nothing reaches MoEngage")
}

// TestSecretsNeverLeak runs jobs through every path — success, a 500
// callback and retry, a forged callback, the drop-in API with Basic auth —
// with every log line captured at debug level, then searches the logs and
// the job JSON for the API key, the callback secret, the API token and
// the callback signatures.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const token = "api-token-secret-0123456789"
	logs := &testsystem.LockedBuffer{}
	h := newHarnessWith(t, testsystem.Options{Logs: logs, Tokens: []config.Secret{token}}, "ws-leak")
	h.Sim.SetFaults(moesim.Faults{Callback5xx: 1})
	h.StartWorker()
	j := h.Create("ws-leak", "leaky", 10)
	h.WaitState(j.ID, queue.StateRetrying, 30*time.Second)
	h.Sim.SetFaults(moesim.Faults{})
	h.WaitState(j.ID, queue.StateSucceeded, 30*time.Second)
	h.postCallback(h.signer().URL(j.ID, 1)+"x", success201)

	req, err := http.NewRequest(http.MethodPost, h.API.URL+"/v2/custom-segments/file-segment",
		strings.NewReader(fmt.Sprintf(`{"name":"dropin","attribute_name":"uid","attribute_type":"string","file_url":"%s/dropin/5.csv","expiry_time":1}`, h.Files.URL)))
	require.NoError(t, err)
	req.SetBasicAuth("ws-leak", h.Cfg.Workspaces[0].APIKey.Reveal())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	_, jobJSON, err := h.apiCall(http.MethodGet, "/v1/jobs/"+j.ID, token, "")
	require.NoError(t, err)
	_, list, err := h.apiCall(http.MethodGet, "/v1/jobs?limit=500", token, "")
	require.NoError(t, err)
	s := h.signer()
	secrets := map[string]string{
		"MoEngage API key": h.Cfg.Workspaces[0].APIKey.Reveal(),
		"callback secret":  h.Cfg.CallbackSecret.Reveal(),
		"API token":        token,
		"callback sig 1":   s.Token(j.ID, 1),
		"callback sig 2":   s.Token(j.ID, 2),
	}
	require.NotEmpty(t, logs.String())
	for what, secret := range secrets {
		require.NotContains(t, logs.String(), secret, "%s in the logs", what)
		require.NotContains(t, string(jobJSON), secret, "%s in the job JSON", what)
		require.NotContains(t, string(list), secret, "%s in the job list", what)
	}
}

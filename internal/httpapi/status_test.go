package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// statusScenario is a server with a scaled scenario in workspace ws1:
// the hour window mostly spent, jobs waiting for slots an hour out, and
// failed jobs.
type statusScenario struct {
	srv      *httptest.Server
	failures []string // error messages of the failed jobs
}

func setupStatus(t *testing.T) *statusScenario {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	lim := limiter.New(rdb)
	limits := limiter.DefaultLimits()
	jobs := queue.NewClient(rdb, queue.ClientOptions{Workspaces: []string{"ws1", "ws2"}, Slots: lim})
	t.Cleanup(func() { _ = jobs.Close() })
	srv := httptest.NewServer(httpapi.New(httpapi.Config{
		Jobs: jobs, Limiter: lim, Redis: rdb, Tokens: []config.Secret{token},
		Workspaces: []httpapi.Workspace{{ID: "ws1", Limits: limits}, {ID: "ws2", Limits: limits}},
	}).Handler())
	t.Cleanup(srv.Close)

	ctx := context.Background()
	sc := &statusScenario{srv: srv}
	now := time.Now()
	// Ops submitted earlier this hour.
	for i := range 7 {
		_, err := lim.Reserve(ctx, "ws1", limits, limiter.Request{ID: fmt.Sprintf("earlier-%02d/01", i), EnqueuedAt: now, Ops: 1, Users: 150_000})
		require.NoError(t, err)
	}
	// Jobs waiting for their slot: three fit this hour, the rest an hour on.
	for i := range 6 {
		j := enqueueJob(t, jobs, fmt.Sprintf("waiting-%d", i))
		res, err := lim.Reserve(ctx, "ws1", limits, limiter.Request{ID: j.ReservationID(), EnqueuedAt: now, Ops: 1, Users: 100_000, Hold: 24 * time.Hour})
		require.NoError(t, err)
		moveTo(t, jobs, j.ID, queue.StateValidating, nil)
		moveTo(t, jobs, j.ID, queue.StateWaiting, func(j *queue.Job) error {
			j.Users = 100_000
			if res.Status == limiter.Reserved {
				j.ETA = queue.TimePtr(res.Slot)
			}
			return nil
		})
	}
	for i, msg := range []string{"file invalid: line 3: empty value", "MoEngage 400: Segment name already exists", "MoEngage callback 400: invalid file"} {
		j := enqueueJob(t, jobs, fmt.Sprintf("failed-%d", i))
		moveTo(t, jobs, j.ID, queue.StateValidating, nil)
		moveTo(t, jobs, j.ID, queue.StateFailed, func(j *queue.Job) error { j.Error = msg; return nil })
		sc.failures = append(sc.failures, msg)
	}
	return sc
}

func enqueueJob(t *testing.T, jobs *queue.Client, name string) *queue.Job {
	t.Helper()
	j, _, err := jobs.Enqueue(context.Background(), queue.Request{Workspace: "ws1", Name: name, AttributeName: "gaid",
		AttributeType: "string", FileURL: "https://files.example.com/" + name + ".csv", ExpiryTime: 30}, queue.EnqueueOptions{})
	require.NoError(t, err)
	return j
}

func moveTo(t *testing.T, jobs *queue.Client, id string, to queue.State, mutate func(*queue.Job) error) {
	t.Helper()
	_, err := jobs.Store().Transition(context.Background(), id, to, "status test", mutate)
	require.NoError(t, err)
}

func getStatus(t *testing.T, url string, auth func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestStatusPageAuth(t *testing.T) {
	t.Parallel()
	sc := setupStatus(t)
	resp, _ := getStatus(t, sc.srv.URL+"/", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, `Basic realm="segq", charset="UTF-8"`, resp.Header.Get("WWW-Authenticate"), "a browser must be asked to log in")
	resp, _ = getStatus(t, sc.srv.URL+"/", func(r *http.Request) { r.SetBasicAuth("ops", "wrong") })
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = getStatus(t, sc.srv.URL+"/", func(r *http.Request) { r.SetBasicAuth("ops", token) })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = getStatus(t, sc.srv.URL+"/", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = getStatus(t, sc.srv.URL+"/v1/jobs", func(r *http.Request) { r.SetBasicAuth("", token) })
	require.Equal(t, http.StatusOK, resp.StatusCode, "the API takes the token as Basic password too")
	resp, _ = getStatus(t, sc.srv.URL+"/v1/jobs", nil)
	require.Equal(t, `Bearer realm="segq"`, resp.Header.Get("WWW-Authenticate"))
}

var etaCell = regexp.MustCompile(`<td class="eta">(?:≈ )?([^<]+)</td>`)

func TestStatusPage(t *testing.T) {
	t.Parallel()
	sc := setupStatus(t)
	resp, page := getStatus(t, sc.srv.URL+"/", func(r *http.Request) { r.SetBasicAuth("ops", token) })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, page, `<meta http-equiv="refresh" content="10">`)
	for _, ws := range []string{`id="ws-ws1"`, `id="ws-ws2"`} {
		require.Contains(t, page, ws)
	}
	for _, bar := range []string{`data-limit="ops / 1h"`, `data-limit="ops / 24h"`, `data-limit="users / 24h"`, `data-limit="active segments"`} {
		require.Contains(t, page, bar)
	}
	require.Contains(t, page, "10 / 10", "the hour window is spent: 7 earlier ops and 3 jobs' slots")
	require.Contains(t, page, `class="fill full"`)
	require.Contains(t, page, "1,350,000 / 2,000,000", "users of 7 ops at 150k and 3 jobs at 100k")
	require.Contains(t, page, "6 waiting")

	etas := etaCell.FindAllStringSubmatch(page, -1)
	require.Len(t, etas, 6, "every waiting job is listed with its ETA")
	var times []time.Time
	for _, m := range etas {
		at, err := time.Parse(time.RFC3339, m[1])
		require.NoError(t, err)
		times = append(times, at)
	}
	require.True(t, slices.IsSortedFunc(times, func(a, b time.Time) int { return a.Compare(b) }), "sorted by ETA: %v", times)
	require.Greater(t, times[5].Sub(times[0]), 59*time.Minute, "the last jobs wait for the next hour")
	require.Contains(t, page, "in 1h")
	require.Contains(t, page, "(estimate)", "jobs beyond the horizon show the limiter's estimate")

	for _, msg := range sc.failures {
		require.Contains(t, page, strings.ReplaceAll(msg, "'", "&#39;"))
	}
	require.Contains(t, page, "no job is waiting", "ws2 is empty")

	shot := screenshot(t, sc.srv.URL)
	if shot != "" {
		info, err := os.Stat(shot)
		require.NoError(t, err)
		require.Positive(t, info.Size())
	}
}

// screenshot renders the status page in headless Chromium (Debian's
// chromium package) and returns the PNG's path, kept under
// $SEGQ_ARTIFACTS when set. It skips the rest when Chromium is absent.
func screenshot(t *testing.T, base string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Log("chromium not installed (apt-get install chromium): no screenshot")
		return ""
	}
	dir := os.Getenv("SEGQ_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	out := filepath.Join(dir, "status-page.png")
	_ = os.Remove(out)
	url := strings.Replace(base, "http://", "http://ops:"+token+"@", 1) + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--screenshot="+out, "--window-size=1200,900", url)
	logs, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium: %s", logs)
	t.Logf("status page screenshot: %s", out)
	return out
}

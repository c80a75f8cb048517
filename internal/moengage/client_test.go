package moengage_test

import (
	"context"
	"encoding/json"
	"errors"
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
	wsID   = "WS1"
	apiKey = "k3y-THAT-must-never-leak"
)

// bundle is a client talking to a simulator over real HTTP.
type bundle struct {
	client *moengage.Client
	sim    *moesim.Server
	files  *httptest.Server
	hook   *httptest.Server
	now    func() time.Time

	mu       sync.Mutex
	payloads []moengage.CallbackPayload
}

func setup(t *testing.T, limits moesim.Limits) *bundle {
	t.Helper()
	b := &bundle{}
	tr := &http.Transport{}
	hc := &http.Client{Transport: tr}
	clockMu := sync.Mutex{}
	now := time.Unix(1_800_000_000, 0)
	b.now = func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	sim, err := moesim.New(moesim.Config{
		Workspaces: []moesim.Workspace{{ID: wsID, APIKey: apiKey, DBName: "main", Limits: limits}},
		HTTPClient: hc, Now: b.now,
	})
	require.NoError(t, err)
	api := httptest.NewServer(sim.Handler())
	b.files = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a\nb\nc\n")
	}))
	b.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p moengage.CallbackPayload
		_ = json.NewDecoder(r.Body).Decode(&p)
		b.mu.Lock()
		b.payloads = append(b.payloads, p)
		b.mu.Unlock()
	}))
	t.Cleanup(func() {
		api.Close()
		sim.Close()
		b.files.Close()
		b.hook.Close()
		tr.CloseIdleConnections()
	})
	b.sim = sim
	b.client, err = moengage.New(moengage.Config{WorkspaceID: wsID, APIKey: apiKey, DBName: "main",
		BaseURL: api.URL, HTTPClient: hc, Timeout: 10 * time.Second})
	require.NoError(t, err)
	return b
}

// testHTTPClient returns a client whose idle connections are closed when
// the test ends, so that goleak sees no keep-alive goroutines.
func testHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func (b *bundle) request(name string) moengage.SegmentRequest {
	return moengage.SegmentRequest{Name: name, AttributeName: "id", AttributeType: "string",
		FileURL: b.files.URL + "/f.csv", CallbackURL: b.hook.URL + "/cb", ExpiryTime: 30,
		Emails: []string{"ops@example.com"}}
}

func TestOpsAgainstSimulator(t *testing.T) {
	t.Parallel()
	b := setup(t, moesim.Limits{Ops: []moesim.Window{{Length: time.Hour, Max: 10}}})
	ctx := context.Background()

	acc, err := b.client.Create(ctx, b.request("seg"))
	require.NoError(t, err)
	require.True(t, acc.Success)
	require.Equal(t, "seg", acc.CSName)
	require.Len(t, acc.CSID, 24)
	require.Equal(t, "File-segment creation request accepted", acc.Message)
	require.Equal(t, moengage.RateLimit{Limit: 10, Remaining: 9, Reset: b.now().Add(time.Hour).UTC()}, acc.RateLimit)

	found, err := b.client.FindByName(ctx, "seg")
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, acc.CSID, found[0].ID)
	seg, err := b.client.Get(ctx, acc.CSID)
	require.NoError(t, err)
	require.Equal(t, "seg", seg.Name)

	req := b.request("seg")
	req.CSID = acc.CSID
	for _, call := range []func(context.Context, moengage.SegmentRequest) (moengage.Accepted, error){
		b.client.AddUsers, b.client.RemoveUsers, b.client.Replace,
	} {
		got, err := call(ctx, req)
		require.NoError(t, err)
		require.Equal(t, acc.CSID, got.CSID)
	}
	require.NoError(t, b.client.Archive(ctx, "seg", ""))
	require.NoError(t, b.client.Unarchive(ctx, "", acc.CSID))

	ops := []string{}
	for _, r := range b.sim.Accepted() {
		ops = append(ops, r.Op)
	}
	require.Equal(t, []string{"create", "add", "remove", "replace", "archive", "unarchive"}, ops)
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.payloads) == 4
	}, 10*time.Second, 2*time.Millisecond)
}

func TestErrorsFromSimulator(t *testing.T) {
	t.Parallel()
	b := setup(t, moesim.Limits{Ops: []moesim.Window{{Length: time.Hour, Max: 2}}})
	ctx := context.Background()
	_, err := b.client.Create(ctx, b.request("seg"))
	require.NoError(t, err)

	_, err = b.client.Create(ctx, b.request("seg"))
	requireAPIError(t, err, 409, moengage.ClassPermanent, "Name already exists : seg")

	_, err = b.client.AddUsers(ctx, b.request("nope"))
	requireAPIError(t, err, 404, moengage.ClassPermanent, "Segment not found with the given name: nope")

	_, err = b.client.Get(ctx, "ffff")
	requireAPIError(t, err, 404, moengage.ClassPermanent, "Segment not found with the given id: ffff")

	bad := b.request("x")
	bad.FileURL = ""
	_, err = b.client.Create(ctx, bad)
	requireAPIError(t, err, 400, moengage.ClassPermanent, "Mandatory field missing in the request: file_url")

	_, err = b.client.AddUsers(ctx, b.request("seg"))
	require.NoError(t, err)
	_, err = b.client.AddUsers(ctx, b.request("seg"))
	apiErr := requireAPIError(t, err, 429, moengage.ClassQuota, "File segment operations limit breached. Please retry after some time.")
	require.Equal(t, b.now().Add(time.Hour).UTC(), moengage.RetryAt(err, b.now()))
	require.Equal(t, 2, apiErr.RateLimit.Limit)

	b.sim.SetFaults(moesim.Faults{Submit5xx: 1})
	_, err = b.client.Replace(ctx, b.request("seg"))
	requireAPIError(t, err, 500, moengage.ClassRetryable, "")
	require.True(t, moengage.RetryAt(err, b.now()).IsZero())

	bad = b.request("seg")
	wrong, err := moengage.New(moengage.Config{WorkspaceID: wsID, APIKey: "wrong", BaseURL: b.client.BaseURL(),
		HTTPClient: testHTTPClient(t)})
	require.NoError(t, err)
	_, err = wrong.Create(ctx, bad)
	requireAPIError(t, err, 401, moengage.ClassAuth, "Invalid Workspace ID or API key used in the Authorization header")
}

func requireAPIError(t *testing.T, err error, status int, class moengage.Class, desc string) *moengage.APIError {
	t.Helper()
	var apiErr *moengage.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, status, apiErr.Status)
	require.Equal(t, desc, apiErr.Description)
	require.Equal(t, class, moengage.Classify(err), "class of %v", err)
	require.NotContains(t, err.Error(), apiKey)
	return apiErr
}

// recorded is what a fake upstream saw of one request.
type recorded struct {
	method, path, query string
	user, pass          string
	db, contentType     string
	body                map[string]any
}

func TestWireFormat(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got []recorded
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
			db: r.Header.Get("MOE-DBNAME"), contentType: r.Header.Get("Content-Type")}
		rec.user, rec.pass, _ = r.BasicAuth()
		_ = json.NewDecoder(r.Body).Decode(&rec.body)
		mu.Lock()
		got = append(got, rec)
		mu.Unlock()
		_, _ = io.WriteString(w, `{"data":[{"name":"seg","id":"1"},{"name":"seg2","id":"2"}]}`)
	}))
	t.Cleanup(srv.Close)
	c, err := moengage.New(moengage.Config{WorkspaceID: wsID, APIKey: apiKey, DBName: "db1", BaseURL: srv.URL + "/",
		HTTPClient: testHTTPClient(t)})
	require.NoError(t, err)
	ctx := context.Background()
	req := moengage.SegmentRequest{Name: "seg", CSID: "abc", AttributeName: "id", AttributeType: "string",
		FileURL: "https://f/x.csv", ExpiryTime: 7}

	_, err = c.Create(ctx, req)
	require.NoError(t, err)
	_, err = c.AddUsers(ctx, req)
	require.NoError(t, err)
	require.NoError(t, c.Archive(ctx, "seg", ""))
	segs, err := c.FindByName(ctx, "seg")
	require.NoError(t, err)
	require.Equal(t, []moengage.Segment{{Name: "seg", ID: "1"}}, segs, "only exact names")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 4)
	for _, r := range got {
		require.Equal(t, wsID, r.user)
		require.Equal(t, apiKey, r.pass)
		require.Equal(t, "db1", r.db)
	}
	require.Equal(t, recorded{method: "POST", path: moengage.PathCreate, user: wsID, pass: apiKey, db: "db1",
		contentType: "application/json", body: map[string]any{"name": "seg", "attribute_name": "id",
			"attribute_type": "string", "file_url": "https://f/x.csv", "expiry_time": float64(7)}}, got[0],
		"create sends expiry_time and never cs_id")
	require.Equal(t, map[string]any{"name": "seg", "cs_id": "abc", "attribute_name": "id",
		"attribute_type": "string", "file_url": "https://f/x.csv"}, got[1].body, "add never sends expiry_time")
	require.Equal(t, "PUT", got[1].method)
	require.Equal(t, map[string]any{"name": "seg"}, got[2].body)
	require.Equal(t, "PATCH", got[2].method)
	require.Equal(t, "GET", got[3].method)
	require.Equal(t, "name=seg", got[3].query)
}

func TestAcceptedWithoutBodyIsNotAnError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-reset", "1800000000")
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	c, err := moengage.New(moengage.Config{WorkspaceID: wsID, APIKey: apiKey, BaseURL: srv.URL, HTTPClient: testHTTPClient(t)})
	require.NoError(t, err)
	acc, err := c.Create(context.Background(), moengage.SegmentRequest{Name: "seg"})
	require.NoError(t, err)
	require.Equal(t, moengage.Accepted{Success: true, CSName: "seg",
		RateLimit: moengage.RateLimit{Reset: time.Unix(1_800_000_000, 0).UTC()}}, acc)
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"title":"bad `+pass+`","description":"key `+pass+` rejected"}`)
	}))
	t.Cleanup(echo.Close)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, strings.Repeat(apiKey, 200_000)) // ~5 MB, cut at 1 MiB
	}))
	t.Cleanup(huge.Close)

	tests := []struct {
		name    string
		baseURL string
		timeout time.Duration
		class   moengage.Class
	}{
		{"server echoes the key", echo.URL, 0, moengage.ClassPermanent},
		{"timeout", slow.URL, 20 * time.Millisecond, moengage.ClassRetryable},
		{"connection refused", closed.URL, 0, moengage.ClassRetryable},
		{"huge body", huge.URL, 0, moengage.ClassRetryable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := moengage.New(moengage.Config{WorkspaceID: wsID, APIKey: apiKey, BaseURL: tc.baseURL, Timeout: tc.timeout,
				HTTPClient: testHTTPClient(t)})
			require.NoError(t, err)
			_, err = c.Create(context.Background(), moengage.SegmentRequest{Name: "seg"})
			require.Error(t, err)
			require.NotContains(t, err.Error(), apiKey)
			require.Equal(t, tc.class, moengage.Classify(err))
			var apiErr *moengage.APIError
			if errors.As(err, &apiErr) {
				require.NotContains(t, apiErr.Title+apiErr.Description, apiKey)
			}
		})
	}
	_, err := moengage.New(moengage.Config{WorkspaceID: wsID, APIKey: apiKey})
	require.NotContains(t, err.Error(), apiKey)
	require.NotContains(t, moengage.Config{APIKey: apiKey}.String(), apiKey)
	raw, err := json.Marshal(moengage.Config{APIKey: apiKey})
	require.NoError(t, err)
	require.NotContains(t, string(raw), apiKey)
}

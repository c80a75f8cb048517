package safehttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/segq/segq/internal/safehttp"
)

// testBundle is a loopback server and a client whose allow-list holds
// exactly the server's address.
type testBundle struct {
	srv    *httptest.Server
	client *http.Client
	hits   *atomic.Int64
	port   string
}

func setup(t *testing.T, h http.HandlerFunc, opts safehttp.Options) *testBundle {
	t.Helper()
	hits := &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	host, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	if opts.Allow == nil {
		opts.Allow = []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(host), 32)}
	}
	client := safehttp.NewClient(opts)
	t.Cleanup(client.CloseIdleConnections)
	return &testBundle{srv: srv, client: client, hits: hits, port: port}
}

func blocked(t *testing.T, err error) *safehttp.BlockedError {
	t.Helper()
	var be *safehttp.BlockedError
	require.ErrorAs(t, err, &be)
	return be
}

func TestFetchRefusesSpecialAddresses(t *testing.T) {
	t.Parallel()
	client := safehttp.NewClient(safehttp.Options{})
	t.Cleanup(client.CloseIdleConnections)
	for _, tc := range []struct{ url, addr, reason string }{
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local address"},
		{"http://10.0.0.1/file.csv", "10.0.0.1", "private address"},
		{"http://[::1]:9/file.csv", "::1", "loopback address"},
		{"https://[fd00:ec2::254]/", "fd00:ec2::254", "unique local (private) address"},
		{"http://[::ffff:169.254.169.254]/", "169.254.169.254", "link-local address"},
	} {
		_, _, err := safehttp.Fetch(context.Background(), client, tc.url, 1<<20)
		be := blocked(t, err)
		require.Equal(t, tc.addr, be.Addr, tc.url)
		require.Equal(t, tc.reason, be.Reason, tc.url)
	}
	_, _, err := safehttp.Fetch(context.Background(), client, "http://169.254.169.254/", 1<<20)
	require.ErrorContains(t, err, "refusing to connect to 169.254.169.254: link-local address (set allow-list to permit)")
}

func TestFetchRefusesLoopbackServer(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "a") }, safehttp.Options{})
	off := safehttp.NewClient(safehttp.Options{})
	t.Cleanup(off.CloseIdleConnections)

	// A real server listens there, and the guard still refuses it, by
	// address and by a name that resolves to loopback.
	_, _, err := safehttp.Fetch(context.Background(), off, b.srv.URL, 1<<20)
	require.Equal(t, "loopback address", blocked(t, err).Reason)
	_, _, err = safehttp.Fetch(context.Background(), off, "http://localhost:"+b.port+"/", 1<<20)
	require.Equal(t, "loopback address", blocked(t, err).Reason)
	require.Zero(t, b.hits.Load())

	// Allowed explicitly, the same server answers.
	body, size, err := safehttp.Fetch(context.Background(), b.client, b.srv.URL, 1<<20)
	require.NoError(t, err)
	defer body.Close()
	data, err := io.ReadAll(body)
	require.NoError(t, err)
	require.Equal(t, "a\n", string(data))
	require.Equal(t, int64(2), size)
}

func TestFetchRedirectToRefusedAddress(t *testing.T) {
	t.Parallel()
	var target atomic.Value
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.Load().(string), http.StatusFound)
	}, safehttp.Options{})
	for _, tc := range []struct{ to, addr string }{
		{"http://127.0.0.2:" + b.port + "/", "127.0.0.2"}, // outside the allowed /32
		{"http://[::1]:" + b.port + "/", "::1"},
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254"},
	} {
		target.Store(tc.to)
		_, _, err := safehttp.Fetch(context.Background(), b.client, b.srv.URL, 1<<20)
		be := blocked(t, err)
		require.Equal(t, tc.addr, be.Addr)
	}
}

func TestFetchRedirectLimitAndScheme(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hop/"))
			if n == 0 {
				fmt.Fprint(w, "done")
				return
			}
			http.Redirect(w, r, "/hop/"+strconv.Itoa(n-1), http.StatusFound)
		case r.URL.Path == "/ftp":
			http.Redirect(w, r, "ftp://example.com/file.csv", http.StatusFound)
		case r.URL.Path == "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		}
	}, safehttp.Options{})

	body, _, err := safehttp.Fetch(context.Background(), b.client, b.srv.URL+"/hop/3", 1<<20)
	require.NoError(t, err, "three redirects are allowed")
	body.Close()

	_, _, err = safehttp.Fetch(context.Background(), b.client, b.srv.URL+"/hop/4", 1<<20)
	require.ErrorIs(t, err, safehttp.ErrTooManyRedirects)

	for _, path := range []string{"/ftp", "/file"} {
		_, _, err = safehttp.Fetch(context.Background(), b.client, b.srv.URL+path, 1<<20)
		require.ErrorContains(t, err, "redirect refused: scheme", path)
	}
}

func TestFetchContentLengthTooLarge(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("a\n"))
		w.(http.Flusher).Flush()
		select { // never sends the rest: Fetch must not wait for it
		case <-r.Context().Done():
		case <-release:
		}
	}, safehttp.Options{})
	t.Cleanup(func() { close(release) })

	_, _, err := safehttp.Fetch(context.Background(), b.client, b.srv.URL, 150_000_000)
	var tl *safehttp.TooLargeError
	require.ErrorAs(t, err, &tl)
	require.Equal(t, int64(1_000_000_000), tl.Size)
	require.Equal(t, "file is 1000000000 bytes, over the limit of 150000000 bytes", tl.Error())
}

func TestFetchStreamingCap(t *testing.T) {
	t.Parallel()
	const limit = 100_000
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		line := []byte("0123456789\n")
		for written := 0; written < n; written += len(line) {
			_, _ = w.Write(line[:min(len(line), n-written)])
			w.(http.Flusher).Flush() // chunked: no Content-Length
		}
	}, safehttp.Options{})

	body, size, err := safehttp.Fetch(context.Background(), b.client, b.srv.URL+"?n=300000", limit)
	require.NoError(t, err)
	require.Equal(t, int64(-1), size)
	data, err := io.ReadAll(body)
	body.Close()
	var tl *safehttp.TooLargeError
	require.ErrorAs(t, err, &tl)
	require.Equal(t, int64(-1), tl.Size)
	require.Len(t, data, limit, "never returns bytes past the cap")

	body, _, err = safehttp.Fetch(context.Background(), b.client, b.srv.URL+"?n=100000", limit)
	require.NoError(t, err)
	data, err = io.ReadAll(body)
	body.Close()
	require.NoError(t, err, "exactly the cap is fine")
	require.Len(t, data, limit)
}

func TestFetchStatusError(t *testing.T) {
	t.Parallel()
	b := setup(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "nope", http.StatusNotFound)
	}, safehttp.Options{})
	_, _, err := safehttp.Fetch(context.Background(), b.client, b.srv.URL+"/file.csv?X-Amz-Signature=secret", 1<<20)
	var se *safehttp.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusNotFound, se.Code)
	require.Equal(t, b.srv.URL+"/file.csv", se.URL)
	require.NotContains(t, err.Error(), "secret")
}

func TestFetchTimeouts(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}, safehttp.Options{Timeout: 50 * time.Millisecond})
	t.Cleanup(func() { close(release) })

	_, _, err := safehttp.Fetch(context.Background(), b.client, b.srv.URL+"/no-headers?sig=secret", 1<<20)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
	require.NotContains(t, err.Error(), "secret")

	body, _, err := safehttp.Fetch(context.Background(), b.client, b.srv.URL+"/slow-body", 1<<20)
	require.NoError(t, err)
	_, err = io.ReadAll(body)
	body.Close()
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = safehttp.Fetch(ctx, b.client, b.srv.URL, 1<<20)
	require.ErrorIs(t, err, context.Canceled)
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://s3.amazonaws.com/Sample_GAIDs.csv":        "",
		"HTTP://example.com:8080/a.csv?x=1":                "",
		"ftp://example.com/a.csv":                          `scheme "ftp" not allowed (want http or https)`,
		"file:///etc/passwd":                               `scheme "file" not allowed (want http or https)`,
		"gopher://x":                                       `scheme "gopher" not allowed (want http or https)`,
		"/relative/path.csv":                               "URL must be absolute (http or https)",
		"http:///nohost":                                   "URL has no host",
		"http:opaque":                                      "URL has no host",
		"https://user:pass@example.com/a.csv":              "user info in URL not allowed",
		"http://exa mple.com/":                             "not a valid URL",
		"https://example.com/" + strings.Repeat("a", 5000): "URL longer than 4096 bytes",
	} {
		u, err := safehttp.CheckURL(raw)
		if want == "" {
			require.NoError(t, err, raw)
			require.NotNil(t, u)
			continue
		}
		require.EqualError(t, err, want, raw)
	}
}

// TestFetchRefusedBeforeConnecting shows that a refused address is never
// dialled: the error is the guard's, not a connection error.
func TestFetchRefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	client := safehttp.NewClient(safehttp.Options{})
	t.Cleanup(client.CloseIdleConnections)
	_, _, err := safehttp.Fetch(context.Background(), client, "http://10.255.255.1:81/", 1)
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	require.False(t, errors.Is(err, context.DeadlineExceeded))
	blocked(t, err)
}

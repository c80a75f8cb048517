package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// fullServer configures every optional route.
func fullServer(t *testing.T) *httpapi.Server {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	jobs := queue.NewClient(rdb, queue.ClientOptions{})
	t.Cleanup(func() { _ = jobs.Close() })
	stub := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	return httpapi.New(httpapi.Config{Jobs: jobs, Limiter: limiter.New(rdb), Redis: rdb, Metrics: obs.NewMetrics(),
		Callbacks: stub, Dashboard: stub})
}

// openAPIOps maps "METHOD path" of every operation in the document.
func openAPIOps(t *testing.T, doc map[string]any) []string {
	t.Helper()
	var ops []string
	for path, item := range doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// routeOp turns a ServeMux pattern into the document's "METHOD path":
// "GET /{$}" is "GET /"; a pattern without method (the dashboard's
// prefix) is documented as its GET.
func routeOp(pattern string) string {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	return method + " " + strings.TrimSuffix(path, "{$}")
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(httpapi.OpenAPI, &doc))
	require.True(t, strings.HasPrefix(doc["openapi"].(string), "3."))

	var routes []string
	for _, p := range fullServer(t).Routes() {
		routes = append(routes, routeOp(p))
	}
	slices.Sort(routes)
	require.Equal(t, routes, openAPIOps(t, doc), "every route is documented, and nothing else")
}

func TestOpenAPIRefsResolve(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(httpapi.OpenAPI, &doc))
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				require.True(t, strings.HasPrefix(ref, "#/"), "local ref %s", ref)
				var node any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := node.(map[string]any)
					node = m[part]
				}
				require.NotNil(t, node, "unresolved %s", ref)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	for _, op := range openAPIOps(t, doc) {
		method, path, _ := strings.Cut(op, " ")
		item := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
		require.NotEmpty(t, item["responses"], "%s has responses", op)
		require.NotEmpty(t, item["operationId"], "%s has an operationId", op)
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(fullServer(t).Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "served without a token")
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, httpapi.OpenAPI, body)
}

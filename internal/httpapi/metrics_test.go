package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

type metricsBundle struct {
	srv     *httptest.Server
	metrics *obs.Metrics
}

// setupMetrics serves the API with tokens, metrics and asynq's inspector
// over miniredis, with one job enqueued and three ops reserved in ws1.
func setupMetrics(t *testing.T) *metricsBundle {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	lim := limiter.New(rdb)
	jobs := queue.NewClient(rdb, queue.ClientOptions{})
	t.Cleanup(func() { _ = jobs.Close() })
	m := obs.NewMetrics()
	srv := httptest.NewServer(httpapi.New(httpapi.Config{
		Jobs: jobs, Limiter: lim, Redis: rdb, Metrics: m, Inspector: asynq.NewInspectorFromRedisClient(rdb), Tokens: []config.Secret{token},
		Workspaces: []httpapi.Workspace{{ID: "ws1", Limits: limiter.DefaultLimits()}},
	}).Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	j, _, err := jobs.Enqueue(ctx, queue.Request{Workspace: "ws1", Name: "seg", AttributeName: "gaid", AttributeType: "string",
		FileURL: "https://files.example.com/a.csv", ExpiryTime: 30}, queue.EnqueueOptions{})
	require.NoError(t, err)
	// As a worker's dispatcher does with the job it finds in the inbox.
	task, opts := queue.NewValidateTask(j.ID, 1)
	_, err = jobs.Tasks().EnqueueContext(ctx, task, opts...)
	require.NoError(t, err)
	for _, id := range []string{"a/01", "b/01", "c/01"} {
		_, err := lim.Reserve(ctx, "ws1", limiter.DefaultLimits(), limiter.Request{ID: id, EnqueuedAt: time.Now(), Ops: 1, Users: 500})
		require.NoError(t, err)
	}
	return &metricsBundle{srv: srv, metrics: m}
}

func (b *metricsBundle) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(b.srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the value of the sample of fam whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, fam string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[fam]
	require.True(t, ok, "family %s scraped", fam)
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		if m.GetGauge() != nil {
			return m.GetGauge().GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("no sample of %s with %v", fam, want)
	return 0
}

func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	b := setupMetrics(t)
	fams := b.scrape(t)
	ws := func(kv ...string) map[string]string {
		m := map[string]string{"workspace": "ws1"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	require.Equal(t, 3.0, value(t, fams, "segq_limit_used", ws("limit", "ops_1h")))
	require.Equal(t, 10.0, value(t, fams, "segq_limit_max", ws("limit", "ops_1h")))
	require.Equal(t, 100.0, value(t, fams, "segq_limit_max", ws("limit", "ops_24h")))
	require.Equal(t, 1500.0, value(t, fams, "segq_limit_used", ws("limit", "users")))
	require.Equal(t, 2e6, value(t, fams, "segq_limit_max", ws("limit", "users")))
	require.Equal(t, 1000.0, value(t, fams, "segq_limit_max", ws("limit", "active_segments")))
	require.Equal(t, 0.0, value(t, fams, "segq_next_slot_seconds", ws()), "7 ops of the hour are left")
	require.Equal(t, 3.0, value(t, fams, "segq_limit_reservations", ws("status", "reserved")))
	require.Equal(t, 1.0, value(t, fams, "segq_jobs", ws("state", "accepted")))
	require.Equal(t, 0.0, value(t, fams, "segq_jobs", ws("state", "failed")))
	require.Equal(t, 1.0, value(t, fams, "asynq_queue_size", map[string]string{"queue": queue.QueueJobs}))
	for _, c := range []string{"limits", "jobs", "asynq"} {
		require.Equal(t, 0.0, value(t, fams, "segq_scrape_error", map[string]string{"collector": c}), c)
	}
}

var (
	metricName = regexp.MustCompile(`\b(?:segq|asynq|process|go)_[a-zA-Z0-9_]+`)
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
)

// TestDashboardMetricsExist checks that every metric the Grafana dashboard
// queries is one segq exports.
func TestDashboardMetricsExist(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../deploy/grafana/segq-dashboard.json")
	require.NoError(t, err)
	var dash any
	require.NoError(t, json.Unmarshal(raw, &dash))
	var exprs []string
	collectExprs(dash, &exprs)
	require.NotEmpty(t, exprs)

	b := setupMetrics(t)
	known := map[string]bool{}
	for name, f := range b.scrape(t) {
		known[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[name+s] = true
			}
		}
	}
	// Vectors without samples yet are known by their descriptors.
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range b.metrics.Collectors() {
			c.Describe(ch)
		}
		close(ch)
	}()
	for d := range ch {
		name := descName.FindStringSubmatch(d.String())[1]
		for _, s := range []string{"", "_bucket", "_sum", "_count"} {
			known[name+s] = true
		}
	}
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			require.True(t, known[name], "dashboard query %q uses %s, which segq does not export", e, name)
		}
	}
}

// collectExprs gathers every "expr" and templating "query" string.
func collectExprs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
				*out = append(*out, s)
			}
			collectExprs(x, out)
		}
	case []any:
		for _, x := range v {
			collectExprs(x, out)
		}
	}
}

// TestMetricsNeedNoToken: Prometheus scrapes without the API token.
func TestMetricsNeedNoToken(t *testing.T) {
	t.Parallel()
	b := setupMetrics(t)
	resp, err := http.Get(b.srv.URL + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"))
}

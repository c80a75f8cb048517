package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/callback"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/internal/latency"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/internal/testredis"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/segq/segq/worker"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// benchBundle is the API with its callback receiver on a real loopback
// HTTP server over real Redis, and a keep-alive client.
type benchBundle struct {
	rdb    *redis.Client
	url    string
	client *http.Client
	jobs   *queue.Client
	signer *callback.Signer
}

func setupBench(b *testing.B) *benchBundle {
	b.Helper()
	rdb := testredis.New(b)
	metrics := obs.NewMetrics()
	lim := limiter.New(rdb)
	jobs := queue.NewClient(rdb, queue.ClientOptions{Workspaces: []string{"ws1"}, Slots: lim,
		StoreOptions: []queue.StoreOption{queue.WithObserver(worker.Observer(zap.NewNop(), metrics))}})
	b.Cleanup(func() { _ = jobs.Close() })
	signer, err := callback.NewSigner("bench-callback-secret-0123456789", "http://segq.test")
	if err != nil {
		b.Fatal(err)
	}
	retry := queue.Backoff{Base: time.Minute, Factor: 2, Cap: time.Hour, MaxAttempts: 8}
	h := httpapi.New(httpapi.Config{
		Jobs: jobs, Limiter: lim, Redis: rdb, Tokens: []config.Secret{token}, Metrics: metrics,
		Workspaces: []httpapi.Workspace{{ID: "ws1", Limits: limiter.DefaultLimits(), APIKey: "moe-key"}},
		Callbacks:  callback.NewReceiver(jobs, signer, retry, zap.NewNop(), metrics),
	}).Handler()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := httpapi.NewHTTPServer(l.Addr().String(), h)
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close() })
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	b.Cleanup(tr.CloseIdleConnections)
	return &benchBundle{rdb: rdb, url: "http://" + l.Addr().String(), client: &http.Client{Transport: tr}, jobs: jobs, signer: signer}
}

// post sends one request and fails unless it gets want.
func (bb *benchBundle) post(path, body string, want int, hdr ...string) error {
	req, err := http.NewRequest(http.MethodPost, bb.url+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := bb.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
	}
	return nil
}

// run drives fn from 16 goroutines per CPU over keep-alive connections and
// reports throughput, latency, and the CPU time one op costs this process
// (load generator and server) and Redis. CPU per op does not depend on
// what else runs on the machine, so it tells the capacity of an idle one.
func run(b *testing.B, bb *benchBundle, unit string, fn func(i int64) error) {
	var next atomic.Int64
	var lat latency.Recorder
	b.SetParallelism(16)
	b.ReportAllocs()
	cpu0, redis0 := processCPU(), redisCPU(b, bb.rdb)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		mine := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if err := fn(next.Add(1) - 1); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		lat.Add(mine...)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	lat.Report(b, elapsed, unit)
	n := float64(b.N)
	b.ReportMetric(float64(processCPU()-cpu0)/n/1e3, "cpu-µs/op")
	b.ReportMetric(float64(redisCPU(b, bb.rdb)-redis0)/n/1e3, "redis-cpu-µs/op")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU time the Redis server has used (INFO cpu).
func redisCPU(b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// BenchmarkEnqueueHTTP measures POST /v1/jobs (a create with its name
// claim and validation task) end to end on real Redis.
func BenchmarkEnqueueHTTP(b *testing.B) {
	bb := setupBench(b)
	run(b, bb, "jobs/s", func(i int64) error {
		body := fmt.Sprintf(`{"workspace":"ws1","name":"seg-%d","attribute_name":"gaid","attribute_type":"string",`+
			`"file_url":"https://files.example.com/a.csv","expiry_time":30,"callback_url":"https://producer.example.com/hook"}`, i)
		return bb.post("/v1/jobs", body, http.StatusAccepted, "Authorization", "Bearer "+token)
	})
}

// BenchmarkCallbackHTTP measures MoEngage's success callback on submitted
// jobs (signature check, state change, relay task) on real Redis. Jobs
// are prepared before the timer starts; run it with a fixed -benchtime
// (e.g. 20000x) so that preparation happens once.
func BenchmarkCallbackHTTP(b *testing.B) {
	bb := setupBench(b)
	ids := bb.submittedJobs(b, b.N)
	body := `{"db_name":"db","segment_name":"seg","request_id":"r1","status":201,"values_found":10,"values_processed":9,"user_count":8}`
	run(b, bb, "callbacks/s", func(i int64) error {
		path := strings.TrimPrefix(bb.signer.URL(ids[i], 1), "http://segq.test")
		return bb.post(path, body, http.StatusOK)
	})
}

// submittedJobs stores n jobs and walks them to state submitted.
func (bb *benchBundle) submittedJobs(b *testing.B, n int) []string {
	b.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			j, _, err := bb.jobs.Enqueue(ctx, queue.Request{Workspace: "ws1", Name: fmt.Sprintf("cb-%d", i), AttributeName: "gaid",
				AttributeType: "string", FileURL: "https://files.example.com/a.csv", ExpiryTime: 30,
				CallbackURL: "https://producer.example.com/hook"}, queue.EnqueueOptions{})
			if err != nil {
				return err
			}
			for _, s := range []queue.State{queue.StateValidating, queue.StateWaiting, queue.StateSubmitting, queue.StateSubmitted} {
				if _, err := bb.jobs.Store().Transition(ctx, j.ID, s, "bench", nil); err != nil {
					return err
				}
			}
			ids[i] = j.ID
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return ids
}

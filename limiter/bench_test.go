package limiter

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/latency"
	"github.com/stretchr/testify/require"
)

// benchCallers is the number of concurrent callers in every benchmark.
const benchCallers = 16

// benchWorkspaces spreads the load like a deployment with many workspaces.
const benchWorkspaces = 64

// beforeTimed, when set (TestBenchTable), runs right before the timed part
// of a benchmark: it resets Redis' command statistics, so that the
// Redis-side cost covers the timed calls only, not the setup.
var beforeTimed func()

// parallel runs fn with benchCallers goroutines, timing every decision fn
// makes through the timer it is given.
func parallel(b *testing.B, fn func(n int64, timed func(func() error))) {
	var seq atomic.Int64
	lat := &latency.Recorder{}
	b.SetParallelism(max(1, benchCallers/runtime.GOMAXPROCS(0)))
	if beforeTimed != nil {
		beforeTimed()
	}
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		timed := func(call func() error) {
			t := time.Now()
			err := call()
			local = append(local, time.Since(t))
			if err != nil {
				b.Error(err)
			}
		}
		for pb.Next() {
			fn(seq.Add(1), timed)
		}
		lat.Add(local...)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	lat.Report(b, elapsed, "decisions/s")
	b.ReportMetric(float64(lat.Len()), "decisions")
}

// benchCase is one workload of BenchmarkReserve.
type benchCase struct {
	name string
	// ops and gauge seed every workspace with committed ops over the last
	// 23 h and active segments, as after a busy day.
	ops, gauge int
	// sweep cancels every request that does not go at once, so the pending
	// queue stays empty and every Reserve searches a slot through full
	// windows (the worst case); otherwise requests wait in line, as jobs do.
	sweep bool
	// promote times Promote instead, on workspaces whose queue waits
	// beyond the horizon: the call every worker makes for every workspace
	// at every tick (200 ms), so the most frequent decision in production.
	promote bool
}

var benchCases = []benchCase{
	{name: "fresh"},
	{name: "busy-day", ops: 90, gauge: 500},
	{name: "busy-day-sweep", ops: 90, gauge: 500, sweep: true},
	{name: "gauge-full-sweep", ops: 90, gauge: 1000, sweep: true},
	{name: "promote-idle", ops: 90, gauge: 500, promote: true},
}

// BenchmarkReserve measures limiter decisions on real Redis with 16 callers
// over 64 workspaces under the default limits: every iteration is a Reserve,
// then a Confirm when the slot is now. Otherwise the request waits (its slot
// is later, or it is pending), except in the sweep cases, which Cancel it.
// Half the requests are creates holding an active segment for 30 days.
// The promote case times Promote instead (see benchCase).
func BenchmarkReserve(b *testing.B) {
	rdb := realRedis(b, 1)[0]
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) { benchReserve(b, rdb, c) })
	}
}

func benchReserve(b *testing.B, rdb *redis.Client, c benchCase) {
	prefix := fmt.Sprintf("bench-%s-%d", c.name, time.Now().UnixNano())
	seedWorkspaces(b, rdb, prefix, c.ops, c.gauge)
	defer dropWorkspaces(rdb, prefix)
	l, ctx, lim := New(rdb), context.Background(), DefaultLimits()
	if c.promote {
		benchPromote(b, l, prefix)
		return
	}
	parallel(b, func(n int64, timed func(func() error)) {
		ws := fmt.Sprintf("%s-%d", prefix, n%benchWorkspaces)
		r := Request{ID: fmt.Sprintf("job%d/1", n), EnqueuedAt: time.Now(), Ops: 1, Users: 1000}
		if n%2 == 0 {
			r.Hold, r.Segment = 30*24*time.Hour, r.ID
		}
		var res Reservation
		timed(func() (err error) { res, err = l.Reserve(ctx, ws, lim, r); return err })
		switch {
		case res.Status == Reserved && !res.Slot.After(time.Now()):
			timed(func() error { _, err := l.Confirm(ctx, ws, r.ID, res.Slot, lim); return err })
		case c.sweep:
			timed(func() error { return l.Cancel(ctx, ws, r.ID) })
		}
	})
}

// benchPromote queues 20 requests in every workspace (the first get the
// slots left, the rest wait beyond the horizon), then times Promote.
func benchPromote(b *testing.B, l *Limiter, prefix string) {
	ctx, lim := context.Background(), DefaultLimits()
	for i := range benchWorkspaces {
		ws := fmt.Sprintf("%s-%d", prefix, i)
		for j := range 20 {
			_, err := l.Reserve(ctx, ws, lim, Request{ID: fmt.Sprintf("q%d/1", j), EnqueuedAt: time.Now(), Ops: 1, Users: 1000})
			require.NoError(b, err)
		}
	}
	parallel(b, func(n int64, timed func(func() error)) {
		ws := fmt.Sprintf("%s-%d", prefix, n%benchWorkspaces)
		timed(func() error { _, err := l.Promote(ctx, ws, lim); return err })
	})
}

// BenchmarkRedisRateAllow measures go-redis/redis_rate's Allow with
// PerHour(10) on the same Redis, callers and key spread, for comparison.
func BenchmarkRedisRateAllow(b *testing.B) {
	rdb := realRedis(b, 1)[0]
	l := redis_rate.NewLimiter(rdb)
	ctx, prefix := context.Background(), fmt.Sprintf("bench-rate-%d", time.Now().UnixNano())
	b.Cleanup(func() {
		for i := range benchWorkspaces {
			rdb.Del(ctx, fmt.Sprintf("rate:%s-%d", prefix, i))
		}
	})
	parallel(b, func(n int64, timed func(func() error)) {
		key := fmt.Sprintf("%s-%d", prefix, n%benchWorkspaces)
		timed(func() error { _, err := l.Allow(ctx, key, redis_rate.PerHour(10)); return err })
	})
}

// seedWorkspaces writes, straight into the limiter's keys, the state of a
// workspace after a busy day: ops committed ops spread over the last 23 h
// and gauge segments active for another 30 days.
func seedWorkspaces(b *testing.B, rdb *redis.Client, prefix string, ops, gauge int) {
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for i := range benchWorkspaces {
		k := Keys(fmt.Sprintf("%s-%d", prefix, i))
		pipe := rdb.Pipeline()
		for j := range ops {
			id := fmt.Sprintf("seed%d/1", j)
			slot := now - 23*3600_000 + int64(j)*900_000
			pipe.HSet(ctx, k[0], id, fmt.Sprintf("C|%d|%d|%d|0|1|1000|0|", slot, slot, slot))
			pipe.ZAdd(ctx, k[1], redis.Z{Score: float64(slot), Member: "1:1000:" + id})
		}
		for j := range gauge {
			g := fmt.Sprintf("seg%d/1@%d", j, now-int64(j))
			pipe.ZAdd(ctx, k[4], redis.Z{Score: float64(now + 30*24*3600_000 - int64(j)), Member: g})
			pipe.ZAdd(ctx, k[5], redis.Z{Score: float64(now - int64(j)), Member: g})
			pipe.HSet(ctx, k[6], g, fmt.Sprintf("seg%d", j))
		}
		_, err := pipe.Exec(ctx)
		require.NoError(b, err)
	}
}

func dropWorkspaces(rdb *redis.Client, prefix string) {
	for i := range benchWorkspaces {
		rdb.Del(context.Background(), Keys(fmt.Sprintf("%s-%d", prefix, i))...)
	}
}

// benchRounds is how many times TestBenchTable measures each workload (and
// redis_rate right before it): one run moves by ±20 % on a quiet 2-core
// machine, so the table prints the round with the median ratio and the
// range of all rounds.
const benchRounds = 3

// TestBenchTable prints the benchmarks as a markdown table when
// SEGQ_BENCH_TABLE is set (make bench): decisions/s and latency of every
// limiter workload, each right after redis_rate's Allow on the same Redis
// (so both see the same machine load, which moves absolute numbers a lot on
// a shared machine), their ratio, the Redis-side cost of one decision
// (INFO commandstats over the timed calls, EVALSHA and EVAL, divided by the
// decisions) and how many decisions one script call carried. The Redis
// server should be one of its own: other clients' scripts would count.
func TestBenchTable(t *testing.T) {
	if os.Getenv("SEGQ_BENCH_TABLE") == "" {
		t.Skip("set SEGQ_BENCH_TABLE=1 (and SEGQ_TEST_REDIS_URL) to print the benchmark table")
	}
	rdb := realRedis(t, 1)[0]
	beforeTimed = func() { require.NoError(t, rdb.ConfigResetStat(context.Background()).Err()) }
	t.Cleanup(func() { beforeTimed = nil })
	var sb strings.Builder
	fmt.Fprintf(&sb, "| workload | decisions/s | p50 ms | p99 ms | Redis µs/decision | decisions/call | redis_rate just before: decisions/s | p99 ms | Redis µs/decision | ratio | ratio, %d rounds |\n", benchRounds)
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range benchCases {
		rounds := make([]benchRound, benchRounds)
		for i := range rounds {
			rounds[i].rate = measure(t, rdb, BenchmarkRedisRateAllow)
			rounds[i].lim = measure(t, rdb, func(b *testing.B) { benchReserve(b, rdb, c) })
		}
		slices.SortFunc(rounds, func(a, b benchRound) int { return cmp.Compare(a.ratio(), b.ratio()) })
		m := rounds[len(rounds)/2]
		fmt.Fprintf(&sb, "| %s | %.0f | %.2f | %.2f | %.1f | %.1f | %.0f | %.2f | %.1f | %.2f | %.2f–%.2f |\n", c.name,
			m.lim.Extra["decisions/s"], m.lim.Extra["p50-ms"], m.lim.Extra["p99-ms"], m.lim.usec, m.lim.perCall,
			m.rate.Extra["decisions/s"], m.rate.Extra["p99-ms"], m.rate.usec, m.ratio(), rounds[0].ratio(), rounds[len(rounds)-1].ratio())
	}
	fmt.Printf("\n%d callers, %d workspaces, GOMAXPROCS=%d; the median of %d rounds\n\n%s", benchCallers, benchWorkspaces,
		runtime.GOMAXPROCS(0), benchRounds, sb.String())
}

// measured is one benchmark's result with the Redis µs per decision and
// the decisions per script call.
type measured struct {
	testing.BenchmarkResult
	usec, perCall float64
}

// benchRound is one workload measured right after redis_rate.
type benchRound struct{ rate, lim measured }

func (r benchRound) ratio() float64 { return r.lim.Extra["decisions/s"] / r.rate.Extra["decisions/s"] }

func measure(t *testing.T, rdb *redis.Client, bench func(*testing.B)) measured {
	r := testing.Benchmark(bench)
	usec, calls := scriptStats(t, rdb)
	n := r.Extra["decisions"]
	return measured{BenchmarkResult: r, usec: usec / n, perCall: n / calls}
}

// scriptStats returns the Redis-side time of all script calls since the
// last CONFIG RESETSTAT, in µs, and their number.
func scriptStats(t *testing.T, rdb *redis.Client) (usec, calls float64) {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_evalsha:") && !strings.HasPrefix(line, "cmdstat_eval:") {
			continue
		}
		for _, f := range strings.Split(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), ",") {
			var v float64
			if _, err := fmt.Sscanf(f, "calls=%g", &v); err == nil {
				calls += v
			} else if _, err := fmt.Sscanf(f, "usec=%g", &v); err == nil {
				usec += v
			}
		}
	}
	return usec, calls
}

// Package bench holds segq's long benchmarks, run by `make bench` (they
// skip unless SEGQ_BENCH=1 and SEGQ_TEST_REDIS_URL are set) and printed as
// markdown tables:
//
//   - TestDayInAMinute: the real worker, on a real redis-server, with the
//     MoEngage simulator over HTTP and the default limits scaled 1440× (a
//     day lasts a minute), fed more jobs than the windows admit. It reports
//     the quota used against the theoretical maximum, the 429s (must be 0)
//     and the gap between each job's slot and its acceptance upstream.
//
// The limiter's own table (decisions/s and latency beside redis_rate's
// Allow, in the same run) is limiter.TestBenchTable, in package limiter
// because it seeds workspaces through the limiter's internals; `make bench`
// runs both. The package has no non-test code.
package bench

// Package latency collects request latencies from concurrent callers and
// reports rate and percentiles, for segq's benchmarks and load tests.
package latency

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Recorder collects durations. It is safe for concurrent use; the zero
// value is ready.
type Recorder struct {
	mu     sync.Mutex
	all    []time.Duration
	sorted bool
}

// Add records durations, typically a caller's own batch at its end.
func (r *Recorder) Add(d ...time.Duration) {
	r.mu.Lock()
	r.all = append(r.all, d...)
	r.sorted = false
	r.mu.Unlock()
}

// Len is how many durations were recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the recorded durations
// (the element at rank q·(n-1)), or 0 when there are none.
func (r *Recorder) Quantile(q float64) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) == 0 {
		return 0
	}
	if !r.sorted {
		slices.Sort(r.all)
		r.sorted = true
	}
	return r.all[int(q*float64(len(r.all)-1))]
}

// Report sets on b the rate over elapsed in unit (e.g. "jobs/s"), and the
// median and 99th percentile in milliseconds ("p50-ms", "p99-ms").
func (r *Recorder) Report(b *testing.B, elapsed time.Duration, unit string) {
	n := r.Len()
	if n == 0 {
		return
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(float64(n)/elapsed.Seconds(), unit)
	b.ReportMetric(ms(r.Quantile(0.50)), "p50-ms")
	b.ReportMetric(ms(r.Quantile(0.99)), "p99-ms")
}

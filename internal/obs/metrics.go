package obs

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the Prometheus series segq records. One value is shared by
// every component of a process; its Registry is served at /metrics.
type Metrics struct {
	Registry *prometheus.Registry

	// Transitions counts job state changes by the state entered.
	Transitions *prometheus.CounterVec
	// Outcomes counts finished jobs by workspace, op and final state.
	Outcomes *prometheus.CounterVec
	// Upstream counts requests to MoEngage by op and status ("error" for
	// transport failures).
	Upstream *prometheus.CounterVec
	// Callbacks counts callback requests by result.
	Callbacks *prometheus.CounterVec
	// Relays counts webhook deliveries to producers by result.
	Relays *prometheus.CounterVec
	// ToSubmit observes seconds from enqueue to submission.
	ToSubmit *prometheus.HistogramVec
	// ToFinish observes seconds from enqueue to a terminal state.
	ToFinish *prometheus.HistogramVec
	// SlotGap observes seconds from a reserved slot to its submission.
	SlotGap prometheus.Histogram
}

// NewMetrics registers segq's metrics, plus Go and process collectors, on a
// fresh registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	waitBuckets := prometheus.ExponentialBuckets(0.1, 3, 14) // 0.1 s .. ~1.5 days
	m := &Metrics{
		Registry: reg,
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segq_job_transitions_total", Help: "Job state transitions by state entered.",
		}, []string{"workspace", "op", "state"}),
		Outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segq_jobs_finished_total", Help: "Jobs that reached a final state.",
		}, []string{"workspace", "op", "state"}),
		Upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segq_upstream_requests_total", Help: "Requests to MoEngage by op and HTTP status.",
		}, []string{"workspace", "op", "status"}),
		Callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segq_callbacks_total", Help: "Callbacks received from MoEngage by result.",
		}, []string{"result"}),
		Relays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segq_relay_deliveries_total", Help: "Webhook deliveries to producers by result.",
		}, []string{"result"}),
		ToSubmit: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "segq_enqueue_to_submit_seconds", Help: "Time from enqueue to submission upstream.", Buckets: waitBuckets,
		}, []string{"workspace"}),
		ToFinish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "segq_enqueue_to_finish_seconds", Help: "Time from enqueue to a final state.", Buckets: waitBuckets,
		}, []string{"workspace"}),
		SlotGap: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "segq_slot_to_submit_seconds", Help: "Delay between a reserved slot opening and its submission.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5, 10, 30},
		}),
	}
	reg.MustRegister(m.Collectors()...)
	return m
}

// Collectors returns segq's own metrics (without the Go and process
// collectors), for tests that check every metric a dashboard uses exists.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Transitions, m.Outcomes, m.Upstream, m.Callbacks, m.Relays, m.ToSubmit, m.ToFinish, m.SlotGap}
}

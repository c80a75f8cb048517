package obs

import (
	"context"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// scrapeTimeout bounds the Redis reads of one scrape.
const scrapeTimeout = 5 * time.Second

// Workspace is a workspace whose limits the collectors report.
type Workspace struct {
	ID     string
	Limits limiter.Limits
}

// UsageReader reads a workspace's use of its limits; *limiter.Limiter
// implements it.
type UsageReader interface {
	Usage(ctx context.Context, ws string, lim limiter.Limits) (limiter.Usage, error)
}

// StateCounter counts a workspace's jobs in a state; *queue.Store
// implements it.
type StateCounter interface {
	CountInState(ctx context.Context, ws string, st queue.State) (int64, error)
}

var (
	limitUsedDesc = prometheus.NewDesc("segq_limit_used",
		"Use of an upstream limit now: ops or users in the rolling window, or active segments.",
		[]string{"workspace", "limit"}, nil)
	limitMaxDesc = prometheus.NewDesc("segq_limit_max",
		"The configured maximum of an upstream limit.", []string{"workspace", "limit"}, nil)
	nextSlotDesc = prometheus.NewDesc("segq_next_slot_seconds",
		"Seconds until the next free slot of a workspace (0: free now); absent when no op can ever fit.",
		[]string{"workspace"}, nil)
	blockedDesc = prometheus.NewDesc("segq_blocked_seconds",
		"Seconds an upstream 429 still blocks the workspace's dispatch (0: not blocked).",
		[]string{"workspace"}, nil)
	reservationsDesc = prometheus.NewDesc("segq_limit_reservations",
		"Limiter requests not yet committed, by status: reserved (hold a slot) or pending (wait for one).",
		[]string{"workspace", "status"}, nil)
	jobsDesc = prometheus.NewDesc("segq_jobs",
		"Jobs by workspace and current state.", []string{"workspace", "state"}, nil)
	limitsErrorDesc = scrapeErrorDesc("limits")
	jobsErrorDesc   = scrapeErrorDesc("jobs")
	asynqErrorDesc  = scrapeErrorDesc("asynq")
)

// scrapeErrorDesc describes segq_scrape_error for one collector; the
// collector is a constant label so that each collector owns its series.
func scrapeErrorDesc(collector string) *prometheus.Desc {
	return prometheus.NewDesc("segq_scrape_error", "1 when a collector could not read Redis during this scrape, else 0.",
		nil, prometheus.Labels{"collector": collector})
}

// LimitCollector reports, at scrape time, every workspace's use of each
// limit against its maximum (segq_limit_used, segq_limit_max; limit is
// ops_<window>, users or active_segments), the time to the next free slot
// and the uncommitted reservations.
type LimitCollector struct {
	usage UsageReader
	wss   []Workspace
	log   *zap.Logger
}

// NewLimitCollector returns a LimitCollector. log may be nil.
func NewLimitCollector(usage UsageReader, wss []Workspace, log *zap.Logger) *LimitCollector {
	return &LimitCollector{usage: usage, wss: wss, log: orNop(log)}
}

// Describe implements prometheus.Collector.
func (c *LimitCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{limitUsedDesc, limitMaxDesc, nextSlotDesc, blockedDesc, reservationsDesc, limitsErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *LimitCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	failed := false
	for _, ws := range c.wss {
		u, err := c.usage.Usage(ctx, ws.ID, ws.Limits)
		if err != nil {
			c.log.Warn("metrics: limiter usage", zap.String("workspace", ws.ID), zap.Error(err))
			failed = true
			continue
		}
		collectUsage(ch, ws.ID, u)
	}
	ch <- prometheus.MustNewConstMetric(limitsErrorDesc, prometheus.GaugeValue, flag(failed))
}

func collectUsage(ch chan<- prometheus.Metric, ws string, u limiter.Usage) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, w := range u.Ops {
		name := "ops_" + ShortDuration(w.Length)
		gauge(limitUsedDesc, float64(w.Used), ws, name)
		gauge(limitMaxDesc, float64(w.Max), ws, name)
	}
	gauge(limitUsedDesc, float64(u.Users.Used), ws, "users")
	gauge(limitMaxDesc, float64(u.Users.Max), ws, "users")
	gauge(limitUsedDesc, float64(u.ActiveSegments), ws, "active_segments")
	gauge(limitMaxDesc, float64(u.ActiveSegmentsLimit), ws, "active_segments")
	if !u.NextSlot.IsZero() {
		gauge(nextSlotDesc, max(u.NextSlot.Sub(u.At).Seconds(), 0), ws)
	}
	blocked := 0.0
	if !u.BlockedUntil.IsZero() {
		blocked = max(u.BlockedUntil.Sub(u.At).Seconds(), 0)
	}
	gauge(blockedDesc, blocked, ws)
	gauge(reservationsDesc, float64(u.Reserved), ws, "reserved")
	gauge(reservationsDesc, float64(u.Pending), ws, "pending")
}

// ShortDuration renders d without zero units: 1h, 24h, 90m → 1h30m, 4s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// JobStateCollector reports segq_jobs: jobs by workspace and state, read
// from the store's state indexes at scrape time.
type JobStateCollector struct {
	store StateCounter
	wss   []string
	log   *zap.Logger
}

// NewJobStateCollector returns a JobStateCollector for the workspaces
// wss. log may be nil.
func NewJobStateCollector(store StateCounter, wss []string, log *zap.Logger) *JobStateCollector {
	return &JobStateCollector{store: store, wss: wss, log: orNop(log)}
}

// Describe implements prometheus.Collector.
func (c *JobStateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- jobsErrorDesc
}

// Collect implements prometheus.Collector.
func (c *JobStateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	failed := false
	for _, ws := range c.wss {
		for _, st := range queue.States {
			n, err := c.store.CountInState(ctx, ws, st)
			if err != nil {
				c.log.Warn("metrics: count jobs", zap.String("workspace", ws), zap.Error(err))
				failed = true
				break
			}
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), ws, string(st))
		}
	}
	ch <- prometheus.MustNewConstMetric(jobsErrorDesc, prometheus.GaugeValue, flag(failed))
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func orNop(log *zap.Logger) *zap.Logger {
	if log == nil {
		return zap.NewNop()
	}
	return log
}

// Queue metrics, named like asynq's own x/metrics collector so that
// dashboards written for it work unchanged.
var (
	asynqTasksDesc = prometheus.NewDesc("asynq_tasks_enqueued_total",
		"Tasks in a queue by task state.", []string{"queue", "state"}, nil)
	asynqSizeDesc = prometheus.NewDesc("asynq_queue_size",
		"Tasks in a queue, every state.", []string{"queue"}, nil)
	asynqLatencyDesc = prometheus.NewDesc("asynq_queue_latency_seconds",
		"Age of the oldest pending task of a queue.", []string{"queue"}, nil)
	asynqMemoryDesc = prometheus.NewDesc("asynq_queue_memory_usage_approx_bytes",
		"Approximate memory a queue uses in Redis (sampled).", []string{"queue"}, nil)
	asynqProcessedDesc = prometheus.NewDesc("asynq_tasks_processed_total",
		"Tasks processed today (succeeded or failed), by queue.", []string{"queue"}, nil)
	asynqFailedDesc = prometheus.NewDesc("asynq_tasks_failed_total",
		"Tasks failed today, by queue.", []string{"queue"}, nil)
	asynqPausedDesc = prometheus.NewDesc("asynq_queue_paused_total",
		"1 when the queue is paused.", []string{"queue"}, nil)
)

// QueueCollector reports asynq's queue statistics through an Inspector,
// with the metric names of asynq's x/metrics collector (which lives in a
// separate module built on an older Redis client, so segq carries its own).
type QueueCollector struct {
	insp *asynq.Inspector
	log  *zap.Logger
}

// NewQueueCollector returns a QueueCollector. log may be nil.
func NewQueueCollector(insp *asynq.Inspector, log *zap.Logger) *QueueCollector {
	return &QueueCollector{insp: insp, log: orNop(log)}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{asynqTasksDesc, asynqSizeDesc, asynqLatencyDesc, asynqMemoryDesc,
		asynqProcessedDesc, asynqFailedDesc, asynqPausedDesc, asynqErrorDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	failed := false
	queues, err := c.insp.Queues()
	if err != nil {
		c.log.Warn("metrics: asynq queues", zap.Error(err))
		failed = true
	}
	for _, q := range queues {
		info, err := c.insp.GetQueueInfo(q)
		if err != nil {
			c.log.Warn("metrics: asynq queue info", zap.String("queue", q), zap.Error(err))
			failed = true
			continue
		}
		collectQueue(ch, info)
	}
	ch <- prometheus.MustNewConstMetric(asynqErrorDesc, prometheus.GaugeValue, flag(failed))
}

func collectQueue(ch chan<- prometheus.Metric, info *asynq.QueueInfo) {
	q := info.Queue
	for state, n := range map[string]int{
		"active": info.Active, "pending": info.Pending, "scheduled": info.Scheduled,
		"retry": info.Retry, "archived": info.Archived, "completed": info.Completed, "aggregating": info.Aggregating,
	} {
		ch <- prometheus.MustNewConstMetric(asynqTasksDesc, prometheus.GaugeValue, float64(n), q, state)
	}
	ch <- prometheus.MustNewConstMetric(asynqSizeDesc, prometheus.GaugeValue, float64(info.Size), q)
	ch <- prometheus.MustNewConstMetric(asynqLatencyDesc, prometheus.GaugeValue, info.Latency.Seconds(), q)
	ch <- prometheus.MustNewConstMetric(asynqMemoryDesc, prometheus.GaugeValue, float64(info.MemoryUsage), q)
	ch <- prometheus.MustNewConstMetric(asynqProcessedDesc, prometheus.CounterValue, float64(info.ProcessedTotal), q)
	ch <- prometheus.MustNewConstMetric(asynqFailedDesc, prometheus.CounterValue, float64(info.FailedTotal), q)
	ch <- prometheus.MustNewConstMetric(asynqPausedDesc, prometheus.GaugeValue, flag(info.Paused), q)
}

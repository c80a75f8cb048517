package worker

import (
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// Observer returns the store observer that writes one log line per state
// transition (job_id, workspace, op, attempt) and records the metrics.
// metrics may be nil.
func Observer(log *zap.Logger, metrics *obs.Metrics) func(from queue.State, j *queue.Job) {
	return func(from queue.State, j *queue.Job) {
		detail := ""
		if n := len(j.Timeline); n > 0 {
			detail = j.Timeline[n-1].Detail
		}
		log.Info("job "+string(j.State),
			zap.String("job_id", j.ID), zap.String("workspace", j.Workspace), zap.String("op", string(j.Op)),
			zap.Int("attempt", j.Attempts), zap.String("from", string(from)), zap.String("detail", detail))
		if metrics == nil {
			return
		}
		metrics.Transitions.WithLabelValues(j.Workspace, string(j.Op), string(j.State)).Inc()
		since := j.UpdatedAt.Sub(j.CreatedAt.Time).Seconds()
		switch {
		case j.State == queue.StateSubmitted:
			metrics.ToSubmit.WithLabelValues(j.Workspace).Observe(since)
		case j.State.Terminal():
			metrics.Outcomes.WithLabelValues(j.Workspace, string(j.Op), string(j.State)).Inc()
			metrics.ToFinish.WithLabelValues(j.Workspace).Observe(since)
		}
	}
}

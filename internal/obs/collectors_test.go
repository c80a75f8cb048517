package obs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

type fakeUsage struct {
	u   limiter.Usage
	err error
}

func (f fakeUsage) Usage(context.Context, string, limiter.Limits) (limiter.Usage, error) {
	return f.u, f.err
}

type fakeCounts map[queue.State]int64

func (f fakeCounts) CountInState(_ context.Context, _ string, st queue.State) (int64, error) {
	if f == nil {
		return 0, errors.New("redis down")
	}
	return f[st], nil
}

// samples registers c alone and returns its samples as
// `name{label="value",...}` → value, labels sorted by name.
func samples(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(labels)
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestLimitCollector(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := limiter.Usage{
		At: at,
		Ops: []limiter.WindowUsage{
			{Length: time.Hour, Used: 10, Max: 10}, {Length: 24 * time.Hour, Used: 40, Max: 100},
		},
		Users:          limiter.WindowUsage{Length: 24 * time.Hour, Used: 1_500_000, Max: 2_000_000},
		ActiveSegments: 12, ActiveSegmentsLimit: 1000,
		NextSlot: at.Add(90 * time.Second), BlockedUntil: at.Add(30 * time.Second), Reserved: 2, Pending: 5,
	}
	got := samples(t, obs.NewLimitCollector(fakeUsage{u: u}, []obs.Workspace{{ID: "main"}}, nil))
	require.Equal(t, map[string]float64{
		"segq_limit_used{limit=ops_1h,workspace=main}":            10,
		"segq_limit_max{limit=ops_1h,workspace=main}":             10,
		"segq_limit_used{limit=ops_24h,workspace=main}":           40,
		"segq_limit_max{limit=ops_24h,workspace=main}":            100,
		"segq_limit_used{limit=users,workspace=main}":             1_500_000,
		"segq_limit_max{limit=users,workspace=main}":              2_000_000,
		"segq_limit_used{limit=active_segments,workspace=main}":   12,
		"segq_limit_max{limit=active_segments,workspace=main}":    1000,
		"segq_next_slot_seconds{workspace=main}":                  90,
		"segq_blocked_seconds{workspace=main}":                    30,
		"segq_limit_reservations{status=reserved,workspace=main}": 2,
		"segq_limit_reservations{status=pending,workspace=main}":  5,
		"segq_scrape_error{collector=limits}":                     0,
	}, got)

	u.NextSlot = time.Time{}
	got = samples(t, obs.NewLimitCollector(fakeUsage{u: u}, []obs.Workspace{{ID: "main"}}, nil))
	require.NotContains(t, got, "segq_next_slot_seconds{workspace=main}", "no slot can ever fit")

	got = samples(t, obs.NewLimitCollector(fakeUsage{err: errors.New("redis down")}, []obs.Workspace{{ID: "main"}}, nil))
	require.Equal(t, map[string]float64{"segq_scrape_error{collector=limits}": 1}, got)
}

func TestJobStateCollector(t *testing.T) {
	t.Parallel()
	got := samples(t, obs.NewJobStateCollector(fakeCounts{queue.StateWaiting: 4, queue.StateFailed: 1}, []string{"a", "b"}, nil))
	require.Len(t, got, 2*len(queue.States)+1)
	require.Equal(t, 4.0, got["segq_jobs{state=waiting,workspace=b}"])
	require.Equal(t, 1.0, got["segq_jobs{state=failed,workspace=a}"])
	require.Equal(t, 0.0, got["segq_jobs{state=accepted,workspace=a}"])
	require.Equal(t, 0.0, got["segq_scrape_error{collector=jobs}"])

	got = samples(t, obs.NewJobStateCollector(fakeCounts(nil), []string{"a"}, nil))
	require.Equal(t, map[string]float64{"segq_scrape_error{collector=jobs}": 1}, got)
}

func TestCollectorsRegisterTogether(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(obs.NewLimitCollector(fakeUsage{}, nil, nil)))
	require.NoError(t, reg.Register(obs.NewJobStateCollector(fakeCounts{}, nil, nil)))
	for _, c := range obs.NewMetrics().Collectors() {
		require.NoError(t, reg.Register(c))
	}
}

func TestShortDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 24 * time.Hour: "24h", 90 * time.Minute: "1h30m", time.Minute: "1m",
		4 * time.Second: "4s", 1500 * time.Millisecond: "1.5s", time.Hour + time.Second: "1h0m1s",
	} {
		require.Equal(t, want, obs.ShortDuration(d), "%v", d)
	}
}

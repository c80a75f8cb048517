package bench_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// dayScale compresses time: a day lasts a minute.
const dayScale = 1440

// dayLimits are the default limits scaled dayScale× (10 per 2.5 s, 100 per
// minute, 2M users per minute, a 1 h horizon becoming 2.5 s), with a 300 ms
// safety margin for the latency of the simulator and the test machine (60 s
// scaled would be 42 ms).
func dayLimits() config.Limits {
	d := config.DefaultLimits()
	for i := range d.Ops {
		d.Ops[i].Window /= dayScale
	}
	d.Users.Window /= dayScale
	d.Horizon /= dayScale
	d.SafetyMargin = 300 * time.Millisecond
	d.FileSize = config.MB
	return d
}

// TestDayInAMinute runs the real worker (default tick, 200 ms) against the
// simulator for a scaled day with more jobs than the windows admit, and
// prints the quota used against the theoretical maximum, the 429s and the
// slot-to-acceptance gap. SEGQ_BENCH_RUN changes the run length (60s).
func TestDayInAMinute(t *testing.T) {
	if os.Getenv("SEGQ_BENCH") != "1" {
		t.Skip("set SEGQ_BENCH=1 (and SEGQ_TEST_REDIS_URL) to run the day-in-a-minute benchmark (about a minute)")
	}
	run := time.Minute
	if v := os.Getenv("SEGQ_BENCH_RUN"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		run = d
	}
	lim := dayLimits()
	cfg := &config.Config{Workspaces: []config.Workspace{{ID: "ws-day", Limits: lim}}}
	s := newSystem(t, cfg, moesim.Config{ProcessingDelay: 100 * time.Millisecond, ExpiryUnit: 24 * time.Hour / dayScale})

	jobs := map[string]*queue.Job{}
	for i := range theoreticalMax(lim, run) * 3 / 2 {
		j := s.create("ws-day", fmt.Sprintf("day-%04d", i), "", 10)
		jobs[j.Name] = j
	}
	s.StartWorker()
	start := time.Now()
	<-time.After(run)     // the benchmark's length, not a wait for async work
	end := start.Add(run) // ops accepted while the worker shuts down are not counted
	s.StopWorkers()
	maxOps := theoreticalMax(lim, run)
	withMargin := lim
	withMargin.Ops = slices.Clone(lim.Ops)
	for i := range withMargin.Ops {
		withMargin.Ops[i].Window += lim.SafetyMargin
	}
	marginOps := theoreticalMax(withMargin, run)

	var gaps []time.Duration
	accepted := 0
	for _, r := range s.Sim.Accepted() {
		if r.At.Before(start) || !r.At.Before(end) || r.Op != "create" {
			continue
		}
		accepted++
		j, err := s.Jobs.Get(context.Background(), jobs[r.Name].ID)
		require.NoError(t, err)
		require.NotNil(t, j.SlotAt, "job %s was accepted upstream without a slot", r.Name)
		gaps = append(gaps, r.At.Sub(j.SlotAt.Time))
	}
	st := s.Sim.Stats()
	require.Zero(t, st.Rejected429, "segq must never provoke a 429")
	require.NotEmpty(t, gaps, "nothing was accepted upstream")
	slices.Sort(gaps)
	pct := func(p float64) time.Duration { return gaps[int(p*float64(len(gaps)-1))].Round(time.Millisecond) }

	var sb strings.Builder
	fmt.Fprintf(&sb, "\nday in a minute: %s run, limits %s, tick %s\n\n", run, describe(lim), s.Cfg.Worker.Tick)
	sb.WriteString("| metric | value |\n|---|---:|\n")
	fmt.Fprintf(&sb, "| ops accepted upstream | %d |\n", accepted)
	fmt.Fprintf(&sb, "| theoretical maximum | %d |\n", maxOps)
	fmt.Fprintf(&sb, "| quota use | %.1f %% |\n", 100*float64(accepted)/float64(maxOps))
	fmt.Fprintf(&sb, "| maximum with the safety margin (windows + %s) | %d |\n", lim.SafetyMargin, marginOps)
	fmt.Fprintf(&sb, "| 429 answers | %d |\n", st.Rejected429)
	fmt.Fprintf(&sb, "| slot → accepted gap p50 | %s |\n", pct(0.5))
	fmt.Fprintf(&sb, "| slot → accepted gap p90 | %s |\n", pct(0.9))
	fmt.Fprintf(&sb, "| slot → accepted gap max | %s |\n", gaps[len(gaps)-1].Round(time.Millisecond))
	fmt.Print(sb.String())
	require.Less(t, pct(0.5), 1500*time.Millisecond, "issue target: median slot-to-submission gap under 1.5 s")
}

// theoreticalMax is the most ops upstream can accept in a run of length d
// (starting from empty windows): ops placed greedily, each at the earliest
// instant every count window (as upstream counts it, [t, t+window), no
// margin) still has room. Greedy is optimal: moving any op earlier never
// leaves less room later.
func theoreticalMax(lim config.Limits, d time.Duration) int {
	var at []time.Duration
	t := time.Duration(0)
	for {
		for _, w := range lim.Ops {
			// the op would be the (Max+1)-th in (t-window, t]: wait until the
			// oldest of the last Max leaves
			if n := len(at); int64(n) >= w.Max {
				if first := at[n-int(w.Max)]; first+w.Window > t {
					t = first + w.Window
				}
			}
		}
		if t >= d {
			return len(at)
		}
		at = append(at, t)
	}
}

func describe(lim config.Limits) string {
	var parts []string
	for _, w := range lim.Ops {
		parts = append(parts, fmt.Sprintf("%d/%s", w.Max, w.Window))
	}
	return fmt.Sprintf("%s, users %d/%s, margin %s, horizon %s", strings.Join(parts, " "),
		lim.Users.Max, lim.Users.Window, lim.SafetyMargin, lim.Horizon)
}

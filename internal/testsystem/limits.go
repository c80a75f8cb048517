package testsystem

import (
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/stretchr/testify/require"
)

// Scaled are limits with hours turned into seconds: 3 ops per second and 5
// per 4 seconds (in place of 10/h and 100/day), with a 1 s safety margin.
// Half the margin is Confirm's grace; the other half must cover the time
// from Confirm to the simulator counting the op, which includes a Redis
// save, an HTTP request and the file's download. Under the race detector on
// a loaded 2-core CI machine that took more than the 200 ms a 400 ms margin
// left (two 429s in one run), and a single 429 fails the test.
func Scaled() config.Limits {
	return config.Limits{
		Ops:            []config.Window{{Window: time.Second, Max: 3}, {Window: 4 * time.Second, Max: 5}},
		Users:          config.Window{Window: 4 * time.Second, Max: 2000},
		ActiveSegments: 50,
		FileSize:       config.MB,
		SafetyMargin:   time.Second,
		Horizon:        time.Minute,
	}
}

// AcceptedAt returns the times of the simulator's accepted segment ops
// (not archive or unarchive) by workspace.
func (h *Harness) AcceptedAt() map[string][]time.Time {
	byWS := map[string][]time.Time{}
	for _, r := range h.Sim.Accepted() {
		if r.Op != "archive" && r.Op != "unarchive" {
			byWS[r.Workspace] = append(byWS[r.Workspace], r.At)
		}
	}
	return byWS
}

// AssertWindows checks the simulator's own log of accepted requests: no
// rolling window of any workspace ever held more than its max.
func (h *Harness) AssertWindows() {
	h.T.Helper()
	byWS := h.AcceptedAt()
	for _, w := range h.Cfg.Workspaces {
		at := byWS[w.ID]
		for _, win := range w.Limits.Ops {
			for k := range at {
				n := 0
				for _, t := range at[:k+1] {
					if t.After(at[k].Add(-win.Window)) {
						n++
					}
				}
				require.LessOrEqual(h.T, int64(n), win.Max, "workspace %s: %d ops in the %s before %s", w.ID, n, win.Window, at[k])
			}
		}
	}
}

// EarliestSchedule is the greedy schedule of n ops from first on: each op
// as early as every window (plus margin) allows.
func EarliestSchedule(first time.Time, n int, wins []config.Window, margin time.Duration) []time.Time {
	out := []time.Time{first}
	for k := 1; k < n; k++ {
		t := out[k-1]
		for _, w := range wins {
			if back := k - int(w.Max); back >= 0 {
				if c := out[back].Add(w.Window + margin); c.After(t) {
					t = c
				}
			}
		}
		out = append(out, t)
	}
	return out
}

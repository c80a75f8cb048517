package topology_test

import (
	"testing"

	"github.com/segq/segq/internal/config"
	"github.com/stretchr/testify/require"
)

// TestSentinelFailover runs the scaled end-to-end scenario through Redis
// Sentinel (a primary, a replica, three sentinels) and promotes the
// replica with SENTINEL FAILOVER once half the jobs have succeeded. Every
// job still succeeds (none lost), and no window is exceeded.
func TestSentinelFailover(t *testing.T) {
	requireRedisBinaries(t)
	g := startSentinelGroup(t)
	h := newHarness(t, options{
		redis:      config.Redis{Sentinel: config.Sentinel{MasterName: masterName, Addrs: g.addrs()}},
		workspaces: []string{"ws-a", "ws-b"},
	})
	failedOver := false
	jobs := h.runScenario(10, func() {
		g.failover(t)
		failedOver = true
	})
	require.True(t, failedOver)
	st := h.Sim.Stats()
	require.Zero(t, st.Rejected429, "segq must never cause a 429")
	require.Equal(t, int64(len(jobs)), st.Accepted, "every job submitted exactly once")
	h.AssertWindows()
}

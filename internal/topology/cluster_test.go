package topology_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/limiter"
	"github.com/stretchr/testify/require"
)

// TestClusterEndToEnd runs the scaled end-to-end scenario on a real
// 3-master Redis Cluster: 2 workspaces, 10 jobs each, 2 worker replicas.
// Every job succeeds, upstream rejects nothing, no window is exceeded, and
// the workspaces' keys really are spread over different masters.
func TestClusterEndToEnd(t *testing.T) {
	requireRedisBinaries(t)
	addrs := startCluster(t, 3)
	h := newHarness(t, options{
		redis:      config.Redis{Cluster: config.Cluster{Addrs: addrs}},
		workspaces: []string{"ws-a", "ws-b"},
	})
	const perWS = 10
	jobs := h.runScenario(perWS, nil)
	st := h.Sim.Stats()
	require.Zero(t, st.Rejected429, "segq must never cause a 429")
	require.Equal(t, int64(len(jobs)), st.Accepted)
	h.AssertWindows()

	// The two workspaces' keys hash to different masters, so
	// the run crossed nodes (and every script kept to its own slot).
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	masters := map[string]bool{}
	for _, w := range h.Cfg.Workspaces {
		slot, err := cc.ClusterKeySlot(context.Background(), limiter.Keys(w.ID)[0]).Result()
		require.NoError(t, err)
		masters[masterOf(t, cc, slot)] = true
	}
	require.Greater(t, len(masters), 1, "workspaces all hashed to one master")
}

// masterOf returns the address of the master serving slot.
func masterOf(t *testing.T, cc *redis.ClusterClient, slot int64) string {
	t.Helper()
	slots, err := cc.ClusterSlots(context.Background()).Result()
	require.NoError(t, err)
	for _, s := range slots {
		if int64(s.Start) <= slot && slot <= int64(s.End) {
			return s.Nodes[0].Addr
		}
	}
	t.Fatalf("no master serves slot %d", slot)
	return ""
}

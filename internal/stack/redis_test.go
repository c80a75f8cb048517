package stack_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/stack"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

func TestRedisClientPerTopology(t *testing.T) {
	t.Parallel()
	single := config.Redis{URL: "redis://r:6379/3", Username: "u", Password: "pw"}
	sentinel := config.Redis{Sentinel: config.Sentinel{MasterName: "m", Addrs: []string{"s:26379"}, DB: 2}, Password: "pw"}
	cluster := config.Redis{Cluster: config.Cluster{Addrs: []string{"c1:7000", "c2:7000"}}, Password: "pw"}

	c, err := stack.RedisClient(single)
	require.NoError(t, err)
	opt := c.(*redis.Client).Options()
	require.Equal(t, "r:6379", opt.Addr)
	require.Equal(t, 3, opt.DB)
	require.Equal(t, "u", opt.Username)
	require.Equal(t, "pw", opt.Password)
	require.NoError(t, c.Close())

	c, err = stack.RedisClient(sentinel)
	require.NoError(t, err)
	require.IsType(t, &redis.Client{}, c, "a failover client")
	require.Equal(t, 2, c.(*redis.Client).Options().DB)
	require.NoError(t, c.Close())

	c, err = stack.RedisClient(cluster)
	require.NoError(t, err)
	require.Equal(t, []string{"c1:7000", "c2:7000"}, c.(*redis.ClusterClient).Options().Addrs)
	require.NoError(t, c.Close())

	d, err := stack.DashboardConn(single)
	require.NoError(t, err)
	require.Equal(t, asynq.RedisClientOpt{Addr: "r:6379", DB: 3, Username: "u", Password: "pw"}, d)
	d, err = stack.DashboardConn(sentinel)
	require.NoError(t, err)
	require.Equal(t, "m", d.(asynq.RedisFailoverClientOpt).MasterName)
	d, err = stack.DashboardConn(cluster)
	require.NoError(t, err)
	require.Equal(t, cluster.Cluster.Addrs, d.(asynq.RedisClusterClientOpt).Addrs)
}

func TestOpsHandler(t *testing.T) {
	t.Parallel()
	mini := miniredis.RunT(t)
	cfg := &config.Config{Redis: config.Redis{URL: "redis://" + mini.Addr()}}
	cfg.WithDefaults()
	s, err := stack.New(cfg, zap.NewNop())
	require.NoError(t, err)
	defer s.Close()
	h := s.OpsHandler()
	get := func(path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	require.Equal(t, http.StatusOK, get("/healthz"))
	require.Equal(t, http.StatusOK, get("/readyz"))
	require.Equal(t, http.StatusOK, get("/metrics"))
	mini.Close()
	require.Equal(t, http.StatusServiceUnavailable, get("/readyz"))
	require.Equal(t, http.StatusOK, get("/healthz"), "liveness does not depend on Redis")
}

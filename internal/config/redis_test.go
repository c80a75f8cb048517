package config_test

import (
	"errors"
	"testing"

	"github.com/segq/segq/internal/config"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRedisTopologies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		env        map[string]string
		mode       string
		field      string // the field a validation error names; "" = valid
	}{
		{name: "default", mode: config.RedisSingle},
		{name: "url", yaml: `redis: {url: "rediss://:pw@r.example:6380/2"}`, mode: config.RedisSingle},
		{name: "url not redis", yaml: `redis: {url: "http://r:6379"}`, field: "redis.url"},
		{name: "sentinel", yaml: "redis:\n  sentinel: {master_name: mymaster, addrs: [\"s1:26379\", \"s2:26379\"], db: 3}", mode: config.RedisSentinel},
		{name: "sentinel from env", env: map[string]string{"SEGQ_REDIS_SENTINEL_MASTER_NAME": "m", "SEGQ_REDIS_SENTINEL_ADDRS": "a:1, b:2"}, mode: config.RedisSentinel},
		{name: "sentinel no name", yaml: `redis: {sentinel: {addrs: ["s1:26379"]}}`, field: "redis.sentinel.master_name"},
		{name: "sentinel no addrs", yaml: `redis: {sentinel: {master_name: m}}`, field: "redis.sentinel.addrs"},
		{name: "sentinel bad addr", yaml: `redis: {sentinel: {master_name: m, addrs: ["s1:26379", "s2"]}}`, field: "redis.sentinel.addrs[1]"},
		{name: "cluster", yaml: `redis: {cluster: {addrs: ["c1:7000", "c2:7000"]}}`, mode: config.RedisCluster},
		{name: "cluster from env", env: map[string]string{"SEGQ_REDIS_CLUSTER_ADDRS": "c1:7000"}, mode: config.RedisCluster},
		{name: "cluster bad port", yaml: `redis: {cluster: {addrs: ["c1:70000"]}}`, field: "redis.cluster.addrs[0]"},
		{name: "two topologies", yaml: `redis: {url: "redis://r:6379/0", cluster: {addrs: ["c1:7000"]}}`, field: "redis"},
		{name: "env url beside cluster", yaml: `redis: {cluster: {addrs: ["c1:7000"]}}`, env: map[string]string{"SEGQ_REDIS_URL": "redis://x:1/0"}, field: "redis"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tc.yaml != "" {
				path = t.TempDir() + "/segq.yaml"
				writeFile(t, path, tc.yaml)
			}
			cfg, err := config.Load(path, env(tc.env))
			if tc.field != "" {
				var fe *config.FieldError
				require.True(t, errors.As(err, &fe), "want a FieldError, got %v", err)
				require.Equal(t, tc.field, fe.Field)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.mode, cfg.Redis.Mode())
		})
	}
}

func TestRedisSecretsAndEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir+"/pw", "data-pw\n")
	cfg, err := config.Load("", env(map[string]string{
		"SEGQ_REDIS_SENTINEL_MASTER_NAME": "mymaster", "SEGQ_REDIS_SENTINEL_ADDRS": "s1:26379",
		"SEGQ_REDIS_PASSWORD_FILE": dir + "/pw", "SEGQ_REDIS_SENTINEL_PASSWORD": "sent-pw",
		"SEGQ_REDIS_SENTINEL_DB": "4", "SEGQ_REDIS_TLS": "true", "SEGQ_REDIS_USERNAME": "segq",
	}))
	require.NoError(t, err)
	require.Equal(t, "data-pw", cfg.Redis.Password.Reveal())
	require.Equal(t, "sent-pw", cfg.Redis.Sentinel.Password.Reveal())
	require.Equal(t, 4, cfg.Redis.Sentinel.DB)
	require.True(t, cfg.Redis.TLS)
	require.Equal(t, "segq", cfg.Redis.Username)
	require.Empty(t, cfg.Redis.URL, "no default URL beside a sentinel group")

	_, err = config.Load("", env(map[string]string{"SEGQ_REDIS_TLS": "maybe"}))
	require.ErrorContains(t, err, "SEGQ_REDIS_TLS")
}

func TestEnvNamesCoverRedis(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, n := range config.EnvNames() {
		require.False(t, names[n], "duplicate %s", n)
		names[n] = true
	}
	for _, n := range []string{"SEGQ_REDIS_URL", "SEGQ_REDIS_SENTINEL_MASTER_NAME", "SEGQ_REDIS_SENTINEL_ADDRS",
		"SEGQ_REDIS_CLUSTER_ADDRS", "SEGQ_REDIS_PASSWORD", "SEGQ_REDIS_PASSWORD_FILE", "SEGQ_WORKER_ADDR", "SEGQ_CONFIG"} {
		require.True(t, names[n], n)
	}
}

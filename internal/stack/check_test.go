package stack_test

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/stack"
	"github.com/segq/segq/internal/testredis"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestCheckRedisToleratesNoConfig: a server that refuses CONFIG (managed
// services, miniredis) gets info lines, no warning and no failure.
func TestCheckRedisToleratesNoConfig(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	core, logs := observer.New(zapcore.InfoLevel)
	got := stack.CheckRedis(context.Background(), rdb, zap.New(core))
	require.Equal(t, stack.RedisSettings{}, got)
	require.Zero(t, logs.FilterLevelExact(zapcore.WarnLevel).Len())
	require.NotZero(t, logs.FilterLevelExact(zapcore.InfoLevel).Len())
}

// TestCheckRedisWarnsWithoutAOF: the test server runs without AOF, which
// earns a warning.
func TestCheckRedisWarnsWithoutAOF(t *testing.T) {
	t.Parallel()
	rdb := testredis.New(t)
	core, logs := observer.New(zapcore.InfoLevel)
	got := stack.CheckRedis(context.Background(), rdb, zap.New(core))
	require.Equal(t, "no", got.AppendOnly)
	require.NotEmpty(t, logs.FilterMessageSnippet("appendonly").FilterLevelExact(zapcore.WarnLevel).All())
}

package stack

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// RedisSettings is what CheckRedis read from the server; a field is empty
// when the server would not say (CONFIG disabled or renamed, as on some
// managed services).
type RedisSettings struct {
	AppendOnly      string
	AppendFsync     string
	MaxmemoryPolicy string
}

// CheckRedis reads the Redis settings segq's durability depends on and
// logs a warning for each one that can lose accepted jobs: AOF off (a
// restart loses everything since the last snapshot) and an evicting
// maxmemory-policy (Redis may drop job records under memory pressure).
// docs/reliability.md explains the settings. It never fails: a server that
// refuses CONFIG only earns an info line.
func CheckRedis(ctx context.Context, rdb redis.UniversalClient, log *zap.Logger) RedisSettings {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var s RedisSettings
	for param, dst := range map[string]*string{
		"appendonly": &s.AppendOnly, "appendfsync": &s.AppendFsync, "maxmemory-policy": &s.MaxmemoryPolicy,
	} {
		vals, err := rdb.ConfigGet(ctx, param).Result()
		if err != nil {
			log.Info("cannot read the Redis configuration; make sure it uses AOF and maxmemory-policy noeviction",
				zap.String("param", param), zap.Error(err))
			continue
		}
		*dst = vals[param]
	}
	if s.AppendOnly == "no" {
		log.Warn("Redis runs without AOF (appendonly no): a restart loses accepted jobs; set appendonly yes and appendfsync always")
	}
	if s.AppendOnly == "yes" && s.AppendFsync != "" && s.AppendFsync != "always" {
		log.Info("Redis AOF is not fsynced on every write: a crash can lose the last second of accepted jobs; set appendfsync always",
			zap.String("appendfsync", s.AppendFsync))
	}
	if s.MaxmemoryPolicy != "" && s.MaxmemoryPolicy != "noeviction" {
		log.Warn("Redis may evict keys under memory pressure, including job records; set maxmemory-policy noeviction",
			zap.String("maxmemory-policy", s.MaxmemoryPolicy))
	}
	return s
}

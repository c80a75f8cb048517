package stack

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
)

// RedisClient connects to the topology r describes: a single server
// (redis.url; SEGQ_REDIS_PASSWORD and redis.username apply when the URL
// carries none), a Sentinel-managed primary (redis.sentinel) or a Redis
// Cluster (redis.cluster). Every segq key of one workspace shares the hash
// tag {workspace}, and asynq's keys of one queue share {queue}, so each
// multi-key script touches one Cluster slot.
func RedisClient(r config.Redis) (redis.UniversalClient, error) {
	switch r.Mode() {
	case config.RedisSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: r.Sentinel.MasterName, SentinelAddrs: r.Sentinel.Addrs,
			SentinelPassword: r.Sentinel.Password.Reveal(),
			Username:         r.Username, Password: r.Password.Reveal(), DB: r.Sentinel.DB,
			TLSConfig: tlsConfig(r.TLS),
		}), nil
	case config.RedisCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: r.Cluster.Addrs, Username: r.Username, Password: r.Password.Reveal(),
			TLSConfig: tlsConfig(r.TLS),
		}), nil
	}
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	opt.Username = cmp.Or(opt.Username, r.Username)
	opt.Password = cmp.Or(opt.Password, r.Password.Reveal())
	return redis.NewClient(opt), nil
}

// DashboardConn returns asynqmon's connection options for the same
// topology as RedisClient.
func DashboardConn(r config.Redis) (asynq.RedisConnOpt, error) {
	switch r.Mode() {
	case config.RedisSentinel:
		return asynq.RedisFailoverClientOpt{
			MasterName: r.Sentinel.MasterName, SentinelAddrs: r.Sentinel.Addrs,
			SentinelPassword: r.Sentinel.Password.Reveal(),
			Username:         r.Username, Password: r.Password.Reveal(), DB: r.Sentinel.DB,
			TLSConfig: tlsConfig(r.TLS),
		}, nil
	case config.RedisCluster:
		return asynq.RedisClusterClientOpt{
			Addrs: r.Cluster.Addrs, Username: r.Username, Password: r.Password.Reveal(),
			TLSConfig: tlsConfig(r.TLS),
		}, nil
	}
	opt, err := asynq.ParseRedisURI(r.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	if c, ok := opt.(asynq.RedisClientOpt); ok {
		c.Username = cmp.Or(c.Username, r.Username)
		c.Password = cmp.Or(c.Password, r.Password.Reveal())
		return c, nil
	}
	return opt, nil
}

func tlsConfig(on bool) *tls.Config {
	if !on {
		return nil
	}
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// OpsHandler serves a worker's /healthz (the process runs), /readyz
// (Redis answers) and /metrics, for probes and Prometheus.
func (a *Stack) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.Redis.Ping(ctx).Err(); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, "redis unreachable")
			return
		}
		writeStatus(w, http.StatusOK, "ready")
	})
	return mux
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": status})
}

package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Redis locates the one stateful part of segq: a single server (URL), a
// Sentinel-managed primary (Sentinel) or a Redis Cluster (Cluster). Set
// exactly one; with none set, URL defaults to redis://localhost:6379/0.
type Redis struct {
	// URL is a redis:// or rediss:// URL of a single server.
	URL string `yaml:"url"`
	// Sentinel locates a primary through Redis Sentinel.
	Sentinel Sentinel `yaml:"sentinel"`
	// Cluster lists seed nodes of a Redis Cluster.
	Cluster Cluster `yaml:"cluster"`
	// Username is the ACL user of the data nodes (Sentinel and Cluster;
	// a URL carries its own).
	Username string `yaml:"username"`
	// TLS turns on TLS to the data nodes and sentinels (Sentinel and
	// Cluster; a URL says rediss://).
	TLS bool `yaml:"tls"`

	// Password authenticates to the data nodes (Sentinel and Cluster).
	// From SEGQ_REDIS_PASSWORD or SEGQ_REDIS_PASSWORD_FILE; never logged.
	Password Secret `yaml:"-"`
}

// Sentinel locates the primary of a Sentinel group.
type Sentinel struct {
	// MasterName is the name the sentinels monitor, e.g. "mymaster".
	MasterName string `yaml:"master_name"`
	// Addrs are host:port addresses of the sentinels.
	Addrs []string `yaml:"addrs"`
	// DB is the logical database on the primary.
	DB int `yaml:"db"`

	// Password authenticates to the sentinels themselves (their
	// requirepass), which may differ from the data nodes'. From
	// SEGQ_REDIS_SENTINEL_PASSWORD or SEGQ_REDIS_SENTINEL_PASSWORD_FILE.
	Password Secret `yaml:"-"`
}

// Cluster lists seed nodes of a Redis Cluster; the client discovers the
// rest. Cluster has one logical database.
type Cluster struct {
	// Addrs are host:port addresses of some of the cluster's nodes.
	Addrs []string `yaml:"addrs"`
}

// Redis topologies, as returned by Redis.Mode.
const (
	RedisSingle   = "single"
	RedisSentinel = "sentinel"
	RedisCluster  = "cluster"
)

// Mode says which topology the settings describe: RedisSentinel when
// sentinel addresses are set, RedisCluster when cluster addresses are,
// RedisSingle otherwise.
func (r Redis) Mode() string {
	switch {
	case len(r.Sentinel.Addrs) > 0 || r.Sentinel.MasterName != "":
		return RedisSentinel
	case len(r.Cluster.Addrs) > 0:
		return RedisCluster
	}
	return RedisSingle
}

// withDefaults gives a single server its default URL.
func (r *Redis) withDefaults() {
	if r.URL == "" && r.Mode() == RedisSingle {
		r.URL = "redis://localhost:6379/0"
	}
}

// validate reports the first invalid Redis setting, naming its field.
func (r Redis) validate() error {
	set := 0
	for _, on := range []bool{r.URL != "", r.Mode() == RedisSentinel, len(r.Cluster.Addrs) > 0} {
		if on {
			set++
		}
	}
	if set > 1 {
		return fieldErr("redis", "must set only one of url, sentinel, cluster")
	}
	switch r.Mode() {
	case RedisSentinel:
		if r.Sentinel.MasterName == "" {
			return fieldErr("redis.sentinel.master_name", "is required")
		}
		if len(r.Sentinel.Addrs) == 0 {
			return fieldErr("redis.sentinel.addrs", "must list at least one sentinel")
		}
		if r.Sentinel.DB < 0 {
			return fieldErr("redis.sentinel.db", "must not be negative")
		}
		return validAddrs("redis.sentinel.addrs", r.Sentinel.Addrs)
	case RedisCluster:
		return validAddrs("redis.cluster.addrs", r.Cluster.Addrs)
	}
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fieldErr("redis.url", "must be a redis:// or rediss:// URL")
	}
	return nil
}

func validAddrs(field string, addrs []string) error {
	for i, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return fieldErr(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("must be host:port, got %q", a))
		}
	}
	return nil
}

// redisEnv applies the SEGQ_REDIS_* list and number variables.
func redisEnv(c *Config, getenv func(string) string) error {
	if v := getenv("SEGQ_REDIS_SENTINEL_ADDRS"); v != "" {
		c.Redis.Sentinel.Addrs = splitList(v)
	}
	if v := getenv("SEGQ_REDIS_CLUSTER_ADDRS"); v != "" {
		c.Redis.Cluster.Addrs = splitList(v)
	}
	if v := getenv("SEGQ_REDIS_SENTINEL_DB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("config: SEGQ_REDIS_SENTINEL_DB: %w", err)
		}
		c.Redis.Sentinel.DB = n
	}
	if v := getenv("SEGQ_REDIS_TLS"); v != "" {
		on, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("config: SEGQ_REDIS_TLS: %w", err)
		}
		c.Redis.TLS = on
	}
	return nil
}

// loadRedisSecrets reads the Redis passwords from the environment or files.
func (c *Config) loadRedisSecrets(getenv func(string) string) error {
	pw, err := readSecret(getenv, "SEGQ_REDIS_PASSWORD")
	if err != nil {
		return err
	}
	c.Redis.Password = Secret(pw)
	pw, err = readSecret(getenv, "SEGQ_REDIS_SENTINEL_PASSWORD")
	if err != nil {
		return err
	}
	c.Redis.Sentinel.Password = Secret(pw)
	return nil
}

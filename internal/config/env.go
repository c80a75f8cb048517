package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// envSetting binds one SEGQ_<NAME> variable to a field of Config.
type envSetting struct {
	name string
	set  func(c *Config, v string) error
}

func str(f func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func dur(f func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*f(c) = d
		return nil
	}
}

func integer(f func(c *Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		*f(c) = n
		return nil
	}
}

// envSettings lists every scalar setting that an environment variable can
// override; EnvNames exposes the names for docs and deploy checks.
var envSettings = []envSetting{
	{"SEGQ_REDIS_URL", str(func(c *Config) *string { return &c.Redis.URL })},
	{"SEGQ_REDIS_USERNAME", str(func(c *Config) *string { return &c.Redis.Username })},
	{"SEGQ_REDIS_SENTINEL_MASTER_NAME", str(func(c *Config) *string { return &c.Redis.Sentinel.MasterName })},
	{"SEGQ_PUBLIC_URL", str(func(c *Config) *string { return &c.PublicURL })},
	{"SEGQ_ADDR", str(func(c *Config) *string { return &c.Addr })},
	{"SEGQ_SIM_ADDR", str(func(c *Config) *string { return &c.SimAddr })},
	{"SEGQ_LOG_FORMAT", str(func(c *Config) *string { return &c.Log.Format })},
	{"SEGQ_LOG_LEVEL", str(func(c *Config) *string { return &c.Log.Level })},
	{"SEGQ_WORKER_ADDR", str(func(c *Config) *string { return &c.Worker.Addr })},
	{"SEGQ_WORKER_CONCURRENCY", integer(func(c *Config) *int { return &c.Worker.Concurrency })},
	{"SEGQ_WORKER_TICK", dur(func(c *Config) *time.Duration { return &c.Worker.Tick })},
	{"SEGQ_WORKER_RECONCILE_EVERY", dur(func(c *Config) *time.Duration { return &c.Worker.ReconcileEvery })},
	{"SEGQ_WORKER_CALLBACK_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.Worker.CallbackTimeout })},
	{"SEGQ_WORKER_SHUTDOWN_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.Worker.ShutdownTimeout })},
	{"SEGQ_WORKER_UPSTREAM_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.Worker.UpstreamTimeout })},
	{"SEGQ_RETRY_BASE", dur(func(c *Config) *time.Duration { return &c.Retry.Base })},
	{"SEGQ_RETRY_CAP", dur(func(c *Config) *time.Duration { return &c.Retry.Cap })},
	{"SEGQ_RETRY_MAX_ATTEMPTS", integer(func(c *Config) *int { return &c.Retry.MaxAttempts })},
	{"SEGQ_FILES_MODE", str(func(c *Config) *string { return &c.Files.Mode })},
	{"SEGQ_FILES_FETCH_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.Files.FetchTimeout })},
}

// EnvNames returns the names of all SEGQ_* variables segq reads.
func EnvNames() []string {
	names := make([]string, 0, len(envSettings)+len(extraEnvNames))
	for _, s := range envSettings {
		names = append(names, s.name)
	}
	return append(names, extraEnvNames...)
}

// extraEnvNames are the variables read outside envSettings: lists,
// numbers of nested settings, secrets, and the config file's path.
var extraEnvNames = []string{
	"SEGQ_CONFIG", "SEGQ_FILES_ALLOW_NETWORKS",
	"SEGQ_REDIS_SENTINEL_ADDRS", "SEGQ_REDIS_SENTINEL_DB", "SEGQ_REDIS_CLUSTER_ADDRS", "SEGQ_REDIS_TLS",
	"SEGQ_REDIS_PASSWORD", "SEGQ_REDIS_PASSWORD_FILE", "SEGQ_REDIS_SENTINEL_PASSWORD", "SEGQ_REDIS_SENTINEL_PASSWORD_FILE",
	"SEGQ_CALLBACK_SECRET", "SEGQ_CALLBACK_SECRET_FILE", "SEGQ_API_TOKENS", "SEGQ_API_TOKENS_FILE",
}

func applyEnv(c *Config, getenv func(string) string) error {
	for _, s := range envSettings {
		v := getenv(s.name)
		if v == "" {
			continue
		}
		if err := s.set(c, v); err != nil {
			return fmt.Errorf("config: %s: %w", s.name, err)
		}
	}
	if v := getenv("SEGQ_FILES_ALLOW_NETWORKS"); v != "" {
		c.Files.AllowNetworks = splitList(v)
	}
	return redisEnv(c, getenv)
}

// loadSecrets reads every secret from the environment or a file.
func (c *Config) loadSecrets(getenv func(string) string) error {
	if err := c.loadRedisSecrets(getenv); err != nil {
		return err
	}
	secret, err := readSecret(getenv, "SEGQ_CALLBACK_SECRET")
	if err != nil {
		return err
	}
	c.CallbackSecret = Secret(secret)
	tokens, err := readSecret(getenv, "SEGQ_API_TOKENS")
	if err != nil {
		return err
	}
	for _, t := range splitList(tokens) {
		c.APITokens = append(c.APITokens, Secret(t))
	}
	for i := range c.Workspaces {
		w := &c.Workspaces[i]
		key := ""
		switch {
		case w.APIKeyFile != "":
			raw, err := os.ReadFile(w.APIKeyFile)
			if err != nil {
				return fmt.Errorf("config: workspaces[%d].api_key_file: %w", i, err)
			}
			key = strings.TrimSpace(string(raw))
		case w.APIKeyEnv != "":
			key = getenv(w.APIKeyEnv)
		}
		w.APIKey = Secret(key)
	}
	return nil
}

// readSecret returns $NAME, or the trimmed content of the file $NAME_FILE.
func readSecret(getenv func(string) string, name string) (string, error) {
	if v := getenv(name); v != "" {
		return v, nil
	}
	path := getenv(name + "_FILE")
	if path == "" {
		return "", nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("config: %s_FILE: %w", name, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

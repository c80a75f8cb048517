package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segq/segq/internal/config"
	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "segq.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestLoadFileEnvAndDefaults(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
redis: {url: "redis://r:6379/1"}
public_url: "https://segq.example.com"
workspaces:
  - id: "W1"
    data_center: "01"
    api_key_env: "SEGQ_MOE_KEY_MAIN"
    db_name: "main"
    limits:
      ops: [{window: 1h, max: 10}, {window: 24h, max: 100}]
      users: {window: 24h, max: 2000000}
      active_segments: 700
      file_size: 150MB
      safety_margin: 30s
`)
	cfg, err := config.Load(path, env(map[string]string{
		"SEGQ_MOE_KEY_MAIN": "moe-secret", "SEGQ_ADDR": ":9090", "SEGQ_CALLBACK_SECRET": "cb-secret",
		"SEGQ_API_TOKENS": "t1, t2", "SEGQ_WORKER_TICK": "100ms",
	}))
	require.NoError(t, err)
	require.Equal(t, ":9090", cfg.Addr, "env overrides")
	require.Equal(t, ":8090", cfg.SimAddr, "default")
	require.Equal(t, 100*time.Millisecond, cfg.Worker.Tick)
	require.Equal(t, []config.Secret{"t1", "t2"}, cfg.APITokens)
	w, ok := cfg.Workspace("W1")
	require.True(t, ok)
	require.Equal(t, "moe-secret", w.APIKey.Reveal())
	require.Equal(t, int64(700), w.Limits.ActiveSegments)
	require.Equal(t, config.ByteSize(150_000_000), w.Limits.FileSize)
	require.Equal(t, 30*time.Second, w.Limits.SafetyMargin)
	require.Equal(t, time.Hour, w.Limits.Horizon, "default")
	require.Equal(t, "strict", w.FileMode)
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	cases := []struct{ yaml, field string }{
		{`redis: {url: "http://x"}`, "redis.url"},
		{`public_url: "segq.example.com"`, "public_url"},
		{`log: {format: xml}`, "log.format"},
		{`files: {mode: loose}`, "files.mode"},
		{`workspaces: [{data_center: "01"}]`, "workspaces[0].id"},
		{`workspaces: [{id: a}, {id: a}]`, "workspaces[1].id"},
		{`workspaces: [{id: a, limits: {ops: [{window: 1h, max: 0}]}}]`, "workspaces[0].limits.ops[0]"},
		{`workspaces: [{id: a, base_url: "ftp://x"}]`, "workspaces[0].base_url"},
	}
	for _, tc := range cases {
		_, err := config.Load(writeConfig(t, tc.yaml), env(nil))
		var fe *config.FieldError
		require.ErrorAs(t, err, &fe, tc.yaml)
		require.Equal(t, tc.field, fe.Field, tc.yaml)
	}
	_, err := config.Load(writeConfig(t, "nonsense: 1"), env(nil))
	require.ErrorContains(t, err, "nonsense", "unknown settings are refused")
	_, err = config.Load("", env(map[string]string{"SEGQ_WORKER_TICK": "soon"}))
	require.ErrorContains(t, err, "SEGQ_WORKER_TICK")
}

func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	s := config.Secret("hunter2")
	raw, err := json.Marshal(struct{ K config.Secret }{s})
	require.NoError(t, err)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(raw)} {
		require.NotContains(t, out, "hunter2")
	}
	require.True(t, s.Equal("hunter2"))
	require.False(t, s.Equal("hunter3"))
}

func TestSecretFromFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(path, []byte("from-file\n"), 0o600))
	cfg, err := config.Load("", env(map[string]string{"SEGQ_CALLBACK_SECRET_FILE": path}))
	require.NoError(t, err)
	require.Equal(t, "from-file", cfg.CallbackSecret.Reveal())
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]config.ByteSize{"150MB": 150e6, "64KiB": 64 << 10, "1000": 1000, "2 GB": 2e9} {
		var b config.ByteSize
		require.NoError(t, b.UnmarshalText([]byte(in)), in)
		require.Equal(t, want, b, in)
	}
	var b config.ByteSize
	require.Error(t, b.UnmarshalText([]byte("lots")))
	require.Error(t, b.UnmarshalText([]byte("-5MB")))
}

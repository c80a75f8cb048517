package config_test

import (
	"errors"
	"testing"

	"github.com/segq/segq/internal/config"
)

// FuzzConfig feeds arbitrary YAML to Parse, WithDefaults and Validate: no
// panic, a refusal always names a field, and a configuration that
// validates has the invariants the rest of segq relies on.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"",
		"redis: {url: \"redis://localhost:6379/0\"}\npublic_url: \"https://segq.example.com\"\n",
		"workspaces:\n  - id: main\n    data_center: \"01\"\n    api_key_env: K\n    limits:\n      ops: [{window: 1h, max: 10}, {window: 24h, max: 100}]\n      users: {window: 24h, max: 2000000}\n      active_segments: 1000\n      file_size: 150MB\n      safety_margin: 60s\n",
		"workspaces: [{id: a}, {id: a}]",
		"worker: {concurrency: -1, tick: 1ms}",
		"retry: {base: 1s, factor: 0.5}",
		"files: {mode: lenient, allow_networks: [127.0.0.0/8]}",
		"workspaces: [{id: x, limits: {file_size: 1GiB, ops: [{window: 0s, max: 1}]}}]",
		"redis: {sentinel: {master_name: m, addrs: [\"a:1\"]}}",
		"unknown: 1",
		"log: {format: xml}",
		"{",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg := &config.Config{}
		if err := config.Parse(raw, cfg); err != nil {
			return
		}
		cfg.WithDefaults()
		err := cfg.Validate()
		var fe *config.FieldError
		if err != nil {
			if !errors.As(err, &fe) || fe.Field == "" || fe.Message == "" {
				t.Fatalf("refusal without a field: %v", err)
			}
			return
		}
		checkValid(t, cfg)
		again := *cfg
		again.WithDefaults()
		if again.Validate() != nil {
			t.Fatal("WithDefaults is not idempotent")
		}
	})
}

// checkValid asserts what a validated configuration guarantees.
func checkValid(t *testing.T, cfg *config.Config) {
	t.Helper()
	if cfg.Worker.Concurrency < 1 || cfg.Retry.Factor < 1 {
		t.Fatalf("bad worker or retry settings passed: %+v %+v", cfg.Worker, cfg.Retry)
	}
	seen := map[string]bool{}
	for _, w := range cfg.Workspaces {
		if w.ID == "" || seen[w.ID] {
			t.Fatalf("workspace id %q empty or repeated", w.ID)
		}
		seen[w.ID] = true
		l := w.Limits
		if len(l.Ops) == 0 || l.Users.Max <= 0 || l.Users.Window <= 0 || l.ActiveSegments <= 0 || l.SafetyMargin < 0 {
			t.Fatalf("workspace %s: limits passed: %+v", w.ID, l)
		}
		for _, o := range l.Ops {
			if o.Window <= 0 || o.Max <= 0 {
				t.Fatalf("workspace %s: window %+v passed", w.ID, o)
			}
		}
	}
}

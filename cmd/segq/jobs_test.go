package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// runSegq runs the root command with args and returns everything it
// wrote and main's exit code.
func runSegq(t *testing.T, args ...string) (string, int) {
	t.Helper()
	stdout, stderr, err := runCmd(t, newRootCmd(), args...)
	return stdout + stderr, codeOf(err)
}

func TestJobsResolve(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	cfg := filepath.Join(t.TempDir(), "segq.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("redis: {url: \"redis://"+mr.Addr()+"/0\"}\nworkspaces: [{id: ws1}]\n"), 0o600))
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	jobs := queue.NewClient(rdb, queue.ClientOptions{Workspaces: []string{"ws1"}})
	t.Cleanup(func() { _ = jobs.Close() })
	ctx := context.Background()
	j, _, err := jobs.Enqueue(ctx, queue.Request{Workspace: "ws1", Name: "seg", AttributeName: "gaid", AttributeType: "string",
		FileURL: "https://files.example.com/a.csv", ExpiryTime: 30}, queue.EnqueueOptions{})
	require.NoError(t, err)

	out, code := runSegq(t, "--config", cfg, "jobs", "resolve", j.ID, "--state", "failed", "--reason", "not in MoEngage")
	require.Equal(t, codeFailed, code, out)
	require.Contains(t, out, "accepted")

	for _, s := range []queue.State{queue.StateValidating, queue.StateWaiting, queue.StateSubmitting, queue.StateUnknown} {
		_, err := jobs.Store().Transition(ctx, j.ID, s, "test", nil)
		require.NoError(t, err)
	}
	out, code = runSegq(t, "--config", cfg, "jobs", "resolve", j.ID, "--state", "succeeded")
	require.Equal(t, codeUsage, code, out)
	require.Contains(t, out, "--reason: required")
	out, code = runSegq(t, "--config", cfg, "jobs", "resolve", j.ID, "--state", "failed", "--reason", "x", "--cs-id", "cs-1")
	require.Equal(t, codeUsage, code, out)
	require.Contains(t, out, "--cs-id:")

	out, code = runSegq(t, "--config", cfg, "jobs", "resolve", j.ID, "--state", "succeeded",
		"--reason", "found with 10 users", "--cs-id", "cs-1")
	require.Equal(t, 0, code, out)
	require.Equal(t, "job "+j.ID+" resolved as succeeded\n", out)
	got, err := jobs.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateSucceeded, got.State)
	require.Equal(t, "cs-1", got.CSID)
}

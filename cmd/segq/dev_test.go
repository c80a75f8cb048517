package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/segq/segq/internal/testsystem"
	"github.com/stretchr/testify/require"
)

// TestDevRunsDemoToSuccess runs `segq dev` as a user would (embedded
// Redis, simulator, API, worker) and follows the demo job to succeeded,
// then reads it back through the API with its timeline.
func TestDevRunsDemoToSuccess(t *testing.T) {
	t.Setenv("SEGQ_LOG_LEVEL", "warn")
	out := &testsystem.LockedBuffer{}
	cmd := newRootCmd()
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SetArgs([]string{"dev", "--addr", "127.0.0.1:0", "--sim-addr", "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	succeeded := regexp.MustCompile(`demo job (\w+) succeeded: (\S+)`)
	var m []string
	require.Eventually(t, func() bool {
		m = succeeded.FindStringSubmatch(out.String())
		return m != nil
	}, 60*time.Second, 50*time.Millisecond, "output so far:\n%s", out)
	require.Contains(t, out.String(), "dashboard: http://127.0.0.1:")
	require.Contains(t, out.String(), "simulator: http://127.0.0.1:")

	resp, err := http.Get(m[2])
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var job struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Timeline []struct {
			State string `json:"state"`
		} `json:"timeline"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&job))
	require.Equal(t, m[1], job.ID)
	require.Equal(t, "succeeded", job.State)
	var states []string
	for _, e := range job.Timeline {
		states = append(states, e.State)
	}
	require.Subset(t, states, []string{"accepted", "validating", "waiting", "submitting", "submitted", "succeeded"})
}

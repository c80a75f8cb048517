package bench_test

import (
	"testing"

	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/moesim"
	"github.com/segq/segq/internal/testsystem"
	"github.com/segq/segq/queue"
)

// system is a running segq (API with callbacks, worker replicas) in front
// of the simulator and a file host, on a fresh database of the test Redis:
// internal/testsystem's harness.
type system struct {
	*testsystem.Harness
}

// newSystem builds the system for cfg's workspaces (BaseURL and PublicURL
// are filled in); the simulator gets the same limits, with one expiry day
// lasting expiryUnit.
func newSystem(t *testing.T, cfg *config.Config, sim moesim.Config) *system {
	t.Helper()
	return &system{testsystem.NewHarness(t, testsystem.Options{Config: cfg, Sim: sim})}
}

// create enqueues a create of name with a file of n values.
func (s *system) create(ws, name, priority string, n int) *queue.Job {
	s.T.Helper()
	req := s.Request(ws, name, n)
	req.Priority = priority
	return s.Enqueue(req)
}

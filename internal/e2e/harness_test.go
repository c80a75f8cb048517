package e2e_test

import (
	"testing"

	"github.com/segq/segq/internal/testsystem"
)

// harness is a running segq (see testsystem.Harness) with the test it
// belongs to.
type harness struct {
	*testsystem.Harness
	t *testing.T
}

// tick is the workers' dispatcher period and asynq's scheduled-task check.
const tick = testsystem.Tick

func newHarness(t *testing.T, workspaces ...string) *harness {
	t.Helper()
	return newHarnessWith(t, testsystem.Options{}, workspaces...)
}

func newHarnessWith(t *testing.T, opt testsystem.Options, workspaces ...string) *harness {
	t.Helper()
	return &harness{Harness: testsystem.NewHarness(t, opt, workspaces...), t: t}
}

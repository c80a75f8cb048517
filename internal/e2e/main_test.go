package e2e_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves goroutines behind: every
// in-process worker, server and client must stop with its test.
// It also removes the segq binary the process tests built.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if segqBuild.dir != "" {
			_ = os.RemoveAll(segqBuild.dir)
		}
		os.Exit(code)
	}))
}

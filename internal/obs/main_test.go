package obs_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves goroutines behind: the stack
// that TestNoSecretsInLogs runs must stop with it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package bench_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a benchmark leaves goroutines behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package topology_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// quiet drops go-redis's own log lines (sentinel discovery, failover
// notices): the tests assert on outcomes, not on the client's chatter.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// TestMain fails the run when a test leaves goroutines behind: every
// in-process worker, server and client must stop with its test.
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	goleak.VerifyTestMain(m)
}

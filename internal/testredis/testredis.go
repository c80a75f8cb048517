// Package testredis hands tests their own database on the real Redis server
// that `make test` starts (SEGQ_TEST_REDIS_URL). Each call takes a fresh,
// flushed logical database, so packages and tests running in parallel never
// see each other's keys or asynq queues.
package testredis

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the variable holding the test server's URL.
const EnvURL = "SEGQ_TEST_REDIS_URL"

// databases must match the server's `databases` setting (the Makefile
// starts redis-server with --databases 256). Database 0 holds the counter.
const databases = 256

// URL returns the URL of a fresh database, or skips the test when no test
// server is configured.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skip(EnvURL + " is not set: run `make test` to start a real redis-server")
	}
	opt, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	ctx := context.Background()
	c := redis.NewClient(opt)
	defer c.Close()
	n, err := c.Incr(ctx, "segq:test:next-db").Result()
	if err != nil {
		t.Fatalf("test redis at %s: %v", base, err)
	}
	db := 1 + int(n-1)%(databases-1)
	opt.DB = db
	fresh := redis.NewClient(opt)
	defer fresh.Close()
	if err := fresh.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("flush test db %d: %v", db, err)
	}
	return fmt.Sprintf("redis://%s/%d", opt.Addr, db)
}

// New returns a client on a fresh database, closed when the test ends.
func New(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

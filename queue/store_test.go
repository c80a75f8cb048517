package queue_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// roundTrips counts what a client sends: a pipeline or a single command
// is one round trip (connection set-up aside).
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" && cmd.Name() != "client" {
			r.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() != "hello" && cmds[0].Name() != "client" {
			r.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// A process that has not seen a job reads it in one round trip when its
// workspace is configured, and in two otherwise.
func TestGetUncachedJob(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	producer := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = producer.Close() })
	jobs := queue.NewClient(producer, queue.ClientOptions{})
	t.Cleanup(func() { _ = jobs.Close() })
	ctx := context.Background()
	req := validCreate()
	inWS1, _, err := jobs.Enqueue(ctx, req, queue.EnqueueOptions{})
	require.NoError(t, err)
	req.Workspace = "ws3"
	inWS3, _, err := jobs.Enqueue(ctx, req, queue.EnqueueOptions{})
	require.NoError(t, err)

	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	trips := &roundTrips{}
	rdb.AddHook(trips)
	store := queue.NewStore(rdb, queue.WithWorkspaces([]string{"ws1", "ws2"}))

	for _, c := range []struct {
		job   *queue.Job
		trips int64
	}{{inWS1, 1}, {inWS3, 2}, {inWS1, 1}, {inWS3, 1}} { // the last two from the cache
		before := trips.n.Load()
		got, err := store.Get(ctx, c.job.ID)
		require.NoError(t, err)
		require.Equal(t, c.job.ID, got.ID)
		require.Equal(t, c.job.Workspace, got.Workspace)
		require.Equal(t, c.trips, trips.n.Load()-before, "round trips to read a job of %s", c.job.Workspace)
	}
	_, err = store.Get(ctx, "01JNOSUCHJOB0000000000000")
	require.ErrorIs(t, err, queue.ErrNotFound)
}

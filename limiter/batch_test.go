package limiter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// newDecision builds what run hands the group, for tests that send a batch
// of their own.
func newDecision(o op, ws string, args ...any) *decision {
	return &decision{op: o, keys: Keys(ws), args: args}
}

// TestBatchRunsEachDecisionOnItsOwn sends one batch in which a decision
// fails: the others still run, in order, each with its own reply.
func TestBatchRunsEachDecisionOnItsOwn(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	l, ctx, lim := New(rdb), context.Background(), DefaultLimits()
	res, err := l.Reserve(ctx, "good", lim, Request{ID: "a", EnqueuedAt: time.Now(), Ops: 1, Users: 1})
	require.NoError(t, err)
	require.Equal(t, Reserved, res.Status)
	// The bad workspace's entry hash is a string: every read of it fails.
	require.NoError(t, mr.Set(Keys("bad")[0], "not a hash"))

	batch := []*decision{
		newDecision(opReserved, "good"),
		newDecision(opCancel, "bad", "a"),
		newDecision(opCancel, "good", "a"),
		newDecision(opReserved, "good"),
		newDecision(op("nope"), "good"),
	}
	l.send(ctx, batch)

	require.NoError(t, batch[0].err)
	require.Len(t, batch[0].res, 2, "a is reserved before the cancel")
	require.ErrorContains(t, batch[1].err, "WRONGTYPE")
	require.NoError(t, batch[2].err)
	require.Equal(t, int64(1), batch[2].res, "a freed")
	require.NoError(t, batch[3].err)
	require.Empty(t, batch[3].res, "a is gone after the cancel")
	require.ErrorContains(t, batch[4].err, "unknown op nope")
}

// TestBatchAfterScriptFlush: a Redis that lost its scripts (restart,
// failover, SCRIPT FLUSH) gets the batch script again through EVAL.
func TestBatchAfterScriptFlush(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	l, ctx := New(rdb), context.Background()
	require.NoError(t, l.Block(ctx, "ws", time.Now().Add(time.Hour)))
	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	require.NoError(t, l.Block(ctx, "ws", time.Now().Add(2*time.Hour)))
	u, err := l.Usage(ctx, "ws", DefaultLimits())
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), u.BlockedUntil, time.Minute)
}

// TestBatchOnRing: on a sharded client a batch is split by workspace, so
// each workspace's decisions run on the shard that holds its keys.
func TestBatchOnRing(t *testing.T) {
	addrs := map[string]string{}
	for i := range 3 {
		addrs[fmt.Sprint("shard", i)] = miniredis.RunT(t).Addr()
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: addrs})
	t.Cleanup(func() { _ = ring.Close() })
	l, ctx := New(ring), context.Background()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	var batch []*decision
	for i := range 12 {
		batch = append(batch, newDecision(opBlock, fmt.Sprint("ws", i), ms(until)))
	}
	l.send(ctx, batch)
	for i, d := range batch {
		require.NoError(t, d.err, "ws%d", i)
		u, err := l.Usage(ctx, fmt.Sprint("ws", i), DefaultLimits())
		require.NoError(t, err)
		require.True(t, until.Equal(u.BlockedUntil), "ws%d blocked until %v, want %v", i, u.BlockedUntil, until)
	}
}

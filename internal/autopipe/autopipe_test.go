package autopipe

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/testredis"
	"github.com/stretchr/testify/require"
)

// clients returns a miniredis client and, when the test server is
// configured, a real Redis one.
func clients(t *testing.T) map[string]*redis.Client {
	t.Helper()
	mr := miniredis.RunT(t)
	mini := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = mini.Close() })
	out := map[string]*redis.Client{"miniredis": mini}
	if os.Getenv(testredis.EnvURL) != "" {
		out["redis"] = testredis.New(t)
	}
	return out
}

// Every caller gets the replies of its own commands, in its own order,
// whatever batches they travel in.
func TestConcurrentCallersGetTheirOwnReplies(t *testing.T) {
	t.Parallel()
	for name, rdb := range clients(t) {
		t.Run(name, func(t *testing.T) {
			p := New(rdb, 8)
			ctx := context.Background()
			const callers, each = 48, 60
			var wg sync.WaitGroup
			for c := range callers {
				wg.Go(func() {
					key := fmt.Sprintf("counter:%d", c)
					for i := 1; i <= each; i++ {
						cmd := redis.NewIntCmd(ctx, "incr", key)
						if err := p.Do(ctx, cmd); err != nil {
							t.Error(err)
							return
						}
						if cmd.Val() != int64(i) {
							t.Errorf("%s: reply %d, want %d", key, cmd.Val(), i)
							return
						}
					}
				})
			}
			wg.Wait()
			for c := range callers {
				require.Equal(t, fmt.Sprint(each), rdb.Get(ctx, fmt.Sprintf("counter:%d", c)).Val())
			}
		})
	}
}

// gate is a hook that holds every single command (the leaders' first
// sends) until released, and records the size of each pipeline.
type gate struct {
	release chan struct{}
	held    chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func newGate() *gate { return &gate{release: make(chan struct{}), held: make(chan struct{}, 64)} }

func (g *gate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *gate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !connSetup(cmd) {
			g.held <- struct{}{}
			<-g.release
		}
		return next(ctx, cmd)
	}
}

func (g *gate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !connSetup(cmds[0]) {
			g.mu.Lock()
			g.sizes = append(g.sizes, len(cmds))
			g.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

// connSetup reports whether cmd is one go-redis sends to set up a new
// connection.
func connSetup(cmd redis.Cmder) bool { return cmd.Name() == "hello" || cmd.Name() == "client" }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Callers that arrive while maxInFlight sends are out wait, and the next
// pipeline carries all of them (up to the bound), each command with its
// own reply or error.
func TestQueuedCallersShareOnePipeline(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	g := newGate()
	rdb.AddHook(g)
	require.NoError(t, mr.Set("text", "abc"))
	p := New(rdb, 5)
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := range maxInFlight {
		wg.Go(func() { _ = p.Do(ctx, redis.NewStatusCmd(ctx, "set", fmt.Sprintf("lead:%d", i), "x")) })
	}
	for range maxInFlight {
		<-g.held
	}
	const waiting = 7
	cmds := make([]*redis.IntCmd, waiting)
	for i := range cmds {
		key := fmt.Sprintf("n:%d", i)
		if i == 2 {
			key = "text" // INCR on a string that is not a number fails alone
		}
		cmds[i] = redis.NewIntCmd(ctx, "incrby", key, i+1)
		wg.Go(func() { _ = p.Do(ctx, cmds[i]) })
		waitFor(t, "the caller to queue", func() bool { return p.group.queued() == i+1 })
	}
	close(g.release)
	wg.Wait()

	slices.Sort(g.sizes) // the two batches run concurrently
	require.Equal(t, []int{2, 5}, g.sizes, "7 waiting callers, in batches of at most 5")
	for i, cmd := range cmds {
		if i == 2 {
			require.ErrorContains(t, cmd.Err(), "not an integer")
			continue
		}
		require.NoError(t, cmd.Err())
		require.Equal(t, int64(i+1), cmd.Val())
	}
	for i := range maxInFlight {
		require.Equal(t, "x", rdb.Get(ctx, fmt.Sprintf("lead:%d", i)).Val())
	}
}

// Commands given to one Do stay together and in order.
func TestDoKeepsCommandsInOrder(t *testing.T) {
	t.Parallel()
	for name, rdb := range clients(t) {
		t.Run(name, func(t *testing.T) {
			p, ctx := New(rdb, 0), context.Background()
			set := redis.NewStatusCmd(ctx, "set", "k", "v1")
			get := redis.NewStringCmd(ctx, "get", "k")
			del := redis.NewIntCmd(ctx, "del", "k")
			require.NoError(t, p.Do(ctx, set, get, del))
			require.Equal(t, "v1", get.Val())
			require.Equal(t, int64(1), del.Val())
		})
	}
}

var incrScript = redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)

// Run falls back to EVAL when Redis lost its script cache.
func TestRunAfterScriptFlush(t *testing.T) {
	t.Parallel()
	for name, rdb := range clients(t) {
		t.Run(name, func(t *testing.T) {
			p, ctx := New(rdb, 0), context.Background()
			require.Equal(t, int64(2), p.Run(ctx, incrScript, []string{"s"}, 2).Val())
			require.NoError(t, rdb.ScriptFlush(ctx).Err())
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					if err := p.Run(ctx, incrScript, []string{"s"}, 1).Err(); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			require.Equal(t, "22", rdb.Get(ctx, "s").Val())
		})
	}
}

// A caller whose context has ended sends nothing.
func TestDoWithEndedContext(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cmd := redis.NewStatusCmd(ctx, "set", "k", "v")
	require.ErrorIs(t, New(rdb, 0).Do(ctx, cmd), context.Canceled)
	require.ErrorIs(t, cmd.Err(), context.Canceled)
	require.False(t, mr.Exists("k"))
}

// When Redis cannot be reached every caller gets the error.
func TestDoWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	p, ctx := New(rdb, 0), context.Background()
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if err := p.Do(ctx, redis.NewStringCmd(ctx, "get", "k")); err == nil {
				t.Error("no error from a server that is down")
			}
		})
	}
	wg.Wait()
}

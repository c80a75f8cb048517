package limiter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/segq/segq/internal/testredis"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// realRedis returns n clients on a fresh database of the test Redis, or
// skips the test.
func realRedis(tb testing.TB, n int) []*redis.Client {
	tb.Helper()
	opt, err := redis.ParseURL(testredis.URL(tb))
	require.NoError(tb, err)
	out := make([]*redis.Client, n)
	for i := range out {
		out[i] = redis.NewClient(opt)
		tb.Cleanup(func() { _ = out[i].Close() })
	}
	require.NoError(tb, out[0].Ping(context.Background()).Err())
	return out
}

// sent is one op that got Go, as the race test saw it.
type sent struct {
	id         string
	slot, at   int64
	ops, users int64
	hold       int64
}

// TestRaceRealRedis: 32 goroutines over 4 clients reserve, wait, confirm,
// cancel and block concurrently on one workspace. Every job that is not
// cancelled is sent exactly once, and no window is exceeded, neither by the
// recorded intervals nor by the send times as upstream would count them.
func TestRaceRealRedis(t *testing.T) {
	t.Parallel()
	clients := realRedis(t, 4)
	lim := Limits{
		Ops:            []Window{{100 * time.Millisecond, 4}, {400 * time.Millisecond, 10}},
		Users:          Window{400 * time.Millisecond, 30},
		ActiveSegments: 3,
		SafetyMargin:   10 * time.Millisecond,
		Grace:          10 * time.Millisecond,
		Horizon:        5 * time.Second,
		Aging:          time.Second,
	}
	ws := fmt.Sprintf("race-%d", time.Now().UnixNano())
	const workers, jobs = 32, 3

	var mu sync.Mutex
	var got []sent
	cancelled := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			l := New(clients[w%len(clients)])
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for j := range jobs {
				r := Request{ID: fmt.Sprintf("w%02d-j%d/1", w, j), EnqueuedAt: time.Now(),
					Priority: Priority(rng.IntN(3)), Ops: 1, Users: 1 + rng.Int64N(3)}
				if rng.IntN(4) == 0 {
					r.Hold, r.Segment = 50*time.Millisecond, r.ID
				}
				s, ok, err := runJob(l, ws, lim, r, rng.IntN(8) == 0)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if ok {
					got = append(got, s)
				} else {
					cancelled++
				}
				mu.Unlock()
				if w == 0 && j == 0 {
					if err := l.Block(context.Background(), ws, time.Now().Add(50*time.Millisecond)); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, workers*jobs, len(got)+cancelled)
	ids := map[string]bool{}
	for _, s := range got {
		require.False(t, ids[s.id], "sent twice: %s", s.id)
		ids[s.id] = true
	}
	require.NoError(t, checkSent(got, newSpec(lim)))
}

// runJob plays one worker job to the end: it returns the op as sent, or
// ok=false when it cancelled the job instead.
func runJob(l *Limiter, ws string, lim Limits, r Request, cancel bool) (s sent, ok bool, err error) {
	ctx := context.Background()
	res, err := l.Reserve(ctx, ws, lim, r)
	for err == nil {
		switch res.Status {
		case Pending:
			if _, err = l.Promote(ctx, ws, lim); err == nil {
				time.Sleep(2 * time.Millisecond) // poll: another worker may promote us
				res, err = l.Reserve(ctx, ws, lim, r)
			}
			continue
		case Committed:
			return s, false, fmt.Errorf("%s: committed but never got Go", r.ID)
		}
		if cancel {
			return s, false, l.Cancel(ctx, ws, r.ID)
		}
		time.Sleep(time.Until(res.Slot))
		var cr ConfirmResult
		if cr, err = l.Confirm(ctx, ws, r.ID, res.Slot, lim); err != nil {
			break
		}
		switch cr.Outcome {
		case Go:
			return sent{r.ID, ms(cr.Slot), ms(cr.At), r.Ops, r.Users, r.Hold.Milliseconds()}, true, nil
		case Moved:
			res = cr.Reservation
		case Lost:
			res, err = l.Reserve(ctx, ws, lim, r)
		}
	}
	return s, false, err
}

// checkSent brute-forces every limit over the sent ops: the reserved
// intervals [slot, slot+len+margin) and the send times [at, at+len).
func checkSent(ss []sent, sp spec) error {
	type lim struct {
		name   string
		length int64
		max    int64
		w      func(sent) int64
	}
	ls := []lim{{"users", sp.users.length, sp.users.max, func(s sent) int64 { return s.users }}}
	for i, w := range sp.ops {
		ls = append(ls, lim{fmt.Sprintf("ops[%d]", i), w.length, w.max, func(s sent) int64 { return s.ops }})
	}
	for _, l := range ls {
		for _, x := range ss {
			var bySlot, byAt int64
			for _, s := range ss {
				if s.slot <= x.slot && x.slot < s.slot+l.length+sp.margin {
					bySlot += l.w(s)
				}
				if x.at <= s.at && s.at < x.at+l.length {
					byAt += l.w(s)
				}
			}
			if bySlot > l.max || byAt > l.max {
				return fmt.Errorf("%s exceeded at %d: %d by slot, %d by send time, max %d", l.name, x.slot, bySlot, byAt, l.max)
			}
		}
	}
	var holds []sent
	for _, s := range ss {
		if s.hold > 0 {
			holds = append(holds, s)
		}
	}
	for _, x := range holds {
		var n int64
		for _, s := range holds {
			if s.slot <= x.slot && x.slot < s.slot+s.hold+sp.margin {
				n++
			}
		}
		if n > sp.gauge {
			return fmt.Errorf("gauge exceeded at %d: %d active", x.slot, n)
		}
	}
	return nil
}

// Package limiter is segq's distributed, exact, multi-limit sliding-window
// limiter with reservations. Every decision is one Lua script on Redis, timed
// by Redis TIME, so any number of worker replicas share one clock and one
// truth. See docs/limiter.md for the semantics and why they are exact.
package limiter

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/autopipe"
)

// promoteBatch bounds the entries one promote script hands slots to, so a
// single call never holds Redis for long.
const promoteBatch = 64

// maxBatch bounds the decisions of one script call, so that a batch (which
// may hold slot searches through full windows) never holds Redis for long.
const maxBatch = 32

// Limiter makes limiter decisions on Redis. It is safe for concurrent use.
type Limiter struct {
	rdb autopipe.Client
	// sharded is set for a cluster or ring client, where one script may
	// only touch one workspace's keys (see send).
	sharded bool
	// group sends the decisions that callers make at the same time as one
	// batch (see run).
	group *autopipe.Group[*decision]
	// keys caches Keys per workspace (a handful, from configuration).
	keys sync.Map
}

// New returns a Limiter on rdb: a client, ring or cluster client (all keys
// of a workspace share one hash tag).
func New(rdb autopipe.Client) *Limiter {
	_, single := rdb.(*redis.Client)
	l := &Limiter{rdb: rdb, sharded: !single}
	l.group = autopipe.NewGroup(maxBatch, l.send)
	return l
}

// Reserve asks for the earliest slot at which req fits every limit, given
// every slot already reserved or committed. It is idempotent on req.ID: an
// existing request's state is returned unchanged. The request is Pending
// when an earlier pending request orders before it or its earliest slot is
// beyond the horizon. A request that can never fit returns *TooHeavyError.
func (l *Limiter) Reserve(ctx context.Context, ws string, lim Limits, req Request) (Reservation, error) {
	if err := checkReserve(lim, req); err != nil {
		return Reservation{}, err
	}
	order := orderScore(ms(req.EnqueuedAt), req.Priority, lim.Aging)
	args := append([]any{req.ID, order, recordTail(order, min(req.Ops, 1), req)}, newSpec(lim).args()...)
	v, err := l.run(ctx, opReserve, ws, args...)
	if err != nil {
		return Reservation{}, err
	}
	var r reply
	res := r.list(v)
	out := reservation(req.ID, r.str(res, 0), r.int(res, 1))
	return out, r.err
}

// Promote hands slots to pending requests in order while the first one's
// earliest slot lies within the horizon, stopping at the first that does
// not (strict head-of-line), and returns the newly reserved ones. Call it
// periodically and after Cancel, Block and ReleaseSegment.
func (l *Limiter) Promote(ctx context.Context, ws string, lim Limits) ([]Reservation, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	args := append([]any{promoteBatch}, newSpec(lim).args()...)
	var out []Reservation
	for {
		v, err := l.run(ctx, opPromote, ws, args...)
		if err != nil {
			return out, err
		}
		var r reply
		res := r.list(v)
		more := r.int(res, 1)
		for _, p := range r.pairs(res[min(2, len(res)):]) {
			out = append(out, reservation(p.key, "R", p.score))
		}
		if r.err != nil || more == 0 {
			return out, r.err
		}
	}
}

// Confirm is called right before sending upstream with the slot held. Go
// commits the reservation (and stays Go, idempotently, until the grace
// ends); Wait means the slot has not come; Moved returns the request's new
// state; Lost means too late or unknown: Reserve again with the same ID,
// Priority and EnqueuedAt.
func (l *Limiter) Confirm(ctx context.Context, ws, id string, slot time.Time, lim Limits) (ConfirmResult, error) {
	if err := lim.Validate(); err != nil {
		return ConfirmResult{}, err
	}
	v, err := l.run(ctx, opConfirm, ws, append([]any{id, ms(slot)}, newSpec(lim).args()...)...)
	if err != nil {
		return ConfirmResult{}, err
	}
	var r reply
	res := r.list(v)
	out := ConfirmResult{At: fromMs(r.int(res, 3))}
	switch r.str(res, 0) {
	case "G":
		out.Outcome, out.Slot = Go, slot
	case "W":
		out.Outcome, out.Slot = Wait, slot
	case "M":
		out.Outcome = Moved
	default:
		out.Outcome = Lost
	}
	if st := r.str(res, 1); st != "" {
		out.Reservation = reservation(id, st, r.int(res, 2))
	}
	return out, r.err
}

// Cancel frees a pending or reserved-but-uncommitted request, so its slot
// goes to the next request. It returns ErrCommitted for a committed one and
// nil for an unknown one.
func (l *Limiter) Cancel(ctx context.Context, ws, id string) error {
	v, err := l.run(ctx, opCancel, ws, id)
	if err != nil {
		return err
	}
	if n, _ := v.(int64); n == 2 {
		return ErrCommitted
	}
	return nil
}

// Block records an upstream 429: no slot before until, and every
// reserved-but-uncommitted request goes back to pending in its original
// order (Promote hands them slots again).
func (l *Limiter) Block(ctx context.Context, ws string, until time.Time) error {
	_, err := l.run(ctx, opBlock, ws, ms(until))
	return err
}

// ReleaseSegment records a successful archive of segment: the active-segment
// units that committed requests hold for it are freed now.
func (l *Limiter) ReleaseSegment(ctx context.Context, ws, segment string) error {
	_, err := l.run(ctx, opRelease, ws, segment)
	return err
}

// Reserved lists the reserved-but-uncommitted requests by slot, then ID.
func (l *Limiter) Reserved(ctx context.Context, ws string) ([]Reservation, error) {
	v, err := l.run(ctx, opReserved, ws)
	if err != nil {
		return nil, err
	}
	var r reply
	ps := r.pairs(r.list(v))
	out := make([]Reservation, len(ps))
	for i, p := range ps {
		out[i] = reservation(p.key, "R", p.score)
	}
	return out, r.err
}

// Usage reports the workspace's use of every limit now.
func (l *Limiter) Usage(ctx context.Context, ws string, lim Limits) (Usage, error) {
	if err := lim.Validate(); err != nil {
		return Usage{}, err
	}
	v, err := l.run(ctx, opUsage, ws, newSpec(lim).args()...)
	if err != nil {
		return Usage{}, err
	}
	var r reply
	res := r.list(v)
	raw := rawUsage{now: r.int(res, 0), users: r.int(res, 1), active: r.int(res, 2), next: r.int(res, 3),
		reserved: r.int(res, 4), pending: r.int(res, 5), blocked: r.int(res, 6)}
	for i := range lim.Ops {
		raw.ops = append(raw.ops, r.int(res, 7+i))
	}
	if r.err != nil {
		return Usage{}, r.err
	}
	return raw.usage(lim), nil
}

// Estimate returns the expected slot of every uncommitted reservation and
// pending request, simulated on a snapshot with the reference model (see
// Model.Estimate). Requests that can never fit have no entry.
func (l *Limiter) Estimate(ctx context.Context, ws string, lim Limits) (map[string]time.Time, error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	m, now, err := l.snapshot(ctx, ws)
	if err != nil {
		return nil, err
	}
	return m.Estimate(now, lim)
}

// recordTail encodes the immutable part of a request's record, as stored
// after "S|slot|": "order|enq|prio|ops|users|hold|segment" (see decodeEntry).
func recordTail(order, ops int64, req Request) string {
	b := make([]byte, 0, 64+len(req.Segment))
	for _, n := range []int64{order, ms(req.EnqueuedAt), int64(req.Priority), ops, req.Users, req.Hold.Milliseconds()} {
		b = strconv.AppendInt(b, n, 10)
		b = append(b, '|')
	}
	return string(append(b, req.Segment...))
}

// reservation builds a Reservation from a script's status letter and slot.
func reservation(id, st string, slot int64) Reservation {
	r := Reservation{ID: id}
	switch st {
	case "R":
		r.Status = Reserved
	case "C":
		r.Status = Committed
	default:
		r.Status = Pending
		return r
	}
	r.Slot = fromMs(slot)
	r.ETA = r.Slot
	return r
}

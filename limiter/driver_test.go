package limiter

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// t0 is the test epoch in ms; scenario times are offsets from it.
const t0 = int64(1_750_000_000_000)

// at converts a test offset (ms) to a time.
func at(off int64) time.Time { return time.UnixMilli(t0 + off).UTC() }

// driver runs limiter operations on one workspace at a controlled time:
// either the Lua limiter on miniredis or the reference model.
type driver interface {
	setTime(off int64)
	Reserve(lim Limits, req Request) (Reservation, error)
	Promote(lim Limits) ([]Reservation, error)
	Confirm(id string, slot time.Time, lim Limits) (ConfirmResult, error)
	Cancel(id string) error
	Block(until time.Time) error
	ReleaseSegment(seg string) error
	Reserved() ([]Reservation, error)
	Usage(lim Limits) (Usage, error)
	Estimate(lim Limits) (map[string]time.Time, error)
	state() (*Model, error)
}

type modelDriver struct {
	m   *Model
	now time.Time
}

func newModelDriver() *modelDriver { return &modelDriver{m: NewModel(), now: at(0)} }

func (d *modelDriver) setTime(off int64) { d.now = at(off) }
func (d *modelDriver) Reserve(lim Limits, req Request) (Reservation, error) {
	return d.m.Reserve(d.now, lim, req)
}
func (d *modelDriver) Promote(lim Limits) ([]Reservation, error) { return d.m.Promote(d.now, lim) }
func (d *modelDriver) Confirm(id string, slot time.Time, lim Limits) (ConfirmResult, error) {
	return d.m.Confirm(d.now, id, slot, lim)
}
func (d *modelDriver) Cancel(id string) error           { return d.m.Cancel(id) }
func (d *modelDriver) Block(until time.Time) error      { d.m.Block(until); return nil }
func (d *modelDriver) ReleaseSegment(seg string) error  { d.m.ReleaseSegment(seg); return nil }
func (d *modelDriver) Reserved() ([]Reservation, error) { return d.m.Reserved(), nil }
func (d *modelDriver) Usage(lim Limits) (Usage, error)  { return d.m.Usage(d.now, lim) }
func (d *modelDriver) state() (*Model, error)           { return d.m, nil }
func (d *modelDriver) Estimate(lim Limits) (map[string]time.Time, error) {
	return d.m.Estimate(d.now, lim)
}

type luaDriver struct {
	mr  *miniredis.Miniredis
	rdb *redis.Client
	l   *Limiter
	ws  string
	ctx context.Context
}

// newLuaDriver starts a miniredis; the caller must call close.
func newLuaDriver() (*luaDriver, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	d := &luaDriver{mr: mr, rdb: rdb, l: New(rdb), ws: "ws1", ctx: context.Background()}
	d.setTime(0)
	return d, nil
}

func (d *luaDriver) close() {
	_ = d.rdb.Close()
	d.mr.Close()
}

func (d *luaDriver) setTime(off int64) { d.mr.SetTime(at(off)) }
func (d *luaDriver) Reserve(lim Limits, req Request) (Reservation, error) {
	return d.l.Reserve(d.ctx, d.ws, lim, req)
}
func (d *luaDriver) Promote(lim Limits) ([]Reservation, error) { return d.l.Promote(d.ctx, d.ws, lim) }
func (d *luaDriver) Confirm(id string, slot time.Time, lim Limits) (ConfirmResult, error) {
	return d.l.Confirm(d.ctx, d.ws, id, slot, lim)
}
func (d *luaDriver) Cancel(id string) error          { return d.l.Cancel(d.ctx, d.ws, id) }
func (d *luaDriver) Block(until time.Time) error     { return d.l.Block(d.ctx, d.ws, until) }
func (d *luaDriver) ReleaseSegment(seg string) error { return d.l.ReleaseSegment(d.ctx, d.ws, seg) }
func (d *luaDriver) Reserved() ([]Reservation, error) {
	return d.l.Reserved(d.ctx, d.ws)
}
func (d *luaDriver) Usage(lim Limits) (Usage, error) { return d.l.Usage(d.ctx, d.ws, lim) }
func (d *luaDriver) Estimate(lim Limits) (map[string]time.Time, error) {
	return d.l.Estimate(d.ctx, d.ws, lim)
}
func (d *luaDriver) state() (*Model, error) {
	s, err := d.l.readSnapshot(d.ctx, d.ws)
	if err != nil {
		return nil, err
	}
	if err := s.consistent(); err != nil {
		return nil, err
	}
	return s.model()
}

// forBoth runs fn against the model and against Lua on miniredis.
func forBoth(t *testing.T, fn func(t *testing.T, d driver)) {
	t.Run("model", func(t *testing.T) {
		t.Parallel()
		fn(t, newModelDriver())
	})
	t.Run("lua", func(t *testing.T) {
		t.Parallel()
		d, err := newLuaDriver()
		require.NoError(t, err)
		t.Cleanup(d.close)
		fn(t, d)
	})
}

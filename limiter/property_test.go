package limiter

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// commit is an op as upstream saw it: sent at `at` (Redis time of Go).
type commit struct {
	id         string
	at, end    int64 // end: when its active-segment unit ends upstream
	ops, users int64
	seg        string
}

// prop drives the Lua limiter and the model with the same random actions.
type prop struct {
	lua     *luaDriver
	mdl     *modelDriver
	lim     Limits
	sp      spec
	now     int64
	reqs    map[string]Request
	ids     []string
	commits []commit
}

func genLimits(t *rapid.T) Limits {
	ms := func(lo, hi int64, name string) time.Duration {
		return time.Duration(rapid.Int64Range(lo, hi).Draw(t, name)) * time.Millisecond
	}
	lim := Limits{
		Users:          Window{ms(5, 150, "users_len"), rapid.Int64Range(1, 8).Draw(t, "users_max")},
		ActiveSegments: rapid.Int64Range(0, 3).Draw(t, "gauge_max"),
		SafetyMargin:   ms(0, 20, "margin"),
		Horizon:        ms(0, 300, "horizon"),
		Aging:          ms(0, 60, "aging"),
	}
	for i := range rapid.IntRange(0, 2).Draw(t, "n_ops") {
		lim.Ops = append(lim.Ops, Window{ms(5, 150, fmt.Sprint("ops_len", i)), rapid.Int64Range(1, 3).Draw(t, fmt.Sprint("ops_max", i))})
	}
	lim.Grace = time.Duration(rapid.Int64Range(0, lim.SafetyMargin.Milliseconds()).Draw(t, "grace")) * time.Millisecond
	return lim
}

// TestModelMatchesLua runs random sequences of every operation and time
// jumps against the Lua limiter on miniredis and the reference model,
// requiring equal answers and equal state after every step, every slot to
// be the earliest feasible one (by brute force), no limit exceeded at any
// instant, and no upstream window exceeded by the confirmed ops.
func TestModelMatchesLua(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		lua, err := newLuaDriver()
		require.NoError(t, err)
		defer lua.close()
		p := &prop{lua: lua, mdl: newModelDriver(), lim: genLimits(t), reqs: map[string]Request{}}
		p.sp = newSpec(p.lim)
		t.Repeat(map[string]func(*rapid.T){
			"reserve":  p.reserve,
			"reserve2": p.reserve,
			"work":     p.work,
			"work2":    p.work,
			"work3":    p.work,
			"promote":  p.promote,
			"confirm":  p.confirm,
			"cancel":   p.cancel,
			"block":    p.block,
			"release":  p.release,
			"advance":  p.advance,
			"observe":  p.observe,
			"reserved": p.reserved,
			"":         p.check,
		})
	})
}

func (p *prop) pickID(t *rapid.T) string {
	if len(p.ids) == 0 || rapid.IntRange(0, 9).Draw(t, "unknown") == 0 {
		return "nobody"
	}
	return rapid.SampledFrom(p.ids).Draw(t, "id")
}

// pre is the model's state as the next decision sees it (trimmed at now).
func (p *prop) pre() *Model {
	m := p.mdl.m.clone()
	m.trim(t0+p.now, p.sp)
	return m
}

func (p *prop) reserve(t *rapid.T) {
	var r Request
	if len(p.ids) > 0 && rapid.IntRange(0, 3).Draw(t, "again") == 0 {
		r = p.reqs[rapid.SampledFrom(p.ids).Draw(t, "id")]
	} else {
		r = Request{
			ID:         fmt.Sprintf("j%03d", len(p.ids)),
			Priority:   Priority(rapid.IntRange(0, 2).Draw(t, "prio")),
			EnqueuedAt: at(p.now - rapid.Int64Range(0, 80).Draw(t, "waited")),
			Ops:        rapid.SampledFrom([]int64{1, 1, 1, 0, 2}).Draw(t, "ops"),
			Users:      rapid.SampledFrom([]int64{1, 1, 1, 0, 2, 3}).Draw(t, "users"),
			Segment:    fmt.Sprint("s", rapid.IntRange(0, 2).Draw(t, "seg")),
		}
		if rapid.Bool().Draw(t, "hold") {
			r.Hold = time.Duration(rapid.Int64Range(1, 300).Draw(t, "hold_ms")) * time.Millisecond
		}
		if rapid.IntRange(0, 19).Draw(t, "heavy") == 0 {
			r.Users = p.lim.Users.Max + 1
		}
		if CheckWeight(p.lim, r) == nil {
			p.reqs[r.ID] = r
			p.ids = append(p.ids, r.ID)
		}
	}
	pre := p.pre()
	got, err := p.lua.Reserve(p.lim, r)
	want, werr := p.mdl.Reserve(p.lim, r)
	require.Equal(t, werr, err)
	require.Equal(t, want, got)
	_, existed := pre.entries[r.ID]
	if err != nil || existed {
		return
	}
	e := p.mdl.m.entries[r.ID]
	brute := bruteEarliest(pre, p.sp, e, max(t0+p.now, pre.blocked))
	switch {
	case got.Status == Reserved:
		require.Equal(t, brute, ms(got.Slot), "reserve slot is the earliest feasible")
	case pre.head() == nil || e.before(pre.head()):
		require.Greater(t, brute, t0+p.now+p.sp.horizon, "pending at the head only beyond the horizon")
	}
}

func (p *prop) promote(t *rapid.T) {
	pre := p.pre()
	got, err := p.lua.Promote(p.lim)
	require.NoError(t, err)
	want, err := p.mdl.Promote(p.lim)
	require.NoError(t, err)
	require.Equal(t, want, got)
	for _, r := range got {
		e := pre.entries[r.ID]
		require.Equal(t, e, pre.head(), "promoted in order")
		require.Equal(t, bruteEarliest(pre, p.sp, e, max(t0+p.now, pre.blocked)), ms(r.Slot))
		pre.reserve(e, ms(r.Slot), p.sp)
	}
	if h := pre.head(); h != nil {
		require.Greater(t, bruteEarliest(pre, p.sp, h, max(t0+p.now, pre.blocked)), t0+p.now+p.sp.horizon)
	}
}

func (p *prop) confirm(t *rapid.T) {
	id := p.pickID(t)
	slot := at(p.now + rapid.Int64Range(-50, 50).Draw(t, "slot"))
	e, ok := p.mdl.m.entries[id]
	if ok && e.status != Pending && rapid.IntRange(0, 4).Draw(t, "right_slot") > 0 {
		slot = fromMs(e.slot)
	}
	p.confirmSlot(t, id, slot)
}

func (p *prop) confirmSlot(t *rapid.T, id string, slot time.Time) {
	before := Status(0)
	if e, ok := p.mdl.m.entries[id]; ok {
		before = e.status
	}
	got, err := p.lua.Confirm(id, slot, p.lim)
	require.NoError(t, err)
	want, err := p.mdl.Confirm(id, slot, p.lim)
	require.NoError(t, err)
	require.Equal(t, want, got)
	if got.Outcome == Go && before == Reserved {
		r := p.reqs[id]
		c := commit{id: id, at: t0 + p.now, end: t0 + p.now, ops: min(r.Ops, 1), users: r.Users, seg: r.Segment}
		if r.Hold > 0 {
			c.end += r.Hold.Milliseconds()
		}
		p.commits = append(p.commits, c)
	}
}

// work plays a worker: wait for a reservation's slot (sometimes past its
// grace) and confirm it.
func (p *prop) work(t *rapid.T) {
	rs := p.mdl.m.Reserved()
	if len(rs) == 0 {
		t.Skip("nothing reserved")
	}
	r := rapid.SampledFrom(rs).Draw(t, "res")
	if s := ms(r.Slot) - t0; s > p.now {
		p.now = s
	}
	p.now += rapid.Int64Range(0, p.sp.grace+1).Draw(t, "late")
	p.lua.setTime(p.now)
	p.mdl.setTime(p.now)
	p.confirmSlot(t, r.ID, r.Slot)
}

func (p *prop) cancel(t *rapid.T) {
	id := p.pickID(t)
	require.Equal(t, p.mdl.Cancel(id), p.lua.Cancel(id))
}

func (p *prop) block(t *rapid.T) {
	until := at(p.now + rapid.Int64Range(-20, 200).Draw(t, "until"))
	require.NoError(t, p.lua.Block(until))
	require.NoError(t, p.mdl.Block(until))
}

func (p *prop) release(t *rapid.T) {
	seg := fmt.Sprint("s", rapid.IntRange(0, 2).Draw(t, "seg"))
	require.NoError(t, p.lua.ReleaseSegment(seg))
	require.NoError(t, p.mdl.ReleaseSegment(seg))
	for i, c := range p.commits {
		if c.seg == seg && c.end > t0+p.now {
			p.commits[i].end = max(c.at, t0+p.now)
		}
	}
}

func (p *prop) advance(t *rapid.T) {
	step := rapid.Int64Range(0, 40).Draw(t, "step")
	if rapid.IntRange(0, 9).Draw(t, "jump") == 0 {
		step = rapid.Int64Range(0, 600).Draw(t, "far")
	}
	p.now += step
	p.lua.setTime(p.now)
	p.mdl.setTime(p.now)
}

func (p *prop) observe(t *rapid.T) {
	gotU, err := p.lua.Usage(p.lim)
	require.NoError(t, err)
	wantU, err := p.mdl.Usage(p.lim)
	require.NoError(t, err)
	require.Equal(t, wantU, gotU)
	gotE, err := p.lua.Estimate(p.lim)
	require.NoError(t, err)
	wantE, err := p.mdl.Estimate(p.lim)
	require.NoError(t, err)
	require.Equal(t, wantE, gotE)
}

func (p *prop) reserved(t *rapid.T) {
	got, err := p.lua.Reserved()
	require.NoError(t, err)
	want, err := p.mdl.Reserved()
	require.NoError(t, err)
	require.Equal(t, len(want), len(got))
	if len(want) > 0 {
		require.Equal(t, want, got)
	}
}

// check runs after every action: same state on both sides, no limit
// exceeded at any instant, no upstream window exceeded.
func (p *prop) check(t *rapid.T) {
	m, err := p.lua.state()
	require.NoError(t, err)
	require.Equal(t, p.mdl.m, m)
	require.NoError(t, p.headSlotBound())
	require.NoError(t, bruteCapacity(m, p.sp))
	require.NoError(t, upstreamCheck(p.commits, p.sp))
}

// headSlotBound checks the p bound of the Lua state (Promote's fast path):
// recorded for the current limits, it is at most the earliest slot the
// queue's head can get now, in the state as the last step left it. (The
// fast path runs only when trimming is not due, when that state is the
// trimmed one.)
func (p *prop) headSlotBound() error {
	s, err := p.lua.l.readSnapshot(p.lua.ctx, p.lua.ws)
	if err != nil {
		return err
	}
	raw, ok := s.bounds["p"]
	if !ok {
		return nil
	}
	// The limits never change within a run, so a p bound must carry them:
	// under other limits the fast path would never trust it.
	if pf := s.bounds["pf"]; pf != p.sp.args()[2] {
		return fmt.Errorf("p bound %q recorded under limits %q, want %q", raw, pf, p.sp.args()[2])
	}
	bound, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("p bound %q: %w", raw, err)
	}
	bound += p.sp.horizon
	m := p.mdl.m.clone()
	head := m.head()
	if head == nil {
		return fmt.Errorf("p bound %q with an empty queue", raw)
	}
	if got := m.timeline().earliest(max(t0+p.now, m.blocked), p.sp, head); got < bound {
		return fmt.Errorf("p bound %d above the head's earliest slot %d", bound-t0, got-t0)
	}
	return nil
}

// upstreamCheck verifies the confirmed ops against the limits as upstream
// applies them (no margin): every window starting at a send holds at most
// its max, and the active segments at every send are within the gauge.
func upstreamCheck(cs []commit, sp spec) error {
	for _, c := range cs {
		for i, w := range sp.ops {
			if n := sumIn(cs, c.at, w.length, func(c commit) int64 { return c.ops }); n > w.max {
				return fmt.Errorf("upstream ops[%d]: %d ops in [%d, +%d)", i, n, c.at-t0, w.length)
			}
		}
		if n := sumIn(cs, c.at, sp.users.length, func(c commit) int64 { return c.users }); n > sp.users.max {
			return fmt.Errorf("upstream users: %d in [%d, +%d)", n, c.at-t0, sp.users.length)
		}
		var active int64
		for _, o := range cs {
			if o.at <= c.at && c.at < o.end {
				active++
			}
		}
		if active > sp.gauge {
			return fmt.Errorf("upstream gauge: %d active at %d", active, c.at-t0)
		}
	}
	return nil
}

func sumIn(cs []commit, from, length int64, w func(commit) int64) int64 {
	var n int64
	for _, c := range cs {
		if c.at >= from && c.at < from+length {
			n += w(c)
		}
	}
	return n
}

// The property test above compares the model with the scripts; this one
// holds the model alone against brute force on longer runs, faster.
func TestModelEarliestIsBruteForce(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		lim := genLimits(t)
		sp := newSpec(lim)
		m := NewModel()
		now := int64(0)
		for i := range rapid.IntRange(1, 80).Draw(t, "n") {
			now += rapid.Int64Range(0, 30).Draw(t, "step")
			r := Request{ID: fmt.Sprintf("j%03d", i), EnqueuedAt: at(now),
				Ops: rapid.Int64Range(0, 1).Draw(t, "ops"), Users: rapid.Int64Range(0, 3).Draw(t, "users")}
			if rapid.Bool().Draw(t, "hold") {
				r.Hold = time.Duration(rapid.Int64Range(1, 200).Draw(t, "hold_ms")) * time.Millisecond
			}
			if CheckWeight(lim, r) != nil {
				continue
			}
			pre := m.clone()
			pre.trim(t0+now, sp)
			e := &entry{id: r.ID, ops: r.Ops, users: r.Users, hold: r.Hold.Milliseconds()}
			want := bruteEarliest(pre, sp, e, t0+now)
			tl := pre.timeline()
			require.Equal(t, want, tl.earliest(t0+now, sp, e))
			if want != never {
				pre.reserve(e, want, sp)
				e.status = Committed
				pre.entries[e.id] = e
				require.NoError(t, bruteCapacity(pre, sp))
				m = pre
			}
		}
	})
}

package limiter

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// small returns tight limits in milliseconds for scenario tests.
func small(opsMax int64, margin time.Duration) Limits {
	return Limits{
		Ops:            []Window{{Length: 100 * time.Millisecond, Max: opsMax}},
		Users:          Window{Length: 100 * time.Millisecond, Max: 1000},
		ActiveSegments: 10,
		SafetyMargin:   margin,
		Horizon:        time.Second,
		Aging:          time.Second,
		Grace:          margin / 2,
	}
}

func req(id string, enq int64) Request {
	return Request{ID: id, EnqueuedAt: at(enq), Ops: 1, Users: 1}
}

func reserve(t *testing.T, d driver, lim Limits, r Request) Reservation {
	t.Helper()
	res, err := d.Reserve(lim, r)
	require.NoError(t, err)
	return res
}

func confirm(t *testing.T, d driver, lim Limits, id string, slot time.Time) ConfirmResult {
	t.Helper()
	cr, err := d.Confirm(id, slot, lim)
	require.NoError(t, err)
	return cr
}

func checkState(t *testing.T, d driver, lim Limits) {
	t.Helper()
	m, err := d.state()
	require.NoError(t, err)
	require.NoError(t, bruteCapacity(m, newSpec(lim)))
}

// A reservation in the future makes a slot infeasible even though the
// window ending at that slot is empty enough.
func TestWindowEndingAtSlotIsNotEnough(t *testing.T) {
	t.Parallel()
	forBoth(t, func(t *testing.T, d driver) {
		lim := small(2, 0)
		a := reserve(t, d, lim, req("a", 0))
		require.Equal(t, at(0), a.Slot)
		require.Equal(t, Go, confirm(t, d, lim, "a", a.Slot).Outcome)
		require.Equal(t, at(0), reserve(t, d, lim, req("b", 0)).Slot) // never confirmed
		require.Equal(t, at(100), reserve(t, d, lim, req("c", 0)).Slot)
		require.Equal(t, at(100), reserve(t, d, lim, req("d", 0)).Slot)
		d.setTime(50) // b is past its grace: freed
		// (-50, 50] holds only a, but [50, 150) would meet c and d at 100.
		e := reserve(t, d, lim, req("e", 50))
		require.Equal(t, Reserved, e.Status)
		require.Equal(t, at(200), e.Slot)
		checkState(t, d, lim)
	})
}

// A cancelled reservation's slot goes to the next request, even before
// later reservations.
func TestCancelFreesSlot(t *testing.T) {
	t.Parallel()
	forBoth(t, func(t *testing.T, d driver) {
		lim := small(1, 0)
		require.Equal(t, at(0), reserve(t, d, lim, req("a", 0)).Slot)
		require.Equal(t, at(100), reserve(t, d, lim, req("b", 0)).Slot)
		require.NoError(t, d.Cancel("a"))
		require.Equal(t, at(0), reserve(t, d, lim, req("c", 0)).Slot)
		require.NoError(t, d.Cancel("nobody"))
		require.Equal(t, at(200), reserve(t, d, lim, req("e", 0)).Slot)
		checkState(t, d, lim)
	})
}

func TestGaugeExpiryAndRelease(t *testing.T) {
	t.Parallel()
	forBoth(t, func(t *testing.T, d driver) {
		lim := small(10, 10*time.Millisecond)
		lim.ActiveSegments = 1
		create := func(id, seg string) Request {
			r := req(id, 0)
			r.Segment, r.Hold = seg, 100*time.Millisecond
			return r
		}
		a := reserve(t, d, lim, create("a", "s1"))
		require.Equal(t, at(0), a.Slot)
		require.Equal(t, Go, confirm(t, d, lim, "a", a.Slot).Outcome)
		// a holds [0, 110): hold plus margin.
		require.Equal(t, at(110), reserve(t, d, lim, create("b", "s2")).Slot)
		// A non-create ignores the gauge.
		require.Equal(t, at(0), reserve(t, d, lim, req("x", 0)).Slot)

		d.setTime(20)
		require.NoError(t, d.ReleaseSegment("s2")) // b is not committed: stays
		u, err := d.Usage(lim)
		require.NoError(t, err)
		require.Equal(t, int64(1), u.ActiveSegments)
		require.NoError(t, d.ReleaseSegment("s1"))
		require.NoError(t, d.Cancel("b"))
		c := reserve(t, d, lim, create("c", "s3"))
		require.Equal(t, at(20), c.Slot)
		require.Equal(t, Go, confirm(t, d, lim, "c", c.Slot).Outcome)

		// Expiry: c holds [20, 130); after that d fits.
		d.setTime(40)
		require.Equal(t, at(130), reserve(t, d, lim, create("d", "s4")).Slot)
		checkState(t, d, lim)
	})
}

func TestTooHeavy(t *testing.T) {
	t.Parallel()
	lim := DefaultLimits()
	cases := []struct {
		name string
		mod  func(*Request, *Limits)
		msg  string
	}{
		{"users", func(r *Request, _ *Limits) { r.Users = 2_500_000 },
			"users 2500000 exceed the user window max 2000000 by 500000"},
		{"ops", func(r *Request, l *Limits) { l.Ops = []Window{{time.Hour, 0}} },
			"ops 1 exceed the 1h0m0s window max 0 by 1"},
		{"gauge", func(r *Request, l *Limits) { r.Hold, l.ActiveSegments = time.Hour, 0 },
			"active segments 1 exceed the active segment max 0 by 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forBoth(t, func(t *testing.T, d driver) {
				r, l := req("a", 0), lim
				c.mod(&r, &l)
				_, err := d.Reserve(l, r)
				var th *TooHeavyError
				require.ErrorAs(t, err, &th)
				require.Equal(t, c.msg, err.Error())
				u, err := d.Usage(l)
				require.NoError(t, err)
				require.Zero(t, u.Pending+u.Reserved)
			})
		})
	}
}

// After a 429, reserved-but-uncommitted requests go back to pending in
// their original order and get slots again after the block.
func TestBlockKeepsOrder(t *testing.T) {
	t.Parallel()
	forBoth(t, func(t *testing.T, d driver) {
		lim := small(1, 0)
		for i, id := range []string{"a", "b", "c"} {
			require.Equal(t, at(int64(i)*100), reserve(t, d, lim, req(id, int64(i))).Slot)
		}
		require.NoError(t, d.Block(at(500)))
		rs, err := d.Reserved()
		require.NoError(t, err)
		require.Empty(t, rs)
		cr := confirm(t, d, lim, "a", at(0))
		require.Equal(t, Moved, cr.Outcome)
		require.Equal(t, Pending, cr.Reservation.Status)
		// A newcomer queues behind them even though slots are free.
		require.Equal(t, Pending, reserve(t, d, lim, req("d", 3)).Status)
		u, err := d.Usage(lim)
		require.NoError(t, err)
		require.Equal(t, int64(4), u.Pending)
		require.Equal(t, at(500), u.BlockedUntil)

		got, err := d.Promote(lim)
		require.NoError(t, err)
		require.Equal(t, []Reservation{
			{ID: "a", Status: Reserved, Slot: at(500), ETA: at(500)},
			{ID: "b", Status: Reserved, Slot: at(600), ETA: at(600)},
			{ID: "c", Status: Reserved, Slot: at(700), ETA: at(700)},
			{ID: "d", Status: Reserved, Slot: at(800), ETA: at(800)},
		}, got)
		checkState(t, d, lim)
	})
}

func TestConfirmOutcomes(t *testing.T) {
	t.Parallel()
	forBoth(t, func(t *testing.T, d driver) {
		lim := small(1, 20*time.Millisecond) // grace 10ms
		a := reserve(t, d, lim, req("a", 0))
		b := reserve(t, d, lim, req("b", 0))
		require.Equal(t, at(120), b.Slot)
		require.Equal(t, Go, confirm(t, d, lim, "a", a.Slot).Outcome)

		d.setTime(5)
		cr := confirm(t, d, lim, "a", a.Slot)
		require.Equal(t, Go, cr.Outcome, "idempotent within grace")
		require.Equal(t, Committed, cr.Reservation.Status)
		require.ErrorIs(t, d.Cancel("a"), ErrCommitted)
		cr = confirm(t, d, lim, "b", b.Slot)
		require.Equal(t, Wait, cr.Outcome)
		require.Equal(t, b.Slot, cr.Slot)
		require.Equal(t, at(5), cr.At)
		require.Equal(t, Moved, confirm(t, d, lim, "b", at(7)).Outcome)

		d.setTime(131) // b's grace ended at 130
		require.Equal(t, Lost, confirm(t, d, lim, "b", b.Slot).Outcome)
		require.Equal(t, Lost, confirm(t, d, lim, "a", a.Slot).Outcome, "committed, past grace")
		require.Equal(t, Lost, confirm(t, d, lim, "zz", a.Slot).Outcome)
		b2 := reserve(t, d, lim, req("b", 0))
		require.Equal(t, at(131), b2.Slot)
		require.Equal(t, Go, confirm(t, d, lim, "b", b2.Slot).Outcome)
		checkState(t, d, lim)
	})
}

// A high job enqueued behind 1000 waiting default jobs takes the next free
// slot after those already handed out inside the horizon.
func TestHighOvertakesThousandDefaults(t *testing.T) {
	t.Parallel()
	forBoth(t, func(t *testing.T, d driver) {
		lim := DefaultLimits()
		var first []time.Time
		for i := range 1000 {
			r := req(fmt.Sprintf("d%04d", i), int64(i))
			r.Users = 100
			res := reserve(t, d, lim, r)
			if res.Status == Reserved {
				first = append(first, res.Slot)
				require.Equal(t, Go, confirm(t, d, lim, r.ID, res.Slot).Outcome)
			}
		}
		require.Len(t, first, 10, "10/h: ten slots at once, the 11th is beyond the 1h horizon")
		d.setTime(10_000)
		h := req("high", 10_000)
		h.Priority, h.Users = PriorityHigh, 100
		require.Equal(t, Pending, reserve(t, d, lim, h).Status)

		eta, err := d.Estimate(lim)
		require.NoError(t, err)
		next := at(0).Add(time.Hour + lim.SafetyMargin)
		require.Equal(t, next, eta["high"])
		require.False(t, eta["d0010"].Before(next))
		// high took one of the ten slots at next: d0019 moves an hour on.
		require.Equal(t, next, eta["d0018"])
		require.Equal(t, next.Add(time.Hour+lim.SafetyMargin), eta["d0019"])

		d.setTime(next.Sub(at(0)).Milliseconds() - lim.Horizon.Milliseconds())
		got, err := d.Promote(lim)
		require.NoError(t, err)
		require.NotEmpty(t, got)
		require.Equal(t, "high", got[0].ID)
		require.Equal(t, next, got[0].Slot)
		for _, r := range got[1:] {
			require.Equal(t, eta[r.ID], r.Slot, r.ID)
		}
	})
}

// Priority order: FIFO within a priority; a high overtakes defaults that
// waited less than Aging but not those that waited longer.
func TestPriorityAging(t *testing.T) {
	t.Parallel()
	forBoth(t, func(t *testing.T, d driver) {
		lim := small(1, 0)
		lim.Horizon = 0
		require.Equal(t, Reserved, reserve(t, d, lim, req("a", 0)).Status)
		older := req("older", -500) // order 500: waited over Aging when hi came
		old := req("old", 0)        // order 1000
		young := req("young", 600)  // order 1600
		hi := req("hi", 700)        // order 700
		hi.Priority = PriorityHigh
		low := req("low", -3000) // order -1000: waited over two Agings
		low.Priority = PriorityLow
		for _, r := range []Request{older, old, young, hi, low} {
			require.Equal(t, Pending, reserve(t, d, lim, r).Status)
		}
		var order []string
		for off := int64(100); off <= 600; off += 100 {
			d.setTime(off)
			got, err := d.Promote(lim)
			require.NoError(t, err)
			for _, r := range got {
				order = append(order, r.ID)
			}
		}
		require.Equal(t, []string{"low", "older", "hi", "old", "young"}, order)
	})
}

func TestUsage(t *testing.T) {
	t.Parallel()
	forBoth(t, func(t *testing.T, d driver) {
		lim := small(3, 10*time.Millisecond)
		lim.Ops = append(lim.Ops, Window{Length: time.Second, Max: 5})
		for i, id := range []string{"a", "b", "c", "d"} {
			r := req(id, int64(i))
			r.Users = 10 * int64(i+1)
			res := reserve(t, d, lim, r)
			if res.Slot.Equal(at(0)) {
				require.Equal(t, Go, confirm(t, d, lim, id, res.Slot).Outcome)
			}
		}
		d.setTime(5)
		u, err := d.Usage(lim)
		require.NoError(t, err)
		require.Equal(t, []WindowUsage{
			{Length: 100 * time.Millisecond, Window: "100ms", Used: 3, Max: 3},
			{Length: time.Second, Window: "1s", Used: 3, Max: 5},
		}, u.Ops)
		require.Equal(t, WindowUsage{Length: 100 * time.Millisecond, Window: "100ms", Used: 60, Max: 1000}, u.Users)
		require.Equal(t, int64(1), u.Reserved)
		require.Equal(t, at(110), u.NextSlot)
		require.Equal(t, at(5), u.At)
	})
}

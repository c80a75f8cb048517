package moesim_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/moesim"
)

const hour = time.Hour

var tooMany = map[string]any{"title": "Too Many Requests",
	"description": "File segment operations limit breached. Please retry after some time."}

func TestOpsWindows(t *testing.T) {
	t.Parallel()
	b := setup(t, withLimits(moesim.Limits{
		Ops: []moesim.Window{{Length: 2 * time.Second, Max: 3}, {Length: 10 * time.Second, Max: 5}},
	}))
	start := b.clock.Now()
	b.create(t, "seg", 1) // op 1 at t=0
	b.clock.Advance(500 * time.Millisecond)
	for i := range 2 { // ops 2 and 3 at t=0.5
		r := b.call(t, http.MethodPut, moengage.PathAddUsers, b.opBody("seg", 1, "a"+strconv.Itoa(i)))
		require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	}
	r := b.call(t, http.MethodPut, moengage.PathAddUsers, b.opBody("seg", 1, "b"))
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, tooMany, r.json(t))
	require.Equal(t, "3", r.header.Get("x-ratelimit-limit"))
	require.Equal(t, "0", r.header.Get("x-ratelimit-remaining"))
	// Op 1 leaves the 2 s window at exactly t=2 s: (now-2s, now] excludes it.
	require.Equal(t, strconv.FormatInt(start.Add(2*time.Second).Unix(), 10), r.header.Get("x-ratelimit-reset"))

	b.clock.Advance(1499 * time.Millisecond) // t=1.999: op 1 still inside
	r = b.call(t, http.MethodPut, moengage.PathAddUsers, b.opBody("seg", 1, "b"))
	require.Equal(t, http.StatusTooManyRequests, r.status)

	b.clock.Advance(time.Millisecond) // t=2: op 1 out, room for one
	r = b.call(t, http.MethodPut, moengage.PathAddUsers, b.opBody("seg", 1, "b"))
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	require.Equal(t, "0", r.header.Get("x-ratelimit-remaining"))

	// Ops 2 and 3 leave at t=2.5; op 5 fits the 10 s window, op 6 does not.
	b.clock.Advance(500 * time.Millisecond)
	r = b.call(t, http.MethodPut, moengage.PathAddUsers, b.opBody("seg", 1, "c"))
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	r = b.call(t, http.MethodPut, moengage.PathAddUsers, b.opBody("seg", 1, "d"))
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "5", r.header.Get("x-ratelimit-limit"))
	require.Equal(t, strconv.FormatInt(start.Add(10*time.Second).Unix(), 10), r.header.Get("x-ratelimit-reset"))

	st := b.sim.Stats()
	require.Equal(t, int64(3), st.Rejected429)
	require.Equal(t, int64(5), st.Accepted)
	require.Len(t, b.sim.Accepted(), 5)
}

func TestUsersWindowCountsFileValues(t *testing.T) {
	t.Parallel()
	b := setup(t, withLimits(moesim.Limits{
		Ops:   []moesim.Window{{Length: hour, Max: 100}},
		Users: moesim.Window{Length: 10 * time.Second, Max: 5},
	}))
	start := b.clock.Now()
	b.create(t, "seg", 3)
	b.clock.Advance(time.Second)

	// Empty rows are not users: 3 values plus blank lines still make 3.
	body := b.opBody("seg", 0, "blank")
	body["file_url"] = b.file("/blank.csv", "a\n\n  \nb\r\nc")
	r := b.call(t, http.MethodPut, moengage.PathAddUsers, body)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "5", r.header.Get("x-ratelimit-limit"))
	require.Equal(t, "2", r.header.Get("x-ratelimit-remaining"))
	require.Equal(t, strconv.FormatInt(start.Add(10*time.Second).Unix(), 10), r.header.Get("x-ratelimit-reset"))

	r = b.call(t, http.MethodPut, moengage.PathAddUsers, b.opBody("seg", 2, "two"))
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)

	// A file heavier than the whole window never fits: no reset to give.
	r = b.call(t, http.MethodPut, moengage.PathReplace, b.opBody("seg", 6, "six"))
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Empty(t, r.header.Get("x-ratelimit-reset"))

	users := []int64{}
	for _, rec := range b.sim.Accepted() {
		users = append(users, rec.Users)
	}
	require.Equal(t, []int64{3, 2}, users)
}

func TestActiveSegments(t *testing.T) {
	t.Parallel()
	b := setup(t, withDelay(hour), withLimits(moesim.Limits{
		Ops:            []moesim.Window{{Length: hour, Max: 100}},
		ActiveSegments: 2,
	}))
	b.create(t, "a", 1)
	b.create(t, "b", 1)
	r := b.call(t, http.MethodPost, moengage.PathCreate, b.createBody("c", 1))
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, tooMany, r.json(t))
	require.Equal(t, "2", r.header.Get("x-ratelimit-limit"))
	// Both expire after 30 days; the first expiry frees a unit.
	require.Equal(t, strconv.FormatInt(b.clock.Now().Add(30*24*hour).Unix(), 10), r.header.Get("x-ratelimit-reset"))

	// Non-create ops are not held back by the gauge.
	r = b.call(t, http.MethodPut, moengage.PathAddUsers, b.opBody("a", 1, "x"))
	require.Equal(t, http.StatusAccepted, r.status)

	r = b.call(t, http.MethodPatch, moengage.PathArchive, map[string]any{"name": "a"})
	require.Equal(t, http.StatusOK, r.status)
	b.create(t, "c", 1)

	r = b.call(t, http.MethodPatch, moengage.PathUnarchive, map[string]any{"name": "a"})
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.True(t, b.sim.Segments(wsID)[0].Archived)
}

func TestExpiryFreesActiveSegments(t *testing.T) {
	t.Parallel()
	b := setup(t, withDelay(hour), withLimits(moesim.Limits{ActiveSegments: 1}), func(c *moesim.Config) {
		c.ExpiryUnit = time.Second
	})
	body := b.createBody("a", 1)
	body["expiry_time"] = 2
	r := b.call(t, http.MethodPost, moengage.PathCreate, body)
	require.Equal(t, http.StatusAccepted, r.status)

	b.clock.Advance(1999 * time.Millisecond)
	require.Equal(t, http.StatusTooManyRequests, b.call(t, http.MethodPost, moengage.PathCreate, b.createBody("b", 1)).status)
	b.clock.Advance(time.Millisecond)
	require.True(t, b.sim.Segments(wsID)[0].Expired)
	b.create(t, "b", 1)

	// Unarchiving the expired one needs room again; it gets a new lifetime.
	r = b.call(t, http.MethodPatch, moengage.PathUnarchive, map[string]any{"name": "a"})
	require.Equal(t, http.StatusTooManyRequests, r.status)
}

func TestRejectedRequestsAreNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, withLimits(moesim.Limits{Ops: []moesim.Window{{Length: hour, Max: 1}}}),
		withFaults(moesim.Faults{Submit5xx: 1}))
	r := b.call(t, http.MethodPost, moengage.PathCreate, b.createBody("a", 1))
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.Equal(t, map[string]any{"title": "Internal Server Error"}, r.json(t))
	b.sim.SetFaults(moesim.Faults{})

	// The 500 did not spend the one op of the window.
	b.create(t, "a", 1)
	st := b.sim.Stats()
	require.Equal(t, int64(1), st.Failed5xx)
	require.Equal(t, int64(1), st.Accepted)
	require.Len(t, b.sim.Segments(wsID), 1)
}

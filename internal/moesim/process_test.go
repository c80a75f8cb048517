package moesim_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/moesim"
)

func ptr(v int64) *int64 { return &v }

func TestCallbackSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.createBody("seg", 0)
	body["file_url"] = b.file("/f.csv", "a\nb\n\nc\n")
	r := b.call(t, http.MethodPost, moengage.PathCreate, body)
	require.Equal(t, http.StatusAccepted, r.status)

	got := b.sink.waitPayloads(t, 1)
	p := got[0]
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), p.RequestID)
	p.RequestID = ""
	require.Equal(t, moengage.CallbackPayload{DBName: wsDB, SegmentName: "seg", Status: 201,
		ValuesFound: ptr(4), ValuesProcessed: ptr(3), UserCount: ptr(3)}, p)
	require.Equal(t, int64(3), b.sim.Segments(wsID)[0].Users)
	require.Eventually(t, func() bool { return b.sim.Stats().CallbacksSent == 1 }, 5*time.Second, 2*time.Millisecond)
}

func TestDoubleValuesSkipCorruptRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.createBody("seg", 0)
	body["attribute_type"] = "double"
	body["file_url"] = b.file("/d.csv", "1.5\n2\nabc\n3e2")
	require.Equal(t, http.StatusAccepted, b.call(t, http.MethodPost, moengage.PathCreate, body).status)
	p := b.sink.waitPayloads(t, 1)[0]
	require.Equal(t, ptr(4), p.ValuesFound)
	require.Equal(t, ptr(3), p.ValuesProcessed)
	// The users window counted all four non-empty values.
	require.Equal(t, int64(4), b.sim.Accepted()[0].Users)
}

func TestCallbackFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		limits  moesim.Limits
		faults  moesim.Faults
		file    func(b *bundle) string
		status  int
		message string
	}{
		{name: "download failed", file: func(b *bundle) string { return b.files.URL + "/missing.csv" },
			status: 400, message: "File download failed. Created custom_segment contains 0 users."},
		{name: "too large", limits: moesim.Limits{FileSize: 1 << 20},
			file:   func(b *bundle) string { return b.file("/big.csv", strings.Repeat("abcdefg\n", 1<<17)+"x") },
			status: 400, message: "File size cannot be greater than 1MB. Created custom_segment contains 0 users."},
		{name: "server error", faults: moesim.Faults{Callback5xx: 1},
			file:   func(b *bundle) string { return b.file("/ok.csv", "a\n") },
			status: 500, message: "Internal Server Error. Contact MoEngage Team."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withLimits(tc.limits), withFaults(tc.faults))
			body := b.createBody("seg", 0)
			body["file_url"] = tc.file(b)
			r := b.call(t, http.MethodPost, moengage.PathCreate, body)
			require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
			p := b.sink.waitPayloads(t, 1)[0]
			require.Equal(t, tc.status, p.Status)
			require.Equal(t, tc.message, p.ErrorMessage)
			require.Nil(t, p.ValuesFound)
			require.Nil(t, p.UserCount)
			// A failed create leaves an empty, active segment behind.
			segs := b.sim.Segments(wsID)
			require.Len(t, segs, 1)
			require.Equal(t, int64(0), segs[0].Users)
			require.False(t, segs[0].Archived)
		})
	}
}

func TestCallbackFaults(t *testing.T) {
	t.Parallel()
	t.Run("duplicate", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withFaults(moesim.Faults{DuplicateCallback: 1, CallbackDelay: time.Millisecond}))
		b.create(t, "seg", 2)
		got := b.sink.waitPayloads(t, 2)
		require.Equal(t, got[0], got[1])
		require.Eventually(t, func() bool {
			st := b.sim.Stats()
			return st.CallbacksSent == 2 && st.CallbacksDuplicated == 1 && st.InFlight == 0
		}, 5*time.Second, 2*time.Millisecond)
	})
	t.Run("lost", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withFaults(moesim.Faults{LostCallback: 1}))
		b.create(t, "seg", 2)
		require.Eventually(t, func() bool { return b.sim.Stats().CallbacksLost == 1 }, 5*time.Second, 2*time.Millisecond)
		require.Empty(t, b.sink.got())
		// The file was processed all the same.
		require.Equal(t, int64(2), b.sim.Segments(wsID)[0].Users)
	})
	t.Run("receiver error", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withFaults(moesim.Faults{SlowDownload: time.Millisecond}))
		b.sink.mu.Lock()
		b.sink.status = http.StatusServiceUnavailable
		b.sink.mu.Unlock()
		b.create(t, "seg", 2)
		require.Eventually(t, func() bool { return b.sim.Stats().CallbacksFailed == 1 }, 5*time.Second, 2*time.Millisecond)
		require.Equal(t, int64(0), b.sim.Stats().CallbacksSent)
	})
	t.Run("shares are drawn per request", func(t *testing.T) {
		t.Parallel()
		b := setup(t, withFaults(moesim.Faults{Submit5xx: 0.5}))
		statuses := map[int]int{}
		for i := range 40 {
			body := b.createBody("s"+strings.Repeat("x", i), 1)
			statuses[b.call(t, http.MethodPost, moengage.PathCreate, body).status]++
		}
		require.Positive(t, statuses[http.StatusAccepted])
		require.Positive(t, statuses[http.StatusInternalServerError])
		require.Equal(t, int64(statuses[http.StatusInternalServerError]), b.sim.Stats().Failed5xx)
	})
}

func TestCloseDropsPendingWork(t *testing.T) {
	t.Parallel()
	b := setup(t, withDelay(hour))
	b.create(t, "seg", 1)
	require.Equal(t, int64(1), b.sim.Stats().InFlight)
	b.sim.Close() // returns without waiting an hour; goleak checks the rest
	require.Equal(t, int64(0), b.sim.Stats().InFlight)
	r := b.call(t, http.MethodPost, moengage.PathCreate, b.createBody("later", 1))
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Empty(t, b.sink.got())
}

func TestSimEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.create(t, "seg", 2)
	b.sink.waitPayloads(t, 1)
	b.call(t, http.MethodPost, moengage.PathCreate, b.createBody("seg", 2)) // 409
	b.call(t, http.MethodGet, moengage.PathSegments+"?name=seg", nil, "x", "y")

	require.Eventually(t, func() bool { return b.sim.Stats().CallbacksSent == 1 }, 5*time.Second, 2*time.Millisecond)
	r := b.call(t, http.MethodGet, "/_sim/stats", nil)
	require.Equal(t, http.StatusOK, r.status)
	var stats map[string]int64
	require.NoError(t, json.Unmarshal(r.body, &stats))
	require.Equal(t, int64(3), stats["requests"], "/_sim paths are not counted")
	require.Equal(t, int64(0), stats["rejected_429"])
	require.Equal(t, int64(1), stats["callbacks_sent"])
	require.Equal(t, int64(1), stats["accepted"])
	require.Equal(t, int64(2), stats["rejected_4xx"])
	require.Contains(t, stats, "failed_5xx")
	require.Contains(t, stats, "callbacks_failed")

	r = b.call(t, http.MethodGet, "/_sim/log?workspace="+wsID, nil)
	var log []moesim.Record
	require.NoError(t, json.Unmarshal(r.body, &log))
	require.Len(t, log, 1)
	require.Equal(t, "create", log[0].Op)
	require.Equal(t, int64(2), log[0].Users)
	require.Equal(t, b.clock.Now(), log[0].At)

	r = b.call(t, http.MethodGet, "/_sim/segments?workspace="+wsID, nil)
	var segs []moesim.SegmentState
	require.NoError(t, json.Unmarshal(r.body, &segs))
	require.Len(t, segs, 1)
	require.Equal(t, int64(2), segs[0].Users)
}

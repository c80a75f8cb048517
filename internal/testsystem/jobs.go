package testsystem

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// ServeFile answers /<prefix>/<n>.csv with n distinct values.
func ServeFile(w http.ResponseWriter, r *http.Request) {
	prefix, file, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	n, err := strconv.Atoi(strings.TrimSuffix(file, ".csv"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/csv")
	for i := range n {
		fmt.Fprintf(w, "%s-%06d\n", prefix, i)
	}
}

// FileURL is the URL of a file of n values named after name.
func (h *Harness) FileURL(name string, n int) string {
	return fmt.Sprintf("%s/%s/%d.csv", h.Files.URL, name, n)
}

// Request is a create of name in ws with a file of n values.
func (h *Harness) Request(ws, name string, n int) queue.Request {
	return queue.Request{
		Workspace: ws, Name: name, AttributeName: "uid", AttributeType: "string",
		FileURL: h.FileURL(name, n), ExpiryTime: 1,
	}
}

// Create enqueues a create of name with a file of n values.
func (h *Harness) Create(ws, name string, n int) *queue.Job {
	h.T.Helper()
	return h.Enqueue(h.Request(ws, name, n))
}

// Enqueue enqueues req, failing the test on an error.
func (h *Harness) Enqueue(req queue.Request) *queue.Job {
	h.T.Helper()
	j, _, err := h.Jobs.Enqueue(context.Background(), req, queue.EnqueueOptions{})
	require.NoError(h.T, err)
	return j
}

// WaitState polls the job until it is in state, failing the test with
// its timeline after timeout (a deadline on a poll, not a timed
// assertion).
func (h *Harness) WaitState(id string, want queue.State, timeout time.Duration) *queue.Job {
	h.T.Helper()
	return h.WaitAll([]string{id}, want, timeout)[0]
}

// WaitAll polls every job until all are in state want, failing the test
// with the laggards' timelines after timeout.
func (h *Harness) WaitAll(ids []string, want queue.State, timeout time.Duration) []*queue.Job {
	h.T.Helper()
	deadline := time.Now().Add(timeout)
	ctx := context.Background()
	for {
		var out, behind []*queue.Job
		for _, id := range ids {
			j, err := h.Jobs.Get(ctx, id)
			require.NoError(h.T, err, "job %s lost", id)
			out = append(out, j)
			if j.State != want {
				behind = append(behind, j)
			}
		}
		if len(behind) == 0 {
			return out
		}
		if time.Now().After(deadline) {
			for _, j := range behind {
				h.T.Logf("job %s (%s) is %s: %s", j.ID, j.Name, j.State, Timeline(j))
			}
			h.T.Fatalf("%d of %d jobs never reached %s", len(behind), len(ids), want)
		}
		time.Sleep(20 * time.Millisecond) // poll period
	}
}

// Timeline renders a job's history for failure messages.
func Timeline(j *queue.Job) string {
	var b strings.Builder
	for i, e := range j.Timeline {
		if i > 0 {
			b.WriteString(" → ")
		}
		fmt.Fprintf(&b, "%s %s (%s)", e.At.Format("15:04:05.000"), e.State, e.Detail)
	}
	return b.String()
}

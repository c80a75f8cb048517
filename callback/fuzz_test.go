package callback_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/callback"
	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// FuzzCallback sends arbitrary callbacks — job id, attempt, signature and
// body — to the receiver, each against a fresh job in state submitted, and
// holds the answer and the job's new state to a reference: only the exact
// signature of the job's attempt gets past the 404, then the body decides
// 413, 400 or 200, and a 200 moves the job exactly as its status says.
func FuzzCallback(f *testing.F) {
	for _, s := range []struct {
		own, sign              bool
		id, attempt, sig, body string
	}{
		{true, true, "", "1", "", success},
		{true, true, "", "1", "", `{"status":500,"error_message":"Internal Server Error. Contact MoEngage Team."}`},
		{true, true, "", "1", "", `{"status":400,"error_message":"File download failed."}`},
		{true, true, "", "2", "", success},
		{true, false, "", "1", "forged", success},
		{false, true, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "1", "", success},
		{true, true, "", "1", "", `{"status":`},
		{true, true, "", "1", "", `{"status":201,"values_found":-1,"user_count":null}`},
		{true, true, "", "01", "", success},
		{true, true, "", "-1", "", success},
		{false, false, "../../x", "1", "", ""},
	} {
		f.Add(s.own, s.sign, s.id, s.attempt, s.sig, []byte(s.body))
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		f.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	jobs := queue.NewClient(rdb, queue.ClientOptions{})
	defer jobs.Close()
	signer, err := callback.NewSigner("0123456789abcdef0123", "http://segq.test")
	if err != nil {
		f.Fatal(err)
	}
	policy := queue.Backoff{Base: time.Minute, Factor: 2, Cap: time.Hour, MaxAttempts: 3}
	rc := callback.NewReceiver(jobs, signer, policy, zap.NewNop(), nil)

	f.Fuzz(func(t *testing.T, own, sign bool, id, attemptRaw, sig string, body []byte) {
		j := submittedJob(t, jobs)
		if own {
			id = j.ID
		}
		attempt, aerr := strconv.Atoi(attemptRaw)
		if sign && aerr == nil {
			sig = signer.Token(id, attempt)
		}
		r := httptest.NewRequest(http.MethodPost, "/v1/callbacks/x/y", strings.NewReader(string(body)))
		r.SetPathValue("job_id", id)
		r.SetPathValue("attempt", attemptRaw)
		r.URL.RawQuery = "sig=" + url.QueryEscape(sig)
		w := httptest.NewRecorder()
		rc.ServeHTTP(w, r)

		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", w.Body.String())
		}
		wantStatus, wantState := reference(j, id, attempt, aerr == nil && signer.Valid(id, attempt, sig), body)
		if w.Code != wantStatus {
			t.Fatalf("status %d, want %d (body %q)", w.Code, wantStatus, w.Body.String())
		}
		got, err := jobs.Get(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != wantState {
			t.Fatalf("job %s, want %s", got.State, wantState)
		}
	})
}

// submittedJob stores a job and walks it to submitted, as a worker would.
func submittedJob(t *testing.T, jobs *queue.Client) *queue.Job {
	t.Helper()
	ctx := context.Background()
	j, _, err := jobs.Enqueue(ctx, queue.Request{Workspace: "ws", Name: "seg-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		AttributeName: "id", AttributeType: "string", FileURL: "https://f.example.com/a.csv", ExpiryTime: 1}, queue.EnqueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []queue.State{queue.StateValidating, queue.StateWaiting, queue.StateSubmitting, queue.StateSubmitted} {
		if j, err = jobs.Store().Transition(ctx, j.ID, s, "fuzz", nil); err != nil {
			t.Fatal(err)
		}
	}
	return j
}

// reference is the receiver's contract (DESIGN §6) for one callback to a
// job in submitted on attempt 1.
func reference(j *queue.Job, id string, attempt int, signed bool, body []byte) (int, queue.State) {
	if !signed || attempt < 1 {
		return http.StatusNotFound, queue.StateSubmitted
	}
	if len(body) > callback.MaxBody {
		return http.StatusRequestEntityTooLarge, queue.StateSubmitted
	}
	var p moengage.CallbackPayload
	if json.Unmarshal(body, &p) != nil || p.Status == 0 {
		return http.StatusBadRequest, queue.StateSubmitted
	}
	if id != j.ID {
		return http.StatusNotFound, queue.StateSubmitted
	}
	switch {
	case attempt != j.Attempts:
		return http.StatusOK, queue.StateSubmitted
	case p.Succeeded():
		return http.StatusOK, queue.StateSucceeded
	case p.Retryable():
		return http.StatusOK, queue.StateRetrying
	}
	return http.StatusOK, queue.StateFailed
}

package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/config"
	"github.com/segq/segq/internal/httpapi"
	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
)

// FuzzDecodeJobRequest posts arbitrary bodies to POST /v1/jobs. The
// answer is always JSON with a documented status; a body the strict
// decoder refuses (unknown field, wrong type, trailing data) is never
// stored; a 202 returns a job that is stored, readable and valid; every
// refusal carries an error code and a message.
func FuzzDecodeJobRequest(f *testing.F) {
	for _, s := range []string{
		goodJob,
		`{"workspace":"ws1","op":"add","cs_id":"abc","attribute_name":"a","attribute_type":"double","file_url":"http://f/x.csv"}`,
		`{"workspace":"ws1","op":"archive","name":"seg"}`,
		`{"workspace":"ws1","name":"s","attribute_name":"a","attribute_type":"string","file_url":"https://x/a.csv","expiry_time":"30"}`,
		`{"workspace":"ws1","users":5}`,
		`{"workspace":"ws1"} {}`,
		`{"workspace":"ws1","emails":["a@b.c","nope"],"priority":"urgent"}`,
		`{"workspace":"ws1","name":"\u0000\ud800","file_url":"http://user:pw@h/x"}`,
		`[]`, `null`, `"x"`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		f.Fatal(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()
	lim := limiter.New(rdb)
	jobs := queue.NewClient(rdb, queue.ClientOptions{Workspaces: []string{"ws1"}, Slots: lim})
	defer jobs.Close()
	h := httpapi.New(httpapi.Config{
		Jobs: jobs, Limiter: lim, Redis: rdb, Tokens: []config.Secret{token},
		Workspaces: []httpapi.Workspace{{ID: "ws1", Limits: limiter.DefaultLimits(), APIKey: "moe-key"}},
	}).Handler()

	f.Fuzz(func(t *testing.T, body []byte) {
		w := send(h, http.MethodPost, "/v1/jobs", body)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer %d is not JSON: %q", w.Code, w.Body.String())
		}
		strict := decodesStrictly(body)
		switch w.Code {
		case http.StatusAccepted:
			if !strict {
				t.Fatalf("stored a body the decoder must refuse: %q", body)
			}
			checkStored(t, h, jobs, w.Body.Bytes())
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			e, _ := out["error"].(map[string]any)
			if code, _ := e["code"].(string); code == "" {
				t.Fatalf("refusal without a code: %s", w.Body.String())
			}
			if msg, _ := e["message"].(string); msg == "" {
				t.Fatalf("refusal without a message: %s", w.Body.String())
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
	})
}

func send(h http.Handler, method, path string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decodesStrictly is the decoder's contract: one JSON object of known
// fields with the right types, nothing after it.
func decodesStrictly(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req queue.Request
	if dec.Decode(&req) != nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// checkStored reads the accepted job back through the API.
func checkStored(t *testing.T, h http.Handler, jobs *queue.Client, answer []byte) {
	t.Helper()
	var j queue.Job
	if err := json.Unmarshal(answer, &j); err != nil {
		t.Fatal(err)
	}
	if j.ID == "" || j.Workspace != "ws1" || !j.Op.Valid() || j.State != queue.StateAccepted || len(j.Name) > 255 {
		t.Fatalf("accepted an invalid job: %+v", j)
	}
	w := send(h, http.MethodGet, "/v1/jobs/"+j.ID, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET of an accepted job: %d", w.Code)
	}
}

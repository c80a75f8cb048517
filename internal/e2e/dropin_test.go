package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// upstreamProducer is a producer written against MoEngage's API, nothing
// else: it creates a file segment with Basic auth and reads MoEngage's
// callback. Only its base URL changes between the two runs below.
type upstreamProducer struct {
	base, workspace, apiKey, hook string
}

func (p upstreamProducer) create(t *testing.T, name, fileURL string) {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"attribute_name":"uid","attribute_type":"string","file_url":%q,"callback_url":%q,"expiry_time":1}`,
		name, fileURL, p.hook)
	req, err := http.NewRequest(http.MethodPost, p.base+"/v2/custom-segments/file-segment", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(p.workspace, p.apiKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var got struct {
		Success bool   `json:"success"`
		CSName  string `json:"cs_name"`
	}
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.True(t, got.Success)
	require.Equal(t, name, got.CSName)
}

// hookServer collects the JSON bodies POSTed to it by segment name.
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string]map[string]any
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{bodies: map[string]map[string]any{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if json.Unmarshal(raw, &body) == nil {
			name, _ := body["segment_name"].(string)
			h.mu.Lock()
			h.bodies[name] = body
			h.mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) wait(t *testing.T, name string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		h.mu.Lock()
		b, ok := h.bodies[name]
		h.mu.Unlock()
		if ok {
			return b
		}
	}
	t.Fatalf("no callback for %s", name)
	return nil
}

// TestDropInProducerUnchanged: the same producer code runs against the
// MoEngage simulator and against segq, changing only the base URL, and
// its callback handler gets a payload of the same shape both times.
func TestDropInProducerUnchanged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "ws-drop")
	h.StartWorker()
	hooks := newHookServer(t)
	ws := h.SimWS[0]
	producer := upstreamProducer{workspace: ws.ID, apiKey: ws.APIKey, hook: hooks.URL + "/moengage-callback"}

	direct, viaSegq := producer, producer
	direct.base, viaSegq.base = h.SimURL, h.API.URL
	direct.create(t, "direct", h.FileURL("direct", 7))
	viaSegq.create(t, "queued", h.FileURL("queued", 7))

	want := hooks.wait(t, "direct")
	got := hooks.wait(t, "queued")
	require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)), "same payload shape")
	for _, k := range []string{"db_name", "status", "values_found", "values_processed", "user_count"} {
		require.Equal(t, want[k], got[k], k)
	}
	require.EqualValues(t, 201, got["status"])
	require.EqualValues(t, 7, got["user_count"])

	// The queued job says how it went, too.
	page, err := h.Jobs.List(t.Context(), queue.ListOptions{Workspace: "ws-drop"})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 1)
	require.Equal(t, queue.RelayMoEngage, page.Jobs[0].RelayFormat)
	require.Equal(t, queue.StateSucceeded, h.WaitState(page.Jobs[0].ID, queue.StateSucceeded, 30*time.Second).State)
}

package moengage_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/segq/segq/internal/moengage"
	"github.com/segq/segq/internal/moesim"
)

// BenchmarkAddUsers measures one add-users round trip from the client to the
// simulator over loopback, including the simulator's download of a 100-row
// file and its background processing.
func BenchmarkAddUsers(b *testing.B) {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			_, _ = io.WriteString(w, "user-value-0123456789\n")
		}
	}))
	defer files.Close()
	sim, err := moesim.New(moesim.Config{
		Workspaces: []moesim.Workspace{{ID: wsID, APIKey: apiKey, Limits: moesim.Limits{
			Ops: []moesim.Window{{Length: time.Hour, Max: 1 << 40}},
		}}},
		HTTPClient: hc,
	})
	require.NoError(b, err)
	defer sim.Close()
	api := httptest.NewServer(sim.Handler())
	defer api.Close()
	c, err := moengage.New(moengage.Config{WorkspaceID: wsID, APIKey: apiKey, BaseURL: api.URL, HTTPClient: hc})
	require.NoError(b, err)
	req := moengage.SegmentRequest{Name: "seg", AttributeName: "id", AttributeType: "string",
		FileURL: files.URL + "/f.csv", ExpiryTime: 30}
	ctx := context.Background()
	_, err = c.Create(ctx, req)
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.AddUsers(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassify measures the classification of a wrapped API error.
func BenchmarkClassify(b *testing.B) {
	err := error(&moengage.APIError{Status: 400, Description: "Mandatory field missing in the request: file_url"})
	for b.Loop() {
		if moengage.Classify(err) != moengage.ClassPermanent {
			b.Fatal("wrong class")
		}
	}
}

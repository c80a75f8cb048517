package moengage_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/segq/segq/internal/moengage"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	api := func(status int, desc string) error {
		return &moengage.APIError{Status: status, Title: http.StatusText(status), Description: desc}
	}
	tests := []struct {
		name string
		err  error
		want moengage.Class
	}{
		{"nil", nil, moengage.ClassNone},
		{"400 invalid", api(400, "Mandatory field missing in the request: file_url"), moengage.ClassPermanent},
		{"400 speaking of a limit", api(400, "Daily users limit exceeded for the workspace"), moengage.ClassQuota},
		{"400 LIMIT in capitals", api(400, "ACTIVE SEGMENT LIMIT REACHED"), moengage.ClassQuota},
		{"400 file size limit is not a quota", api(400, "File size limit is 150MB"), moengage.ClassPermanent},
		{"401", api(401, ""), moengage.ClassAuth},
		{"403", api(403, ""), moengage.ClassAuth},
		{"404", api(404, "Segment not found with the given name: x"), moengage.ClassPermanent},
		{"408", api(408, ""), moengage.ClassRetryable},
		{"409", api(409, "Name already exists : x"), moengage.ClassPermanent},
		{"413", api(413, ""), moengage.ClassPermanent},
		{"422", api(422, ""), moengage.ClassPermanent},
		{"429", api(429, "File segment operations limit breached. Please retry after some time."), moengage.ClassQuota},
		{"500", api(500, ""), moengage.ClassRetryable},
		{"502", api(502, ""), moengage.ClassRetryable},
		{"503", api(503, ""), moengage.ClassRetryable},
		{"504", api(504, ""), moengage.ClassRetryable},
		{"wrapped 429", fmt.Errorf("submit: %w", api(429, "")), moengage.ClassQuota},
		{"deadline", context.DeadlineExceeded, moengage.ClassRetryable},
		{"connection error", errors.New("dial tcp: connection refused"), moengage.ClassRetryable},
		{"invalid request", fmt.Errorf("%w: name is required", moengage.ErrInvalidRequest), moengage.ClassPermanent},
		{"invalid config", fmt.Errorf("%w: x", moengage.ErrInvalidConfig), moengage.ClassPermanent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, moengage.Classify(tc.err), "class %s", moengage.Classify(tc.err))
		})
	}
}

func TestRetryAt(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	withReset := func(reset time.Time) error {
		return &moengage.APIError{Status: 429, RateLimit: moengage.RateLimit{Reset: reset}}
	}
	require.Equal(t, now.Add(time.Minute), moengage.RetryAt(withReset(now.Add(time.Minute)), now))
	require.Equal(t, now, moengage.RetryAt(withReset(now.Add(-time.Minute)), now), "never in the past")
	require.True(t, moengage.RetryAt(withReset(time.Time{}), now).IsZero())
	require.True(t, moengage.RetryAt(errors.New("x"), now).IsZero())
	require.True(t, moengage.RetryAt(nil, now).IsZero())
}

func TestAPIErrorMessage(t *testing.T) {
	t.Parallel()
	err := &moengage.APIError{Status: 404, Title: "Entity Not Found", Description: "Segment not found with the given name: x",
		Op: "PUT /v2/custom-segments/file-segment/add-users"}
	require.Equal(t, "moengage: PUT /v2/custom-segments/file-segment/add-users: 404 Entity Not Found: Segment not found with the given name: x", err.Error())
	require.Equal(t, "moengage: 502 Bad Gateway", (&moengage.APIError{Status: 502, Title: "Bad Gateway"}).Error())
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	ok := moengage.Config{WorkspaceID: "ws", APIKey: "k", DataCenter: "01"}
	tests := []struct {
		name string
		mod  func(*moengage.Config)
		want string // empty: valid
		base string
	}{
		{name: "data centre", mod: func(c *moengage.Config) {}, base: "https://api-01.moengage.com"},
		{name: "data centre 101", mod: func(c *moengage.Config) { c.DataCenter = "101" }, base: "https://api-101.moengage.com"},
		{name: "base url wins", mod: func(c *moengage.Config) { c.BaseURL = "http://127.0.0.1:8090/" }, base: "http://127.0.0.1:8090"},
		{name: "no workspace", mod: func(c *moengage.Config) { c.WorkspaceID = " " }, want: "WorkspaceID"},
		{name: "no key", mod: func(c *moengage.Config) { c.APIKey = "" }, want: "APIKey"},
		{name: "no host", mod: func(c *moengage.Config) { c.DataCenter = "" }, want: "DataCenter or BaseURL"},
		{name: "bad data centre", mod: func(c *moengage.Config) { c.DataCenter = "07" }, want: "DataCenter \"07\""},
		{name: "bad scheme", mod: func(c *moengage.Config) { c.BaseURL = "ftp://x" }, want: "BaseURL"},
		{name: "user info", mod: func(c *moengage.Config) { c.BaseURL = "https://u:p@x" }, want: "BaseURL must not carry user info"},
		{name: "negative timeout", mod: func(c *moengage.Config) { c.Timeout = -1 }, want: "Timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tc.mod(&cfg)
			c, err := moengage.New(cfg)
			if tc.want != "" {
				require.ErrorIs(t, err, moengage.ErrInvalidConfig)
				require.ErrorContains(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.base, c.BaseURL())
		})
	}
}

func TestRefusesRequestsWithoutTarget(t *testing.T) {
	t.Parallel()
	c, err := moengage.New(moengage.Config{WorkspaceID: "ws", APIKey: "k", BaseURL: "http://127.0.0.1:1"})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.AddUsers(ctx, moengage.SegmentRequest{})
	require.ErrorIs(t, err, moengage.ErrInvalidRequest)
	require.Equal(t, moengage.ClassPermanent, moengage.Classify(err))
	require.ErrorIs(t, c.Archive(ctx, "", ""), moengage.ErrInvalidRequest)
	_, err = c.FindByName(ctx, "")
	require.ErrorIs(t, err, moengage.ErrInvalidRequest)
	_, err = c.Get(ctx, " ")
	require.ErrorIs(t, err, moengage.ErrInvalidRequest)
}

func TestRateLimitHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reset string
		check func(t *testing.T, rl moengage.RateLimit, before, after time.Time)
	}{
		{"epoch seconds", "1800000123", func(t *testing.T, rl moengage.RateLimit, _, _ time.Time) {
			require.Equal(t, time.Unix(1_800_000_123, 0).UTC(), rl.Reset)
		}},
		{"seconds from now", "60", func(t *testing.T, rl moengage.RateLimit, before, after time.Time) {
			require.False(t, rl.Reset.Before(before.Add(time.Minute)))
			require.False(t, rl.Reset.After(after.Add(time.Minute)))
		}},
		{"absent", "", func(t *testing.T, rl moengage.RateLimit, _, _ time.Time) { require.True(t, rl.Reset.IsZero()) }},
		{"garbage", "soon", func(t *testing.T, rl moengage.RateLimit, _, _ time.Time) { require.True(t, rl.Reset.IsZero()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("x-ratelimit-limit", "10")
				w.Header().Set("x-ratelimit-remaining", "0")
				if tc.reset != "" {
					w.Header().Set("x-ratelimit-reset", tc.reset)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			}))
			t.Cleanup(srv.Close)
			c, err := moengage.New(moengage.Config{WorkspaceID: "ws", APIKey: "k", BaseURL: srv.URL, HTTPClient: testHTTPClient(t)})
			require.NoError(t, err)
			before := time.Now()
			_, err = c.Create(context.Background(), moengage.SegmentRequest{Name: "x"})
			after := time.Now()
			var apiErr *moengage.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, "Too Many Requests", apiErr.Title)
			require.Equal(t, 10, apiErr.RateLimit.Limit)
			require.Equal(t, 0, apiErr.RateLimit.Remaining)
			tc.check(t, apiErr.RateLimit, before, after)
		})
	}
}

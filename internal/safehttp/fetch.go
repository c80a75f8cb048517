package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// TooLargeError is returned when a file is larger than the cap given to
// Fetch: before reading when Content-Length says so, otherwise by the body's
// Read once more than the cap has arrived.
type TooLargeError struct {
	// Limit is the cap in bytes.
	Limit int64
	// Size is the announced Content-Length, or -1 when the body was cut off
	// while streaming.
	Size int64
}

// Error says how large the file is, or that it passed the cap.
func (e *TooLargeError) Error() string {
	if e.Size >= 0 {
		return fmt.Sprintf("file is %d bytes, over the limit of %d bytes", e.Size, e.Limit)
	}
	return fmt.Sprintf("file is larger than the limit of %d bytes", e.Limit)
}

// StatusError is returned by Fetch for a response that is not 2xx.
type StatusError struct {
	// Code is the HTTP status, e.g. 404.
	Code int
	// Status is the status line, e.g. "404 Not Found".
	Status string
	// URL is the URL fetched, without query or user info.
	URL string
}

// Error names the URL and the status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %s", e.URL, e.Status)
}

// Fetch GETs rawURL with c (built by NewClient) and returns the body, to be
// closed by the caller, and the Content-Length (-1 when unknown). A non-2xx
// response is a *StatusError. With maxBytes > 0, a Content-Length above it
// is a *TooLargeError before any of the body is read, and the body fails
// with a *TooLargeError once more than maxBytes bytes have arrived, so a
// file is never read past the cap. Error messages never include the URL's
// query, which may carry a signature.
func Fetch(ctx context.Context, c *http.Client, rawURL string, maxBytes int64) (io.ReadCloser, int64, error) {
	u, err := CheckURL(rawURL)
	if err != nil {
		return nil, -1, fmt.Errorf("fetch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, -1, fmt.Errorf("fetch: %w", err)
	}
	req.Header.Set("User-Agent", "segq")
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redact(u)
		}
		return nil, -1, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10) // lets the connection be reused
		resp.Body.Close()
		return nil, -1, &StatusError{Code: resp.StatusCode, Status: resp.Status, URL: redact(resp.Request.URL)}
	}
	if maxBytes > 0 && resp.ContentLength > maxBytes {
		resp.Body.Close()
		return nil, -1, &TooLargeError{Limit: maxBytes, Size: resp.ContentLength}
	}
	if maxBytes <= 0 {
		return resp.Body, resp.ContentLength, nil
	}
	return &cappedBody{rc: resp.Body, limit: maxBytes}, resp.ContentLength, nil
}

// cappedBody fails with a *TooLargeError once more than limit bytes have
// been read; it never returns bytes past the limit.
type cappedBody struct {
	rc    io.ReadCloser
	limit int64
	n     int64
}

// Read reads from the body, at most one byte past the limit.
func (b *cappedBody) Read(p []byte) (int, error) {
	if b.n > b.limit {
		return 0, &TooLargeError{Limit: b.limit, Size: -1}
	}
	if room := b.limit + 1 - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		return n - int(b.n-b.limit), &TooLargeError{Limit: b.limit, Size: -1}
	}
	return n, err
}

// Close closes the underlying body.
func (b *cappedBody) Close() error { return b.rc.Close() }

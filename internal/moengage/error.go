package moengage

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimit is what upstream's x-ratelimit-* headers said about the limit an
// answer was counted against. Fields are zero when a header is absent.
type RateLimit struct {
	// Limit is x-ratelimit-limit.
	Limit int
	// Remaining is x-ratelimit-remaining.
	Remaining int
	// Reset is x-ratelimit-reset (epoch seconds), when the window frees up.
	Reset time.Time
}

// Header names of upstream's rate-limit information.
const (
	HeaderRateLimit     = "x-ratelimit-limit"
	HeaderRateRemaining = "x-ratelimit-remaining"
	HeaderRateReset     = "x-ratelimit-reset"
)

// epochFloor separates the two readings of x-ratelimit-reset: upstream
// documents epoch seconds, but a value this small (before 2001) can only be
// seconds from now, the other common convention, and is read as such.
const epochFloor = 1_000_000_000

func parseRateLimit(h http.Header, now time.Time) RateLimit {
	var rl RateLimit
	rl.Limit, _ = strconv.Atoi(strings.TrimSpace(h.Get(HeaderRateLimit)))
	rl.Remaining, _ = strconv.Atoi(strings.TrimSpace(h.Get(HeaderRateRemaining)))
	v, err := strconv.ParseFloat(strings.TrimSpace(h.Get(HeaderRateReset)), 64)
	switch {
	case err != nil || v <= 0:
	case v < epochFloor:
		rl.Reset = now.Add(time.Duration(v * float64(time.Second))).UTC()
	default:
		rl.Reset = time.Unix(0, int64(v*float64(time.Second))).UTC()
	}
	return rl
}

// APIError is a non-2xx answer from upstream. Title and Description are the
// fields of upstream's error body ({"title", "description"}); Title falls
// back to the status text when the body is empty (502/503/504).
type APIError struct {
	Status      int
	Title       string
	Description string
	RateLimit   RateLimit
	// Op is the method and path that failed, for messages.
	Op string
}

// Error describes the answer. It never includes credentials.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("moengage: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%d %s", e.Status, e.Title)
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Class says what a caller should do after an error.
type Class int

const (
	// ClassNone is the class of a nil error.
	ClassNone Class = iota
	// ClassRetryable: 5xx, 408, timeouts, connection errors. Retry with
	// backoff; on submit, the request may or may not have been accepted.
	ClassRetryable
	// ClassPermanent: 400, 404, 409 and the other 4xx, and requests the
	// client refused to build. Retrying the same request cannot succeed.
	ClassPermanent
	// ClassAuth: 401 and 403. The workspace's credentials are wrong.
	ClassAuth
	// ClassQuota: 429, or a 400 whose description speaks of a limit.
	// Wait (RetryAt) without spending an attempt.
	ClassQuota
)

// String names the class for logs and metrics.
func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassRetryable:
		return "retryable"
	case ClassPermanent:
		return "permanent"
	case ClassAuth:
		return "auth"
	case ClassQuota:
		return "quota"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Classify maps an error returned by Client to what the caller should do.
// Errors that are not *APIError are transport failures (retryable) unless
// they wrap ErrInvalidRequest or ErrInvalidConfig (permanent). A cancelled
// caller context is retryable: the outcome of the call is unknown.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return classifyStatus(apiErr.Status, apiErr.Description)
	}
	if errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrInvalidConfig) {
		return ClassPermanent
	}
	return ClassRetryable
}

func classifyStatus(status int, description string) Class {
	switch {
	case status == http.StatusTooManyRequests:
		return ClassQuota
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ClassAuth
	case status == http.StatusBadRequest && speaksOfLimit(description):
		return ClassQuota
	case status == http.StatusRequestTimeout || status >= 500:
		return ClassRetryable
	case status >= 400:
		return ClassPermanent
	}
	// A non-2xx that is neither 4xx nor 5xx (a redirect we did not follow):
	// nothing to act on but a retry.
	return ClassRetryable
}

// speaksOfLimit reports whether a 400 description is about a quota that
// frees up with time. The per-request file-size limit is not: waiting does
// not make a file smaller.
func speaksOfLimit(description string) bool {
	d := strings.ToLower(description)
	if !strings.Contains(d, "limit") {
		return false
	}
	return !strings.Contains(d, "file size") && !strings.Contains(d, "size limit")
}

// RetryAt returns when a quota error says the limit frees up: the
// x-ratelimit-reset of the answer, never before now. It returns the zero
// time when err carries no reset.
func RetryAt(err error, now time.Time) time.Time {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.RateLimit.Reset.IsZero() {
		return time.Time{}
	}
	if apiErr.RateLimit.Reset.Before(now) {
		return now
	}
	return apiErr.RateLimit.Reset
}

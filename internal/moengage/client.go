// Package moengage is the HTTP client for MoEngage's file-segment API family:
// create, add users, remove users, replace, archive, unarchive, and the two
// v3 look-ups. It speaks Basic auth to a data-centre host (or any base URL,
// such as the simulator in internal/moesim), and turns every non-2xx answer
// into an *APIError that Classify maps to what a caller should do next.
package moengage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultTimeout bounds one upstream call when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// MaxResponseBytes caps how much of an upstream answer is read. Answers of
// the family are a few hundred bytes; anything larger is cut off.
const MaxResponseBytes = 1 << 20

// DataCenters lists the data-centre codes accepted in Config.DataCenter.
var DataCenters = []string{"01", "02", "03", "04", "05", "06", "101"}

// ErrInvalidConfig is wrapped by every error New returns for bad settings.
var ErrInvalidConfig = errors.New("moengage: invalid config")

// Config holds the settings of one MoEngage workspace.
type Config struct {
	// WorkspaceID is the workspace (app) id, the Basic-auth user name.
	WorkspaceID string
	// APIKey is the data API key, the Basic-auth password. It is never
	// printed, logged or marshalled.
	APIKey string `json:"-"`
	// DBName is sent as the MOE-DBNAME header when set.
	DBName string
	// DataCenter selects https://api-{dc}.moengage.com; one of DataCenters.
	DataCenter string
	// BaseURL overrides DataCenter (simulator, proxy). Scheme and host only,
	// optionally a path prefix; no user info.
	BaseURL string
	// HTTPClient sends the requests; http.DefaultClient's transport when nil.
	HTTPClient *http.Client `json:"-"`
	// Timeout bounds each call, whatever the HTTPClient's own timeout;
	// DefaultTimeout when zero.
	Timeout time.Duration
}

// String describes the config without the API key, so that a config printed
// by accident leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("moengage.Config{WorkspaceID:%q DBName:%q DataCenter:%q BaseURL:%q Timeout:%s APIKey:[redacted]}",
		c.WorkspaceID, c.DBName, c.DataCenter, c.BaseURL, c.Timeout)
}

// validate reports the first bad field of c.
func (c Config) validate() error {
	switch {
	case strings.TrimSpace(c.WorkspaceID) == "":
		return fmt.Errorf("%w: WorkspaceID is required", ErrInvalidConfig)
	case c.APIKey == "":
		return fmt.Errorf("%w: APIKey is required", ErrInvalidConfig)
	case c.Timeout < 0:
		return fmt.Errorf("%w: Timeout must not be negative", ErrInvalidConfig)
	case c.BaseURL != "":
		return validateBaseURL(c.BaseURL)
	case c.DataCenter == "":
		return fmt.Errorf("%w: DataCenter or BaseURL is required", ErrInvalidConfig)
	case !slices.Contains(DataCenters, c.DataCenter):
		return fmt.Errorf("%w: DataCenter %q is not one of %s", ErrInvalidConfig, c.DataCenter, strings.Join(DataCenters, ", "))
	}
	return nil
}

func validateBaseURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%w: BaseURL does not parse", ErrInvalidConfig)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: BaseURL must use http or https", ErrInvalidConfig)
	case u.Host == "":
		return fmt.Errorf("%w: BaseURL has no host", ErrInvalidConfig)
	case u.User != nil:
		return fmt.Errorf("%w: BaseURL must not carry user info", ErrInvalidConfig)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%w: BaseURL must not carry a query or fragment", ErrInvalidConfig)
	}
	return nil
}

// Client calls one MoEngage workspace. It is safe for concurrent use.
type Client struct {
	base    string
	ws      string
	key     string
	db      string
	http    *http.Client
	timeout time.Duration
}

// New checks cfg and returns a client for its workspace.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = "https://api-" + cfg.DataCenter + ".moengage.com"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &Client{base: base, ws: cfg.WorkspaceID, key: cfg.APIKey, db: cfg.DBName, http: hc, timeout: timeout}, nil
}

// BaseURL returns the host the client talks to.
func (c *Client) BaseURL() string { return c.base }

// response is an upstream answer read in full (up to MaxResponseBytes).
type response struct {
	status    int
	body      []byte
	rateLimit RateLimit
}

// do sends one request and returns the answer when its status is 2xx, an
// *APIError otherwise, or a transport error with the API key redacted.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in any) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, method, path, query, in)
	if err != nil {
		return response{}, c.redact(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, c.redact(fmt.Errorf("moengage: %s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return response{}, c.redact(fmt.Errorf("moengage: %s %s: read answer: %w", method, path, err))
	}
	out := response{status: resp.StatusCode, body: body, rateLimit: parseRateLimit(resp.Header, time.Now())}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return out, c.apiError(method, path, out)
	}
	return out, nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, in any) (*http.Request, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("%w: encode body: %w", ErrInvalidRequest, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	req.SetBasicAuth(c.ws, c.key)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.db != "" {
		req.Header.Set("MOE-DBNAME", c.db)
	}
	return req, nil
}

// apiError builds the typed error of a non-2xx answer.
func (c *Client) apiError(method, path string, r response) *APIError {
	var body struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	_ = json.Unmarshal(r.body, &body) // 502/503/504 come without a body
	if body.Title == "" {
		body.Title = http.StatusText(r.status)
	}
	return &APIError{
		Status:      r.status,
		Title:       c.scrub(body.Title),
		Description: c.scrub(body.Description),
		RateLimit:   r.rateLimit,
		Op:          method + " " + path,
	}
}

// scrub removes the API key from upstream text, should a server echo it.
func (c *Client) scrub(s string) string {
	if c.key == "" {
		return s
	}
	return strings.ReplaceAll(s, c.key, "[redacted]")
}

// redact wraps err so that its message cannot carry the API key.
func (c *Client) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), c.key) {
		return err
	}
	return &redactedError{msg: c.scrub(err.Error()), err: err}
}

// redactedError keeps the wrapped error for errors.Is/As but prints a
// message with the API key removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

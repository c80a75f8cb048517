// Package safehttp fetches files from URLs that producers supply without
// letting those URLs reach segq's own network: the dialer refuses loopback,
// private, link-local (cloud metadata), multicast and other special-purpose
// addresses unless an allow-list permits them, checked on the resolved
// address of every connection, redirects included. Downloads are capped in
// size while streaming.
package safehttp

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout      = 10 * time.Minute
	DefaultDialTimeout  = 10 * time.Second
	DefaultMaxRedirects = 3
)

// LoopbackPrefixes are the loopback blocks, for allow-lists in development
// and tests.
var LoopbackPrefixes = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// ErrTooManyRedirects is returned (wrapped) when a response redirects more
// often than Options.MaxRedirects allows.
var ErrTooManyRedirects = errors.New("too many redirects")

// Options configure NewClient.
type Options struct {
	// Allow lists blocks the client may connect to even though they are not
	// public, e.g. LoopbackPrefixes in development. Empty in production.
	Allow []netip.Prefix
	// Timeout bounds a whole request, body included. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// DialTimeout bounds connecting, the TLS handshake and waiting for
	// response headers, each. Zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// MaxRedirects is how many redirects a request follows. Zero means
	// DefaultMaxRedirects; negative means none.
	MaxRedirects int
}

func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	return o
}

// NewClient returns an HTTP client that connects only to public addresses
// and those in opts.Allow, follows at most opts.MaxRedirects redirects to
// http or https URLs, and ignores proxy settings (a proxy would connect on
// the client's behalf, past the address check).
func NewClient(opts Options) *http.Client {
	opts = opts.withDefaults()
	g := guard{allow: append([]netip.Prefix(nil), opts.Allow...)}
	dialer := &net.Dialer{
		Timeout:   opts.DialTimeout,
		KeepAlive: 30 * time.Second,
		Control:   g.control,
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   opts.DialTimeout,
		ResponseHeaderTimeout: opts.DialTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       opts.Timeout,
		CheckRedirect: redirectPolicy(max(opts.MaxRedirects, 0)),
	}
}

// redirectPolicy allows at most max redirects, each to an http or https URL.
func redirectPolicy(max int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > max {
			return fmt.Errorf("stopped after %d redirects: %w", max, ErrTooManyRedirects)
		}
		if _, err := CheckURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		return nil
	}
}

// maxURLLength is the longest URL CheckURL accepts.
const maxURLLength = 4096

// CheckURL parses raw and checks that it is an absolute http or https URL
// with a host and without user info. It is the syntactic check the API runs
// on file_url and callback_url; where the URL leads is checked when
// connecting. Errors name the problem, never repeat the URL (which may hold
// a signature).
func CheckURL(raw string) (*url.URL, error) {
	if len(raw) > maxURLLength {
		return nil, fmt.Errorf("URL longer than %d bytes", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return nil, errors.New("URL must be absolute (http or https)")
	default:
		return nil, fmt.Errorf("scheme %q not allowed (want http or https)", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, errors.New("URL has no host")
	}
	if u.User != nil {
		return nil, errors.New("user info in URL not allowed")
	}
	return u, nil
}

// redact returns u without user info, query and fragment, for messages.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

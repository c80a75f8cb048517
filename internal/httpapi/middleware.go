package httpapi

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// auth requires one of the configured API tokens, as
// "Authorization: Bearer <token>" or as the password of HTTP Basic (any
// user name); with no tokens configured (segq dev) it lets everything
// through. A refusal challenges for a bearer token.
func (s *Server) auth(next http.Handler) http.Handler {
	return s.guard(next, `Bearer realm="segq"`)
}

// authPage is auth for pages a browser opens (the status page and the
// dashboard): the challenge asks for Basic, so the browser prompts for a
// user name and password; the password is the API token.
func (s *Server) authPage(next http.Handler) http.Handler {
	return s.guard(next, `Basic realm="segq", charset="UTF-8"`)
}

func (s *Server) guard(next http.Handler, challenge string) http.Handler {
	if len(s.cfg.Tokens) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid API token")
	})
}

// authorized reports whether r carries a valid token as Bearer or as the
// Basic password.
func (s *Server) authorized(r *http.Request) bool {
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return s.validToken(got)
	}
	if _, pass, ok := r.BasicAuth(); ok {
		return s.validToken(pass)
	}
	return false
}

// validToken compares against every token in constant time.
func (s *Server) validToken(got string) bool {
	ok := false
	for _, t := range s.cfg.Tokens {
		if t.Equal(got) {
			ok = true
		}
	}
	return ok
}

// statusWriter records the status an inner handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// newRequestID returns 16 hex digits from the runtime's fast random
// source: request ids correlate log lines and need no secrecy, and
// crypto/rand would cost a system call per request.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// logRequests gives every request an id (X-Request-Id, kept from the
// client when present), recovers panics, and logs one line per request.
// Query strings are not logged: callback URLs carry signatures there.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic", zap.String("request_id", id), zap.Any("panic", p))
				writeError(sw, http.StatusInternalServerError, "internal", "internal error")
			}
			s.log.Debug("request", zap.String("request_id", id), zap.String("method", r.Method),
				zap.String("path", r.URL.Path), zap.Int("status", sw.status), zap.Duration("took", time.Since(start)))
		}()
		next.ServeHTTP(sw, r)
	})
}

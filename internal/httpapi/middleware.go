package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// auth requires "Authorization: Bearer <token>" with one of the configured
// tokens; with no tokens configured (segq dev) it lets everything through.
func (s *Server) auth(next http.Handler) http.Handler {
	if len(s.cfg.Tokens) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok && s.validToken(got) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="segq"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
	})
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

// logRequests gives every request an id (X-Request-Id, kept from the
// client when present), recovers panics, and logs one line per request.
// Query strings are not logged: callback URLs carry signatures there.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
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

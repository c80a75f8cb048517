package moesim

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// Stats are the simulator's counters, also served as JSON by GET
// /_sim/stats. Requests, Rejected429 and CallbacksSent (requests,
// rejected_429, callbacks_sent) are contract names.
type Stats struct {
	// Requests counts every request to an upstream path (not /_sim).
	Requests int64 `json:"requests"`
	// Accepted counts ops answered 2xx (create, add, remove, replace,
	// archive, unarchive); look-ups are not ops.
	Accepted int64 `json:"accepted"`
	// Rejected429 counts limit breaches.
	Rejected429 int64 `json:"rejected_429"`
	// Rejected4xx counts the other 4xx answers (400, 401, 404, 409, ...).
	Rejected4xx int64 `json:"rejected_4xx"`
	// Failed5xx counts 5xx answers, injected or not.
	Failed5xx int64 `json:"failed_5xx"`
	// Lookups counts look-ups answered 200.
	Lookups int64 `json:"lookups"`
	// Downloads and DownloadsFailed count file downloads.
	Downloads       int64 `json:"downloads"`
	DownloadsFailed int64 `json:"downloads_failed"`
	// Processed counts processing runs that finished (any outcome).
	Processed int64 `json:"processed"`
	// CallbacksSent counts callback POSTs answered 2xx.
	CallbacksSent int64 `json:"callbacks_sent"`
	// CallbacksFailed counts callback POSTs that failed or were not 2xx.
	CallbacksFailed int64 `json:"callbacks_failed"`
	// CallbacksLost counts callbacks dropped by the LostCallback fault.
	CallbacksLost int64 `json:"callbacks_lost"`
	// CallbacksDuplicated counts extra callbacks of DuplicateCallback.
	CallbacksDuplicated int64 `json:"callbacks_duplicated"`
	// InFlight is the number of requests being processed now.
	InFlight int64 `json:"in_flight"`
}

// Record is one accepted op in the simulator's log (Server.Accepted, GET
// /_sim/log).
type Record struct {
	At        time.Time `json:"at"`
	Workspace string    `json:"workspace"`
	// Op is create, add, remove, replace, archive or unarchive.
	Op   string `json:"op"`
	Name string `json:"name"`
	CSID string `json:"cs_id"`
	// Users is the number of non-empty values of the file (0 for archive
	// and unarchive); the amount counted against the users window.
	Users int64 `json:"users"`
}

// maxRecords bounds the log; the oldest records are dropped beyond it.
const maxRecords = 100_000

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Accepted returns the log of accepted ops, oldest first.
func (s *Server) Accepted() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// addRecord appends to the log; the caller holds s.mu.
func (s *Server) addRecord(r Record) {
	if len(s.records) >= maxRecords {
		s.records = slices.Delete(s.records, 0, len(s.records)-maxRecords+1)
	}
	s.records = append(s.records, r)
	s.stats.Accepted++
}

// count adds to a counter under the lock.
func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// countStatus files an answer under its counter.
func (s *Server) countStatus(status int) {
	s.count(func(st *Stats) {
		switch {
		case status == http.StatusTooManyRequests:
			st.Rejected429++
		case status >= 400 && status < 500:
			st.Rejected4xx++
		case status >= 500:
			st.Failed5xx++
		}
	})
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleLog(w http.ResponseWriter, r *http.Request) {
	recs := s.Accepted()
	if ws := r.URL.Query().Get("workspace"); ws != "" {
		recs = slices.DeleteFunc(recs, func(rec Record) bool { return rec.Workspace != ws })
	}
	if recs == nil {
		recs = []Record{}
	}
	writeJSON(w, http.StatusOK, recs)
}

func (s *Server) handleSegments(w http.ResponseWriter, r *http.Request) {
	segs := s.Segments(r.URL.Query().Get("workspace"))
	if segs == nil {
		writeJSON(w, http.StatusNotFound, errorBody{Title: "Entity Not Found", Description: "Unknown workspace"})
		return
	}
	writeJSON(w, http.StatusOK, segs)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// counted counts a request to an upstream path and files its answer.
func (s *Server) counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(func(st *Stats) { st.Requests++ })
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		s.countStatus(rec.status)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

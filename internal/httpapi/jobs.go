package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/segq/segq/limiter"
	"github.com/segq/segq/queue"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

func (s *Server) handleEnqueue(w http.ResponseWriter, r *http.Request) {
	var req queue.Request
	if !decode(w, r, &req) {
		return
	}
	s.enqueue(w, r, req, func(j *queue.Job) any { return j })
}

// enqueue stores req and answers 202 with render(job); an idempotent
// replay answers the first job again.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request, req queue.Request, render func(*queue.Job) any) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		writeError(w, http.StatusBadRequest, "invalid_field", "Idempotency-Key: at most 255 characters")
		return
	}
	j, _, err := s.cfg.Jobs.Enqueue(r.Context(), req, queue.EnqueueOptions{IdempotencyKey: key})
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Location", "/v1/jobs/"+j.ID)
	writeJSON(w, http.StatusAccepted, render(j))
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	j, err := s.cfg.Jobs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opt := queue.ListOptions{State: queue.State(q.Get("state")), Workspace: q.Get("workspace"), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > queue.MaxListLimit {
			writeError(w, http.StatusBadRequest, "invalid_field", "limit: must be 1 to 500")
			return
		}
		opt.Limit = n
	}
	page, err := s.cfg.Jobs.List(r.Context(), opt)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	j, err := s.cfg.Jobs.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// handleResolve settles an unknown or overdue job as an operator says.
func (s *Server) handleResolve(w http.ResponseWriter, r *http.Request) {
	var res queue.Resolution
	if !decode(w, r, &res) {
		return
	}
	j, err := s.cfg.Jobs.Resolve(r.Context(), r.PathValue("id"), res)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// Limits is the answer of GET /v1/limits: usage against every limit of a
// workspace (DESIGN §7).
type Limits struct {
	Workspace           string                `json:"workspace"`
	OpsLastHour         int64                 `json:"ops_last_hour"`
	OpsLastHourLimit    int64                 `json:"ops_last_hour_limit"`
	OpsLastDay          int64                 `json:"ops_last_day"`
	OpsLastDayLimit     int64                 `json:"ops_last_day_limit"`
	UsersLastDay        int64                 `json:"users_last_day"`
	UsersLastDayLimit   int64                 `json:"users_last_day_limit"`
	ActiveSegments      int64                 `json:"active_segments"`
	ActiveSegmentsLimit int64                 `json:"active_segments_limit"`
	NextSlotAt          *queue.Time           `json:"next_slot_at,omitempty"`
	BlockedUntil        *queue.Time           `json:"blocked_until,omitempty"`
	Reserved            int64                 `json:"reserved"`
	Pending             int64                 `json:"pending"`
	Windows             []limiter.WindowUsage `json:"windows"`
}

func (s *Server) handleLimits(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("workspace")
	ws, ok := s.ws[id]
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_field", "workspace: unknown workspace "+strconv.Quote(id))
		return
	}
	u, err := s.cfg.Limiter.Usage(r.Context(), ws.ID, ws.Limits)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "limiter unavailable")
		return
	}
	writeJSON(w, http.StatusOK, LimitsOf(ws.ID, u))
}

// LimitsOf shapes a limiter usage report as the API's Limits. The first
// two count windows of the workspace's configuration (1 h and 24 h
// upstream) are reported as the hour and day windows; all are in Windows.
func LimitsOf(ws string, u limiter.Usage) Limits {
	out := Limits{
		Workspace: ws, UsersLastDay: u.Users.Used, UsersLastDayLimit: u.Users.Max,
		ActiveSegments: u.ActiveSegments, ActiveSegmentsLimit: u.ActiveSegmentsLimit,
		Reserved: u.Reserved, Pending: u.Pending, Windows: u.Ops,
		NextSlotAt: timePtr(u.NextSlot), BlockedUntil: timePtr(u.BlockedUntil),
	}
	if len(u.Ops) > 0 {
		out.OpsLastHour, out.OpsLastHourLimit = u.Ops[0].Used, u.Ops[0].Max
	}
	if len(u.Ops) > 1 {
		out.OpsLastDay, out.OpsLastDayLimit = u.Ops[1].Used, u.Ops[1].Max
	}
	return out
}

func timePtr(t time.Time) *queue.Time {
	if t.IsZero() {
		return nil
	}
	return queue.TimePtr(t)
}

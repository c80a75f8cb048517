package moesim

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// op is one operation of the family.
type op string

const (
	opCreate    op = "create"
	opAdd       op = "add"
	opRemove    op = "remove"
	opReplace   op = "replace"
	opArchive   op = "archive"
	opUnarchive op = "unarchive"
)

// acceptMessages are the messages of the 202 answers. Only create's is
// documented upstream; the others follow its pattern (chosen).
var acceptMessages = map[op]string{
	opCreate:  "File-segment creation request accepted",
	opAdd:     "File-segment add users request accepted",
	opRemove:  "File-segment remove users request accepted",
	opReplace: "File-segment replace users request accepted",
}

// answer is a response decided under the lock and written after it.
type answer struct {
	status int
	body   any
	rate   *breach
}

func (a answer) write(w http.ResponseWriter) {
	setRateHeaders(w.Header(), a.rate)
	writeJSON(w, a.status, a.body)
}

// job is an accepted request waiting for processing.
type job struct {
	workspace   string
	op          op
	seg         *segment
	requestID   string
	callbackURL string
	dbName      string
	file        fileResult
}

// handleSubmit serves create, add-users, remove-users and replace.
func (s *Server) handleSubmit(o op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		var body submitBody
		if e := decode(r, &body); e != nil {
			writeJSON(w, http.StatusBadRequest, e)
			return
		}
		if e := body.validate(o); e != nil {
			writeJSON(w, http.StatusBadRequest, e)
			return
		}
		if s.injected5xx(w) {
			return
		}
		// Refuse what is refused anyway before spending a download on it.
		if a, ok := s.admit(ws, o, body, fileResult{}, nil); !ok {
			a.write(w)
			return
		}
		// A caller that hangs up after sending the whole request does not
		// stop upstream from processing it (crash tests kill callers here).
		file := s.fetch(context.WithoutCancel(r.Context()), body.FileURL, ws.cfg.Limits.FileSize, body.AttributeType == "double")
		job := job{workspace: ws.cfg.ID, op: o, callbackURL: body.CallbackURL, file: file,
			dbName: firstNonEmpty(r.Header.Get("MOE-DBNAME"), ws.cfg.DBName, ws.cfg.ID)}
		a, ok := s.admit(ws, o, body, file, &job)
		if ok {
			s.mu.Lock()
			delay := s.faults.AnswerDelay
			s.mu.Unlock()
			s.sleep(delay)
		}
		a.write(w)
	}
}

// admit decides a submission under the lock: 409/404, then every limit
// with the file's users. Given a job (without segment and request id) and
// the request admitted, it applies the op, logs it and starts the job's
// processing; without one it only checks. It reports whether the request
// passes.
func (s *Server) admit(ws *workspace, o op, b submitBody, f fileResult, tmpl *job) (answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if s.closed {
		return answer{status: http.StatusServiceUnavailable, body: errClosed}, false
	}
	var g *segment
	if o == opCreate {
		if ws.byName[b.Name] != nil {
			return answer{status: http.StatusConflict, body: nameExists(b.Name)}, false
		}
	} else if g = ws.lookup(b.Name, b.CSID); g == nil {
		return answer{status: http.StatusNotFound, body: notFound(b.Name, b.CSID)}, false
	}
	if br := ws.checkOps(f.users, o == opCreate, now); br != nil {
		s.log.Info("limit breached", zap.String("workspace", ws.cfg.ID), zap.String("op", string(o)),
			zap.String("name", b.Name), zap.Int64("users", f.users))
		return answer{status: http.StatusTooManyRequests, body: errOpsLimit, rate: br}, false
	}
	if tmpl == nil {
		return answer{}, true
	}
	if o == opCreate {
		g = &segment{name: b.Name, id: s.randomHex(24), created: now, expiryDays: *b.ExpiryTime,
			expires: now.Add(time.Duration(*b.ExpiryTime) * s.cfg.ExpiryUnit)}
		ws.add(g)
	}
	ws.recordOp(now, f.users)
	s.addRecord(Record{At: now, Workspace: ws.cfg.ID, Op: string(o), Name: g.name, CSID: g.id, Users: f.users})
	j := *tmpl
	j.seg, j.requestID = g, s.randomHex(32)
	s.stats.InFlight++
	s.goBackground(func() { s.process(j) })
	s.log.Info("accepted", zap.String("workspace", ws.cfg.ID), zap.String("op", string(o)),
		zap.String("name", g.name), zap.String("cs_id", g.id), zap.Int64("users", f.users),
		zap.String("request_id", j.requestID))
	return answer{status: http.StatusAccepted, rate: ws.okHeaders(now),
		body: accepted{Message: acceptMessages[o], Success: true, CSName: g.name, CSID: g.id}}, true
}

// archiveBody is the body of archive and unarchive.
type archiveBody struct {
	Name string `json:"name"`
	CSID string `json:"cs_id"`
}

// handleArchive serves archive and unarchive. Neither counts against the
// ops windows; unarchive needs room under the active-segment limit.
func (s *Server) handleArchive(o op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ws, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		var body archiveBody
		if e := decode(r, &body); e != nil {
			writeJSON(w, http.StatusBadRequest, e)
			return
		}
		if body.Name == "" && body.CSID == "" {
			writeJSON(w, http.StatusBadRequest, missing("name"))
			return
		}
		if s.injected5xx(w) {
			return
		}
		s.archive(ws, o, body).write(w)
	}
}

func (s *Server) archive(ws *workspace, o op, b archiveBody) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if s.closed {
		return answer{status: http.StatusServiceUnavailable, body: errClosed}
	}
	g := ws.lookup(b.Name, b.CSID)
	if g == nil {
		return answer{status: http.StatusNotFound, body: notFound(b.Name, b.CSID)}
	}
	msg := "Segment archived successfully"
	if o == opArchive {
		g.archived = true
	} else {
		msg = "Segment unarchived successfully"
		if !g.active(now) {
			if br := checkActive(ws.activeExpiries(now), ws.cfg.Limits.ActiveSegments, now); br != nil {
				return answer{status: http.StatusTooManyRequests, body: errOpsLimit, rate: br}
			}
			g.archived = false
			if !g.expires.IsZero() && !now.Before(g.expires) {
				// An expired segment comes back for a fresh lifetime (chosen).
				g.expires = now.Add(time.Duration(g.expiryDays) * s.cfg.ExpiryUnit)
			}
		}
	}
	s.addRecord(Record{At: now, Workspace: ws.cfg.ID, Op: string(o), Name: g.name, CSID: g.id})
	return answer{status: http.StatusOK, body: archiveAnswer{Message: msg, Success: true}}
}

// withClose returns a context cancelled with ctx or when the simulator
// closes.
func (s *Server) withClose(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

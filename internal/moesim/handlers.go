package moesim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/segq/segq/internal/moengage"
)

// errorBody is upstream's error answer.
type errorBody struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Upstream's error answers (reference/moengage-api.md); the ones marked
// "chosen" are not documented upstream.
var (
	errUnauthorized = errorBody{"Authentication required", "Invalid Workspace ID or API key used in the Authorization header"}
	errOpsLimit     = errorBody{"Too Many Requests", "File segment operations limit breached. Please retry after some time."}
	errLookupLimit  = errorBody{"Too Many Requests", "API rate limit breached. Please retry after some time."} // chosen
	errInternal     = errorBody{Title: "Internal Server Error"}
	errClosed       = errorBody{Title: "Service Unavailable"} // chosen
)

func invalid(description string) errorBody {
	return errorBody{"Invalid Request", description}
}

func missing(field string) errorBody {
	return invalid("Mandatory field missing in the request: " + field)
}

func notFound(name, csID string) errorBody {
	if csID != "" {
		return errorBody{"Entity Not Found", "Segment not found with the given cs_id: " + csID} // chosen
	}
	return errorBody{"Entity Not Found", "Segment not found with the given name: " + name}
}

func nameExists(name string) errorBody {
	return errorBody{"Resource not created", "Name already exists : " + name}
}

// maxRequestBytes bounds a request body; bigger ones are a 400 (chosen).
const maxRequestBytes = 1 << 20

func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST "+moengage.PathCreate, s.handleSubmit(opCreate))
	api.HandleFunc("PUT "+moengage.PathAddUsers, s.handleSubmit(opAdd))
	api.HandleFunc("PUT "+moengage.PathRemove, s.handleSubmit(opRemove))
	api.HandleFunc("PUT "+moengage.PathReplace, s.handleSubmit(opReplace))
	api.HandleFunc("PATCH "+moengage.PathArchive, s.handleArchive(opArchive))
	api.HandleFunc("PATCH "+moengage.PathUnarchive, s.handleArchive(opUnarchive))
	api.HandleFunc("GET "+moengage.PathSegments, s.handleFind)
	api.HandleFunc("GET "+moengage.PathSegments+"/{id}", s.handleGet)

	mux := http.NewServeMux()
	mux.Handle("/", s.counted(api))
	mux.HandleFunc("GET /_sim/stats", s.handleStats)
	mux.HandleFunc("GET /_sim/log", s.handleLog)
	mux.HandleFunc("GET /_sim/segments", s.handleSegments)
	return mux
}

// authenticate returns the workspace of the request's Basic auth, or writes
// the 401 (or the 400 of a MOE-DBNAME that names another database).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*workspace, bool) {
	id, key, ok := r.BasicAuth()
	s.mu.Lock()
	ws := s.ws[id]
	s.mu.Unlock()
	if !ok || ws == nil || subtle.ConstantTimeCompare([]byte(key), []byte(ws.cfg.APIKey)) != 1 {
		writeJSON(w, http.StatusUnauthorized, errUnauthorized)
		return nil, false
	}
	if db := r.Header.Get("MOE-DBNAME"); db != "" && ws.cfg.DBName != "" && db != ws.cfg.DBName {
		writeJSON(w, http.StatusBadRequest, invalid("Invalid MOE-DBNAME: "+db)) // chosen
		return nil, false
	}
	return ws, true
}

// decode reads a JSON body of at most maxRequestBytes into v.
func decode(r *http.Request, v any) *errorBody {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		e := invalid("Could not read the request body")
		return &e
	}
	if len(body) > maxRequestBytes {
		e := invalid("Request body too large")
		return &e
	}
	if len(bytes.TrimSpace(body)) == 0 {
		e := invalid("Request body is empty")
		return &e
	}
	if err := json.Unmarshal(body, v); err != nil {
		e := invalid("Invalid JSON in the request body")
		return &e
	}
	return nil
}

// injected5xx draws the Submit5xx fault and writes the 500 when it hits.
func (s *Server) injected5xx(w http.ResponseWriter) bool {
	s.mu.Lock()
	hit := s.chance(s.faults.Submit5xx)
	s.mu.Unlock()
	if hit {
		writeJSON(w, http.StatusInternalServerError, errInternal)
	}
	return hit
}

// submitBody is the body of create/add/remove/replace as upstream reads it.
type submitBody struct {
	Name          string   `json:"name"`
	CSID          string   `json:"cs_id"`
	AttributeName string   `json:"attribute_name"`
	AttributeType string   `json:"attribute_type"`
	FileURL       string   `json:"file_url"`
	CallbackURL   string   `json:"callback_url"`
	Emails        []string `json:"emails"`
	ExpiryTime    *int     `json:"expiry_time"`
}

// validate checks the body of op the way upstream does: mandatory fields
// first, in the order of the documentation, then their values.
func (b submitBody) validate(o op) *errorBody {
	var e errorBody
	switch {
	case b.Name == "" && (o == opCreate || b.CSID == ""):
		e = missing("name")
	case b.AttributeName == "":
		e = missing("attribute_name")
	case b.AttributeType == "":
		e = missing("attribute_type")
	case b.FileURL == "":
		e = missing("file_url")
	case o == opCreate && b.ExpiryTime == nil:
		e = missing("expiry_time")
	case b.AttributeType != "string" && b.AttributeType != "double":
		e = invalid("Invalid attribute_type: " + b.AttributeType + ". Allowed values: string, double")
	case !isHTTPURL(b.FileURL):
		e = invalid("Invalid file_url: " + b.FileURL)
	case b.CallbackURL != "" && !isHTTPURL(b.CallbackURL):
		e = invalid("Invalid callback_url: " + b.CallbackURL)
	case o == opCreate && *b.ExpiryTime <= 0:
		e = invalid(fmt.Sprintf("Invalid expiry_time: %d. It must be a positive number of days", *b.ExpiryTime))
	default:
		return nil
	}
	return &e
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// accepted is the 202 answer of create/add/remove/replace.
type accepted struct {
	Message string `json:"message"`
	Success bool   `json:"success"`
	CSName  string `json:"cs_name"`
	CSID    string `json:"cs_id"`
}

// archiveAnswer is the 200 answer of archive and unarchive (chosen shape).
type archiveAnswer struct {
	Message string `json:"message"`
	Success bool   `json:"success"`
}

// segmentView is a segment in the v3 look-ups.
type segmentView struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	CreatedTime string `json:"created_time"`
	Type        string `json:"type"`
	Source      string `json:"source"`
}

func viewOf(g *segment) segmentView {
	return segmentView{Name: g.name, ID: g.id, CreatedTime: g.created.UTC().Format(time.RFC3339),
		Type: "FILE", Source: "API"}
}

func (s *Server) handleFind(w http.ResponseWriter, r *http.Request) {
	ws, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		writeJSON(w, http.StatusBadRequest, missing("name"))
		return
	}
	s.mu.Lock()
	b := checkLookups(&ws.finds, ws.cfg.Limits.FindByName, s.cfg.Now())
	data := []segmentView{}
	if g := ws.byName[name]; g != nil && b == nil {
		data = append(data, viewOf(g))
	}
	rid := s.randomHex(32)
	s.mu.Unlock()
	if b != nil {
		setRateHeaders(w.Header(), b)
		writeJSON(w, http.StatusTooManyRequests, errLookupLimit)
		return
	}
	s.count(func(st *Stats) { st.Lookups++ })
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "response_id": rid, "type": "custom_segments"})
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	ws, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	b := checkLookups(&ws.gets, ws.cfg.Limits.GetByID, s.cfg.Now())
	var view *segmentView
	if g := ws.byID[id]; g != nil {
		v := viewOf(g)
		view = &v
	}
	rid := s.randomHex(32)
	s.mu.Unlock()
	switch {
	case b != nil:
		setRateHeaders(w.Header(), b)
		writeJSON(w, http.StatusTooManyRequests, errLookupLimit)
	case view == nil:
		writeJSON(w, http.StatusNotFound, errorBody{"Entity Not Found", "Segment not found with the given id: " + id})
	default:
		s.count(func(st *Stats) { st.Lookups++ })
		writeJSON(w, http.StatusOK, map[string]any{"data": view, "response_id": rid, "type": "custom_segments"})
	}
}

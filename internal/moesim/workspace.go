package moesim

import (
	"slices"
	"sort"
	"time"
)

// segment is one custom segment of a workspace.
type segment struct {
	name       string
	id         string
	created    time.Time
	expiryDays int
	expires    time.Time
	archived   bool
	users      int64
}

func (g *segment) active(now time.Time) bool {
	return !g.archived && (g.expires.IsZero() || now.Before(g.expires))
}

// SegmentState is a snapshot of one simulated segment.
type SegmentState struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	Archived bool   `json:"archived"`
	// Expired is true once the expiry time has passed (upstream archives
	// the segment then).
	Expired bool `json:"expired"`
	// Users is the user count after the processing finished so far.
	Users     int64     `json:"users"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// workspace is the state of one simulated workspace; guarded by Server.mu.
type workspace struct {
	cfg    Workspace
	ops    []event // accepted create/add/remove/replace, oldest first
	finds  []event
	gets   []event
	byID   map[string]*segment
	byName map[string]*segment
}

func newWorkspace(cfg Workspace) *workspace {
	return &workspace{cfg: cfg, byID: map[string]*segment{}, byName: map[string]*segment{}}
}

// lookup finds a segment by id when csID is set (it wins), else by name.
func (w *workspace) lookup(name, csID string) *segment {
	if csID != "" {
		return w.byID[csID]
	}
	return w.byName[name]
}

func (w *workspace) add(g *segment) {
	w.byID[g.id] = g
	w.byName[g.name] = g
}

// activeExpiries returns the expiry of every active segment (zero: none).
func (w *workspace) activeExpiries(now time.Time) []time.Time {
	var out []time.Time
	for _, g := range w.byID {
		if g.active(now) {
			out = append(out, g.expires)
		}
	}
	return out
}

// recordOp counts an accepted op against the windows, keeping the events
// sorted by time even if the injected clock steps back.
func (w *workspace) recordOp(now time.Time, users int64) {
	i := len(w.ops)
	for i > 0 && w.ops[i-1].at.After(now) {
		i--
	}
	w.ops = slices.Insert(w.ops, i, event{at: now, users: users})
	windows := append(slices.Clone(w.cfg.Limits.Ops), w.cfg.Limits.Users)
	w.ops = prune(w.ops, windows, now)
}

func (w *workspace) snapshot(now time.Time) []SegmentState {
	out := make([]SegmentState, 0, len(w.byID))
	for _, g := range w.byID {
		out = append(out, SegmentState{
			Name: g.name, ID: g.id, Archived: g.archived,
			Expired: !g.expires.IsZero() && !now.Before(g.expires),
			Users:   g.users, CreatedAt: g.created, ExpiresAt: g.expires,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Segments returns the segments of workspace ws, oldest first; nil for an
// unknown workspace.
func (s *Server) Segments(ws string) []SegmentState {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.ws[ws]
	if w == nil {
		return nil
	}
	return w.snapshot(s.cfg.Now())
}

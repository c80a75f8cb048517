package limiter

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// snapshot is the raw state of one workspace as snapshot.lua returns it.
type snapshot struct {
	now, blocked int64
	entries      map[string]string
	w, r, q      []pair
	gz, gs       []pair
	gm           map[string]string
	usersSum     int64
	// bounds are the raw lower bounds of the smallest score of r, w and gz
	// kept in the m hash ("n" for an empty set; absent when unknown).
	bounds map[string]string
}

func (l *Limiter) readSnapshot(ctx context.Context, ws string) (snapshot, error) {
	v, err := l.run(ctx, opSnapshot, ws)
	if err != nil {
		return snapshot{}, err
	}
	var r reply
	res := r.list(v)
	if len(res) != 9 {
		return snapshot{}, fmt.Errorf("limiter: snapshot returned %d parts, want 9", len(res))
	}
	s := snapshot{
		now: r.int(res, 0), entries: hash(&r, res[1]), w: r.pairs(r.list(res[2])), r: r.pairs(r.list(res[3])),
		q: r.pairs(r.list(res[4])), gz: r.pairs(r.list(res[5])), gs: r.pairs(r.list(res[6])),
		gm: hash(&r, res[7]), bounds: hash(&r, res[8]),
	}
	if r.err != nil {
		return snapshot{}, r.err
	}
	if s.blocked, err = metaInt(s.bounds, "b"); err != nil {
		return snapshot{}, err
	}
	if s.usersSum, err = metaInt(s.bounds, "u"); err != nil {
		return snapshot{}, err
	}
	delete(s.bounds, "b")
	delete(s.bounds, "u")
	return s, nil
}

// metaInt reads an integer field of the m hash; absent is 0.
func metaInt(m map[string]string, f string) (int64, error) {
	v, ok := m[f]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("limiter: meta %s: %w", f, err)
	}
	return n, nil
}

func hash(r *reply, v any) map[string]string {
	l := r.list(v)
	m := make(map[string]string, len(l)/2)
	for i := 0; i+1 < len(l); i += 2 {
		m[r.str(l, i)] = r.str(l, i+1)
	}
	return m
}

// snapshot loads the workspace into a Model and returns it with Redis time.
func (l *Limiter) snapshot(ctx context.Context, ws string) (*Model, time.Time, error) {
	s, err := l.readSnapshot(ctx, ws)
	if err != nil {
		return nil, time.Time{}, err
	}
	m, err := s.model()
	return m, fromMs(s.now), err
}

// model rebuilds the Model the snapshot stores.
func (s snapshot) model() (*Model, error) {
	m := NewModel()
	m.blocked = s.blocked
	for id, raw := range s.entries {
		e, err := decodeEntry(id, raw)
		if err != nil {
			return nil, err
		}
		m.entries[id] = e
	}
	ends := make(map[string]int64, len(s.gz))
	for _, p := range s.gz {
		ends[p.key] = p.score
	}
	for _, p := range s.gs {
		i := strings.LastIndexByte(p.key, '@')
		if i < 0 {
			return nil, fmt.Errorf("limiter: gauge member %q has no @slot", p.key)
		}
		m.gauge[p.key] = gaugeInterval{id: p.key[:i], start: p.score, end: ends[p.key], seg: s.gm[p.key]}
	}
	return m, nil
}

// decodeEntry parses "S|slot|order|enq|prio|ops|users|hold|segment".
func decodeEntry(id, raw string) (*entry, error) {
	f := strings.SplitN(raw, "|", 9)
	if len(f) != 9 {
		return nil, fmt.Errorf("limiter: entry %s: malformed %q", id, raw)
	}
	e := &entry{id: id, seg: f[8]}
	switch f[0] {
	case "R":
		e.status = Reserved
	case "P":
		e.status = Pending
	case "C":
		e.status = Committed
	default:
		return nil, fmt.Errorf("limiter: entry %s: status %q", id, f[0])
	}
	var prio int64
	for i, dst := range []*int64{&e.slot, &e.order, &e.enq, &prio, &e.ops, &e.users, &e.hold} {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("limiter: entry %s: field %d: %w", id, i+1, err)
		}
		*dst = n
	}
	e.prio = Priority(prio)
	return e, nil
}

package httpapi

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segq/segq/internal/obs"
	"github.com/segq/segq/queue"
	"go.uber.org/zap"
)

// Status page settings.
const (
	// statusRefresh is the page's auto-refresh period.
	statusRefresh = 10 * time.Second
	// statusRows is how many waiting jobs and failures the page lists.
	statusRows = 10
	// statusScan is how many of the oldest waiting jobs are read to find
	// the ones with the earliest ETA (slots follow enqueue order within a
	// priority, so the earliest ETAs are among the oldest jobs).
	statusScan = 100
)

//go:embed status.html
var statusHTML string

var statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
	"stamp": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"num":   thousands,
}).Parse(statusHTML))

// thousands renders n with thousands separators: 2,000,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// statusPage is what the status page renders.
type statusPage struct {
	Now        time.Time
	Refresh    int
	Dashboard  bool
	Workspaces []workspaceStatus
}

// workspaceStatus is one workspace's section of the page.
type workspaceStatus struct {
	ID           string
	Err          string
	Bars         []limitBar
	NextSlot     string
	BlockedUntil string
	Reserved     int64
	Pending      int64
	States       []stateCount
	WaitingTotal int64
	Waiting      []jobRow
	Failures     []jobRow
}

// limitBar is one limit: used of max, as a bar.
type limitBar struct {
	Name      string
	Used, Max int64
	Percent   int
	Level     string // ok, warn or full: the bar's colour
}

type stateCount struct {
	State queue.State
	N     int64
}

// jobRow is one job of a list on the page.
type jobRow struct {
	ID, Op, Name, State string
	Attempts            int
	When                string // ETA (waiting) or time of failure
	Relative            string
	Error               string
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	page := statusPage{Now: time.Now(), Refresh: int(statusRefresh.Seconds()), Dashboard: s.cfg.Dashboard != nil}
	for _, ws := range s.cfg.Workspaces {
		page.Workspaces = append(page.Workspaces, s.workspaceStatus(ctx, ws))
	}
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, page); err != nil {
		s.log.Error("status page", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

// workspaceStatus gathers one workspace's limits and jobs. A failed read
// is shown on the page instead of failing it.
func (s *Server) workspaceStatus(ctx context.Context, ws Workspace) workspaceStatus {
	out := workspaceStatus{ID: ws.ID}
	u, err := s.cfg.Limiter.Usage(ctx, ws.ID, ws.Limits)
	if err != nil {
		out.Err = "limits unavailable: " + err.Error()
		return out
	}
	now := u.At
	for _, o := range u.Ops {
		out.Bars = append(out.Bars, newBar("ops / "+obs.ShortDuration(o.Length), o.Used, o.Max))
	}
	out.Bars = append(out.Bars, newBar("users / "+obs.ShortDuration(u.Users.Length), u.Users.Used, u.Users.Max),
		newBar("active segments", u.ActiveSegments, u.ActiveSegmentsLimit))
	out.NextSlot = "never (a limit is 0)"
	if !u.NextSlot.IsZero() {
		out.NextSlot = when(u.NextSlot, now)
	}
	if !u.BlockedUntil.IsZero() {
		out.BlockedUntil = when(u.BlockedUntil, now)
	}
	out.Reserved, out.Pending = u.Reserved, u.Pending
	if err := s.jobLists(ctx, ws, now, &out); err != nil {
		out.Err = "jobs unavailable: " + err.Error()
	}
	return out
}

func newBar(name string, used, limit int64) limitBar {
	b := limitBar{Name: name, Used: used, Max: limit, Level: "ok"}
	if limit > 0 {
		b.Percent = int(min(100, used*100/limit))
	}
	switch {
	case used >= limit:
		b.Level, b.Percent = "full", 100
	case b.Percent >= 70:
		b.Level = "warn"
	}
	return b
}

// jobLists fills the state counts, the next waiting jobs by ETA and the
// newest failures.
func (s *Server) jobLists(ctx context.Context, ws Workspace, now time.Time, out *workspaceStatus) error {
	store := s.cfg.Jobs.Store()
	for _, st := range queue.States {
		n, err := store.CountInState(ctx, ws.ID, st)
		if err != nil {
			return err
		}
		if n > 0 {
			out.States = append(out.States, stateCount{State: st, N: n})
		}
		if st == queue.StateWaiting {
			out.WaitingTotal = n
		}
	}
	waiting, err := s.nextWaiting(ctx, ws)
	if err != nil {
		return err
	}
	for _, w := range waiting {
		row := newRow(w.job)
		switch {
		case w.eta.IsZero():
			row.When, row.Relative = "no slot yet", "waits for quota"
		case w.estimated:
			row.When, row.Relative = "≈ "+w.eta.UTC().Format(time.RFC3339), relative(w.eta, now)+" (estimate)"
		default:
			row.When, row.Relative = w.eta.UTC().Format(time.RFC3339), relative(w.eta, now)
		}
		out.Waiting = append(out.Waiting, row)
	}
	page, err := s.cfg.Jobs.List(ctx, queue.ListOptions{State: queue.StateFailed, Workspace: ws.ID, Limit: statusRows})
	if err != nil {
		return err
	}
	slices.SortStableFunc(page.Jobs, func(a, b *queue.Job) int { return b.UpdatedAt.Compare(a.UpdatedAt.Time) })
	for _, j := range page.Jobs {
		row := newRow(j)
		row.When, row.Relative, row.Error = j.UpdatedAt.UTC().Format(time.RFC3339), relative(j.UpdatedAt.Time, now), j.Error
		out.Failures = append(out.Failures, row)
	}
	return nil
}

// waitingJob is a waiting job and when it should be submitted.
type waitingJob struct {
	job *queue.Job
	// eta is the job's reserved slot or, for a job whose request is still
	// pending, the limiter's estimate; zero when it can't fit.
	eta       time.Time
	estimated bool
}

// nextWaiting returns the waiting jobs with the earliest ETA, jobs without
// one last.
func (s *Server) nextWaiting(ctx context.Context, ws Workspace) ([]waitingJob, error) {
	store := s.cfg.Jobs.Store()
	ids, err := store.IDsInState(ctx, ws.ID, queue.StateWaiting, statusScan)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	est, err := s.cfg.Limiter.Estimate(ctx, ws.ID, ws.Limits)
	if err != nil {
		return nil, err
	}
	out := make([]waitingJob, 0, len(ids))
	for _, id := range ids {
		j, err := store.Get(ctx, id)
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		w := waitingJob{job: j}
		if j.ETA != nil {
			w.eta = j.ETA.Time
		} else if at, ok := est[j.ReservationID()]; ok {
			w.eta, w.estimated = at, true
		}
		out = append(out, w)
	}
	slices.SortStableFunc(out, func(a, b waitingJob) int {
		if c := cmp.Compare(etaMissing(a), etaMissing(b)); c != 0 {
			return c
		}
		return a.eta.Compare(b.eta)
	})
	return out[:min(len(out), statusRows)], nil
}

func etaMissing(w waitingJob) int {
	if w.eta.IsZero() {
		return 1
	}
	return 0
}

func newRow(j *queue.Job) jobRow {
	return jobRow{ID: j.ID, Op: string(j.Op), Name: cmp.Or(j.Name, j.CSID), State: string(j.State), Attempts: j.Attempts}
}

// when renders t as a UTC time with its distance from now.
func when(t, now time.Time) string {
	return t.UTC().Format(time.RFC3339) + " (" + relative(t, now) + ")"
}

// relative renders t against now: "now", "in 4m10s", "2h3m ago".
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d == 0:
		return "now"
	case d > 0:
		return "in " + humanDuration(d)
	}
	return humanDuration(-d) + " ago"
}

// humanDuration keeps the two largest units: 3d4h, 2h5m, 4m10s, 9s.
func humanDuration(d time.Duration) string {
	days, h, m, sec := int(d/(24*time.Hour)), int(d/time.Hour)%24, int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

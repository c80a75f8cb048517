package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/internal/autopipe"
)

// Errors callers act on.
var (
	// ErrNotFound means no job has that id.
	ErrNotFound = errors.New("job not found")
	// ErrUnavailable wraps failures to reach Redis; the HTTP API answers
	// 503 to it, never a 2xx.
	ErrUnavailable = errors.New("job store unavailable")
)

// DuplicateError says an active create of the same name already exists in
// the workspace.
type DuplicateError struct {
	Workspace, Name, ExistingID string
}

// Error implements error.
func (e *DuplicateError) Error() string {
	return fmt.Sprintf("an active create of segment %q already exists in workspace %s (job %s)", e.Name, e.Workspace, e.ExistingID)
}

// Key layout. Everything about a job lives under its workspace's hash tag
// so that the scripts below touch one Redis Cluster slot; the locator and
// the workspace set are single-key writes outside any script.
func jobKey(ws, id string) string        { return "segq:{" + ws + "}:job:" + id }
func jobsKey(ws string) string           { return "segq:{" + ws + "}:jobs" }
func stateKey(ws string, s State) string { return "segq:{" + ws + "}:state:" + string(s) }
func nameKey(ws, name string) string     { return "segq:{" + ws + "}:name:" + name }
func locatorKey(id string) string        { return "segq:job:" + id }
func outboxKey(ws string) string         { return "segq:{" + ws + "}:outbox" }
func inboxKey(ws string) string          { return "segq:{" + ws + "}:inbox" }

const workspacesKey = "segq:workspaces"

// createScript stores a new job record and indexes it.
//
//	KEYS[1] -> job record (hash: data, v)
//	KEYS[2] -> workspace job index (zset, lex order of ids)
//	KEYS[3] -> index of the job's state (zset)
//	KEYS[4] -> name key (active create of this name)
//	KEYS[5] -> inbox (zset: job id -> enqueue time, ms) the dispatcher
//	           turns into validation tasks
//	ARGV[1] -> job id
//	ARGV[2] -> job JSON
//	ARGV[3] -> "1" to claim the name key, "0" otherwise
//	ARGV[4] -> enqueue time, ms
//
// Output: {0, ""} created; {1, id} the name is held by job id; {2, ""} a
// record with this id exists already (an idempotent replay).
var createScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then
  return {2, ""}
end
if ARGV[3] == "1" then
  local holder = redis.call("GET", KEYS[4])
  if holder then
    return {1, holder}
  end
  redis.call("SET", KEYS[4], ARGV[1])
end
redis.call("HSET", KEYS[1], "data", ARGV[2], "v", 1)
redis.call("ZADD", KEYS[2], 0, ARGV[1])
redis.call("ZADD", KEYS[3], 0, ARGV[1])
redis.call("ZADD", KEYS[5], ARGV[4], ARGV[1])
return {0, ""}
`)

// saveScript replaces a job record if nobody changed it since it was read.
//
//	KEYS[1] -> job record
//	KEYS[2] -> index of the old state
//	KEYS[3] -> index of the new state
//	KEYS[4] -> name key
//	KEYS[5] -> relay outbox (zset: job id -> time the job finished, ms)
//	ARGV[1] -> version read
//	ARGV[2] -> new job JSON
//	ARGV[3] -> job id
//	ARGV[4] -> "1" to release the name key if this job holds it
//	ARGV[5] -> time in ms to put the job in the outbox, "0" not to
//
// Output: the new version, -1 when the version moved on, -2 when the record
// is gone.
var saveScript = redis.NewScript(`
local v = redis.call("HGET", KEYS[1], "v")
if not v then return -2 end
if v ~= ARGV[1] then return -1 end
local nv = tonumber(v) + 1
redis.call("HSET", KEYS[1], "data", ARGV[2], "v", nv)
if KEYS[2] ~= KEYS[3] then
  redis.call("ZREM", KEYS[2], ARGV[3])
  redis.call("ZADD", KEYS[3], 0, ARGV[3])
end
if ARGV[4] == "1" and redis.call("GET", KEYS[4]) == ARGV[3] then
  redis.call("DEL", KEYS[4])
end
if ARGV[5] ~= "0" then
  redis.call("ZADD", KEYS[5], ARGV[5], ARGV[3])
end
return nv
`)

// Store keeps job records in Redis. The record is the source of truth; asynq
// tasks only carry job ids. Every change is a compare-and-set on the
// record's version, so concurrent workers, callbacks and cancels never
// overwrite each other.
type Store struct {
	rdb redis.UniversalClient
	// pipe sends the loads and saves that callers make at the same time as
	// one pipeline (see internal/autopipe): a burst of callbacks costs a
	// few round trips, not three each.
	pipe     *autopipe.Pipe
	now      func() time.Time
	observer func(from State, j *Job)
	located  locatorCache
	// probe are the workspaces a load reads a job from on the chance that
	// it is theirs, beside its locator (see load).
	probe []string
}

// StoreOption configures a Store.
type StoreOption func(*Store)

// maxProbe bounds the workspaces a load probes; with more, a job whose
// locator is not cached costs one more round trip.
const maxProbe = 8

// WithWorkspaces names the configured workspaces. With at most maxProbe of
// them, reading a job whose workspace is not cached yet takes one round
// trip instead of two: its locator and its record under each of them are
// read together.
func WithWorkspaces(ws []string) StoreOption {
	return func(s *Store) {
		if len(ws) <= maxProbe {
			s.probe = ws
		}
	}
}

// WithClock sets the clock used for timestamps (tests).
func WithClock(now func() time.Time) StoreOption { return func(s *Store) { s.now = now } }

// WithObserver registers a function called after every committed state
// change (logs and metrics). It must not block.
func WithObserver(fn func(from State, j *Job)) StoreOption {
	return func(s *Store) { s.observer = fn }
}

// NewStore returns a Store over rdb.
func NewStore(rdb redis.UniversalClient, opts ...StoreOption) *Store {
	s := &Store{rdb: rdb, pipe: autopipe.New(rdb, 0), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// create stores j (state accepted). claimName makes the create fail with a
// *DuplicateError while another active create holds the same name. A replay
// of an id that exists returns the stored job and existed=true.
func (s *Store) create(ctx context.Context, j *Job, claimName bool) (stored *Job, existed bool, err error) {
	data, err := json.Marshal(j)
	if err != nil {
		return nil, false, err
	}
	claim := "0"
	if claimName {
		claim = "1"
	}
	res, err := s.runCreate(ctx, j, data, claim)
	if err != nil {
		return nil, false, unavailable("store job", err)
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		s.rdb.Del(ctx, locatorKey(j.ID))
		return nil, false, &DuplicateError{Workspace: j.Workspace, Name: j.Name, ExistingID: fmt.Sprint(res[1])}
	case 2:
		got, err := s.Get(ctx, j.ID)
		return got, true, err
	}
	s.located.put(j.ID, j.Workspace)
	s.notify("", j)
	return j, false, nil
}

// runCreate writes the locator, runs createScript and adds the workspace
// to the workspace set in one round trip, through the pipe. The pipeline
// keeps that order on one server, so a record is never stored without its
// locator; on Redis Cluster the client splits it by slot, which is as safe
// since every command is idempotent and the script is what decides. A
// NOSCRIPT reply (the script cache was flushed) falls back to one EVAL.
func (s *Store) runCreate(ctx context.Context, j *Job, data []byte, claim string) ([]any, error) {
	keys := []string{jobKey(j.Workspace, j.ID), jobsKey(j.Workspace), stateKey(j.Workspace, j.State),
		nameKey(j.Workspace, j.Name), inboxKey(j.Workspace)}
	at := j.CreatedAt.UnixMilli()
	loc := redis.NewStatusCmd(ctx, "set", locatorKey(j.ID), j.Workspace)
	run := autopipe.EvalSha(ctx, createScript, keys, j.ID, data, claim, at)
	err := s.pipe.Do(ctx, loc, run, redis.NewIntCmd(ctx, "sadd", workspacesKey, j.Workspace))
	if loc.Err() != nil {
		return nil, loc.Err()
	}
	if run.Err() != nil && redis.HasErrorPrefix(run.Err(), "NOSCRIPT") {
		return createScript.Eval(ctx, s.rdb, keys, j.ID, data, claim, at).Slice()
	}
	if err != nil {
		return nil, err
	}
	return run.Slice()
}

// Get returns the job with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Job, error) {
	j, _, err := s.load(ctx, id)
	return j, err
}

func (s *Store) load(ctx context.Context, id string) (*Job, string, error) {
	vals, err := s.read(ctx, id)
	if err != nil {
		return nil, "", err
	}
	data, ok := vals[0].(string)
	if !ok {
		return nil, "", ErrNotFound
	}
	j := &Job{}
	if err := json.Unmarshal([]byte(data), j); err != nil {
		return nil, "", fmt.Errorf("decode job %s: %w", id, err)
	}
	v, _ := vals[1].(string)
	return j, v, nil
}

// read returns the data and version fields of job id's record. The
// locator (job → workspace) never changes once written, so it is cached;
// when it is not, the locator and the record under each probed workspace
// are read in one round trip, and only a job of another workspace costs a
// second one.
func (s *Store) read(ctx context.Context, id string) ([]any, error) {
	ws, cached := s.located.get(id)
	if cached {
		return s.hmget(ctx, ws, id)
	}
	get := redis.NewStringCmd(ctx, "get", locatorKey(id))
	cmds := []redis.Cmder{get}
	probes := make(map[string]*redis.SliceCmd, len(s.probe))
	for _, w := range s.probe {
		probes[w] = jobFields(ctx, w, id)
		cmds = append(cmds, probes[w])
	}
	_ = s.pipe.Do(ctx, cmds...)
	ws, err := get.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, ErrNotFound
	case err != nil:
		return nil, unavailable("get job", err)
	}
	s.located.put(id, ws)
	probe, ok := probes[ws]
	if !ok {
		return s.hmget(ctx, ws, id)
	}
	vals, err := probe.Result()
	if err != nil {
		return nil, unavailable("get job", err)
	}
	return vals, nil
}

// hmget reads the data and version fields of a job of workspace ws.
func (s *Store) hmget(ctx context.Context, ws, id string) ([]any, error) {
	cmd := jobFields(ctx, ws, id)
	_ = s.pipe.Do(ctx, cmd)
	vals, err := cmd.Result()
	if err != nil {
		return nil, unavailable("get job", err)
	}
	return vals, nil
}

// jobFields is the HMGET of a job record's data and version.
func jobFields(ctx context.Context, ws, id string) *redis.SliceCmd {
	return redis.NewSliceCmd(ctx, "hmget", jobKey(ws, id), "data", "v")
}

// Update applies fn to the current job and stores the result atomically,
// re-reading and re-applying fn when another writer got there first. fn
// may return an error to abort without writing.
func (s *Store) Update(ctx context.Context, id string, fn func(j *Job) error) (*Job, error) {
	for range 50 {
		j, v, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		from := j.State
		if err := fn(j); err != nil {
			return j, err
		}
		j.UpdatedAt = NewTime(s.now())
		data, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		release, outbox := "0", "0"
		if j.State.Terminal() && j.Op == OpCreate {
			release = "1"
		}
		// A job that just finished owes its producer a webhook: the outbox
		// entry is written with the state change, so a crash before the
		// relay task is enqueued cannot lose it.
		if j.State.Terminal() && from != j.State && j.CallbackURL != "" {
			outbox = strconv.FormatInt(s.now().UnixMilli(), 10)
		}
		keys := []string{jobKey(j.Workspace, id), stateKey(j.Workspace, from), stateKey(j.Workspace, j.State),
			nameKey(j.Workspace, j.Name), outboxKey(j.Workspace)}
		nv, err := s.pipe.Run(ctx, saveScript, keys, v, data, id, release, outbox).Int64()
		if err != nil {
			return nil, unavailable("save job", err)
		}
		switch nv {
		case -1:
			continue
		case -2:
			return nil, ErrNotFound
		}
		if from != j.State {
			s.notify(from, j)
		}
		return j, nil
	}
	return nil, fmt.Errorf("save job %s: too much contention", id)
}

// Transition moves the job to state `to` if the state machine allows it
// from the job's current state, applying mutate first (which may refuse by
// returning an error) and recording a timeline event with detail. It
// returns a *StateError when the move is not allowed.
func (s *Store) Transition(ctx context.Context, id string, to State, detail string, mutate func(j *Job) error) (*Job, error) {
	return s.Update(ctx, id, func(j *Job) error {
		if !CanMove(j.State, to) {
			return &StateError{ID: j.ID, From: j.State, To: to}
		}
		if mutate != nil {
			if err := mutate(j); err != nil {
				return err
			}
		}
		j.State = to
		j.Timeline = append(j.Timeline, Event{At: NewTime(s.now()), State: to, Detail: detail})
		return nil
	})
}

func (s *Store) notify(from State, j *Job) {
	if s.observer != nil {
		s.observer(from, j)
	}
}

// ListOptions filters and pages List.
type ListOptions struct {
	// State keeps only jobs in this state when set.
	State State
	// Workspace keeps only jobs of this workspace when set.
	Workspace string
	// Limit is the page size: default 50, at most 500.
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// Page is one page of List, newest job first.
type Page struct {
	Jobs       []*Job `json:"jobs"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// MaxListLimit is the largest page List returns.
const MaxListLimit = 500

// List returns jobs newest first (ids are ULIDs, so id order is enqueue
// order), filtered by state and workspace.
func (s *Store) List(ctx context.Context, opt ListOptions) (Page, error) {
	limit := min(max(opt.Limit, 0), MaxListLimit)
	if limit == 0 {
		limit = 50
	}
	wss := []string{opt.Workspace}
	if opt.Workspace == "" {
		var err error
		if wss, err = s.Workspaces(ctx); err != nil {
			return Page{}, err
		}
	}
	maxLex := "+"
	if opt.Cursor != "" {
		maxLex = "(" + opt.Cursor
	}
	var ids []string
	for _, ws := range wss {
		key := jobsKey(ws)
		if opt.State != "" {
			key = stateKey(ws, opt.State)
		}
		got, err := s.rdb.ZRevRangeByLex(ctx, key, &redis.ZRangeBy{Max: maxLex, Min: "-", Count: int64(limit)}).Result()
		if err != nil {
			return Page{}, unavailable("list jobs", err)
		}
		ids = append(ids, got...)
	}
	slices.SortFunc(ids, func(a, b string) int { return strings.Compare(b, a) })
	if len(ids) > limit {
		ids = ids[:limit]
	}
	page := Page{Jobs: make([]*Job, 0, len(ids))}
	for _, id := range ids {
		j, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Page{}, err
		}
		page.Jobs = append(page.Jobs, j)
	}
	if len(ids) == limit {
		page.NextCursor = ids[len(ids)-1]
	}
	return page, nil
}

// Workspaces returns every workspace that has jobs.
func (s *Store) Workspaces(ctx context.Context) ([]string, error) {
	wss, err := s.rdb.SMembers(ctx, workspacesKey).Result()
	if err != nil {
		return nil, unavailable("list workspaces", err)
	}
	slices.Sort(wss)
	return wss, nil
}

// IDsInState returns up to limit job ids of a workspace in a state, oldest
// first; the worker's reconciler and watchdog scan with it.
func (s *Store) IDsInState(ctx context.Context, ws string, st State, limit int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByLex(ctx, stateKey(ws, st), &redis.ZRangeBy{Min: "-", Max: "+", Count: limit}).Result()
	if err != nil {
		return nil, unavailable("scan jobs", err)
	}
	return ids, nil
}

// CountInState returns how many jobs of a workspace are in a state.
func (s *Store) CountInState(ctx context.Context, ws string, st State) (int64, error) {
	n, err := s.rdb.ZCard(ctx, stateKey(ws, st)).Result()
	if err != nil {
		return 0, unavailable("count jobs", err)
	}
	return n, nil
}

// Outbox returns up to limit ids of finished jobs of a workspace whose
// relay to the producer is due: not acknowledged, and not deferred past
// `now` by DeferOutbox.
func (s *Store) Outbox(ctx context.Context, ws string, now time.Time, limit int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, outboxKey(ws), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: limit,
	}).Result()
	if err != nil {
		return nil, unavailable("scan outbox", err)
	}
	return ids, nil
}

// DeferOutbox makes outbox entries due again only at `until`: their relay
// task is enqueued, and if it is still unacknowledged then, it is checked
// again.
func (s *Store) DeferOutbox(ctx context.Context, ws string, ids []string, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	zs := make([]redis.Z, len(ids))
	for i, id := range ids {
		zs[i] = redis.Z{Score: float64(until.UnixMilli()), Member: id}
	}
	if err := s.rdb.ZAddXX(ctx, outboxKey(ws), zs...).Err(); err != nil {
		return unavailable("defer outbox", err)
	}
	return nil
}

// AckOutbox removes a job from the relay outbox: its webhook was
// delivered, or delivery was given up.
func (s *Store) AckOutbox(ctx context.Context, ws, id string) error {
	if err := s.rdb.ZRem(ctx, outboxKey(ws), id).Err(); err != nil {
		return unavailable("ack outbox", err)
	}
	return nil
}

// locatorCache remembers job id → workspace for recently seen jobs. It is
// bounded: two generations of at most locatorCacheSize entries each; when
// the current one fills up it becomes the previous one and the oldest is
// dropped.
type locatorCache struct {
	mu        sync.Mutex
	cur, prev map[string]string
}

const locatorCacheSize = 16 << 10

func (c *locatorCache) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ws, ok := c.cur[id]; ok {
		return ws, true
	}
	ws, ok := c.prev[id]
	return ws, ok
}

func (c *locatorCache) put(id, ws string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || len(c.cur) >= locatorCacheSize {
		c.prev, c.cur = c.cur, make(map[string]string, 256)
	}
	c.cur[id] = ws
}

// TakeInbox removes and returns up to n ids of newly stored jobs of a
// workspace, oldest first, for the dispatcher to enqueue their validation.
// A job taken but not enqueued (a crash in between) stays accepted and the
// reconciler enqueues it.
func (s *Store) TakeInbox(ctx context.Context, ws string, n int64) ([]string, error) {
	zs, err := s.rdb.ZPopMin(ctx, inboxKey(ws), n).Result()
	if err != nil {
		return nil, unavailable("take inbox", err)
	}
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i], _ = z.Member.(string)
	}
	return ids, nil
}

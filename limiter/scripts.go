package limiter

import (
	"context"
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every op is a script of its own: an optional fast path (Reserve's,
// Promote's and Confirm's *_fast.lua, which run before anything else is
// defined, with helpers from fast.lua), then common.lua (KEYS layout,
// records, trimming), search.lua (the slot search) for the ops that place
// requests, and its own file, which states its ARGV and return value.
// batch.lua wraps them all, as branches of one function, into the one
// script the Limiter runs: see run.
var (
	//go:embed lua/batch.lua
	batchLua string
	//go:embed lua/fast.lua
	fastLua string
	//go:embed lua/reserve_fast.lua
	reserveFastLua string
	//go:embed lua/confirm_fast.lua
	confirmFastLua string
	//go:embed lua/promote_fast.lua
	promoteFastLua string
	//go:embed lua/common.lua
	commonLua string
	//go:embed lua/search.lua
	searchLua string
	//go:embed lua/reserve.lua
	reserveLua string
	//go:embed lua/promote.lua
	promoteLua string
	//go:embed lua/confirm.lua
	confirmLua string
	//go:embed lua/cancel.lua
	cancelLua string
	//go:embed lua/block.lua
	blockLua string
	//go:embed lua/release.lua
	releaseLua string
	//go:embed lua/reserved.lua
	reservedLua string
	//go:embed lua/usage.lua
	usageLua string
	//go:embed lua/snapshot.lua
	snapshotLua string
)

// op names one of the limiter's scripts inside batchScript.
type op string

const (
	opReserve  op = "reserve"
	opPromote  op = "promote"
	opConfirm  op = "confirm"
	opCancel   op = "cancel"
	opBlock    op = "block"
	opRelease  op = "release"
	opReserved op = "reserved"
	opUsage    op = "usage"
	opSnapshot op = "snapshot"
)

// batchScript is batch.lua with every op's script in place.
var batchScript = redis.NewScript(batchSource(map[op][2]string{
	opReserve:  {reserveFastLua, searchLua + reserveLua},
	opPromote:  {promoteFastLua, searchLua + promoteLua},
	opConfirm:  {confirmFastLua, confirmLua},
	opCancel:   {"", cancelLua},
	opBlock:    {"", blockLua},
	opRelease:  {"", releaseLua},
	opReserved: {"", reservedLua},
	opUsage:    {"", searchLua + usageLua},
	opSnapshot: {"", snapshotLua},
}))

// batchSource writes fast.lua and decide, one if-chain with a branch per op
// (in a fixed order, so the script's SHA1 is stable), in place of
// batch.lua's --[[OPS]] line. A branch is the op's fast path, which reads
// the batch's KEYS and ARGV in place, then its keys and arguments copied
// out as the KEYS and ARGV that common.lua and the body read, then
// common.lua and the body.
func batchSource(ops map[op][2]string) string {
	var b strings.Builder
	b.WriteString(fastLua)
	b.WriteString("local function decide(op, ko, ao, n)\n")
	for i, name := range slices.Sorted(maps.Keys(ops)) {
		src := ops[name]
		if i > 0 {
			b.WriteString("else")
		}
		fmt.Fprintf(&b, "if op == %q then\n%s\n", name, src[0])
		b.WriteString("local KEYS, ARGV = {unpack(KEYS, ko + 1, ko + 8)}, {unpack(ARGV, ao + 1, ao + n)}\n")
		fmt.Fprintf(&b, "%s\n%s\n", commonLua, src[1])
	}
	b.WriteString("else\nerror('limiter: unknown op ' .. tostring(op))\nend\nend\n")
	return strings.Replace(batchLua, "--[[OPS]]\n", b.String(), 1)
}

// keyNames are the suffixes of a workspace's keys, in KEYS order (see
// lua/common.lua).
var keyNames = []string{"e", "w", "r", "q", "gz", "gs", "gm", "m"}

// Keys returns the Redis keys of workspace ws, all sharing the hash tag
// {ws}: segq:{ws}:lim:<name>.
func Keys(ws string) []string {
	keys := make([]string, len(keyNames))
	for i, n := range keyNames {
		keys[i] = "segq:{" + ws + "}:lim:" + n
	}
	return keys
}

// decision is one op on one workspace, waiting in the Limiter's group for
// a batch: run fills res or err.
type decision struct {
	op   op
	keys []string
	args []any
	res  any
	err  error
}

// run runs op for workspace ws and returns its raw result. Decisions that
// callers make at the same time go to Redis together as one call of
// batchScript (see internal/autopipe.Group): Redis then parses, looks up
// and starts one script, and reads the clock once, for the whole batch,
// where it would do it for every decision. Each decision is still atomic
// on its own.
func (l *Limiter) run(ctx context.Context, o op, ws string, args ...any) (any, error) {
	if ws == "" {
		return nil, fmt.Errorf("limiter: workspace is empty")
	}
	keys, ok := l.keys.Load(ws)
	if !ok {
		keys, _ = l.keys.LoadOrStore(ws, Keys(ws))
	}
	d := &decision{op: o, keys: keys.([]string), args: args}
	if err := l.group.Do(ctx, d); err != nil {
		d.err = err
	}
	if d.err != nil {
		return nil, fmt.Errorf("limiter: workspace %s: %w", ws, d.err)
	}
	return d.res, nil
}

// send runs a batch of decisions: as one script call on a single Redis
// server; grouped by workspace, one script call per workspace in one
// pipeline, on a cluster or ring, where a script may only touch keys of one
// hash slot.
func (l *Limiter) send(ctx context.Context, batch []*decision) {
	groups := [][]*decision{batch}
	if l.sharded {
		groups = byWorkspace(batch)
	}
	ctx = context.WithoutCancel(ctx)
	cmds := make([]*redis.Cmd, len(groups))
	if len(groups) == 1 {
		cmds[0] = l.eval(ctx, l.rdb, groups[0])
	} else {
		pipe := l.rdb.Pipeline()
		for i, g := range groups {
			cmds[i] = l.eval(ctx, pipe, g)
		}
		_, _ = pipe.Exec(ctx)
	}
	for i, g := range groups {
		if redis.HasErrorPrefix(cmds[i].Err(), "NOSCRIPT") {
			cmds[i] = l.eval(ctx, l.rdb, g)
		}
		spread(g, cmds[i])
	}
}

// eval sends (or queues, on a pipeline) one batchScript call for batch:
// EVALSHA, or EVAL after a NOSCRIPT (c is the client then).
func (l *Limiter) eval(ctx context.Context, c redis.Scripter, batch []*decision) *redis.Cmd {
	keys := make([]string, 0, len(keyNames)*len(batch))
	var args []any
	for _, d := range batch {
		keys = append(keys, d.keys...)
		args = append(append(args, string(d.op), len(d.args)), d.args...)
	}
	if p, ok := c.(redis.Pipeliner); ok {
		return batchScript.EvalSha(ctx, p, keys, args...)
	}
	if cmd := batchScript.EvalSha(ctx, c, keys, args...); !redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		return cmd
	}
	return batchScript.Eval(ctx, c, keys, args...)
}

// spread hands each decision of batch its own reply from cmd's.
func spread(batch []*decision, cmd *redis.Cmd) {
	v, err := cmd.Result()
	replies, ok := v.([]any)
	if err == nil && (!ok || len(replies) != len(batch)) {
		err = fmt.Errorf("batch script returned %T of %d replies for %d decisions", v, len(replies), len(batch))
	}
	for i, d := range batch {
		switch {
		case err != nil:
			d.err = err
		case isRedisError(replies[i]):
			d.err = replies[i].(error)
		default:
			d.res = replies[i]
		}
	}
}

// isRedisError reports whether a reply inside an array is an error reply.
func isRedisError(v any) bool {
	_, ok := v.(redis.Error)
	return ok
}

// byWorkspace splits batch by workspace, keeping order within each.
func byWorkspace(batch []*decision) [][]*decision {
	var out [][]*decision
	at := map[string]int{}
	for _, d := range batch {
		ws := d.keys[0]
		i, ok := at[ws]
		if !ok {
			i = len(out)
			at[ws] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], d)
	}
	return out
}

// reply type-checks script results. The first error sticks; later calls
// return zero values.
type reply struct {
	err error
}

func (r *reply) list(v any) []any {
	l, ok := v.([]any)
	if !ok && r.err == nil {
		r.err = fmt.Errorf("limiter: script returned %T, want array", v)
	}
	return l
}

func (r *reply) int(l []any, i int) int64 {
	if i >= len(l) {
		r.fail(i, "missing")
		return 0
	}
	n, ok := l[i].(int64)
	if !ok {
		r.fail(i, fmt.Sprintf("%T, want integer", l[i]))
	}
	return n
}

func (r *reply) str(l []any, i int) string {
	if i >= len(l) {
		r.fail(i, "missing")
		return ""
	}
	s, ok := l[i].(string)
	if !ok {
		r.fail(i, fmt.Sprintf("%T, want string", l[i]))
	}
	return s
}

// pairs reads a flat {string, score} list as returned by ZRANGE WITHSCORES
// (scores come back as strings) or by scripts (scores as integers).
func (r *reply) pairs(l []any) []pair {
	out := make([]pair, 0, len(l)/2)
	for i := 0; i+1 < len(l); i += 2 {
		p := pair{key: r.str(l, i)}
		switch v := l[i+1].(type) {
		case int64:
			p.score = v
		case string:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil && r.err == nil {
				r.err = fmt.Errorf("limiter: script result[%d]: %w", i+1, err)
			}
			p.score = int64(f)
		default:
			r.fail(i+1, fmt.Sprintf("%T, want score", v))
		}
		out = append(out, p)
	}
	return out
}

func (r *reply) fail(i int, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("limiter: script result[%d]: %s", i, what)
	}
}

type pair struct {
	key   string
	score int64
}

package limiter

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Every script is fast.lua, an optional fast path (Reserve's, Promote's and
// Confirm's *_fast.lua, which run before anything else is defined),
// common.lua (KEYS layout, records, trimming), search.lua (the slot search)
// for the scripts that place requests, and its own file, which states its
// ARGV and return value.
var (
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

var (
	reserveScript  = newScript(reserveFastLua, searchLua+reserveLua)
	promoteScript  = newScript(promoteFastLua, searchLua+promoteLua)
	confirmScript  = newScript(confirmFastLua, confirmLua)
	cancelScript   = newScript("", cancelLua)
	blockScript    = newScript("", blockLua)
	releaseScript  = newScript("", releaseLua)
	reservedScript = newScript("", reservedLua)
	usageScript    = newScript("", searchLua+usageLua)
	snapshotScript = newScript("", snapshotLua)
)

func newScript(fast, body string) *redis.Script {
	return redis.NewScript(fastLua + "\n" + fast + "\n" + commonLua + "\n" + body)
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

// run runs a script for workspace ws and returns its raw result.
func (l *Limiter) run(ctx context.Context, s *redis.Script, ws string, args ...any) (any, error) {
	if ws == "" {
		return nil, fmt.Errorf("limiter: workspace is empty")
	}
	keys, ok := l.keys.Load(ws)
	if !ok {
		keys, _ = l.keys.LoadOrStore(ws, Keys(ws))
	}
	v, err := l.pipe.Run(ctx, s, keys.([]string), args...).Result()
	if err != nil {
		return nil, fmt.Errorf("limiter: workspace %s: %w", ws, err)
	}
	return v, nil
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

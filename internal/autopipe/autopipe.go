// Package autopipe sends Redis commands that goroutines issue at the same
// time as one pipeline: automatic pipelining, as rueidis and Lettuce do it,
// for go-redis.
//
// On a small machine a Redis round trip costs far more in system calls (a
// write and a read on each side, plus the pool's health check) than the
// command itself: on the 2-core VM segq is measured on, GET runs at 53k/s
// one at a time and at 514k/s sixteen to a pipeline. segq's hot paths (a
// limiter decision, a job load and save) are independent commands issued by
// many goroutines at once, so sending them together removes most of that
// cost without changing what any command does: each is still one atomic
// command or script.
//
// The batching itself is Group, which the limiter also uses to run many
// decisions in one script call: no timer, no background goroutine, and a
// caller that finds Redis idle sends at once, alone.
package autopipe

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Client is what a Pipe needs from go-redis: *redis.Client,
// *redis.ClusterClient, *redis.Ring and redis.UniversalClient satisfy it.
type Client interface {
	redis.Scripter
	Process(ctx context.Context, cmd redis.Cmder) error
	Pipeline() redis.Pipeliner
}

// DefaultMaxBatch bounds how many callers' commands go in one pipeline, so
// one slow batch cannot hold a large share of Redis's time.
const DefaultMaxBatch = 128

// Pipe batches concurrent commands on one client (see Group). It is safe
// for concurrent use. The zero value is not usable; call New.
type Pipe struct {
	rdb   Client
	group *Group[[]redis.Cmder]
}

// New returns a Pipe that sends the commands of at most maxBatch callers
// per pipeline (DefaultMaxBatch when maxBatch < 1).
func New(rdb Client, maxBatch int) *Pipe {
	p := &Pipe{rdb: rdb}
	p.group = NewGroup(maxBatch, p.send)
	return p
}

// Do sends cmds, alone or pipelined with other goroutines' commands, waits
// for their answers and returns the first error. cmds stay together and in
// order in the pipeline (which a cluster client splits by node). Commands
// must not block on the server (no BLPOP, no WAIT): a pipeline answers in
// order, so one blocked command would hold up the whole batch. A command
// queued before ctx ends is sent (see Group.Do).
func (p *Pipe) Do(ctx context.Context, cmds ...redis.Cmder) error {
	if err := p.group.Do(ctx, cmds); err != nil {
		for _, cmd := range cmds {
			cmd.SetErr(err)
		}
		return err
	}
	return firstErr(cmds)
}

func firstErr(cmds []redis.Cmder) error {
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return err
		}
	}
	return nil
}

// send runs a batch: a single command as itself, more as a pipeline. The
// pipeline runs under the sending caller's context without its cancellation,
// so one caller giving up does not fail the others' commands; the client's
// read and write timeouts still bound it.
func (p *Pipe) send(ctx context.Context, batch [][]redis.Cmder) {
	if len(batch) == 1 && len(batch[0]) == 1 {
		_ = p.rdb.Process(ctx, batch[0][0])
		return
	}
	pipe := p.rdb.Pipeline()
	for _, cmds := range batch {
		for _, cmd := range cmds {
			_ = pipe.Process(ctx, cmd)
		}
	}
	_, _ = pipe.Exec(context.WithoutCancel(ctx))
}

// Run runs script s like (*redis.Script).Run, through the pipe: EVALSHA,
// and EVAL when the server does not have the script cached (after a
// restart or SCRIPT FLUSH).
func (p *Pipe) Run(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	cmd := EvalSha(ctx, s, keys, args...)
	if err := p.Do(ctx, cmd); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		return s.Run(ctx, p.rdb, keys, args...)
	}
	return cmd
}

// EvalSha builds, without sending, the EVALSHA command of script s, for Do.
func EvalSha(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, "evalsha", s.Hash(), len(keys))
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmdArgs = append(cmdArgs, args...)
	cmd := redis.NewCmd(ctx, cmdArgs...)
	if len(keys) > 0 {
		cmd.SetFirstKeyPos(3) // a cluster client routes by the first key
	}
	return cmd
}

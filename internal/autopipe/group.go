package autopipe

import (
	"context"
	"sync"
)

// maxInFlight is how many batches a Group may have in flight at once, each
// on its own connection. One is not enough: while a batch's replies travel
// back and its callers wake up, Redis would sit idle. Two keep it busy: one
// runs while the next waits in Redis's socket. More only split the same
// callers into smaller batches, and every batch costs a round trip (system
// calls on both sides, which dominate on a small machine).
const maxInFlight = 2

// Group runs the work items that goroutines submit at the same time in
// batches, with a send function that handles a whole batch at once: group
// commit, as databases do it for their logs. Pipe is a Group whose send
// writes one pipeline; the limiter's is one script call for many decisions.
//
// There is no timer and no background goroutine. A caller that finds no
// batch in flight sends its item at once, alone, so an idle system sees no
// added latency. Otherwise callers queue, and the queue goes out as the next
// batch as soon as either
//   - it holds as many callers as a batch in flight does on average (and
//     fewer than maxInFlight batches are out), so that under load the
//     callers split into batches of even size, as large as they can be; or
//   - the last batch in flight returns, so Redis never waits for a queue to
//     fill.
//
// A Group is safe for concurrent use. The zero value is not usable; call
// NewGroup.
type Group[T any] struct {
	send func(ctx context.Context, batch []T)
	max  int

	mu      sync.Mutex
	queue   []*call[T]
	leaders int // batches being sent
	items   int // items in those batches
}

// call is one item waiting to be sent. done receives exactly one value:
// false once the item has been sent, or true when its caller must send
// batch (which holds this call) as the next batch.
type call[T any] struct {
	ctx   context.Context
	item  T
	done  chan bool
	batch []*call[T]
}

// NewGroup returns a Group that hands at most maxBatch items (DefaultMaxBatch
// when maxBatch < 1) to each call of send. send must record every item's
// outcome in the item itself before it returns; it runs under the context
// of the caller that sends the batch (one of its items), and should not let
// that caller's cancellation fail the other items.
func NewGroup[T any](maxBatch int, send func(ctx context.Context, batch []T)) *Group[T] {
	if maxBatch < 1 {
		maxBatch = DefaultMaxBatch
	}
	return &Group[T]{send: send, max: maxBatch}
}

// Do sends item, alone or in a batch with other goroutines' items, and
// returns once the batch has been sent and answered. It returns ctx's error,
// without sending, only when ctx has ended before the call.
//
// Once queued, an item is sent even if ctx is cancelled while it waits (the
// caller still waits for the outcome): like a single command whose context
// ends mid-flight, it may or may not have run, and returning early would
// hide that it did.
func (g *Group[T]) Do(ctx context.Context, item T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &call[T]{ctx: ctx, item: item}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	batches := g.dueBatches()
	// Callers go in the order they came, so this call is the last of the
	// queue: when it is in a batch that goes now, this caller sends that
	// batch itself (rather than waking another to do so). A queue longer
	// than a batch goes first, and this caller waits its turn.
	var mine []*call[T]
	if n := len(batches); n > 0 && batches[n-1][len(batches[n-1])-1] == c {
		mine, batches = batches[n-1], batches[:n-1]
	} else {
		c.done = make(chan bool, 1)
	}
	g.mu.Unlock()
	handOff(batches)
	if mine != nil {
		g.lead(c, mine)
		return nil
	}
	if <-c.done {
		g.lead(c, c.batch)
	}
	return nil
}

// due reports whether a batch of n queued callers should go out now (see
// Group). Callers hold g.mu.
func (g *Group[T]) due(n int) bool {
	return g.leaders == 0 || g.leaders < maxInFlight && n >= g.items/g.leaders
}

// dueBatches takes every batch that is due (see Group) off the head of the
// queue, at most max calls each, and counts them as in flight. Callers
// hold g.mu.
func (g *Group[T]) dueBatches() [][]*call[T] {
	var out [][]*call[T]
	for len(g.queue) > 0 && g.due(len(g.queue)) {
		n := min(g.max, len(g.queue))
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		if len(g.queue) == 0 {
			g.queue = nil // let the old backing array go
		}
		g.leaders++
		g.items += n
		out = append(out, batch)
	}
	return out
}

// handOff hands each batch to its oldest caller, who sends it.
func handOff[T any](batches [][]*call[T]) {
	for _, batch := range batches {
		batch[0].batch = batch
		batch[0].done <- true
	}
}

// lead sends batch, then hands every batch now due to its oldest caller,
// then answers the rest of batch; own is the leader's own call.
func (g *Group[T]) lead(own *call[T], batch []*call[T]) {
	items := make([]T, len(batch))
	for i, c := range batch {
		items[i] = c.item
	}
	g.send(own.ctx, items)
	g.mu.Lock()
	g.leaders--
	g.items -= len(batch)
	next := g.dueBatches()
	g.mu.Unlock()
	handOff(next)
	for _, c := range batch {
		if c != own {
			c.done <- false
		}
	}
}

// queued is the number of callers waiting for a batch (for tests).
func (g *Group[T]) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

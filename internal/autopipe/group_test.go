package autopipe

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// held is a batch that a test's send function holds until the test lets
// it return.
type held struct {
	items []int
	done  chan struct{}
}

// holdingGroup returns a Group whose send reports every batch on the
// returned channel and returns only when the test closes its done.
func holdingGroup(maxBatch int) (*Group[int], chan held) {
	sent := make(chan held, 64)
	g := NewGroup(maxBatch, func(_ context.Context, batch []int) {
		h := held{items: slices.Clone(batch), done: make(chan struct{})}
		sent <- h
		<-h.done
	})
	return g, sent
}

// Under load, the queue goes out as soon as it holds as many callers as a
// batch in flight does on average, without waiting for a batch to return;
// a smaller queue waits for the last batch in flight.
func TestGroupSendsEvenBatches(t *testing.T) {
	t.Parallel()
	g, sent := holdingGroup(100)
	ctx := context.Background()
	var wg sync.WaitGroup
	returned := map[int]chan struct{}{}
	do := func(i int) {
		returned[i] = make(chan struct{})
		wg.Go(func() {
			defer close(returned[i])
			require.NoError(t, g.Do(ctx, i))
		})
	}
	queue := func(from, to int) {
		for i := from; i < to; i++ {
			do(i)
			waitFor(t, "the caller to queue", func() bool { return g.queued() == i-from+1 })
		}
	}

	do(0)
	first := <-sent
	require.Equal(t, []int{0}, first.items, "nothing in flight: a caller goes at once, alone")
	do(1)
	second := <-sent
	require.Equal(t, []int{1}, second.items, "one batch of 1 in flight: a queue of 1 is as large")

	queue(2, 6) // two batches in flight: callers queue
	close(first.done)
	third := <-sent
	require.Equal(t, []int{2, 3, 4, 5}, third.items, "a returning batch hands the whole queue on")

	queue(6, 9) // in flight: {1} and {2..5}
	close(second.done)
	<-returned[1]
	require.Equal(t, 3, g.queued(), "3 queued, 4 in the batch in flight: the queue waits")
	do(9)
	fourth := <-sent
	require.Equal(t, []int{6, 7, 8, 9}, fourth.items, "4 queued, as many as in flight: the queue goes")

	queue(10, 12)
	close(third.done)
	close(fourth.done)
	fifth := <-sent
	require.Equal(t, []int{10, 11}, fifth.items, "the last batch in flight returned: the queue goes")
	close(fifth.done)
	wg.Wait()
}

// A batch never holds more than the bound; the rest wait for the next,
// and callers go in the order they came.
func TestGroupBoundsBatches(t *testing.T) {
	t.Parallel()
	g, sent := holdingGroup(3)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { require.NoError(t, g.Do(ctx, i)) })
	}
	a, b := <-sent, <-sent
	for i := 2; i < 12; i++ {
		wg.Go(func() { require.NoError(t, g.Do(ctx, i)) })
		waitFor(t, "the caller to queue", func() bool { return g.queued() == i-1 })
	}
	close(a.done)
	close(b.done)
	var batches [][]int
	for n := 0; n < 10; {
		h := <-sent
		require.LessOrEqual(t, len(h.items), 3)
		batches = append(batches, h.items)
		n += len(h.items)
		close(h.done)
	}
	wg.Wait()
	// Batches in flight together reach send in any order, but each holds
	// callers that came one after the other, in the order they came.
	slices.SortFunc(batches, func(x, y []int) int { return x[0] - y[0] })
	require.Equal(t, []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, slices.Concat(batches...), "every queued item sent once, in order")
}

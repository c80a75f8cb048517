package queue_test

import (
	"context"
	"strings"
	"testing"

	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

// walk enqueues req and moves the job along states.
func walk(t *testing.T, b *testBundle, req queue.Request, states ...queue.State) *queue.Job {
	t.Helper()
	ctx := context.Background()
	j, _, err := b.client.Enqueue(ctx, req, queue.EnqueueOptions{})
	require.NoError(t, err)
	for _, s := range states {
		j, err = b.client.Store().Transition(ctx, j.ID, s, "test", nil)
		require.NoError(t, err)
	}
	return j
}

var toUnknown = []queue.State{queue.StateValidating, queue.StateWaiting, queue.StateSubmitting, queue.StateUnknown}

func TestResolveUnknownCreateAsSucceeded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	req := validCreate()
	req.CallbackURL = "https://producer.example.com/hook"
	j := walk(t, b, req, toUnknown...)

	got, err := b.client.Resolve(ctx, j.ID, queue.Resolution{State: queue.StateSucceeded,
		Reason: "  segment seg-a exists in MoEngage with 9 users  ", CSID: "cs-42"})
	require.NoError(t, err)
	require.Equal(t, queue.StateSucceeded, got.State)
	require.Equal(t, "cs-42", got.CSID)
	require.Empty(t, got.Error)
	last := got.Timeline[len(got.Timeline)-1]
	require.Equal(t, "resolved by operator: segment seg-a exists in MoEngage with 9 users", last.Detail)

	stored, err := b.client.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, got, stored)
	// The producer is told (outbox), and the name is free for a new create.
	out, err := b.client.Store().Outbox(ctx, "ws1", b.client.Store().Now().Add(1), 10)
	require.NoError(t, err)
	require.Equal(t, []string{j.ID}, out)
	_, _, err = b.client.Enqueue(ctx, validCreate(), queue.EnqueueOptions{})
	require.NoError(t, err)
}

func TestResolveOverdueAsFailed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	j := walk(t, b, validCreate(), queue.StateValidating, queue.StateWaiting, queue.StateSubmitting,
		queue.StateSubmitted, queue.StateOverdue)
	got, err := b.client.Resolve(context.Background(), j.ID, queue.Resolution{State: queue.StateFailed,
		Reason: "MoEngage shows the segment with 0 users"})
	require.NoError(t, err)
	require.Equal(t, queue.StateFailed, got.State)
	require.Equal(t, "resolved by operator: MoEngage shows the segment with 0 users", got.Error)
}

func TestResolveRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	unknown := walk(t, b, validCreate(), toUnknown...)
	add := queue.Request{Workspace: "ws1", Op: queue.OpAdd, CSID: "cs-1", AttributeName: "gaid",
		AttributeType: "string", FileURL: "https://files.example.com/a.csv"}
	addUnknown := walk(t, b, add, toUnknown...)
	second := validCreate()
	second.Name = "seg-b"
	waiting := walk(t, b, second, queue.StateValidating, queue.StateWaiting)

	ok := queue.Resolution{State: queue.StateSucceeded, Reason: "checked"}
	fieldCases := []struct {
		name  string
		id    string
		r     queue.Resolution
		field string
	}{
		{"no state", unknown.ID, queue.Resolution{Reason: "x"}, "state"},
		{"not an outcome", unknown.ID, queue.Resolution{State: queue.StateRetrying, Reason: "x"}, "state"},
		{"no reason", unknown.ID, queue.Resolution{State: queue.StateFailed, Reason: " \t"}, "reason"},
		{"long reason", unknown.ID, queue.Resolution{State: queue.StateFailed, Reason: strings.Repeat("x", 501)}, "reason"},
		{"cs_id on failure", unknown.ID, queue.Resolution{State: queue.StateFailed, Reason: "x", CSID: "cs-2"}, "cs_id"},
		{"long cs_id", unknown.ID, queue.Resolution{State: queue.StateSucceeded, Reason: "x", CSID: strings.Repeat("c", 256)}, "cs_id"},
		{"other segment of an add", addUnknown.ID, queue.Resolution{State: queue.StateSucceeded, Reason: "x", CSID: "cs-2"}, "cs_id"},
	}
	for _, c := range fieldCases {
		_, err := b.client.Resolve(ctx, c.id, c.r)
		var fe *queue.FieldError
		require.ErrorAs(t, err, &fe, c.name)
		require.Equal(t, c.field, fe.Field, c.name)
	}

	_, err := b.client.Resolve(ctx, waiting.ID, ok)
	var se *queue.StateError
	require.ErrorAs(t, err, &se)
	require.Equal(t, queue.StateWaiting, se.From)
	_, err = b.client.Resolve(ctx, "01JNOSUCHJOB0000000000000", ok)
	require.ErrorIs(t, err, queue.ErrNotFound)

	// Nothing above changed a job; the add keeps its segment id.
	for _, id := range []string{unknown.ID, addUnknown.ID} {
		j, err := b.client.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, queue.StateUnknown, j.State)
	}
	got, err := b.client.Resolve(ctx, addUnknown.ID, queue.Resolution{State: queue.StateSucceeded, Reason: "x", CSID: "cs-1"})
	require.NoError(t, err)
	require.Equal(t, "cs-1", got.CSID)

	// A second resolution is a conflict: the first one stands.
	_, err = b.client.Resolve(ctx, addUnknown.ID, queue.Resolution{State: queue.StateFailed, Reason: "changed my mind"})
	require.ErrorAs(t, err, &se)
	require.Equal(t, queue.StateSucceeded, se.From)
}

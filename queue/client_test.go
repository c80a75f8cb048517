package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segq/segq/queue"
	"github.com/stretchr/testify/require"
)

type testBundle struct {
	mr     *miniredis.Miniredis
	rdb    *redis.Client
	client *queue.Client
	slots  *recordingSlots
}

// recordingSlots is a SlotCanceller that remembers what it freed.
type recordingSlots struct{ freed []string }

func (r *recordingSlots) Cancel(_ context.Context, ws, id string) error {
	r.freed = append(r.freed, ws+" "+id)
	return nil
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	slots := &recordingSlots{}
	c := queue.NewClient(rdb, queue.ClientOptions{Workspaces: []string{"ws1", "ws2"}, Slots: slots})
	t.Cleanup(func() { _ = c.Close() })
	return &testBundle{mr: mr, rdb: rdb, client: c, slots: slots}
}

func validCreate() queue.Request {
	return queue.Request{
		Workspace: "ws1", Name: "seg-a", AttributeName: "gaid", AttributeType: "string",
		FileURL: "https://files.example.com/a.csv", ExpiryTime: 30,
	}
}

func TestEnqueueValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(r *queue.Request)
		field  string
	}{
		{"missing workspace", func(r *queue.Request) { r.Workspace = "" }, "workspace"},
		{"unknown workspace", func(r *queue.Request) { r.Workspace = "nope" }, "workspace"},
		{"bad op", func(r *queue.Request) { r.Op = "delete" }, "op"},
		{"missing name", func(r *queue.Request) { r.Name = "" }, "name"},
		{"missing attribute", func(r *queue.Request) { r.AttributeName = "" }, "attribute_name"},
		{"bad attribute type", func(r *queue.Request) { r.AttributeType = "int" }, "attribute_type"},
		{"missing file", func(r *queue.Request) { r.FileURL = "" }, "file_url"},
		{"ftp file", func(r *queue.Request) { r.FileURL = "ftp://x/a.csv" }, "file_url"},
		{"file with credentials", func(r *queue.Request) { r.FileURL = "https://u:p@x/a.csv" }, "file_url"},
		{"expiry zero", func(r *queue.Request) { r.ExpiryTime = 0 }, "expiry_time"},
		{"expiry negative", func(r *queue.Request) { r.ExpiryTime = -3 }, "expiry_time"},
		{"bad callback", func(r *queue.Request) { r.CallbackURL = "not a url" }, "callback_url"},
		{"bad email", func(r *queue.Request) { r.Emails = []string{"a@b.c", "nope"} }, "emails[1]"},
		{"bad priority", func(r *queue.Request) { r.Priority = "urgent" }, "priority"},
		{"cs_id on create", func(r *queue.Request) { r.CSID = "x" }, "cs_id"},
		{"expiry on add", func(r *queue.Request) { r.Op = queue.OpAdd }, "expiry_time"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req := validCreate()
			tc.mutate(&req)
			_, _, err := b.client.Enqueue(context.Background(), req, queue.EnqueueOptions{})
			var fe *queue.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field)
			require.Empty(t, b.mr.Keys(), "nothing may be stored for an invalid request")
		})
	}
}

func TestEnqueueStoresAndIndexes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	j, created, err := b.client.Enqueue(ctx, validCreate(), queue.EnqueueOptions{})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, queue.StateAccepted, j.State)
	require.Equal(t, "default", j.Priority)
	require.Len(t, j.Timeline, 1)

	got, err := b.client.Get(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, j.ID, got.ID)
	require.Equal(t, queue.OpCreate, got.Op)

	page, err := b.client.List(ctx, queue.ListOptions{State: queue.StateAccepted})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 1)

	_, err = b.client.Get(ctx, "01NOPE")
	require.ErrorIs(t, err, queue.ErrNotFound)
}

func TestDuplicateActiveCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	first, _, err := b.client.Enqueue(ctx, validCreate(), queue.EnqueueOptions{})
	require.NoError(t, err)
	_, _, err = b.client.Enqueue(ctx, validCreate(), queue.EnqueueOptions{})
	var dup *queue.DuplicateError
	require.ErrorAs(t, err, &dup)
	require.Equal(t, first.ID, dup.ExistingID)

	// Another workspace may use the name; once the first ends, so may ws1.
	other := validCreate()
	other.Workspace = "ws2"
	_, _, err = b.client.Enqueue(ctx, other, queue.EnqueueOptions{})
	require.NoError(t, err)
	_, err = b.client.Cancel(ctx, first.ID)
	require.NoError(t, err)
	_, _, err = b.client.Enqueue(ctx, validCreate(), queue.EnqueueOptions{})
	require.NoError(t, err)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	opt := queue.EnqueueOptions{IdempotencyKey: "k1"}
	first, created, err := b.client.Enqueue(ctx, validCreate(), opt)
	require.NoError(t, err)
	require.True(t, created)
	again, created, err := b.client.Enqueue(ctx, validCreate(), opt)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first.ID, again.ID)

	other := validCreate()
	other.Name = "seg-b"
	_, _, err = b.client.Enqueue(ctx, other, opt)
	require.ErrorIs(t, err, queue.ErrIdempotencyMismatch)
	require.Greater(t, b.mr.TTL("segq:idem:k1"), 23*time.Hour)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	j, _, err := b.client.Enqueue(ctx, validCreate(), queue.EnqueueOptions{})
	require.NoError(t, err)
	got, err := b.client.Cancel(ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, queue.StateCancelled, got.State)
	require.Equal(t, []string{"ws1 " + j.ID + "/01"}, b.slots.freed)

	_, err = b.client.Cancel(ctx, j.ID)
	var se *queue.StateError
	require.ErrorAs(t, err, &se)
	require.Equal(t, queue.StateCancelled, se.From)
}

func TestTransitionRules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	j, _, err := b.client.Enqueue(ctx, validCreate(), queue.EnqueueOptions{})
	require.NoError(t, err)
	store := b.client.Store()
	_, err = store.Transition(ctx, j.ID, queue.StateSubmitted, "skip ahead", nil)
	var se *queue.StateError
	require.ErrorAs(t, err, &se)

	got, err := store.Transition(ctx, j.ID, queue.StateValidating, "checking", nil)
	require.NoError(t, err)
	require.Equal(t, queue.StateValidating, got.State)
	require.Len(t, got.Timeline, 2)

	ids, err := store.IDsInState(ctx, "ws1", queue.StateValidating, 10)
	require.NoError(t, err)
	require.Equal(t, []string{j.ID}, ids)
	ids, err = store.IDsInState(ctx, "ws1", queue.StateAccepted, 10)
	require.NoError(t, err)
	require.Empty(t, ids)
}

func TestListPagesNewestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		req := validCreate()
		req.Name = "seg-" + string(rune('a'+i))
		req.Workspace = []string{"ws1", "ws2"}[i%2]
		j, _, err := b.client.Enqueue(ctx, req, queue.EnqueueOptions{})
		require.NoError(t, err)
		ids = append(ids, j.ID)
	}
	var seen []string
	cursor := ""
	for {
		page, err := b.client.List(ctx, queue.ListOptions{Limit: 2, Cursor: cursor})
		require.NoError(t, err)
		for _, j := range page.Jobs {
			seen = append(seen, j.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, seen)
}

func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mr.Close()
	_, _, err := b.client.Enqueue(context.Background(), validCreate(), queue.EnqueueOptions{})
	require.True(t, errors.Is(err, queue.ErrUnavailable), "got %v", err)
}

package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// SlotCanceller frees a job's limiter reservation; *limiter.Limiter
// implements it.
type SlotCanceller interface {
	Cancel(ctx context.Context, workspace, reservationID string) error
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// Workspaces are the workspace ids the client accepts; empty accepts any.
	Workspaces []string
	// Slots frees reservations of cancelled jobs. Optional for producers
	// that never cancel.
	Slots SlotCanceller
	// Logger receives warnings; defaults to a no-op logger.
	Logger *zap.Logger
	// Store options (clock, observer).
	StoreOptions []StoreOption
}

// Client is the producer's handle on segq: enqueue, inspect and cancel jobs.
// It is safe for concurrent use.
type Client struct {
	store      *Store
	tasks      *asynq.Client
	slots      SlotCanceller
	workspaces map[string]bool
	log        *zap.Logger
}

// NewClient returns a Client over rdb. Close it when done.
func NewClient(rdb redis.UniversalClient, opt ClientOptions) *Client {
	storeOpts := append([]StoreOption{WithWorkspaces(opt.Workspaces)}, opt.StoreOptions...)
	c := &Client{
		store: NewStore(rdb, storeOpts...),
		tasks: asynq.NewClientFromRedisClient(rdb),
		slots: opt.Slots,
		log:   opt.Logger,
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	if len(opt.Workspaces) > 0 {
		c.workspaces = map[string]bool{}
		for _, w := range opt.Workspaces {
			c.workspaces[w] = true
		}
	}
	return c
}

// Store returns the job store the client writes to.
func (c *Client) Store() *Store { return c.store }

// Close releases the client's asynq handle; the Redis client stays open.
func (c *Client) Close() error { return c.tasks.Close() }

// EnqueueOptions are optional settings of one Enqueue.
type EnqueueOptions struct {
	// IdempotencyKey makes retries of the same request safe: the same key
	// with the same body returns the first job; with another body it fails
	// with ErrIdempotencyMismatch. Keys are kept for 24 hours.
	IdempotencyKey string
}

// ErrIdempotencyMismatch means an idempotency key was reused with a
// different request body.
var ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")

const idempotencyTTL = 24 * time.Hour

// Enqueue validates req, stores the job (state accepted) and schedules its
// validation. A nil error means the job is durably stored. created is false
// when an idempotent replay returned an earlier job.
func (c *Client) Enqueue(ctx context.Context, req Request, opt EnqueueOptions) (job *Job, created bool, err error) {
	known := func(ws string) bool { return c.workspaces == nil || c.workspaces[ws] }
	if err := req.normalize(known); err != nil {
		return nil, false, err
	}
	id := ulid.MustNew(ulid.Timestamp(c.store.now()), ulid.DefaultEntropy()).String()
	if opt.IdempotencyKey != "" {
		prior, err := c.claimKey(ctx, opt.IdempotencyKey, req, id)
		if err != nil {
			return nil, false, err
		}
		id = prior
	}
	now := NewTime(c.store.now())
	j := &Job{
		ID: id, Workspace: req.Workspace, Op: req.Op, Name: req.Name, CSID: req.CSID,
		AttributeName: req.AttributeName, AttributeType: req.AttributeType, FileURL: req.FileURL,
		ExpiryTime: req.ExpiryTime, CallbackURL: req.CallbackURL, Emails: req.Emails, Priority: req.Priority,
		RelayFormat: req.RelayFormat, State: StateAccepted, Attempts: 1, CreatedAt: now, UpdatedAt: now,
		Timeline: []Event{{At: now, State: StateAccepted, Detail: "enqueued"}},
	}
	stored, existed, err := c.store.create(ctx, j, req.Op == OpCreate)
	if err != nil {
		return nil, false, err
	}
	if existed {
		return stored, false, nil
	}
	// The record went into the workspace's inbox in the same script: the
	// workers' dispatcher enqueues its validation within a tick, so a
	// crash here cannot leave a stored job without its task, and the
	// producer's request costs one round trip to Redis.
	return j, true, nil
}

// claimKey binds an idempotency key to the request's hash and a job id,
// returning the id to use: the new one, or the one bound earlier.
func (c *Client) claimKey(ctx context.Context, key string, req Request, id string) (string, error) {
	body, _ := json.Marshal(req)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	k := "segq:idem:" + key
	ok, err := c.store.rdb.SetNX(ctx, k, hash+" "+id, idempotencyTTL).Result()
	if err != nil {
		return "", unavailable("idempotency key", err)
	}
	if ok {
		return id, nil
	}
	prior, err := c.store.rdb.Get(ctx, k).Result()
	if err != nil {
		return "", unavailable("idempotency key", err)
	}
	priorHash, priorID, _ := strings.Cut(prior, " ")
	if priorHash != hash {
		return "", ErrIdempotencyMismatch
	}
	return priorID, nil
}

// Get returns the job with the given id, or ErrNotFound.
func (c *Client) Get(ctx context.Context, id string) (*Job, error) {
	return c.store.Get(ctx, id)
}

// List returns a page of jobs, newest first.
func (c *Client) List(ctx context.Context, opt ListOptions) (Page, error) {
	if opt.State != "" && !opt.State.Valid() {
		return Page{}, fieldErr("state", "unknown state %q", opt.State)
	}
	return c.store.List(ctx, opt)
}

// Cancel cancels a job that has not been sent upstream yet and frees its
// slot. It returns a *StateError for a job already submitted or finished.
func (c *Client) Cancel(ctx context.Context, id string) (*Job, error) {
	j, err := c.store.Transition(ctx, id, StateCancelled, "cancelled by producer", func(j *Job) error {
		j.ETA = nil
		return nil
	})
	if err != nil {
		return j, err
	}
	if c.slots != nil {
		if err := c.slots.Cancel(ctx, j.Workspace, j.ReservationID()); err != nil {
			// The submit task frees the slot when it finds the job cancelled.
			c.log.Warn("free slot of cancelled job", zap.String("job_id", j.ID), zap.Error(err))
		}
	}
	return j, nil
}

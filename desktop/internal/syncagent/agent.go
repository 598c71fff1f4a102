// Package syncagent keeps a workstation's local store in step with the
// cloud: it pushes the outbox (the workstation's own results, each with a
// client-generated UUID), removes an entry only once the cloud has
// acknowledged it, then pulls the organisation's change feed page by page,
// applying each page together with its cursor in one local transaction.
//
// The agent holds nothing that matters in memory: everything it must not
// lose is in the Store (cursor, outbox) or in the cloud (receipts), so it
// can be killed between any two steps and started again. Its Run loop is
// supervised: a failed or panicking sync is retried with capped
// exponential backoff and jitter. It learns of new changes from the
// cloud's Watch stream and falls back to polling when the stream breaks.
//
// The interfaces are declared here, by the consumer: Store (the local
// store; package localstore through an adapter, or the in-memory
// memlocal for the simulation) and Cloud (the sync service; Connect in
// connect.go, a simulated cloud in the tests).
package syncagent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Change is one entry of the cloud's feed.
type Change struct {
	Kind    string
	ID      string
	Delete  bool
	Payload []byte
	Seq     int64
}

// Page is a pulled page as the store applies it: From is the cursor it
// was pulled from, Next the cursor to store with it.
type Page struct {
	From, Next string
	Changes    []Change
	// Latest is the cloud's latest change sequence when the page was read
	// (0 when unknown).
	Latest int64
}

// Pulled is the cloud's answer to a pull.
type Pulled struct {
	// From is the cursor the cloud computed the page from (it echoes the
	// request's); a page whose From is not the cursor asked with is
	// dropped.
	From    string
	Next    string
	Changes []Change
	HasMore bool
	Latest  int64
}

// Entry is one outbox entry.
type Entry struct {
	ID      string // client-generated UUID
	Kind    string // document_result, override, print_event
	Payload []byte
	// Document results.
	DocumentID, ContentSHA256, PipelineVersion string
	// Overrides.
	RecordID string
	BaseSeq  int64
}

// AckStatus is how the cloud took an entry.
type AckStatus int

// Statuses.
const (
	AckApplied AckStatus = iota + 1
	AckAlreadyStored
	AckConflict
	AckRejected
)

// Ack acknowledges one entry: the cloud has durably taken its final
// decision on it, so it leaves the outbox.
type Ack struct {
	ID      string
	Status  AckStatus
	Seq     int64
	Message string
}

// ErrCursorMismatch is what Store.ApplyPage returns (wrapped or not) when
// the page's From is not the stored cursor: the page is stale or a
// duplicate and nothing was changed.
var ErrCursorMismatch = errors.New("page does not follow the stored cursor")

// ErrCursorAhead is what Cloud.Pull returns (wrapped or not) when the
// cursor is ahead of the cloud's data (the cloud was restored from a
// backup): the agent then resets the store's cursor (Resetter) and pulls
// everything again, keeping the outbox.
var ErrCursorAhead = errors.New("the sync cursor is ahead of the cloud")

// ErrRevoked is what Cloud calls return (wrapped or not) when the cloud
// has revoked this workstation (or the credentials it syncs with): Run
// stops and returns it, and the caller crypto-shreds the local store.
var ErrRevoked = errors.New("this workstation's access was revoked by the cloud")

// ErrSuspended is what Cloud calls return while the organisation's
// account is suspended. Unlike ErrRevoked it is not final: Run keeps
// retrying and syncing resumes when the account is reinstated.
var ErrSuspended = errors.New("this organisation's HealthPrep account is suspended")

// Resetter is a Store whose cursor can go back to the start.
type Resetter interface {
	// ResetCursor sets the cursor to "" if it is still from (else it
	// fails with ErrCursorMismatch), keeping the outbox.
	ResetCursor(ctx context.Context, from string) error
}

// Store is the local store the agent syncs.
type Store interface {
	// Cursor returns the stored cursor ("" before the first page).
	Cursor(ctx context.Context) (string, error)
	// ApplyPage applies the changes and stores p.Next in one transaction,
	// or fails with ErrCursorMismatch when p.From is not the stored cursor.
	ApplyPage(ctx context.Context, p Page) error
	// Outbox returns up to limit entries, oldest first.
	Outbox(ctx context.Context, limit int) ([]Entry, error)
	// Ack removes acknowledged entries; unknown ids are ignored.
	Ack(ctx context.Context, ids ...string) error
}

// SyncRecorder is a Store that remembers when the last sync succeeded,
// across restarts (the window's status bar shows it at start).
type SyncRecorder interface {
	// RecordSync records a successful sync that finished at at. SyncOnce
	// calls it only after the whole outbox was pushed and every pulled
	// page applied, so an interrupted sync is never recorded.
	RecordSync(ctx context.Context, at time.Time) error
}

// Cloud is the cloud's sync service.
type Cloud interface {
	Pull(ctx context.Context, cursor string, limit int) (Pulled, error)
	Push(ctx context.Context, entries []Entry) ([]Ack, error)
}

// Watcher is a Cloud that can stream the organisation's latest sequence.
type Watcher interface {
	Watch(ctx context.Context, fn func(latest int64) error) error
}

// Progress reports a long sync: after each applied page, how many changes
// this sync has applied and how far the feed is (page's last seq of the
// latest).
type Progress struct {
	Applied int
	Seq     int64
	Latest  int64
	Pushed  int
}

// Options configure an Agent.
type Options struct {
	PageSize  int // changes per pull (default 500)
	PushBatch int // entries per push (default 100)
	// PollInterval is how often Run syncs when no watch says anything
	// (default 30 s; 2 s while the watch stream is down).
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a failed sync
	// (defaults 500 ms and 1 min).
	MinBackoff, MaxBackoff time.Duration
	// OnProgress is called after each applied page and push.
	OnProgress func(Progress)
	// OnRejected is called for each entry the cloud refused for good.
	OnRejected func(Ack)
	// OnError is called for each failed sync before its backoff.
	OnError func(error)
	// Rand draws jitter (default: a random source).
	Rand *rand.Rand
	// Now is the clock a successful sync is recorded with (SyncRecorder);
	// time.Now when nil.
	Now func() time.Time
	// After is the clock Run waits with (polls, backoff, watch
	// reconnects): a channel that receives once d has passed; time.After
	// when nil.
	After func(d time.Duration) <-chan time.Time
}

// Agent syncs one Store with one Cloud.
type Agent struct {
	store Store
	cloud Cloud
	opt   Options
	nudge chan struct{}
}

// New returns an Agent.
func New(store Store, cloud Cloud, opt Options) *Agent {
	if opt.PageSize <= 0 {
		opt.PageSize = 500
	}
	if opt.PushBatch <= 0 {
		opt.PushBatch = 100
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 30 * time.Second
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 500 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = time.Minute
	}
	if opt.Rand == nil {
		opt.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.After == nil {
		opt.After = time.After
	}
	return &Agent{store: store, cloud: cloud, opt: opt, nudge: make(chan struct{}, 1)}
}

// Nudge asks Run to sync soon (after a local result was enqueued).
func (a *Agent) Nudge() {
	select {
	case a.nudge <- struct{}{}:
	default:
	}
}

// Result says what one sync did.
type Result struct {
	Pushed, Rejected, Applied, Pages int
	Latest                           int64
	// Resets counts full resyncs started because the cursor was ahead of
	// the cloud.
	Resets int
}

// errNoProgress: the cloud's answer did not move anything (a stale or
// foreign response); the sync is retried.
var errNoProgress = errors.New("the cloud's answer did not match the request")

// SyncOnce pushes the whole outbox, then pulls until the feed has no more,
// and then, when the store is a SyncRecorder, records the success.
func (a *Agent) SyncOnce(ctx context.Context) (Result, error) {
	var r Result
	if err := a.push(ctx, &r); err != nil {
		return r, err
	}
	if err := a.pull(ctx, &r); err != nil {
		return r, err
	}
	if rec, ok := a.store.(SyncRecorder); ok {
		if err := rec.RecordSync(ctx, a.opt.Now()); err != nil {
			return r, fmt.Errorf("recording the sync: %w", err)
		}
	}
	return r, nil
}

func (a *Agent) push(ctx context.Context, r *Result) error {
	for {
		es, err := a.store.Outbox(ctx, a.opt.PushBatch)
		if err != nil {
			return fmt.Errorf("reading the outbox: %w", err)
		}
		if len(es) == 0 {
			return nil
		}
		acks, err := a.cloud.Push(ctx, es)
		if err != nil {
			return fmt.Errorf("pushing %d results: %w", len(es), err)
		}
		sent := make(map[string]bool, len(es))
		for _, e := range es {
			sent[e.ID] = true
		}
		var ids []string
		var rejected []Ack
		for _, ak := range acks {
			if !sent[ak.ID] {
				continue
			}
			delete(sent, ak.ID)
			ids = append(ids, ak.ID)
			if ak.Status == AckRejected {
				rejected = append(rejected, ak)
			}
		}
		if len(ids) == 0 {
			return errNoProgress
		}
		if err := a.store.Ack(ctx, ids...); err != nil {
			return fmt.Errorf("removing acknowledged results: %w", err)
		}
		r.Pushed += len(ids) - len(rejected)
		r.Rejected += len(rejected)
		for _, ak := range rejected {
			if a.opt.OnRejected != nil {
				a.opt.OnRejected(ak)
			}
		}
		if a.opt.OnProgress != nil {
			a.opt.OnProgress(Progress{Pushed: r.Pushed, Applied: r.Applied})
		}
		if len(es) < a.opt.PushBatch {
			return nil
		}
	}
}

func (a *Agent) pull(ctx context.Context, r *Result) error {
	for {
		cur, err := a.store.Cursor(ctx)
		if err != nil {
			return fmt.Errorf("reading the cursor: %w", err)
		}
		p, err := a.cloud.Pull(ctx, cur, a.opt.PageSize)
		if errors.Is(err, ErrCursorAhead) && cur != "" && r.Resets == 0 {
			rs, ok := a.store.(Resetter)
			if !ok {
				return fmt.Errorf("pulling changes: %w (this store cannot start again)", err)
			}
			if err := rs.ResetCursor(ctx, cur); err != nil {
				if errors.Is(err, ErrCursorMismatch) {
					return errNoProgress
				}
				return fmt.Errorf("starting a full resync: %w", err)
			}
			r.Resets++
			continue
		}
		if err != nil {
			return fmt.Errorf("pulling changes: %w", err)
		}
		if p.From != cur {
			return errNoProgress
		}
		err = a.store.ApplyPage(ctx, Page{From: cur, Next: p.Next, Changes: p.Changes, Latest: p.Latest})
		if errors.Is(err, ErrCursorMismatch) {
			return errNoProgress
		}
		if err != nil {
			return fmt.Errorf("applying a page: %w", err)
		}
		r.Applied += len(p.Changes)
		r.Pages++
		r.Latest = p.Latest
		if a.opt.OnProgress != nil {
			seq := p.Latest
			if n := len(p.Changes); n > 0 && p.HasMore {
				seq = p.Changes[n-1].Seq
			}
			a.opt.OnProgress(Progress{Applied: r.Applied, Seq: seq, Latest: p.Latest, Pushed: r.Pushed})
		}
		if !p.HasMore {
			return nil
		}
	}
}

// safeSync is SyncOnce with a panic turned into an error, so one bad page
// cannot kill the supervisor.
func (a *Agent) safeSync(ctx context.Context) (r Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sync panicked: %v", p)
		}
	}()
	return a.SyncOnce(ctx)
}

// Backoff returns the delay before retry number n (1, 2, ...): doubling
// from min, capped at max, with full jitter in its upper half.
func Backoff(n int, minD, maxD time.Duration, rnd *rand.Rand) time.Duration {
	d := minD
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	half := d / 2
	return half + time.Duration(rnd.Int64N(int64(half)+1))
}

// Run syncs until ctx ends: at once, then whenever the cloud's watch
// reports a newer sequence, Nudge is called, or the poll interval passes;
// and at once when the watch stream breaks, so that a lost cloud shows
// (the sync fails) within moments rather than at the next poll. A failed
// sync is retried with backoff: nothing, not even a broken stream, starts
// a sync before the backoff has passed. It returns ctx's error, or an
// error wrapping ErrRevoked as soon as the cloud says this workstation
// was revoked.
func (a *Agent) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	watching := make(chan bool, 1)
	if w, ok := a.cloud.(Watcher); ok {
		rnd := rand.New(rand.NewPCG(a.opt.Rand.Uint64(), a.opt.Rand.Uint64()))
		go a.watch(ctx, w, rnd, wake, watching)
	}
	live := false
	failures := 0
	for {
		_, err := a.safeSync(ctx)
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, ErrRevoked) {
				return err
			}
			failures++
			if a.opt.OnError != nil {
				a.opt.OnError(err)
			}
			wait = Backoff(failures, a.opt.MinBackoff, a.opt.MaxBackoff, a.opt.Rand)
		} else {
			failures = 0
			wait = a.opt.PollInterval
			if !live {
				wait = min(wait, 2*time.Second)
			}
		}
		timer := a.opt.After(wait)
	waiting:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case live = <-watching:
				// A stream that breaks (or fails to connect) syncs at once,
				// unless Run is backing off: the watch's own backoff
				// bounds how often that happens.
				if live || err != nil {
					continue
				}
			case <-wake:
				if err != nil {
					continue // still backing off
				}
			case <-a.nudge:
				if err != nil {
					continue
				}
			case <-timer:
			}
			break waiting
		}
	}
}

// watch follows the cloud's watch stream, waking Run when the latest
// sequence moves, and reconnects with backoff when the stream breaks.
func (a *Agent) watch(ctx context.Context, w Watcher, rnd *rand.Rand, wake chan<- struct{}, live chan bool) {
	failures := 0
	set := func(v bool) {
		select {
		case <-live:
		default:
		}
		live <- v
	}
	for ctx.Err() == nil {
		err := w.Watch(ctx, func(latest int64) error {
			failures = 0
			set(true)
			select {
			case wake <- struct{}{}:
			default:
			}
			return nil
		})
		set(false)
		if ctx.Err() != nil {
			return
		}
		if err != nil && a.opt.OnError != nil {
			a.opt.OnError(fmt.Errorf("watching for changes (polling meanwhile): %w", err))
		}
		failures++
		select {
		case <-ctx.Done():
			return
		case <-a.opt.After(Backoff(failures, a.opt.MinBackoff, a.opt.MaxBackoff, rnd)):
		}
	}
}

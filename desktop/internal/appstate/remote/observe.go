package remote

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/syncagent"
)

// Observe wraps the sync agent's view of the cloud so that the session
// shows what happens: a pull that leaves more to fetch is a long sync in
// progress (the status bar's progress bar), the last page of a pull is a
// finished sync (online, last-sync time), an unreachable cloud turns the
// offline banner on, and any other failure is shown in words without
// PHI. The agent is unchanged: it still sees every answer and error. now
// is the clock (time.Now when nil).
func Observe(cloud syncagent.Cloud, s *appstate.Session, now func() time.Time) syncagent.Cloud {
	if now == nil {
		now = time.Now
	}
	o := &observed{cloud: cloud, s: s, now: now}
	if w, ok := cloud.(syncagent.Watcher); ok {
		return &watchingObserved{observed: o, w: w}
	}
	return o
}

type observed struct {
	cloud syncagent.Cloud
	s     *appstate.Session
	now   func() time.Time

	mu      sync.Mutex
	applied int // changes pulled in this sync so far
}

type watchingObserved struct {
	*observed
	w syncagent.Watcher
}

// Watch implements syncagent.Watcher.
func (o *watchingObserved) Watch(ctx context.Context, fn func(latest int64) error) error {
	return o.w.Watch(ctx, fn)
}

// Pull implements syncagent.Cloud.
func (o *observed) Pull(ctx context.Context, cursor string, limit int) (syncagent.Pulled, error) {
	p, err := o.cloud.Pull(ctx, cursor, limit)
	if err != nil {
		o.failed(ctx, err)
		return p, err
	}
	o.mu.Lock()
	o.applied += len(p.Changes)
	applied := o.applied
	if !p.HasMore {
		o.applied = 0
	}
	o.mu.Unlock()
	if p.HasMore {
		seq := p.Latest
		if n := len(p.Changes); n > 0 {
			seq = p.Changes[n-1].Seq
		}
		o.s.SyncProgress(appstate.Progress{Applied: applied, Seq: seq, Latest: p.Latest})
		return p, nil
	}
	o.s.SyncDone(o.now(), nil)
	return p, nil
}

// Push implements syncagent.Cloud.
func (o *observed) Push(ctx context.Context, es []syncagent.Entry) ([]syncagent.Ack, error) {
	acks, err := o.cloud.Push(ctx, es)
	if err != nil {
		o.failed(ctx, err)
	}
	return acks, err
}

func (o *observed) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // shutting down
	}
	o.mu.Lock()
	o.applied = 0
	o.mu.Unlock()
	if unreachable(ctx, err) {
		o.s.SetOnline(false)
		o.s.SyncDone(o.now(), errors.New("cloud unreachable"))
		return
	}
	o.s.SyncDone(o.now(), errors.New(syncFailure(err)))
}

// syncFailure says why a sync failed, in words without PHI.
func syncFailure(err error) string {
	switch {
	case errors.Is(err, syncagent.ErrSuspended):
		return "this organisation's HealthPrep account is suspended: contact your administrator or HealthPrep support"
	case errors.Is(err, syncagent.ErrRevoked):
		return "this workstation's access was revoked"
	case errors.Is(err, syncagent.ErrCursorAhead):
		return "starting a full resync"
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated:
		return "the cloud did not accept this workstation's credentials"
	case connect.CodeFailedPrecondition:
		return "this HealthPrep version needs an update"
	case connect.CodeDeadlineExceeded:
		return "the cloud took too long to answer"
	case connect.CodeResourceExhausted:
		return "the cloud is busy; retrying"
	}
	return "the cloud could not sync; retrying"
}

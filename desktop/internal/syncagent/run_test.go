package syncagent_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncagent/memlocal"
)

// watchedFeed is a one-page feed whose Watch stream says the latest
// sequence once and then stays open until the connection goes.
type watchedFeed struct {
	*pagedFeed
	watching chan struct{} // receives when a stream has said the latest
}

func (f *watchedFeed) Watch(ctx context.Context, _ *connect.Request[v1.WatchRequest], st *connect.ServerStream[v1.WatchResponse]) error {
	if err := st.Send(&v1.WatchResponse{LatestSeq: int64(f.pages)}); err != nil {
		return err
	}
	select {
	case f.watching <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// frozenClock is an Options.After whose time never passes: no poll and no
// backoff ever ends, so whatever Run does, it does because of an event.
// Each wait asked for is sent on waits.
type frozenClock struct{ waits chan time.Duration }

func (f frozenClock) after(d time.Duration) <-chan time.Time {
	f.waits <- d
	return make(chan time.Time)
}

// TestRunSyncsWhenTheWatchStreamBreaks: the cloud stops while the agent is
// watching it. The broken stream makes the agent sync at once, not at the
// next poll (30 s away, and here the clock never moves), so the window goes
// offline straight away; the failed sync then backs off instead of
// retrying in a loop.
func TestRunSyncsWhenTheWatchStreamBreaks(t *testing.T) {
	t.Parallel()
	f := &watchedFeed{pagedFeed: &pagedFeed{pages: 1, pulls: map[string]int{}}, watching: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.Handle(c.NewSyncServiceHandler(f))
	srv := httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	t.Cleanup(srv.Close)

	session := appstate.NewSession(nil, 0, nil)
	offline := make(chan struct{})
	var once sync.Once
	session.Subscribe(func(st appstate.Status) {
		if !st.Online {
			once.Do(func() { close(offline) })
		}
	})
	var mu sync.Mutex
	var errs []error
	clock := frozenClock{waits: make(chan time.Duration, 64)}
	cloud := remote.Observe(syncagent.NewConnectCloud(srv.URL, func() (string, error) { return "t", nil }, ""), session, nil)
	a := syncagent.New(memlocal.New(), cloud, syncagent.Options{
		After:   clock.after,
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(cancel)

	// The agent syncs at start, is told of the latest sequence by the
	// stream and syncs again; then it waits.
	<-f.watching
	<-clock.waits
	<-clock.waits
	if !session.Status().Online {
		t.Fatal("offline before the cloud stopped")
	}
	srv.Listener.Close()
	srv.CloseClientConnections()

	// A guard against a hang, not a timing target: with the clock frozen,
	// only the broken stream can make the agent sync.
	select {
	case <-offline:
	case <-time.After(10 * time.Second):
		t.Fatal("the cloud stopped but the window did not go offline: the agent did not sync when the watch stream broke")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}

	mu.Lock()
	defer mu.Unlock()
	pullFailures := 0
	for _, err := range errs {
		if strings.HasPrefix(err.Error(), "pulling changes: ") {
			pullFailures++
		}
	}
	if pullFailures != 1 {
		t.Errorf("failed syncs after the cloud stopped = %d (errors %v), want 1 and then the backoff", pullFailures, errs)
	}
}

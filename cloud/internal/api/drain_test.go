package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/memstore"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// slowOrgs holds GetOrg until released, so a test can shut the server down
// with a unary call in flight.
type slowOrgs struct {
	*fakeOrgs
	entered chan struct{}
	release chan struct{}
}

func (s *slowOrgs) Get(ctx context.Context, id tenancy.OrgID) (org.Org, error) {
	close(s.entered)
	<-s.release
	return s.fakeOrgs.Get(ctx, id)
}

// TestShutdownEndsStreamsAndFinishesCalls shuts a real HTTP/2 server down
// the way healthprep-cloud does (Draining closed from RegisterOnShutdown)
// while a workstation's Watch stream is open and a unary call is in
// flight: the stream ends cleanly at once (no error; the client
// reconnects), the unary call still completes with its answer, and
// Shutdown returns nil instead of running out its grace period.
func TestShutdownEndsStreamsAndFinishesCalls(t *testing.T) {
	t.Parallel()
	draining := make(chan struct{})
	orgs := &slowOrgs{fakeOrgs: &fakeOrgs{}, entered: make(chan struct{}), release: make(chan struct{})}
	h, _ := Handler(Services{Authenticator: fakeAuthn{}, Orgs: orgs, Users: &fakeUsers{}, Auth: &fakeAuth{}, Audit: &fakeAudit{},
		Sync: syncfeed.New(memstore.New(), syncfeed.Options{WatchInterval: time.Hour})}, Options{Draining: draining})
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: p}
	srv.RegisterOnShutdown(func() { close(draining) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	url, hc := "http://"+ln.Addr().String(), h2cClient()
	ctx := context.Background()

	stream, err := c.NewSyncServiceClient(hc, url).Watch(ctx, as("nurse", &v1.WatchRequest{}))
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	defer stream.Close()
	if !stream.Receive() {
		t.Fatalf("Watch sent nothing: %v", stream.Err())
	}
	type answer struct {
		res *connect.Response[v1.GetOrgResponse]
		err error
	}
	unary := make(chan answer, 1)
	go func() {
		res, err := c.NewOrgServiceClient(hc, url).GetOrg(ctx, as("nurse", &v1.GetOrgRequest{}))
		unary <- answer{res, err}
	}()
	<-orgs.entered

	shutCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(shutCtx) }()

	ended := make(chan error, 1)
	go func() {
		for stream.Receive() {
		}
		ended <- stream.Err()
	}()
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("Watch ended with %v (code %v); want a clean end of stream", err, connect.CodeOf(err))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Watch still open 20 s after Shutdown began; want it ended at once")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a unary call still in flight; want it to wait for the call", err)
	default:
	}
	close(orgs.release)
	if a := <-unary; a.err != nil || a.res.Msg.GetOrganization().GetId() != orgA.String() {
		t.Errorf("in-flight GetOrg = %v, %v; want org A answered", a.res, a.err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v; want nil (every call done before the grace period)", err)
	}
	if errors.Is(shutCtx.Err(), context.DeadlineExceeded) {
		t.Error("the grace period ran out")
	}
}

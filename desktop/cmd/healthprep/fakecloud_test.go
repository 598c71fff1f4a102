package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// fakeCloud speaks the real sync and device protocols (the generated
// Connect handlers) over a loopback HTTP/2 server, with a feed in memory:
// enough cloud for the desktop's end-to-end tests. It answers revocation
// and a cursor ahead of its data the way the real cloud does (the
// metadata of proto/healthprep/v1/device.proto).
type fakeCloud struct {
	c.UnimplementedSyncServiceHandler
	c.UnimplementedDeviceServiceHandler
	mu      sync.Mutex
	records []*v1.SyncChange // latest state per kind/id, in no order
	seq     int64
	pushed  map[string]*v1.PushEntry
	token   string
	revoked bool
	srv     *httptest.Server
	mux     *http.ServeMux
}

func newFakeCloud(t *testing.T) *fakeCloud {
	t.Helper()
	f := &fakeCloud{pushed: map[string]*v1.PushEntry{}}
	f.mux = http.NewServeMux()
	f.mux.Handle(c.NewSyncServiceHandler(f))
	f.mux.Handle(c.NewDeviceServiceHandler(f))
	return f
}

// start serves the cloud on a new loopback port and returns its URL (the
// state survives a stop and a start, as Postgres would).
func (f *fakeCloud) start(t *testing.T) string {
	t.Helper()
	f.srv = httptest.NewUnstartedServer(f.mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	f.srv.Config.Protocols = p
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f.srv.URL
}

// stop stops serving: connections are refused.
func (f *fakeCloud) stop() { f.srv.Close() }

// publish writes a record at the next seq.
func (f *fakeCloud) publish(kind v1.SyncEntityKind, id string, payload []byte) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.put(kind, id, payload)
}

func (f *fakeCloud) put(kind v1.SyncEntityKind, id string, payload []byte) int64 {
	f.seq++
	for i, r := range f.records {
		if r.GetKind() == kind && r.GetId() == id {
			f.records = append(f.records[:i], f.records[i+1:]...)
			break
		}
	}
	f.records = append(f.records, &v1.SyncChange{Kind: kind, Id: id, Op: v1.SyncOp_SYNC_OP_UPSERT, Payload: payload, Seq: f.seq})
	return f.seq
}

// restore forgets everything after seq, as a restore from a backup would.
func (f *fakeCloud) restore(seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var kept []*v1.SyncChange
	for _, r := range f.records {
		if r.GetSeq() <= seq {
			kept = append(kept, r)
		}
	}
	f.records, f.seq = kept, seq
}

func (f *fakeCloud) revoke() { f.mu.Lock(); f.revoked = true; f.mu.Unlock() }

func (f *fakeCloud) check(h http.Header) error {
	if h.Get("Authorization") != "Bearer "+f.token || f.token == "" {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	if f.revoked {
		e := connect.NewError(connect.CodeUnauthenticated, errors.New("revoked"))
		e.Meta().Set("Healthprep-Revoked", "device")
		return e
	}
	return nil
}

func (f *fakeCloud) EnrolDevice(_ context.Context, req *connect.Request[v1.EnrolDeviceRequest]) (*connect.Response[v1.EnrolDeviceResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	code := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(req.Msg.GetCode()))
	if code != "ABCDEFGHJK" || f.token != "" {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("code: this enrolment code is not valid"))
	}
	f.token = "hpd_fake_secret"
	return connect.NewResponse(&v1.EnrolDeviceResponse{DeviceId: "0d000000-0000-4000-8000-000000000001", OrgId: "org", DeviceToken: f.token}), nil
}

func (f *fakeCloud) Pull(_ context.Context, req *connect.Request[v1.PullRequest]) (*connect.Response[v1.PullResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(req.Header()); err != nil {
		return nil, err
	}
	var after int64
	if cur := req.Msg.GetCursor(); cur != "" {
		after, _ = strconv.ParseInt(strings.TrimPrefix(cur, "c1."), 10, 64)
	}
	if after > f.seq {
		e := connect.NewError(connect.CodeFailedPrecondition, errors.New("the sync cursor is ahead of the server"))
		e.Meta().Set("Healthprep-Sync-Error", "cursor-ahead")
		return nil, e
	}
	res := &v1.PullResponse{Cursor: req.Msg.GetCursor(), NextCursor: fmt.Sprintf("c1.%d", f.seq), LatestSeq: f.seq, ProtocolVersion: 2}
	for s := after + 1; s <= f.seq; s++ {
		for _, r := range f.records {
			if r.GetSeq() == s {
				res.Changes = append(res.Changes, r)
			}
		}
	}
	return connect.NewResponse(res), nil
}

func (f *fakeCloud) Push(_ context.Context, req *connect.Request[v1.PushRequest]) (*connect.Response[v1.PushResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(req.Header()); err != nil {
		return nil, err
	}
	res := &v1.PushResponse{}
	for _, e := range req.Msg.GetEntries() {
		f.pushed[e.GetClientId()] = e
		var seq int64
		if e.GetKind() == v1.SyncPushKind_SYNC_PUSH_KIND_OVERRIDE {
			seq = f.put(v1.SyncEntityKind_SYNC_ENTITY_KIND_OVERRIDE, e.GetRecordId(), e.GetPayload())
		}
		res.Acks = append(res.Acks, &v1.PushAck{ClientId: e.GetClientId(), Status: v1.PushStatus_PUSH_STATUS_APPLIED, Seq: seq})
	}
	return connect.NewResponse(res), nil
}

func (f *fakeCloud) pushedKinds() map[v1.SyncPushKind]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[v1.SyncPushKind]int{}
	for _, e := range f.pushed {
		out[e.GetKind()]++
	}
	return out
}

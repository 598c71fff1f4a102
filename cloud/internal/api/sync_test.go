package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/memstore"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

type syncBundle struct {
	store  *memstore.Store
	client c.SyncServiceClient
}

// setupSync serves the API over HTTP/2 with the real feed on the
// in-memory store.
func setupSync(t *testing.T) syncBundle {
	t.Helper()
	st := memstore.New()
	f := &fakes{orgs: &fakeOrgs{}, users: &fakeUsers{}, auth: &fakeAuth{}, audit: &fakeAudit{}}
	h, _ := Handler(Services{Authenticator: fakeAuthn{}, Orgs: f.orgs, Users: f.users, Auth: f.auth, Audit: f.audit,
		Sync: syncfeed.New(st, syncfeed.Options{WatchInterval: 10 * time.Millisecond})}, Options{})
	url, client := serveH2C(t, h)
	return syncBundle{store: st, client: c.NewSyncServiceClient(client, url)}
}

func as[T any](token string, m *T) *connect.Request[T] {
	r := connect.NewRequest(m)
	r.Header().Set("Authorization", "Bearer "+token)
	return r
}

func TestSyncRoundTrip(t *testing.T) {
	t.Parallel()
	b := setupSync(t)
	ctx := context.Background()
	if _, err := b.store.Publish(ctx, orgA, syncfeed.KindPatient, "p1", syncfeed.OpUpsert, []byte(`{"resourceType":"Patient"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Publish(ctx, orgB, syncfeed.KindPatient, "other", syncfeed.OpUpsert, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	entry := &v1.PushEntry{ClientId: uuid.NewString(), Kind: v1.SyncPushKind_SYNC_PUSH_KIND_OVERRIDE, RecordId: "o1", Payload: []byte(`{"status":"complete"}`)}
	var acks [2]*v1.PushAck
	for i := range acks {
		res, err := b.client.Push(ctx, as("nurse", &v1.PushRequest{Entries: []*v1.PushEntry{entry}, ProtocolVersion: 2}))
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		acks[i] = res.Msg.GetAcks()[0]
	}
	if acks[0].GetStatus() != v1.PushStatus_PUSH_STATUS_APPLIED || acks[0].GetSeq() != 2 || acks[1].GetSeq() != acks[0].GetSeq() || acks[1].GetStatus() != acks[0].GetStatus() {
		t.Errorf("acks %v, %v; want applied at 2, twice", acks[0], acks[1])
	}
	res, err := b.client.Pull(ctx, as("ma", &v1.PullRequest{ProtocolVersion: 2}))
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	m := res.Msg
	if len(m.GetChanges()) != 2 || m.GetChanges()[0].GetId() != "p1" || m.GetChanges()[1].GetKind() != v1.SyncEntityKind_SYNC_ENTITY_KIND_OVERRIDE ||
		m.GetHasMore() || m.GetLatestSeq() != 2 || m.GetNextCursor() != syncfeed.Cursor(2) || m.GetCursor() != "" {
		t.Errorf("pull = %v; want p1 and the override of org A only, at the end", m)
	}
	if got := res.Header().Get(ProtocolVersionHeader); got != "1" {
		t.Errorf("response %s = %q; want 1", ProtocolVersionHeader, got)
	}
}

// TestSyncOldProtocolVersion: a version-1 client is still served, without
// the kinds version 2 added, and its cursor moves past them.
func TestSyncOldProtocolVersion(t *testing.T) {
	t.Parallel()
	b := setupSync(t)
	ctx := context.Background()
	hash := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	_, err := b.client.Push(ctx, as("nurse", &v1.PushRequest{ProtocolVersion: 2, Entries: []*v1.PushEntry{{
		ClientId: uuid.NewString(), Kind: v1.SyncPushKind_SYNC_PUSH_KIND_DOCUMENT_RESULT,
		DocumentId: "d1", ContentSha256: hash, PipelineVersion: "ocr-1", Payload: []byte(`{"text":"[REDACTED]"}`)}}}))
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if _, err := b.store.Publish(ctx, orgA, syncfeed.KindAppointment, "a1", syncfeed.OpUpsert, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	req := as("nurse", &v1.PullRequest{ProtocolVersion: 1})
	req.Header().Set(ProtocolVersionHeader, "1")
	res, err := b.client.Pull(ctx, req)
	if err != nil {
		t.Fatalf("version-1 pull: %v", err)
	}
	m := res.Msg
	if len(m.GetChanges()) != 1 || m.GetChanges()[0].GetKind() != v1.SyncEntityKind_SYNC_ENTITY_KIND_APPOINTMENT || m.GetProtocolVersion() != 1 || m.GetNextCursor() != syncfeed.Cursor(2) {
		t.Errorf("version-1 pull = %v; want only the appointment, version 1, cursor past both", m)
	}
}

func TestSyncBadRequests(t *testing.T) {
	t.Parallel()
	b := setupSync(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		req      *v1.PullRequest
		wantCode connect.Code
		wantMsg  string
	}{
		{"foreign cursor", &v1.PullRequest{Cursor: "page=2"}, connect.CodeInvalidArgument, "cursor: the sync cursor is not valid"},
		{"cursor ahead", &v1.PullRequest{Cursor: syncfeed.Cursor(50)}, connect.CodeFailedPrecondition, syncfeed.ErrCursorAhead.Error()},
		{"limit too large", &v1.PullRequest{Limit: 5000}, connect.CodeInvalidArgument, "limit: must be 0–1000 (and the cursor one this server issued)"},
		{"protocol too old", &v1.PullRequest{ProtocolVersion: -1}, connect.CodeFailedPrecondition, msgClientTooOld},
	}
	for _, tt := range tests {
		_, err := b.client.Pull(ctx, as("nurse", tt.req))
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != tt.wantCode || ce.Message() != tt.wantMsg {
			t.Errorf("%s: %v; want %v %q", tt.name, err, tt.wantCode, tt.wantMsg)
		}
	}
	_, err := b.client.Push(ctx, as("nurse", &v1.PushRequest{Entries: make([]*v1.PushEntry, syncfeed.MaxPush+1)}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("oversized push: %v; want InvalidArgument", err)
	}
	if n, _ := b.store.LatestSeq(ctx, orgA); n != 0 {
		t.Errorf("latest seq %d after bad requests; want 0", n)
	}
}

func TestSyncWatch(t *testing.T) {
	t.Parallel()
	b := setupSync(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := b.client.Watch(ctx, as("nurse", &v1.WatchRequest{}))
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer st.Close()
	if !st.Receive() || st.Msg().GetLatestSeq() != 0 {
		t.Fatalf("first watch message %v, %v; want latest 0", st.Msg(), st.Err())
	}
	if _, err := b.store.Publish(ctx, orgA, syncfeed.KindPatient, "p1", syncfeed.OpUpsert, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if !st.Receive() || st.Msg().GetLatestSeq() != 1 {
		t.Fatalf("next watch message %v, %v; want latest 1", st.Msg(), st.Err())
	}
}

package syncagent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// Protocol versions this client speaks (see proto/healthprep/v1).
const (
	// APIProtocolVersion is sent in the Healthprep-Protocol-Version header.
	APIProtocolVersion = 1
	// SyncProtocolVersion is sent in every Pull and Push.
	SyncProtocolVersion = 3
)

// Error metadata the cloud sets on refusals a client must act on (see
// proto/healthprep/v1/sync.proto and device.proto).
const (
	// SyncErrorHeader is "cursor-ahead" when a pull's cursor is ahead of
	// the cloud's data.
	SyncErrorHeader = "Healthprep-Sync-Error"
	// RevokedHeader is "device" or "user" when the credentials were
	// revoked (not merely expired).
	RevokedHeader = "Healthprep-Revoked"
	// SuspendedHeader is "organization" when the organisation's account
	// is suspended: refused for now, not revoked, so nothing is erased.
	SuspendedHeader = "Healthprep-Suspended"
)

// fromWireError turns the cloud's refusals into the agent's sentinels.
func fromWireError(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	if ce.Meta().Get(SuspendedHeader) != "" {
		return fmt.Errorf("%w: %w", ErrSuspended, err)
	}
	if r := ce.Meta().Get(RevokedHeader); r != "" {
		return fmt.Errorf("%w (%s): %w", ErrRevoked, r, err)
	}
	if ce.Meta().Get(SyncErrorHeader) == "cursor-ahead" {
		return fmt.Errorf("%w: %w", ErrCursorAhead, err)
	}
	return err
}

// ConnectCloud is the cloud's SyncService over Connect (HTTP/2; h2c for
// http:// URLs on loopback). It converts between the wire and the agent's
// types and implements Cloud and Watcher.
//
// Pull reads ahead: when a page says the feed has more, the page after it
// is fetched while the caller applies this one, and handed out if the
// caller asks for that cursor next (else dropped). A first sync then
// overlaps the cloud and the wire with the local writes.
type ConnectCloud struct {
	client   c.SyncServiceClient
	token    func() (string, error)
	deviceID string

	mu   sync.Mutex
	next *readAhead // the page after the last one returned, in flight
}

// readAhead is a pull started before it was asked for.
type readAhead struct {
	cursor string
	limit  int
	done   chan struct{}
	p      Pulled
	err    error
}

// NewConnectCloud returns a client of the server at baseURL. token returns
// the bearer session token for each call.
func NewConnectCloud(baseURL string, token func() (string, error), deviceID string) *ConnectCloud {
	return &ConnectCloud{client: c.NewSyncServiceClient(HTTPClient(), baseURL), token: token, deviceID: deviceID}
}

// HTTPClient returns the client the workstation talks to the cloud with:
// HTTP/2 (h2c for http:// URLs on loopback), TLS 1.2 or newer.
func HTTPClient() *http.Client {
	p := new(http.Protocols)
	p.SetHTTP2(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:       p,
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		DialContext:     (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}}
}

func (cc *ConnectCloud) auth(h http.Header) error {
	t, err := cc.token()
	if err != nil {
		return fmt.Errorf("reading credentials: %w", err)
	}
	h.Set("Authorization", "Bearer "+t)
	h.Set("Healthprep-Protocol-Version", strconv.Itoa(APIProtocolVersion))
	if cc.deviceID != "" {
		h.Set("Healthprep-Device-Id", cc.deviceID)
	}
	return nil
}

var kindFromWire = map[v1.SyncEntityKind]string{
	v1.SyncEntityKind_SYNC_ENTITY_KIND_CONFIG:            "config",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_SCREENING_TYPE:    "screening_type",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_APPOINTMENT:       "appointment",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_PATIENT:           "patient",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_CHART_RESOURCE:    "chart_resource",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_DOCUMENT:          "document",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_OVERRIDE:          "override",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_DOCUMENT_RESULT:   "document_result",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_OVERRIDE_CONFLICT: "override_conflict",
	v1.SyncEntityKind_SYNC_ENTITY_KIND_DOCUMENT_CONTENT:  "document_content",
}

var pushKindToWire = map[string]v1.SyncPushKind{
	"document_result": v1.SyncPushKind_SYNC_PUSH_KIND_DOCUMENT_RESULT,
	"override":        v1.SyncPushKind_SYNC_PUSH_KIND_OVERRIDE,
	"print_event":     v1.SyncPushKind_SYNC_PUSH_KIND_PRINT_EVENT,
}

var statusFromWire = map[v1.PushStatus]AckStatus{
	v1.PushStatus_PUSH_STATUS_APPLIED:        AckApplied,
	v1.PushStatus_PUSH_STATUS_ALREADY_STORED: AckAlreadyStored,
	v1.PushStatus_PUSH_STATUS_CONFLICT:       AckConflict,
	v1.PushStatus_PUSH_STATUS_REJECTED:       AckRejected,
}

// Pull implements Cloud. Changes of a kind this client does not know are
// left out (the cursor still moves past them).
func (cc *ConnectCloud) Pull(ctx context.Context, cursor string, limit int) (Pulled, error) {
	cc.mu.Lock()
	ra := cc.next
	cc.next = nil
	cc.mu.Unlock()
	var p Pulled
	have := false
	if ra != nil && ra.cursor == cursor && ra.limit == limit {
		select {
		case <-ra.done:
			// A failed read-ahead is pulled again below: its error
			// belongs to this call.
			p, have = ra.p, ra.err == nil
		case <-ctx.Done():
			return Pulled{}, ctx.Err()
		}
	}
	if !have {
		var err error
		if p, err = cc.pull(ctx, cursor, limit); err != nil {
			return Pulled{}, err
		}
	}
	if p.HasMore && p.Next != cursor {
		ra := &readAhead{cursor: p.Next, limit: limit, done: make(chan struct{})}
		cc.mu.Lock()
		cc.next = ra
		cc.mu.Unlock()
		go func() {
			defer close(ra.done)
			ra.p, ra.err = cc.pull(ctx, ra.cursor, ra.limit)
		}()
	}
	return p, nil
}

func (cc *ConnectCloud) pull(ctx context.Context, cursor string, limit int) (Pulled, error) {
	req := connect.NewRequest(&v1.PullRequest{Cursor: cursor, Limit: int32(limit), ProtocolVersion: SyncProtocolVersion})
	if err := cc.auth(req.Header()); err != nil {
		return Pulled{}, err
	}
	res, err := cc.client.Pull(ctx, req)
	if err != nil {
		return Pulled{}, fromWireError(err)
	}
	m := res.Msg
	p := Pulled{From: m.GetCursor(), Next: m.GetNextCursor(), HasMore: m.GetHasMore(), Latest: m.GetLatestSeq()}
	for _, ch := range m.GetChanges() {
		kind, ok := kindFromWire[ch.GetKind()]
		if !ok {
			continue
		}
		p.Changes = append(p.Changes, Change{Kind: kind, ID: ch.GetId(), Delete: ch.GetOp() == v1.SyncOp_SYNC_OP_DELETE, Payload: ch.GetPayload(), Seq: ch.GetSeq()})
	}
	return p, nil
}

// Push implements Cloud.
func (cc *ConnectCloud) Push(ctx context.Context, es []Entry) ([]Ack, error) {
	m := &v1.PushRequest{ProtocolVersion: SyncProtocolVersion}
	for _, e := range es {
		m.Entries = append(m.Entries, &v1.PushEntry{ClientId: e.ID, Kind: pushKindToWire[e.Kind], Payload: e.Payload,
			DocumentId: e.DocumentID, ContentSha256: e.ContentSHA256, PipelineVersion: e.PipelineVersion, RecordId: e.RecordID, BaseSeq: e.BaseSeq})
	}
	req := connect.NewRequest(m)
	if err := cc.auth(req.Header()); err != nil {
		return nil, err
	}
	res, err := cc.client.Push(ctx, req)
	if err != nil {
		return nil, fromWireError(err)
	}
	var out []Ack
	for _, a := range res.Msg.GetAcks() {
		st, ok := statusFromWire[a.GetStatus()]
		if !ok {
			continue // a status this client does not know: keep the entry
		}
		out = append(out, Ack{ID: a.GetClientId(), Status: st, Seq: a.GetSeq(), Message: a.GetMessage()})
	}
	return out, nil
}

// Watch implements Watcher.
func (cc *ConnectCloud) Watch(ctx context.Context, fn func(latest int64) error) error {
	req := connect.NewRequest(&v1.WatchRequest{})
	if err := cc.auth(req.Header()); err != nil {
		return err
	}
	st, err := cc.client.Watch(ctx, req)
	if err != nil {
		return fromWireError(err)
	}
	defer st.Close()
	for st.Receive() {
		if err := fn(st.Msg().GetLatestSeq()); err != nil {
			return err
		}
	}
	if err := st.Err(); err != nil {
		return fromWireError(err)
	}
	return errors.New("the watch stream ended")
}

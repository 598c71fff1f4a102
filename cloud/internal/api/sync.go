package api

import (
	"context"
	"errors"
	"strconv"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// Sync is the workstation sync feed (syncfeed.Feed). It acts on the
// caller's own organisation only.
type Sync interface {
	Pull(ctx context.Context, org tenancy.OrgID, actor syncfeed.Actor, cursor string, limit, version int) (syncfeed.Page, error)
	Push(ctx context.Context, org tenancy.OrgID, actor syncfeed.Actor, entries []syncfeed.Entry, version int) ([]syncfeed.Ack, error)
	Watch(ctx context.Context, org tenancy.OrgID, fn func(latest int64) error) error
}

type syncServer struct {
	sync Sync
	errs errorMapper
}

var _ c.SyncServiceHandler = (*syncServer)(nil)

// DeviceIDHeader names the workstation a sync call comes from (for audit).
const DeviceIDHeader = "Healthprep-Device-Id"

var errNoSync = connect.NewError(connect.CodeUnimplemented, errors.New("sync is not available on this server"))

func syncActor(ctx context.Context, deviceID string) syncfeed.Actor {
	cl := CallerFrom(ctx)
	if cl.Principal.DeviceID != uuid.Nil {
		deviceID = cl.Principal.DeviceID.String() // authenticated, not claimed
	}
	if len(deviceID) > 64 {
		deviceID = deviceID[:64]
	}
	return syncfeed.Actor{UserID: cl.Principal.UserID, Role: string(cl.Principal.Role), IP: cl.IP, DeviceID: deviceID}
}

// syncWire maps the feed's errors; the rest go through the error mapper.
func (s *syncServer) wire(ctx context.Context, procedure string, err error) error {
	switch {
	case errors.Is(err, syncfeed.ErrBadCursor):
		return connect.NewError(connect.CodeInvalidArgument, errors.New("cursor: "+syncfeed.ErrBadCursor.Error()))
	case errors.Is(err, syncfeed.ErrCursorAhead):
		e := connect.NewError(connect.CodeFailedPrecondition, syncfeed.ErrCursorAhead)
		e.Meta().Set(SyncErrorHeader, "cursor-ahead")
		return e
	case errors.Is(err, syncfeed.ErrTooOld):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(msgClientTooOld))
	case errors.Is(err, syncfeed.ErrTooMany):
		return connect.NewError(connect.CodeInvalidArgument, errors.New("entries: at most "+strconv.Itoa(syncfeed.MaxPush)+" per push"))
	}
	return s.errs.wire(ctx, procedure, err)
}

var kindToWire = map[syncfeed.Kind]v1.SyncEntityKind{
	syncfeed.KindConfig:           v1.SyncEntityKind_SYNC_ENTITY_KIND_CONFIG,
	syncfeed.KindScreeningType:    v1.SyncEntityKind_SYNC_ENTITY_KIND_SCREENING_TYPE,
	syncfeed.KindAppointment:      v1.SyncEntityKind_SYNC_ENTITY_KIND_APPOINTMENT,
	syncfeed.KindPatient:          v1.SyncEntityKind_SYNC_ENTITY_KIND_PATIENT,
	syncfeed.KindChartResource:    v1.SyncEntityKind_SYNC_ENTITY_KIND_CHART_RESOURCE,
	syncfeed.KindDocument:         v1.SyncEntityKind_SYNC_ENTITY_KIND_DOCUMENT,
	syncfeed.KindOverride:         v1.SyncEntityKind_SYNC_ENTITY_KIND_OVERRIDE,
	syncfeed.KindDocumentResult:   v1.SyncEntityKind_SYNC_ENTITY_KIND_DOCUMENT_RESULT,
	syncfeed.KindOverrideConflict: v1.SyncEntityKind_SYNC_ENTITY_KIND_OVERRIDE_CONFLICT,
	syncfeed.KindDocumentContent:  v1.SyncEntityKind_SYNC_ENTITY_KIND_DOCUMENT_CONTENT,
}

var pushKindFromWire = map[v1.SyncPushKind]syncfeed.PushKind{
	v1.SyncPushKind_SYNC_PUSH_KIND_DOCUMENT_RESULT: syncfeed.PushDocumentResult,
	v1.SyncPushKind_SYNC_PUSH_KIND_OVERRIDE:        syncfeed.PushOverride,
	v1.SyncPushKind_SYNC_PUSH_KIND_PRINT_EVENT:     syncfeed.PushPrintEvent,
}

var statusToWire = map[syncfeed.Status]v1.PushStatus{
	syncfeed.StatusApplied:       v1.PushStatus_PUSH_STATUS_APPLIED,
	syncfeed.StatusAlreadyStored: v1.PushStatus_PUSH_STATUS_ALREADY_STORED,
	syncfeed.StatusConflict:      v1.PushStatus_PUSH_STATUS_CONFLICT,
	syncfeed.StatusRejected:      v1.PushStatus_PUSH_STATUS_REJECTED,
}

func (s *syncServer) Pull(ctx context.Context, req *connect.Request[v1.PullRequest]) (*connect.Response[v1.PullResponse], error) {
	if s.sync == nil {
		return nil, errNoSync
	}
	m := req.Msg
	if m.GetLimit() < 0 || m.GetLimit() > syncfeed.MaxLimit || len(m.GetCursor()) > 64 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("limit: must be 0–1000 (and the cursor one this server issued)"))
	}
	cl := CallerFrom(ctx)
	p, err := s.sync.Pull(ctx, cl.Principal.OrgID, syncActor(ctx, req.Header().Get(DeviceIDHeader)), m.GetCursor(), int(m.GetLimit()), int(m.GetProtocolVersion()))
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	out := &v1.PullResponse{NextCursor: p.Next, HasMore: p.HasMore, LatestSeq: p.Latest, ProtocolVersion: int32(p.Version), Cursor: m.GetCursor()}
	for _, ch := range p.Changes {
		op := v1.SyncOp_SYNC_OP_UPSERT
		if ch.Op == syncfeed.OpDelete {
			op = v1.SyncOp_SYNC_OP_DELETE
		}
		out.Changes = append(out.Changes, &v1.SyncChange{Kind: kindToWire[ch.Kind], Id: ch.ID, Op: op, Payload: ch.Payload, Seq: ch.Seq})
	}
	return connect.NewResponse(out), nil
}

func (s *syncServer) Push(ctx context.Context, req *connect.Request[v1.PushRequest]) (*connect.Response[v1.PushResponse], error) {
	if s.sync == nil {
		return nil, errNoSync
	}
	entries := make([]syncfeed.Entry, 0, len(req.Msg.GetEntries()))
	for _, e := range req.Msg.GetEntries() {
		id, _ := uuid.Parse(e.GetClientId()) // a bad id is rejected per entry
		entries = append(entries, syncfeed.Entry{
			ClientID: id, Kind: pushKindFromWire[e.GetKind()], Payload: e.GetPayload(),
			DocumentID: e.GetDocumentId(), ContentSHA256: e.GetContentSha256(), PipelineVersion: e.GetPipelineVersion(),
			RecordID: e.GetRecordId(), BaseSeq: e.GetBaseSeq(),
		})
	}
	cl := CallerFrom(ctx)
	acks, err := s.sync.Push(ctx, cl.Principal.OrgID, syncActor(ctx, req.Header().Get(DeviceIDHeader)), entries, int(req.Msg.GetProtocolVersion()))
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	out := &v1.PushResponse{}
	for i, a := range acks {
		id := a.ClientID.String()
		if a.ClientID == uuid.Nil {
			id = req.Msg.GetEntries()[i].GetClientId()
		}
		out.Acks = append(out.Acks, &v1.PushAck{ClientId: id, Status: statusToWire[a.Status], Seq: a.Seq, Message: a.Message})
	}
	return connect.NewResponse(out), nil
}

func (s *syncServer) Watch(ctx context.Context, req *connect.Request[v1.WatchRequest], st *connect.ServerStream[v1.WatchResponse]) error {
	if s.sync == nil {
		return errNoSync
	}
	err := s.sync.Watch(ctx, CallerFrom(ctx).Principal.OrgID, func(latest int64) error {
		return st.Send(&v1.WatchResponse{LatestSeq: latest})
	})
	if err != nil && ctx.Err() != nil {
		return nil // the client went away
	}
	if err != nil {
		return s.wire(ctx, req.Spec().Procedure, err)
	}
	return nil
}

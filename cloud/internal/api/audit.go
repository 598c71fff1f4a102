package api

import (
	"context"
	"encoding/hex"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/org"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

type auditServer struct {
	log  AuditLog
	errs errorMapper
}

var _ c.AuditServiceHandler = (*auditServer)(nil)

var outcomeToWire = map[audit.Outcome]v1.AuditOutcome{
	audit.Success: v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS,
	audit.Failure: v1.AuditOutcome_AUDIT_OUTCOME_FAILURE,
	audit.Alert:   v1.AuditOutcome_AUDIT_OUTCOME_ALERT,
}

func filterFromWire(ctx context.Context, f *v1.AuditFilter) (AuditFilter, error) {
	var (
		out AuditFilter
		err error
	)
	if out.Org, err = targetOrg(ctx, f.GetOrgId()); err != nil {
		return out, err
	}
	if f.GetActorUserId() != "" {
		if out.ActorUserID, err = uuid.Parse(f.GetActorUserId()); err != nil {
			return out, &InvalidInput{Field: "actor_user_id", Problem: "is not a valid id"}
		}
	}
	if len(f.GetAction()) > 64 || len(f.GetPatientRef()) > 200 {
		return out, &InvalidInput{Field: "filter", Problem: "action or patient_ref is too long"}
	}
	out.Action, out.PatientRef = f.GetAction(), f.GetPatientRef()
	if out.Since, err = timeFromWire("since", f.GetSince()); err != nil {
		return out, err
	}
	if out.Until, err = timeFromWire("until", f.GetUntil()); err != nil {
		return out, err
	}
	if !out.Since.IsZero() && !out.Until.IsZero() && !out.Until.After(out.Since) {
		return out, &InvalidInput{Field: "until", Problem: "must be after since"}
	}
	if f.GetOutcome() != v1.AuditOutcome_AUDIT_OUTCOME_UNSPECIFIED {
		for k, v := range outcomeToWire {
			if v == f.GetOutcome() {
				out.Outcome = k
			}
		}
		if out.Outcome == "" {
			return out, &InvalidInput{Field: "outcome", Problem: "is not a known outcome"}
		}
	}
	return out, nil
}

func entryToWire(e audit.Entry) *v1.AuditEntry {
	w := &v1.AuditEntry{
		OrgId: e.OrgID.String(), Seq: e.Seq, Id: e.ID.String(), At: timeToWire(e.At), ActorRole: e.ActorRole,
		Action: e.Action, Outcome: outcomeToWire[e.Outcome], TargetType: e.TargetType, TargetId: e.TargetID,
		PatientRef: e.PatientRef, Ip: e.IP, DeviceId: e.DeviceID, Details: e.Details, Hash: hex.EncodeToString(e.Hash),
	}
	if e.ActorUserID != (uuid.UUID{}) {
		w.ActorUserId = e.ActorUserID.String()
	}
	return w
}

func (s *auditServer) QueryAudit(ctx context.Context, req *connect.Request[v1.QueryAuditRequest]) (*connect.Response[v1.QueryAuditResponse], error) {
	f, err := filterFromWire(ctx, req.Msg.GetFilter())
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	entries, next, err := s.log.Query(ctx, f, org.Page{Size: int(req.Msg.GetPageSize()), After: req.Msg.GetPageToken()})
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	res := &v1.QueryAuditResponse{NextPageToken: next}
	for _, e := range entries {
		res.Entries = append(res.Entries, entryToWire(e))
	}
	return connect.NewResponse(res), nil
}

// chunkWriter sends what is written as stream messages of at most 32 KiB.
type chunkWriter struct {
	stream *connect.ServerStream[v1.ExportAuditCsvResponse]
}

func (w chunkWriter) Write(p []byte) (int, error) {
	const max = 32 << 10
	n := 0
	for len(p) > 0 {
		k := min(len(p), max)
		if err := w.stream.Send(&v1.ExportAuditCsvResponse{Chunk: p[:k]}); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

func (s *auditServer) ExportAuditCsv(ctx context.Context, req *connect.Request[v1.ExportAuditCsvRequest], stream *connect.ServerStream[v1.ExportAuditCsvResponse]) error {
	f, err := filterFromWire(ctx, req.Msg.GetFilter())
	if err != nil {
		return s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	if err := s.log.ExportCSV(ctx, f, chunkWriter{stream}); err != nil {
		return s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return nil
}

func (s *auditServer) VerifyAuditChain(ctx context.Context, req *connect.Request[v1.VerifyAuditChainRequest]) (*connect.Response[v1.VerifyAuditChainResponse], error) {
	o, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	r, err := s.log.Verify(ctx, o)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.VerifyAuditChainResponse{
		OrgId: o.String(), Ok: r.OK, EntriesChecked: r.Checked, FirstBadSeq: r.FirstBadSeq, Problem: r.Problem,
	}), nil
}

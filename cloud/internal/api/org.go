package api

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

type orgServer struct {
	orgs Orgs
	errs errorMapper
}

var _ c.OrgServiceHandler = (*orgServer)(nil)

func actorOf(ctx context.Context) org.Actor {
	cl := CallerFrom(ctx)
	return org.Actor{UserID: cl.Principal.UserID, Role: string(cl.Principal.Role), IP: cl.IP}
}

var orgStatusToWire = map[org.Status]v1.OrgStatus{
	org.StatusIncomplete: v1.OrgStatus_ORG_STATUS_INCOMPLETE,
	org.StatusTrial:      v1.OrgStatus_ORG_STATUS_TRIAL,
	org.StatusLive:       v1.OrgStatus_ORG_STATUS_LIVE,
	org.StatusPastDue:    v1.OrgStatus_ORG_STATUS_PAST_DUE,
	org.StatusSuspended:  v1.OrgStatus_ORG_STATUS_SUSPENDED,
}

func orgStatusFromWire(s v1.OrgStatus) org.Status {
	for k, v := range orgStatusToWire {
		if v == s {
			return k
		}
	}
	return ""
}

func timeToWire(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromWire(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, &InvalidInput{Field: field, Problem: "is not a valid time"}
	}
	return ts.AsTime(), nil
}

func orgToWire(o org.Org) *v1.Organization {
	w := &v1.Organization{
		Id: o.ID.String(), Name: o.Name, Slug: o.Slug, Status: orgStatusToWire[o.Status],
		TrialEndsAt: timeToWire(o.TrialEndsAt), MaxUsers: int32(o.MaxUsers), IsPlatform: o.IsPlatform,
		Settings: &v1.OrgSettings{
			Require_2FaAll:          o.Settings.Require2FAAll,
			SessionIdleMinutes:      int32(o.Settings.SessionIdleMinutes),
			DesktopIdleMinutes:      int32(o.Settings.DesktopIdleMinutes),
			Timezone:                o.Settings.Timezone,
			LookbackLabsMonths:      int32(o.Settings.Lookback.Labs),
			LookbackImagingMonths:   int32(o.Settings.Lookback.Imaging),
			LookbackConsultsMonths:  int32(o.Settings.Lookback.Consults),
			LookbackHospitalMonths:  int32(o.Settings.Lookback.Hospital),
			LookbackDocumentsMonths: int32(o.Settings.Lookback.Documents),
		},
		CreatedAt: timeToWire(o.CreatedAt), UpdatedAt: timeToWire(o.UpdatedAt),
	}
	if !o.ParentID.IsZero() {
		w.ParentId = o.ParentID.String()
	}
	return w
}

func intPtr(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

func (s *orgServer) CreateOrg(ctx context.Context, req *connect.Request[v1.CreateOrgRequest]) (*connect.Response[v1.CreateOrgResponse], error) {
	m := req.Msg
	in := org.NewOrg{Name: m.GetName(), Slug: m.GetSlug(), MaxUsers: int(m.GetMaxUsers())}
	var err error
	if m.GetParentId() != "" {
		if in.ParentID, err = tenancy.ParseOrgID(m.GetParentId()); err != nil {
			return nil, s.errs.wire(ctx, req.Spec().Procedure, &InvalidInput{Field: "parent_id", Problem: "is not a valid organisation id"})
		}
	}
	if in.TrialEndsAt, err = timeFromWire("trial_ends_at", m.GetTrialEndsAt()); err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	o, err := s.orgs.Create(ctx, actorOf(ctx), in)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.CreateOrgResponse{Organization: orgToWire(o)}), nil
}

func (s *orgServer) GetOrg(ctx context.Context, req *connect.Request[v1.GetOrgRequest]) (*connect.Response[v1.GetOrgResponse], error) {
	id, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	o, err := s.orgs.Get(ctx, id)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.GetOrgResponse{Organization: orgToWire(o)}), nil
}

func (s *orgServer) UpdateOrgSettings(ctx context.Context, req *connect.Request[v1.UpdateOrgSettingsRequest]) (*connect.Response[v1.UpdateOrgSettingsResponse], error) {
	m := req.Msg
	id, err := targetOrg(ctx, m.GetOrgId())
	if err != nil {
		return nil, err
	}
	p := org.SettingsPatch{
		Require2FAAll:      m.Require_2FaAll,
		SessionIdleMinutes: intPtr(m.SessionIdleMinutes),
		DesktopIdleMinutes: intPtr(m.DesktopIdleMinutes),
		Timezone:           m.Timezone,
		LookbackLabs:       intPtr(m.LookbackLabsMonths),
		LookbackImaging:    intPtr(m.LookbackImagingMonths),
		LookbackConsults:   intPtr(m.LookbackConsultsMonths),
		LookbackHospital:   intPtr(m.LookbackHospitalMonths),
		LookbackDocuments:  intPtr(m.LookbackDocumentsMonths),
	}
	o, err := s.orgs.UpdateSettings(ctx, actorOf(ctx), id, p)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.UpdateOrgSettingsResponse{Organization: orgToWire(o)}), nil
}

func (s *orgServer) SetOrgStatus(ctx context.Context, req *connect.Request[v1.SetOrgStatusRequest]) (*connect.Response[v1.SetOrgStatusResponse], error) {
	m := req.Msg
	if m.GetOrgId() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("org_id: is required"))
	}
	id, err := targetOrg(ctx, m.GetOrgId())
	if err != nil {
		return nil, err
	}
	status := orgStatusFromWire(m.GetStatus())
	if status == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("status: must be one of incomplete, trial, live, past_due, suspended"))
	}
	trial, err := timeFromWire("trial_ends_at", m.GetTrialEndsAt())
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	o, err := s.orgs.SetStatus(ctx, actorOf(ctx), id, status, m.GetReason(), trial)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.SetOrgStatusResponse{Organization: orgToWire(o)}), nil
}

func (s *orgServer) ListOrgs(ctx context.Context, req *connect.Request[v1.ListOrgsRequest]) (*connect.Response[v1.ListOrgsResponse], error) {
	m := req.Msg
	var status org.Status
	if m.GetStatus() != v1.OrgStatus_ORG_STATUS_UNSPECIFIED {
		if status = orgStatusFromWire(m.GetStatus()); status == "" {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("status: is not a known status"))
		}
	}
	orgs, next, err := s.orgs.List(ctx, status, org.Page{Size: int(m.GetPageSize()), After: m.GetPageToken()})
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	res := &v1.ListOrgsResponse{NextPageToken: next}
	for _, o := range orgs {
		res.Organizations = append(res.Organizations, orgToWire(o))
	}
	return connect.NewResponse(res), nil
}

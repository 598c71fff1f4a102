package api

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
)

// EpicConfigs is the Epic configuration service (epicconfig.Service).
type EpicConfigs interface {
	Get(ctx context.Context, org tenancy.OrgID) (epicconfig.Config, error)
	Update(ctx context.Context, actor epicconfig.Actor, org tenancy.OrgID, u epicconfig.Update) (epicconfig.Config, error)
	Registration() epicconfig.Registration
	Connect(ctx context.Context, actor epicconfig.Actor, org tenancy.OrgID) (epicconfig.Connection, error)
	Status(ctx context.Context, org tenancy.OrgID) (epicconfig.Status, error)
}

// IngestStore is what the API reads from the ingest store (ingest.Store).
type IngestStore interface {
	Quarantine(ctx context.Context, org tenancy.OrgID, limit int) ([]ingest.Quarantined, error)
	FindPatientsByMRN(ctx context.Context, org tenancy.OrgID, rd ingest.Reader, mrn string) ([]ingest.Patient, error)
	Count(ctx context.Context, org tenancy.OrgID) (ingest.Counts, error)
	Writebacks(ctx context.Context, org tenancy.OrgID, limit int) (ingest.WritebackSummary, error)
}

// epicServer serves EpicService. Without its services (a deployment that
// has not wired Epic) every call is Unimplemented.
type epicServer struct {
	configs EpicConfigs
	store   IngestStore
	errs    errorMapper
}

var errEpicOff = connect.NewError(connect.CodeUnimplemented, errors.New("the Epic connection is not available on this server"))

func epicActor(ctx context.Context) epicconfig.Actor {
	cl := CallerFrom(ctx)
	return epicconfig.Actor{UserID: cl.Principal.UserID, Role: string(cl.Principal.Role), IP: cl.IP}
}

// epicWire maps the Epic domain's errors; the rest go to the shared mapper.
func (s *epicServer) wire(ctx context.Context, procedure string, err error) error {
	switch {
	case errors.Is(err, epicconfig.ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(afterMarker(err, epicconfig.ErrInvalid.Error()+": ")))
	case errors.Is(err, epicconfig.ErrNotConfigured):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("enter the Epic client ID and FHIR base URL first"))
	case errors.Is(err, epicconfig.ErrConnect):
		// The token endpoint's OAuth error codes, never a secret.
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, epicconfig.ErrNoSigningKey):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("backend services needs a signing key on this server: "+epicconfig.ErrNoSigningKey.Error()))
	case errors.Is(err, envelope.ErrShredded):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("this organisation's data has been destroyed"))
	}
	return s.errs.wire(ctx, procedure, err)
}

func envToWire(e string) v1.EpicEnvironment {
	if e == epicconfig.Production {
		return v1.EpicEnvironment_EPIC_ENVIRONMENT_PRODUCTION
	}
	return v1.EpicEnvironment_EPIC_ENVIRONMENT_SANDBOX
}

func modeToWire(m string) v1.EpicConnectionMode {
	if m == epicconfig.BackendServices {
		return v1.EpicConnectionMode_EPIC_CONNECTION_MODE_BACKEND_SERVICES
	}
	return v1.EpicConnectionMode_EPIC_CONNECTION_MODE_AUTHORIZATION_CODE
}

func epicConfigToWire(c epicconfig.Config) *v1.EpicConfig {
	return &v1.EpicConfig{
		ClientId: c.ClientID, ClientSecretSet: c.ClientSecretSet, FhirBaseUrl: c.FHIRBaseURL, Environment: envToWire(c.Environment),
		AuthorizeUrl: c.AuthorizeURL, TokenUrl: c.TokenURL, EndpointsDiscovered: c.EndpointsDiscovered, Scopes: c.Scopes,
		RateLimitPerHour: int32(c.RateLimitPerHour), WritebackEnabled: c.WritebackEnabled,
		WritebackMaxPerDay: int32(c.WritebackMaxPerDay), WindowDays: int32(c.WindowDays), UpdatedAt: timeToWire(c.UpdatedAt),
		ConnectionMode: modeToWire(c.ConnectionMode),
	}
}

func (s *epicServer) GetEpicConfig(ctx context.Context, req *connect.Request[v1.GetEpicConfigRequest]) (*connect.Response[v1.GetEpicConfigResponse], error) {
	if s.configs == nil {
		return nil, errEpicOff
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	c, err := s.configs.Get(ctx, org)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.GetEpicConfigResponse{Config: epicConfigToWire(c)}), nil
}

func (s *epicServer) UpdateEpicConfig(ctx context.Context, req *connect.Request[v1.UpdateEpicConfigRequest]) (*connect.Response[v1.UpdateEpicConfigResponse], error) {
	if s.configs == nil {
		return nil, errEpicOff
	}
	m := req.Msg
	org, err := targetOrg(ctx, m.GetOrgId())
	if err != nil {
		return nil, err
	}
	u := epicconfig.Update{
		ClientID: m.ClientId, ClientSecret: m.ClientSecret, FHIRBaseURL: m.FhirBaseUrl,
		AuthorizeURL: m.AuthorizeUrl, TokenURL: m.TokenUrl, RateLimitPerHour: intPtr(m.RateLimitPerHour),
		WritebackEnabled: m.WritebackEnabled, WritebackMaxPerDay: intPtr(m.WritebackMaxPerDay), WindowDays: intPtr(m.WindowDays),
	}
	switch m.GetEnvironment() {
	case v1.EpicEnvironment_EPIC_ENVIRONMENT_SANDBOX:
		e := epicconfig.Sandbox
		u.Environment = &e
	case v1.EpicEnvironment_EPIC_ENVIRONMENT_PRODUCTION:
		e := epicconfig.Production
		u.Environment = &e
	}
	switch m.GetConnectionMode() {
	case v1.EpicConnectionMode_EPIC_CONNECTION_MODE_AUTHORIZATION_CODE:
		mode := epicconfig.AuthorizationCode
		u.ConnectionMode = &mode
	case v1.EpicConnectionMode_EPIC_CONNECTION_MODE_BACKEND_SERVICES:
		mode := epicconfig.BackendServices
		u.ConnectionMode = &mode
	}
	if m.GetSetScopes() {
		u.Scopes = append([]string{}, m.GetScopes()...)
	}
	c, err := s.configs.Update(ctx, epicActor(ctx), org, u)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.UpdateEpicConfigResponse{Config: epicConfigToWire(c)}), nil
}

func (s *epicServer) GetEpicRegistration(ctx context.Context, req *connect.Request[v1.GetEpicRegistrationRequest]) (*connect.Response[v1.GetEpicRegistrationResponse], error) {
	if s.configs == nil {
		return nil, errEpicOff
	}
	if _, err := targetOrg(ctx, req.Msg.GetOrgId()); err != nil {
		return nil, err
	}
	r := s.configs.Registration()
	return connect.NewResponse(&v1.GetEpicRegistrationResponse{
		AppName: r.AppName, AppDescription: r.AppDescription, RedirectUri: r.RedirectURI,
		JwksUrl: r.JWKSURL, NonprodJwksUrl: r.NonProdJWKSURL, Scopes: r.Scopes, LaunchTypes: r.LaunchTypes,
	}), nil
}

func (s *epicServer) StartEpicConnect(ctx context.Context, req *connect.Request[v1.StartEpicConnectRequest]) (*connect.Response[v1.StartEpicConnectResponse], error) {
	if s.configs == nil {
		return nil, errEpicOff
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	cn, err := s.configs.Connect(ctx, epicActor(ctx), org)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.StartEpicConnectResponse{AuthorizeUrl: cn.AuthorizeURL, Connected: cn.Connected}), nil
}

func (s *epicServer) GetEpicStatus(ctx context.Context, req *connect.Request[v1.GetEpicStatusRequest]) (*connect.Response[v1.GetEpicStatusResponse], error) {
	if s.configs == nil {
		return nil, errEpicOff
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	st, err := s.configs.Status(ctx, org)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	out := &v1.GetEpicStatusResponse{
		Configured: st.Configured, Connected: st.Connected, TokenExpiresAt: timeToWire(st.TokenExpiresAt),
		ConnectedAt: timeToWire(st.ConnectedAt), LastSyncAt: timeToWire(st.LastSyncAt), LastError: st.LastError,
		LastErrorAt: timeToWire(st.LastErrorAt),
	}
	if s.store != nil {
		n, err := s.store.Count(ctx, org)
		if err != nil {
			return nil, s.wire(ctx, req.Spec().Procedure, err)
		}
		out.Ingest = &v1.EpicIngestCounts{Patients: int64(n.Patients), Appointments: int64(n.Appointments),
			ChartResources: int64(n.ChartResources), Quarantined: int64(n.Quarantined)}
		wb, err := s.store.Writebacks(ctx, org, 20)
		if err != nil {
			return nil, s.wire(ctx, req.Spec().Procedure, err)
		}
		out.Writeback = &v1.EpicWritebackStatus{Written: int32(wb.Written), Failed: int32(wb.Failed), Capped: int32(wb.Capped),
			Pending: int32(wb.Pending)}
		for _, p := range wb.Problems {
			out.Writeback.Problems = append(out.Writeback.Problems, &v1.EpicWritebackProblem{
				AppointmentFhirId: p.AppointmentID, PatientFhirId: p.PatientID, DocumentFhirId: p.DocumentID, Status: p.Status,
				Attempts: int32(p.Attempts), LastError: p.LastError, LastAttemptAt: timeToWire(p.LastAttemptAt),
			})
		}
	}
	return connect.NewResponse(out), nil
}

func (s *epicServer) ListQuarantine(ctx context.Context, req *connect.Request[v1.ListQuarantineRequest]) (*connect.Response[v1.ListQuarantineResponse], error) {
	if s.store == nil {
		return nil, errEpicOff
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	limit := int(req.Msg.GetLimit())
	if limit <= 0 {
		limit = 100
	}
	qs, err := s.store.Quarantine(ctx, org, min(limit, 1000))
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	out := &v1.ListQuarantineResponse{}
	for _, q := range qs {
		out.Resources = append(out.Resources, &v1.QuarantinedResource{
			Id: q.ID.String(), ResourceType: q.ResourceType, FhirId: q.FHIRID, Reason: q.Reason,
			Occurrences: int32(q.Occurrences), FirstSeenAt: timeToWire(q.FirstSeen), LastSeenAt: timeToWire(q.LastSeen),
		})
	}
	return connect.NewResponse(out), nil
}

func (s *epicServer) FindPatientByMrn(ctx context.Context, req *connect.Request[v1.FindPatientByMrnRequest]) (*connect.Response[v1.FindPatientByMrnResponse], error) {
	if s.store == nil {
		return nil, errEpicOff
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	mrn := strings.TrimSpace(req.Msg.GetMrn())
	if mrn == "" || len(mrn) > 64 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("mrn: enter the medical record number (at most 64 characters)"))
	}
	cl := CallerFrom(ctx)
	ps, err := s.store.FindPatientsByMRN(ctx, org, ingest.Reader{
		UserID: cl.Principal.UserID, Role: string(cl.Principal.Role), IP: cl.IP, Channel: "api",
	}, mrn)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	out := &v1.FindPatientByMrnResponse{}
	for _, p := range ps {
		out.Patients = append(out.Patients, &v1.PatientDemographics{
			FhirId: p.FHIRID, Name: p.Name, BirthDate: p.BirthDate, Mrn: p.MRN, Address: p.Address, Phone: p.Phone,
		})
	}
	return connect.NewResponse(out), nil
}

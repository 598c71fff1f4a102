package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/shared/preset"
)

// Admin implements the admin screens' sources (appstate.UserAdmin,
// DeviceAdmin, EpicAdmin and AuditLog) with the signed-in person's cloud
// session. The cloud decides who may do what; Admin only carries the
// token.
type Admin struct {
	token    func() string
	deviceID string
	users    c.UserServiceClient
	devices  c.DeviceServiceClient
	epic     c.EpicServiceClient
	audit    c.AuditServiceClient
	// screening serves Screenings (NewScreenings).
	screening c.ScreeningServiceClient
}

// NewAdmin returns the admin sources of the cloud at baseURL; token
// returns the session token ("" when signed in offline).
func NewAdmin(baseURL string, hc *http.Client, token func() string, deviceID string) *Admin {
	if hc == nil {
		hc = syncagent.HTTPClient()
	}
	return &Admin{token: token, deviceID: deviceID,
		users: c.NewUserServiceClient(hc, baseURL), devices: c.NewDeviceServiceClient(hc, baseURL),
		epic: c.NewEpicServiceClient(hc, baseURL), audit: c.NewAuditServiceClient(hc, baseURL),
		screening: c.NewScreeningServiceClient(hc, baseURL)}
}

// call runs one unary call with the session's headers and maps its error.
func call[Req, Res any](a *Admin, ctx context.Context, fn func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), msg *Req) (*Res, error) {
	t := a.token()
	if t == "" {
		return nil, appstate.ErrOfflineOnly
	}
	req := connect.NewRequest(msg)
	header(req, t, a.deviceID)
	res, err := fn(ctx, req)
	if err != nil {
		return nil, apiError(ctx, err)
	}
	return res.Msg, nil
}

// apiError turns a Connect error into appstate's errors; the message of
// a refusal is the cloud's sentence for people (never PHI).
func apiError(ctx context.Context, err error) error {
	if unreachable(ctx, err) {
		return appstate.ErrUnreachable
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	if suspended(err) {
		return &appstate.RefusedError{Message: ce.Message()}
	}
	switch ce.Code() {
	case connect.CodeUnavailable:
		return appstate.ErrUnreachable
	case connect.CodeDeadlineExceeded:
		return context.DeadlineExceeded
	case connect.CodeUnauthenticated:
		return appstate.ErrSignedOut
	case connect.CodePermissionDenied:
		return appstate.ErrPermissionDenied
	case connect.CodeUnimplemented:
		return appstate.ErrNotAvailable
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeAlreadyExists, connect.CodeNotFound, connect.CodeResourceExhausted:
		return &appstate.RefusedError{Message: ce.Message()}
	}
	return fmt.Errorf("the cloud answered %s", ce.Code())
}

func at(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func member(u *v1.User) appstate.Member {
	return appstate.Member{ID: u.GetId(), Email: u.GetEmail(), Name: u.GetDisplayName(), Role: roleFromWire(u.GetRole()),
		Active: u.GetStatus() == v1.UserStatus_USER_STATUS_ACTIVE, TOTP: u.GetTotpEnrolled(), Created: at(u.GetCreatedAt())}
}

func invite(in *v1.Invite) appstate.Invite {
	return appstate.Invite{ID: in.GetId(), Email: in.GetEmail(), Role: roleFromWire(in.GetRole()),
		Status:  strings.ToLower(strings.TrimPrefix(in.GetStatus().String(), "INVITE_STATUS_")),
		Created: at(in.GetCreatedAt()), Expires: at(in.GetExpiresAt()), Sent: int(in.GetSentCount())}
}

func device(d *v1.Device) appstate.Device {
	return appstate.Device{ID: d.GetDeviceId(), Name: d.GetName(), OS: d.GetOs(), Version: d.GetVersion(), EnrolledBy: d.GetEnrolledBy(),
		Enrolled: at(d.GetEnrolledAt()), LastSync: at(d.GetLastSyncAt()), Revoked: at(d.GetRevokedAt())}
}

// Members implements appstate.UserAdmin (deactivated users included).
func (a *Admin) Members(ctx context.Context) ([]appstate.Member, error) {
	var out []appstate.Member
	page := ""
	for {
		res, err := call(a, ctx, a.users.ListUsers, &v1.ListUsersRequest{PageSize: 500, PageToken: page, IncludeDeactivated: true})
		if err != nil {
			return nil, err
		}
		for _, u := range res.GetUsers() {
			out = append(out, member(u))
		}
		if page = res.GetNextPageToken(); page == "" {
			return out, nil
		}
	}
}

// Invites implements appstate.UserAdmin.
func (a *Admin) Invites(ctx context.Context) ([]appstate.Invite, error) {
	res, err := call(a, ctx, a.users.ListInvites, &v1.ListInvitesRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]appstate.Invite, 0, len(res.GetInvites()))
	for _, in := range res.GetInvites() {
		out = append(out, invite(in))
	}
	return out, nil
}

// InviteUser implements appstate.UserAdmin.
func (a *Admin) InviteUser(ctx context.Context, r appstate.InviteRequest) (appstate.Invite, error) {
	res, err := call(a, ctx, a.users.InviteUser, &v1.InviteUserRequest{Email: r.Email, Role: roleToWire(r.Role)})
	if err != nil {
		return appstate.Invite{}, err
	}
	return invite(res.GetInvite()), nil
}

// ResendInvite implements appstate.UserAdmin.
func (a *Admin) ResendInvite(ctx context.Context, id string) (appstate.Invite, error) {
	res, err := call(a, ctx, a.users.ResendInvite, &v1.ResendInviteRequest{InviteId: id})
	if err != nil {
		return appstate.Invite{}, err
	}
	return invite(res.GetInvite()), nil
}

// CancelInvite implements appstate.UserAdmin.
func (a *Admin) CancelInvite(ctx context.Context, id string) (appstate.Invite, error) {
	res, err := call(a, ctx, a.users.CancelInvite, &v1.CancelInviteRequest{InviteId: id})
	if err != nil {
		return appstate.Invite{}, err
	}
	return invite(res.GetInvite()), nil
}

// ChangeRole implements appstate.UserAdmin.
func (a *Admin) ChangeRole(ctx context.Context, userID, role string) (appstate.Member, error) {
	res, err := call(a, ctx, a.users.ChangeUserRole, &v1.ChangeUserRoleRequest{UserId: userID, Role: roleToWire(role)})
	if err != nil {
		return appstate.Member{}, err
	}
	return member(res.GetUser()), nil
}

// Deactivate implements appstate.UserAdmin.
func (a *Admin) Deactivate(ctx context.Context, userID string) (appstate.Member, error) {
	res, err := call(a, ctx, a.users.DeactivateUser, &v1.DeactivateUserRequest{UserId: userID})
	if err != nil {
		return appstate.Member{}, err
	}
	return member(res.GetUser()), nil
}

// Devices implements appstate.DeviceAdmin (revoked ones included).
func (a *Admin) Devices(ctx context.Context) ([]appstate.Device, error) {
	res, err := call(a, ctx, a.devices.ListDevices, &v1.ListDevicesRequest{IncludeRevoked: true})
	if err != nil {
		return nil, err
	}
	out := make([]appstate.Device, 0, len(res.GetDevices()))
	for _, d := range res.GetDevices() {
		out = append(out, device(d))
	}
	return out, nil
}

// RevokeDevice implements appstate.DeviceAdmin.
func (a *Admin) RevokeDevice(ctx context.Context, id, reason string) (appstate.Device, error) {
	res, err := call(a, ctx, a.devices.RevokeDevice, &v1.RevokeDeviceRequest{DeviceId: id, Reason: reason})
	if err != nil {
		return appstate.Device{}, err
	}
	return device(res.GetDevice()), nil
}

// EpicRegistration implements appstate.EpicAdmin.
func (a *Admin) EpicRegistration(ctx context.Context) (appstate.EpicRegistration, error) {
	res, err := call(a, ctx, a.epic.GetEpicRegistration, &v1.GetEpicRegistrationRequest{})
	if err != nil {
		return appstate.EpicRegistration{}, err
	}
	return appstate.EpicRegistration{AppName: res.GetAppName(), RedirectURI: res.GetRedirectUri(), JWKSURL: res.GetJwksUrl(),
		NonprodJWKSURL: res.GetNonprodJwksUrl(), Scopes: res.GetScopes(), LaunchTypes: res.GetLaunchTypes()}, nil
}

func epicConfig(c *v1.EpicConfig) appstate.EpicConfig {
	return appstate.EpicConfig{ClientID: c.GetClientId(), SecretSet: c.GetClientSecretSet(), FHIRBaseURL: c.GetFhirBaseUrl(),
		Sandbox: c.GetEnvironment() == v1.EpicEnvironment_EPIC_ENVIRONMENT_SANDBOX,
		Backend: c.GetConnectionMode() == v1.EpicConnectionMode_EPIC_CONNECTION_MODE_BACKEND_SERVICES,
		Scopes:  c.GetScopes(), Updated: at(c.GetUpdatedAt())}
}

// EpicConfig implements appstate.EpicAdmin.
func (a *Admin) EpicConfig(ctx context.Context) (appstate.EpicConfig, error) {
	res, err := call(a, ctx, a.epic.GetEpicConfig, &v1.GetEpicConfigRequest{})
	if err != nil {
		return appstate.EpicConfig{}, err
	}
	return epicConfig(res.GetConfig()), nil
}

// UpdateEpicConfig implements appstate.EpicAdmin.
func (a *Admin) UpdateEpicConfig(ctx context.Context, f appstate.EpicForm) (appstate.EpicConfig, error) {
	m := &v1.UpdateEpicConfigRequest{ClientId: &f.ClientID, FhirBaseUrl: &f.FHIRBaseURL,
		Environment: v1.EpicEnvironment_EPIC_ENVIRONMENT_PRODUCTION, ConnectionMode: v1.EpicConnectionMode_EPIC_CONNECTION_MODE_AUTHORIZATION_CODE}
	if f.Sandbox {
		m.Environment = v1.EpicEnvironment_EPIC_ENVIRONMENT_SANDBOX
	}
	if f.Backend {
		m.ConnectionMode = v1.EpicConnectionMode_EPIC_CONNECTION_MODE_BACKEND_SERVICES
	}
	if f.ClientSecret != "" {
		m.ClientSecret = &f.ClientSecret
	}
	res, err := call(a, ctx, a.epic.UpdateEpicConfig, m)
	if err != nil {
		return appstate.EpicConfig{}, err
	}
	return epicConfig(res.GetConfig()), nil
}

// ConnectEpic implements appstate.EpicAdmin.
func (a *Admin) ConnectEpic(ctx context.Context) (string, bool, error) {
	res, err := call(a, ctx, a.epic.StartEpicConnect, &v1.StartEpicConnectRequest{})
	if err != nil {
		return "", false, err
	}
	return res.GetAuthorizeUrl(), res.GetConnected(), nil
}

// EpicStatus implements appstate.EpicAdmin.
func (a *Admin) EpicStatus(ctx context.Context) (appstate.EpicStatus, error) {
	res, err := call(a, ctx, a.epic.GetEpicStatus, &v1.GetEpicStatusRequest{})
	if err != nil {
		return appstate.EpicStatus{}, err
	}
	s := appstate.EpicStatus{Configured: res.GetConfigured(), Connected: res.GetConnected(), ConnectedAt: at(res.GetConnectedAt()),
		TokenExpires: at(res.GetTokenExpiresAt()), LastSync: at(res.GetLastSyncAt()), LastError: res.GetLastError(),
		LastErrorAt: at(res.GetLastErrorAt()), Patients: res.GetIngest().GetPatients(), Appointments: res.GetIngest().GetAppointments(),
		Quarantined: res.GetIngest().GetQuarantined()}
	for _, p := range res.GetWriteback().GetProblems() {
		s.Problems = append(s.Problems, fmt.Sprintf("Write-back %s after %d attempts: %s", p.GetStatus(), p.GetAttempts(), p.GetLastError()))
	}
	return s, nil
}

func auditFilter(f appstate.AuditFilter) *v1.AuditFilter {
	out := &v1.AuditFilter{ActorUserId: f.ActorID, Action: f.Action}
	if !f.Since.IsZero() {
		out.Since = timestamppb.New(f.Since)
	}
	if !f.Until.IsZero() {
		out.Until = timestamppb.New(f.Until)
	}
	switch f.Outcome {
	case "success":
		out.Outcome = v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS
	case "failure":
		out.Outcome = v1.AuditOutcome_AUDIT_OUTCOME_FAILURE
	case "alert":
		out.Outcome = v1.AuditOutcome_AUDIT_OUTCOME_ALERT
	}
	return out
}

// QueryAudit implements appstate.AuditLog.
func (a *Admin) QueryAudit(ctx context.Context, f appstate.AuditFilter, pageToken string) ([]appstate.AuditEntry, string, error) {
	res, err := call(a, ctx, a.audit.QueryAudit, &v1.QueryAuditRequest{Filter: auditFilter(f), PageSize: 200, PageToken: pageToken})
	if err != nil {
		return nil, "", err
	}
	out := make([]appstate.AuditEntry, 0, len(res.GetEntries()))
	for _, e := range res.GetEntries() {
		target := e.GetTargetType()
		if e.GetTargetId() != "" {
			target += " " + e.GetTargetId()
		}
		out = append(out, appstate.AuditEntry{Seq: e.GetSeq(), At: at(e.GetAt()), ActorID: e.GetActorUserId(), ActorRole: e.GetActorRole(),
			Action: e.GetAction(), Outcome: strings.ToLower(strings.TrimPrefix(e.GetOutcome().String(), "AUDIT_OUTCOME_")),
			Target: target, PatientRef: e.GetPatientRef(), DeviceID: e.GetDeviceId()})
	}
	return out, res.GetNextPageToken(), nil
}

// ExportAuditCSV implements appstate.AuditLog.
func (a *Admin) ExportAuditCSV(ctx context.Context, f appstate.AuditFilter, w io.Writer) error {
	t := a.token()
	if t == "" {
		return appstate.ErrOfflineOnly
	}
	req := connect.NewRequest(&v1.ExportAuditCsvRequest{Filter: auditFilter(f)})
	header(req, t, a.deviceID)
	st, err := a.audit.ExportAuditCsv(ctx, req)
	if err != nil {
		return apiError(ctx, err)
	}
	defer st.Close()
	for st.Receive() {
		if _, err := w.Write(st.Msg().GetChunk()); err != nil {
			return fmt.Errorf("writing the export: %w", err)
		}
	}
	if err := st.Err(); err != nil {
		return apiError(ctx, err)
	}
	return nil
}

// Screenings is the organisation's screening settings on the cloud
// (ScreeningService) over the shared default library, with the signed-in
// admin's session. It remembers the version it last read or saved and
// saves against it: when someone else saved in between, the save is
// refused with the cloud's explanation and nothing is overwritten. It is
// safe for concurrent use.
type Screenings struct {
	admin  *Admin
	client c.ScreeningServiceClient

	mu      sync.Mutex
	version int64
}

// NewScreenings returns the screening settings source of admin's cloud.
func NewScreenings(admin *Admin) *Screenings {
	return &Screenings{admin: admin, client: admin.screening}
}

// msgScreeningConflict replaces the cloud's ABORTED message with what to
// do in this app.
const msgScreeningConflict = "Someone else saved the screening settings after you opened them. Discard your changes to load theirs, then make yours again."

// ScreeningConfig implements appstate.ScreeningSettings.
func (s *Screenings) ScreeningConfig(ctx context.Context) (appstate.ScreeningConfig, error) {
	lib, err := preset.Default()
	if err != nil {
		return appstate.ScreeningConfig{}, fmt.Errorf("loading the screening library: %w", err)
	}
	res, err := call(s.admin, ctx, s.client.GetScreeningSettings, &v1.GetScreeningSettingsRequest{})
	if err != nil {
		return appstate.ScreeningConfig{}, err
	}
	var org preset.OrgSettings
	if j := res.GetSettings().GetSettingsJson(); j != "" {
		if err := json.Unmarshal([]byte(j), &org); err != nil {
			return appstate.ScreeningConfig{}, fmt.Errorf("reading the screening settings from the cloud: %w", err)
		}
	}
	s.mu.Lock()
	s.version = res.GetSettings().GetVersion()
	s.mu.Unlock()
	return appstate.ScreeningConfig{Base: lib, Org: org}, nil
}

// SaveScreeningSettings implements appstate.ScreeningSettings.
func (s *Screenings) SaveScreeningSettings(ctx context.Context, org preset.OrgSettings) error {
	b, err := json.Marshal(org)
	if err != nil {
		return fmt.Errorf("encoding the screening settings: %w", err)
	}
	s.mu.Lock()
	version := s.version
	s.mu.Unlock()
	t := s.admin.token()
	if t == "" {
		return appstate.ErrOfflineOnly
	}
	req := connect.NewRequest(&v1.UpdateScreeningSettingsRequest{SettingsJson: string(b), Version: version})
	header(req, t, s.admin.deviceID)
	res, err := s.client.UpdateScreeningSettings(ctx, req)
	if connect.CodeOf(err) == connect.CodeAborted {
		return &appstate.RefusedError{Message: msgScreeningConflict}
	}
	if err != nil {
		return apiError(ctx, err)
	}
	s.mu.Lock()
	s.version = res.Msg.GetSettings().GetVersion()
	s.mu.Unlock()
	return nil
}

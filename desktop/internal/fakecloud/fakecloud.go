// Package fakecloud is a FAKE HealthPrep cloud for the desktop's tests and
// demos: it mounts the real generated Connect handlers (AuthService,
// OrgService, UserService, DeviceService, EpicService, AuditService,
// SyncService, ScreeningService) on a loopback HTTP/2 server and answers them from memory.
// It speaks the real protocol — wire types, Connect codes, the revocation
// and protocol-version headers — but none of the cloud's logic: passwords
// are compared in the clear, a TOTP code is one fixed string per user, the
// sync feed is whatever a test puts in it, and Epic is never called.
//
// The desktop must not import the cloud (a test fails the build if it
// does), so its widget and wiring tests talk to this instead. Never use it
// in a production binary: the demo binary uses it on loopback only, with
// made-up accounts.
package fakecloud

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// Account is a user of the fake organisation.
type Account struct {
	ID       string
	Email    string
	Name     string
	Password string
	Role     v1.Role
	// TOTP, when set, is the one code that passes the second factor.
	TOTP string
	// MustEnrolTOTP makes sign-in answer totp_enrolment_required.
	MustEnrolTOTP bool
	Deactivated   bool
	Created       time.Time
}

// Cloud is the fake cloud. It is safe for concurrent use.
type Cloud struct {
	c.UnimplementedAuthServiceHandler
	c.UnimplementedOrgServiceHandler
	c.UnimplementedUserServiceHandler
	c.UnimplementedDeviceServiceHandler
	c.UnimplementedEpicServiceHandler
	c.UnimplementedAuditServiceHandler
	c.UnimplementedSyncServiceHandler

	now        func() time.Time
	mux        *http.ServeMux
	bareWhoAmI bool

	mu       sync.Mutex
	org      *v1.Organization
	accounts []*Account
	sessions map[string]*session // by token
	invites  []*v1.Invite
	devices  []*v1.Device
	epic     *v1.EpicConfig
	status   *v1.GetEpicStatusResponse
	audit    []*v1.AuditEntry
	feed     []*v1.SyncChange
	pushed   []*v1.PushEntry
	calls    map[string]int
	srv      *httptest.Server
	seq      int
	// suspended refuses the organisation's people as the cloud refuses a
	// suspended organisation (see Suspend).
	suspended bool
	// screening is the organisation's screening settings (screening.go).
	screening screeningState
}

type session struct {
	userID   string
	verified bool
	deviceID string
}

// Options configure New.
type Options struct {
	OrgID, OrgName string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// BareWhoAmI makes WhoAmI leave out the caller's email and display
	// name, as clouds did before they returned them.
	BareWhoAmI bool
}

// New returns a fake cloud for one organisation, not yet serving.
func New(opts Options) *Cloud {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OrgID == "" {
		opts.OrgID = "org-fake"
	}
	if opts.OrgName == "" {
		opts.OrgName = "Fake Clinic"
	}
	f := &Cloud{now: opts.Now, bareWhoAmI: opts.BareWhoAmI, sessions: map[string]*session{}, calls: map[string]int{}}
	f.org = &v1.Organization{Id: opts.OrgID, Name: opts.OrgName, Status: v1.OrgStatus_ORG_STATUS_TRIAL,
		Settings: &v1.OrgSettings{DesktopIdleMinutes: 15, Timezone: "UTC"}}
	f.epic = &v1.EpicConfig{Environment: v1.EpicEnvironment_EPIC_ENVIRONMENT_SANDBOX,
		ConnectionMode: v1.EpicConnectionMode_EPIC_CONNECTION_MODE_AUTHORIZATION_CODE,
		Scopes:         []string{"patient/Patient.read", "patient/Appointment.read", "patient/Observation.read", "offline_access"}}
	f.status = &v1.GetEpicStatusResponse{}
	f.mux = http.NewServeMux()
	f.mux.Handle(c.NewAuthServiceHandler(f))
	f.mux.Handle(c.NewOrgServiceHandler(f))
	f.mux.Handle(c.NewUserServiceHandler(f))
	f.mux.Handle(c.NewDeviceServiceHandler(f))
	f.mux.Handle(c.NewEpicServiceHandler(f))
	f.mux.Handle(c.NewAuditServiceHandler(f))
	f.mux.Handle(c.NewSyncServiceHandler(f))
	f.mux.Handle(c.NewScreeningServiceHandler(f))
	return f
}

// Start serves on a new loopback port (HTTP/1 and unencrypted HTTP/2) and
// returns the base URL. The state survives Stop and Start.
func (f *Cloud) Start() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	srv := httptest.NewUnstartedServer(f.mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	f.srv = srv
	return srv.URL
}

// Stop stops serving (the cloud is unreachable until Start).
func (f *Cloud) Stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// AddAccount adds a user and returns its id.
func (f *Cloud) AddAccount(a Account) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	if a.ID == "" {
		a.ID = fmt.Sprintf("user-%d", f.seq)
	}
	if a.Created.IsZero() {
		a.Created = f.now()
	}
	a.Email = strings.ToLower(a.Email)
	f.accounts = append(f.accounts, &a)
	return a.ID
}

// AddDevice adds an enrolled workstation and returns its id.
func (f *Cloud) AddDevice(name, os, version, enrolledBy string, lastSync time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	d := &v1.Device{DeviceId: fmt.Sprintf("device-%d", f.seq), Name: name, Os: os, Version: version, EnrolledBy: enrolledBy,
		EnrolledAt: timestamppb.New(f.now().Add(-30 * 24 * time.Hour))}
	if !lastSync.IsZero() {
		d.LastSyncAt = timestamppb.New(lastSync)
	}
	f.devices = append(f.devices, d)
	return d.DeviceId
}

// SetEpicStatus replaces what GetEpicStatus answers.
func (f *Cloud) SetEpicStatus(s *v1.GetEpicStatusResponse) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = s
}

// SetOrgSettings replaces the organisation's settings.
func (f *Cloud) SetOrgSettings(s *v1.OrgSettings) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.org.Settings = s
}

// AddChange appends a change to the sync feed and returns its sequence.
func (f *Cloud) AddChange(ch *v1.SyncChange) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch.Seq = int64(len(f.feed) + 1)
	f.feed = append(f.feed, ch)
	return ch.Seq
}

// Pushed returns the results workstations pushed.
func (f *Cloud) Pushed() []*v1.PushEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pushed)
}

// Audit returns the audit log, oldest first.
func (f *Cloud) Audit() []*v1.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.audit)
}

// Calls returns how often a procedure (e.g. "InviteUser") was called.
func (f *Cloud) Calls(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// Invites returns the invites, oldest first.
func (f *Cloud) Invites() []*v1.Invite {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.invites)
}

// Account returns the account with id.
func (f *Cloud) Account(id string) (Account, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.accounts {
		if a.ID == id {
			return *a, true
		}
	}
	return Account{}, false
}

// Device returns the device with id.
func (f *Cloud) Device(id string) (*v1.Device, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.devices {
		if d.DeviceId == id {
			return d, true
		}
	}
	return nil, false
}

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// record appends an audit entry (under f.mu).
func (f *Cloud) record(actor *Account, action string, outcome v1.AuditOutcome, targetType, targetID string) {
	e := &v1.AuditEntry{OrgId: f.org.Id, Seq: int64(len(f.audit) + 1), Id: fmt.Sprintf("audit-%d", len(f.audit)+1),
		At: timestamppb.New(f.now()), Action: action, Outcome: outcome, TargetType: targetType, TargetId: targetID}
	if actor != nil {
		e.ActorUserId, e.ActorRole = actor.ID, roleName(actor.Role)
	}
	f.audit = append(f.audit, e)
}

func roleName(r v1.Role) string {
	return strings.ToLower(strings.TrimPrefix(r.String(), "ROLE_"))
}

func (f *Cloud) account(email string) *Account {
	for _, a := range f.accounts {
		if a.Email == strings.ToLower(strings.TrimSpace(email)) {
			return a
		}
	}
	return nil
}

func (f *Cloud) accountByID(id string) *Account {
	for _, a := range f.accounts {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// Suspend suspends (or reinstates) the organisation's account: sign-ins
// with the right password and every signed-in call are refused the way
// the cloud refuses them (permission denied, Healthprep-Suspended).
func (f *Cloud) Suspend(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.suspended = on
}

func suspendedError() error {
	ce := connect.NewError(connect.CodePermissionDenied, errors.New("this organisation's HealthPrep account is suspended: contact your administrator or HealthPrep support"))
	ce.Meta().Set("Healthprep-Suspended", "organization")
	return ce
}

// caller checks the bearer token (under f.mu): a verified session of an
// active user, with one of roles when any are given.
func (f *Cloud) caller(h http.Header, name string, roles ...v1.Role) (*Account, *session, error) {
	f.calls[name]++
	if v := h.Get("Healthprep-Protocol-Version"); v != "" && v != "1" {
		return nil, nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("this HealthPrep client is too old or too new for this cloud"))
	}
	t := strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
	s, ok := f.sessions[t]
	if !ok {
		return nil, nil, connect.NewError(connect.CodeUnauthenticated, errors.New("sign in first"))
	}
	a := f.accountByID(s.userID)
	if a == nil || a.Deactivated {
		ce := connect.NewError(connect.CodeUnauthenticated, errors.New("this account was deactivated"))
		ce.Meta().Set("Healthprep-Revoked", "user")
		return nil, nil, ce
	}
	if f.suspended {
		return nil, nil, suspendedError()
	}
	if !s.verified && name != "VerifySecondFactor" && name != "WhoAmI" {
		return nil, nil, connect.NewError(connect.CodePermissionDenied, errors.New("complete the second factor first"))
	}
	if len(roles) > 0 && !slices.Contains(roles, a.Role) {
		return nil, nil, connect.NewError(connect.CodePermissionDenied, errors.New("your role does not allow this"))
	}
	return a, s, nil
}

var admins = []v1.Role{v1.Role_ROLE_ADMIN, v1.Role_ROLE_ROOT_ADMIN}

// SignIn implements AuthService.
func (f *Cloud) SignIn(_ context.Context, req *connect.Request[v1.SignInRequest]) (*connect.Response[v1.SignInResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["SignIn"]++
	a := f.account(req.Msg.GetEmail())
	if a == nil || a.Password != req.Msg.GetPassword() || a.Deactivated {
		f.record(a, "auth.signin", v1.AuditOutcome_AUDIT_OUTCOME_FAILURE, "user", "")
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("wrong email or password"))
	}
	if f.suspended {
		return nil, suspendedError()
	}
	t := token()
	s := &session{userID: a.ID, verified: a.TOTP == "" && !a.MustEnrolTOTP, deviceID: req.Msg.GetDeviceId()}
	f.sessions[t] = s
	if s.verified {
		f.record(a, "auth.signin", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "user", a.ID)
	}
	return connect.NewResponse(&v1.SignInResponse{SessionToken: t, ExpiresAt: timestamppb.New(f.now().Add(12 * time.Hour)),
		SecondFactorRequired: a.TOTP != "", TotpEnrolmentRequired: a.MustEnrolTOTP && a.TOTP == ""}), nil
}

// VerifySecondFactor implements AuthService.
func (f *Cloud) VerifySecondFactor(_ context.Context, req *connect.Request[v1.VerifySecondFactorRequest]) (*connect.Response[v1.VerifySecondFactorResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "VerifySecondFactor")
	if err != nil {
		return nil, err
	}
	if a.TOTP == "" || req.Msg.GetTotpCode() != a.TOTP {
		f.record(a, "auth.second_factor", v1.AuditOutcome_AUDIT_OUTCOME_FAILURE, "user", a.ID)
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("wrong code"))
	}
	delete(f.sessions, strings.TrimPrefix(req.Header().Get("Authorization"), "Bearer "))
	t := token()
	f.sessions[t] = &session{userID: a.ID, verified: true}
	f.record(a, "auth.signin", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "user", a.ID)
	return connect.NewResponse(&v1.VerifySecondFactorResponse{SessionToken: t, ExpiresAt: timestamppb.New(f.now().Add(12 * time.Hour))}), nil
}

// WhoAmI implements AuthService.
func (f *Cloud) WhoAmI(_ context.Context, req *connect.Request[v1.WhoAmIRequest]) (*connect.Response[v1.WhoAmIResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, s, err := f.caller(req.Header(), "WhoAmI")
	if err != nil {
		return nil, err
	}
	res := &v1.WhoAmIResponse{UserId: a.ID, OrgId: f.org.Id, Email: a.Email, DisplayName: a.Name, Role: a.Role,
		SecondFactorVerified: s.verified}
	if f.bareWhoAmI {
		res.Email, res.DisplayName = "", ""
	}
	return connect.NewResponse(res), nil
}

// SignOut implements AuthService.
func (f *Cloud) SignOut(_ context.Context, req *connect.Request[v1.SignOutRequest]) (*connect.Response[v1.SignOutResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "SignOut"); err != nil {
		return nil, err
	}
	delete(f.sessions, strings.TrimPrefix(req.Header().Get("Authorization"), "Bearer "))
	return connect.NewResponse(&v1.SignOutResponse{}), nil
}

// GetOrg implements OrgService.
func (f *Cloud) GetOrg(_ context.Context, req *connect.Request[v1.GetOrgRequest]) (*connect.Response[v1.GetOrgResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "GetOrg"); err != nil {
		return nil, err
	}
	return connect.NewResponse(&v1.GetOrgResponse{Organization: f.org}), nil
}

func (f *Cloud) user(a *Account) *v1.User {
	st := v1.UserStatus_USER_STATUS_ACTIVE
	if a.Deactivated {
		st = v1.UserStatus_USER_STATUS_DEACTIVATED
	}
	return &v1.User{Id: a.ID, OrgId: f.org.Id, Email: a.Email, DisplayName: a.Name, Role: a.Role, Status: st,
		TotpEnrolled: a.TOTP != "", CreatedAt: timestamppb.New(a.Created)}
}

// ListUsers implements UserService.
func (f *Cloud) ListUsers(_ context.Context, req *connect.Request[v1.ListUsersRequest]) (*connect.Response[v1.ListUsersResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "ListUsers", admins...); err != nil {
		return nil, err
	}
	res := &v1.ListUsersResponse{}
	for _, a := range f.accounts {
		if !a.Deactivated || req.Msg.GetIncludeDeactivated() {
			res.Users = append(res.Users, f.user(a))
		}
	}
	return connect.NewResponse(res), nil
}

// ListInvites implements UserService.
func (f *Cloud) ListInvites(_ context.Context, req *connect.Request[v1.ListInvitesRequest]) (*connect.Response[v1.ListInvitesResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "ListInvites", admins...); err != nil {
		return nil, err
	}
	res := &v1.ListInvitesResponse{}
	for _, in := range f.invites {
		if in.Status == v1.InviteStatus_INVITE_STATUS_PENDING {
			res.Invites = append(res.Invites, in)
		}
	}
	return connect.NewResponse(res), nil
}

// InviteUser implements UserService.
func (f *Cloud) InviteUser(_ context.Context, req *connect.Request[v1.InviteUserRequest]) (*connect.Response[v1.InviteUserResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "InviteUser", admins...)
	if err != nil {
		return nil, err
	}
	email := strings.ToLower(strings.TrimSpace(req.Msg.GetEmail()))
	switch {
	case !strings.Contains(email, "@"):
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("enter a valid email address"))
	case req.Msg.GetRole() == v1.Role_ROLE_UNSPECIFIED || req.Msg.GetRole() == v1.Role_ROLE_ROOT_ADMIN:
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("choose admin, nurse or medical assistant"))
	case f.account(email) != nil:
		return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("this person already has an account in your organisation"))
	}
	for _, in := range f.invites {
		if in.Email == email && in.Status == v1.InviteStatus_INVITE_STATUS_PENDING {
			return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("this person already has a pending invite: resend it instead"))
		}
	}
	f.seq++
	in := &v1.Invite{Id: fmt.Sprintf("invite-%d", f.seq), OrgId: f.org.Id, Email: email, Role: req.Msg.GetRole(),
		Status: v1.InviteStatus_INVITE_STATUS_PENDING, CreatedAt: timestamppb.New(f.now()),
		ExpiresAt: timestamppb.New(f.now().Add(7 * 24 * time.Hour)), SentCount: 1}
	f.invites = append(f.invites, in)
	f.record(a, "user.invite", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "invite", in.Id)
	return connect.NewResponse(&v1.InviteUserResponse{Invite: in}), nil
}

func (f *Cloud) invite(id string) (*v1.Invite, error) {
	for _, in := range f.invites {
		if in.Id == id {
			if in.Status != v1.InviteStatus_INVITE_STATUS_PENDING {
				return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("this invite is no longer pending"))
			}
			return in, nil
		}
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("no such invite"))
}

// ResendInvite implements UserService.
func (f *Cloud) ResendInvite(_ context.Context, req *connect.Request[v1.ResendInviteRequest]) (*connect.Response[v1.ResendInviteResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "ResendInvite", admins...)
	if err != nil {
		return nil, err
	}
	in, err := f.invite(req.Msg.GetInviteId())
	if err != nil {
		return nil, err
	}
	in.SentCount++
	in.ExpiresAt = timestamppb.New(f.now().Add(7 * 24 * time.Hour))
	f.record(a, "user.invite_resend", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "invite", in.Id)
	return connect.NewResponse(&v1.ResendInviteResponse{Invite: in}), nil
}

// CancelInvite implements UserService.
func (f *Cloud) CancelInvite(_ context.Context, req *connect.Request[v1.CancelInviteRequest]) (*connect.Response[v1.CancelInviteResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "CancelInvite", admins...)
	if err != nil {
		return nil, err
	}
	in, err := f.invite(req.Msg.GetInviteId())
	if err != nil {
		return nil, err
	}
	in.Status = v1.InviteStatus_INVITE_STATUS_CANCELLED
	f.record(a, "user.invite_cancel", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "invite", in.Id)
	return connect.NewResponse(&v1.CancelInviteResponse{Invite: in}), nil
}

func (f *Cloud) target(caller *Account, id string) (*Account, error) {
	t := f.accountByID(id)
	switch {
	case t == nil:
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no such user"))
	case t.ID == caller.ID:
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("you cannot change your own account here; ask another administrator"))
	}
	return t, nil
}

// ChangeUserRole implements UserService.
func (f *Cloud) ChangeUserRole(_ context.Context, req *connect.Request[v1.ChangeUserRoleRequest]) (*connect.Response[v1.ChangeUserRoleResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "ChangeUserRole", admins...)
	if err != nil {
		return nil, err
	}
	t, err := f.target(a, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	if r := req.Msg.GetRole(); r == v1.Role_ROLE_UNSPECIFIED || r == v1.Role_ROLE_ROOT_ADMIN {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("choose admin, nurse or medical assistant"))
	}
	t.Role = req.Msg.GetRole()
	f.endSessions(t.ID)
	f.record(a, "user.role_change", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "user", t.ID)
	return connect.NewResponse(&v1.ChangeUserRoleResponse{User: f.user(t)}), nil
}

// DeactivateUser implements UserService.
func (f *Cloud) DeactivateUser(_ context.Context, req *connect.Request[v1.DeactivateUserRequest]) (*connect.Response[v1.DeactivateUserResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "DeactivateUser", admins...)
	if err != nil {
		return nil, err
	}
	t, err := f.target(a, req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	t.Deactivated = true
	f.endSessions(t.ID)
	f.record(a, "user.deactivate", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "user", t.ID)
	return connect.NewResponse(&v1.DeactivateUserResponse{User: f.user(t)}), nil
}

func (f *Cloud) endSessions(userID string) {
	for t, s := range f.sessions {
		if s.userID == userID {
			delete(f.sessions, t)
		}
	}
}

// ListDevices implements DeviceService.
func (f *Cloud) ListDevices(_ context.Context, req *connect.Request[v1.ListDevicesRequest]) (*connect.Response[v1.ListDevicesResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "ListDevices", admins...); err != nil {
		return nil, err
	}
	res := &v1.ListDevicesResponse{}
	for _, d := range f.devices {
		if d.RevokedAt == nil || req.Msg.GetIncludeRevoked() {
			res.Devices = append(res.Devices, d)
		}
	}
	return connect.NewResponse(res), nil
}

// RevokeDevice implements DeviceService.
func (f *Cloud) RevokeDevice(_ context.Context, req *connect.Request[v1.RevokeDeviceRequest]) (*connect.Response[v1.RevokeDeviceResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "RevokeDevice", admins...)
	if err != nil {
		return nil, err
	}
	if len(req.Msg.GetReason()) > 300 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the reason is longer than 300 characters"))
	}
	for _, d := range f.devices {
		if d.DeviceId == req.Msg.GetDeviceId() {
			if d.RevokedAt == nil {
				d.RevokedAt = timestamppb.New(f.now())
				f.record(a, "device.revoke", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "device", d.DeviceId)
			}
			return connect.NewResponse(&v1.RevokeDeviceResponse{Device: d}), nil
		}
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("no such device"))
}

// GetEpicConfig implements EpicService.
func (f *Cloud) GetEpicConfig(_ context.Context, req *connect.Request[v1.GetEpicConfigRequest]) (*connect.Response[v1.GetEpicConfigResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "GetEpicConfig", admins...); err != nil {
		return nil, err
	}
	return connect.NewResponse(&v1.GetEpicConfigResponse{Config: f.epic}), nil
}

// UpdateEpicConfig implements EpicService.
func (f *Cloud) UpdateEpicConfig(_ context.Context, req *connect.Request[v1.UpdateEpicConfigRequest]) (*connect.Response[v1.UpdateEpicConfigResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "UpdateEpicConfig", admins...)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if m.FhirBaseUrl != nil && !strings.HasPrefix(m.GetFhirBaseUrl(), "https://") && !strings.HasPrefix(m.GetFhirBaseUrl(), "http://127.0.0.1") {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the FHIR base URL must use https"))
	}
	if m.ClientId != nil {
		f.epic.ClientId = m.GetClientId()
	}
	if m.ClientSecret != nil {
		f.epic.ClientSecretSet = m.GetClientSecret() != ""
	}
	if m.FhirBaseUrl != nil {
		f.epic.FhirBaseUrl = m.GetFhirBaseUrl()
		f.epic.AuthorizeUrl = strings.TrimSuffix(m.GetFhirBaseUrl(), "/api/FHIR/R4") + "/oauth2/authorize"
		f.epic.TokenUrl = strings.TrimSuffix(m.GetFhirBaseUrl(), "/api/FHIR/R4") + "/oauth2/token"
		f.epic.EndpointsDiscovered = true
	}
	if m.Environment != v1.EpicEnvironment_EPIC_ENVIRONMENT_UNSPECIFIED {
		f.epic.Environment = m.Environment
	}
	if m.ConnectionMode != v1.EpicConnectionMode_EPIC_CONNECTION_MODE_UNSPECIFIED {
		f.epic.ConnectionMode = m.ConnectionMode
	}
	f.epic.UpdatedAt = timestamppb.New(f.now())
	f.status.Configured = f.epic.ClientId != "" && f.epic.FhirBaseUrl != ""
	f.record(a, "epic.config_update", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "org", f.org.Id)
	return connect.NewResponse(&v1.UpdateEpicConfigResponse{Config: f.epic}), nil
}

// GetEpicRegistration implements EpicService.
func (f *Cloud) GetEpicRegistration(_ context.Context, req *connect.Request[v1.GetEpicRegistrationRequest]) (*connect.Response[v1.GetEpicRegistrationResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "GetEpicRegistration", admins...); err != nil {
		return nil, err
	}
	return connect.NewResponse(&v1.GetEpicRegistrationResponse{AppName: "HealthPrep", AppDescription: "Pre-visit screening preparation",
		RedirectUri: "https://cloud.healthprep.example/epic/callback", JwksUrl: "https://cloud.healthprep.example/.well-known/jwks.json",
		NonprodJwksUrl: "https://cloud.healthprep.example/.well-known/jwks-nonprod.json", Scopes: f.epic.Scopes,
		LaunchTypes: []string{"standalone", "backend services"}}), nil
}

// StartEpicConnect implements EpicService.
func (f *Cloud) StartEpicConnect(_ context.Context, req *connect.Request[v1.StartEpicConnectRequest]) (*connect.Response[v1.StartEpicConnectResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "StartEpicConnect", admins...); err != nil {
		return nil, err
	}
	if !f.status.Configured {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("save the client ID and FHIR base URL first"))
	}
	if f.epic.ConnectionMode == v1.EpicConnectionMode_EPIC_CONNECTION_MODE_BACKEND_SERVICES {
		f.status.Connected, f.status.ConnectedAt = true, timestamppb.New(f.now())
		return connect.NewResponse(&v1.StartEpicConnectResponse{Connected: true}), nil
	}
	return connect.NewResponse(&v1.StartEpicConnectResponse{AuthorizeUrl: f.epic.AuthorizeUrl + "?response_type=code&client_id=" + f.epic.ClientId + "&state=fake"}), nil
}

// GetEpicStatus implements EpicService.
func (f *Cloud) GetEpicStatus(_ context.Context, req *connect.Request[v1.GetEpicStatusRequest]) (*connect.Response[v1.GetEpicStatusResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "GetEpicStatus", admins...); err != nil {
		return nil, err
	}
	return connect.NewResponse(f.status), nil
}

// matches applies an audit filter.
func matches(e *v1.AuditEntry, fl *v1.AuditFilter) bool {
	switch {
	case fl == nil:
		return true
	case fl.GetActorUserId() != "" && e.ActorUserId != fl.GetActorUserId():
		return false
	case fl.GetAction() != "" && strings.HasSuffix(fl.GetAction(), ".") && !strings.HasPrefix(e.Action, fl.GetAction()):
		return false
	case fl.GetAction() != "" && !strings.HasSuffix(fl.GetAction(), ".") && e.Action != fl.GetAction():
		return false
	case fl.GetOutcome() != v1.AuditOutcome_AUDIT_OUTCOME_UNSPECIFIED && e.Outcome != fl.GetOutcome():
		return false
	case fl.Since != nil && e.At.AsTime().Before(fl.Since.AsTime()):
		return false
	case fl.Until != nil && !e.At.AsTime().Before(fl.Until.AsTime()):
		return false
	}
	return true
}

// QueryAudit implements AuditService.
func (f *Cloud) QueryAudit(_ context.Context, req *connect.Request[v1.QueryAuditRequest]) (*connect.Response[v1.QueryAuditResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "QueryAudit", admins...); err != nil {
		return nil, err
	}
	size := int(req.Msg.GetPageSize())
	if size <= 0 {
		size = 100
	}
	skip, _ := strconv.Atoi(req.Msg.GetPageToken())
	var all []*v1.AuditEntry
	for i := len(f.audit) - 1; i >= 0; i-- {
		if matches(f.audit[i], req.Msg.GetFilter()) {
			all = append(all, f.audit[i])
		}
	}
	res := &v1.QueryAuditResponse{}
	if skip < len(all) {
		end := min(skip+size, len(all))
		res.Entries = all[skip:end]
		if end < len(all) {
			res.NextPageToken = strconv.Itoa(end)
		}
	}
	return connect.NewResponse(res), nil
}

// ExportAuditCsv implements AuditService: the CSV in chunks of 64 bytes
// (small, so clients must join them).
func (f *Cloud) ExportAuditCsv(_ context.Context, req *connect.Request[v1.ExportAuditCsvRequest], st *connect.ServerStream[v1.ExportAuditCsvResponse]) error {
	f.mu.Lock()
	if _, _, err := f.caller(req.Header(), "ExportAuditCsv", admins...); err != nil {
		f.mu.Unlock()
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"seq", "at", "actor_user_id", "actor_role", "action", "outcome", "target_type", "target_id"})
	for _, e := range f.audit {
		if matches(e, req.Msg.GetFilter()) {
			_ = w.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.AsTime().UTC().Format(time.RFC3339), e.ActorUserId, e.ActorRole,
				e.Action, strings.ToLower(strings.TrimPrefix(e.Outcome.String(), "AUDIT_OUTCOME_")), e.TargetType, e.TargetId})
		}
	}
	w.Flush()
	f.mu.Unlock()
	b := buf.Bytes()
	for len(b) > 0 {
		n := min(64, len(b))
		if err := st.Send(&v1.ExportAuditCsvResponse{Chunk: b[:n]}); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// Pull implements SyncService: the feed after the cursor (a decimal
// sequence), limit at a time.
func (f *Cloud) Pull(_ context.Context, req *connect.Request[v1.PullRequest]) (*connect.Response[v1.PullResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.syncCaller(req.Header(), "Pull"); err != nil {
		return nil, err
	}
	from := int64(0)
	if cur := req.Msg.GetCursor(); cur != "" {
		n, err := strconv.ParseInt(cur, 10, 64)
		if err != nil || n < 0 {
			return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("bad cursor"))
		}
		if n > int64(len(f.feed)) {
			ce := connect.NewError(connect.CodeFailedPrecondition, errors.New("cursor ahead of the cloud"))
			ce.Meta().Set("Healthprep-Sync-Error", "cursor-ahead")
			return nil, ce
		}
		from = n
	}
	limit := int64(req.Msg.GetLimit())
	if limit <= 0 {
		limit = 500
	}
	end := min(from+limit, int64(len(f.feed)))
	res := &v1.PullResponse{Changes: f.feed[from:end], NextCursor: strconv.FormatInt(end, 10), HasMore: end < int64(len(f.feed)),
		LatestSeq: int64(len(f.feed)), ProtocolVersion: 2, Cursor: req.Msg.GetCursor()}
	for _, d := range f.devices {
		if d.DeviceId == req.Header().Get("Healthprep-Device-Id") {
			d.LastSyncAt = timestamppb.New(f.now())
		}
	}
	return connect.NewResponse(res), nil
}

// Push implements SyncService: every entry is applied.
func (f *Cloud) Push(_ context.Context, req *connect.Request[v1.PushRequest]) (*connect.Response[v1.PushResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.syncCaller(req.Header(), "Push"); err != nil {
		return nil, err
	}
	res := &v1.PushResponse{}
	for _, e := range req.Msg.GetEntries() {
		f.pushed = append(f.pushed, e)
		res.Acks = append(res.Acks, &v1.PushAck{ClientId: e.GetClientId(), Status: v1.PushStatus_PUSH_STATUS_APPLIED})
	}
	return connect.NewResponse(res), nil
}

// DeviceToken makes a device token for an enrolled device, as enrolment
// would.
func (f *Cloud) DeviceToken(deviceID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := "device-" + token()
	f.sessions[t] = &session{deviceID: deviceID, verified: true}
	return t
}

// syncCaller accepts a user session or a device token; a revoked device
// gets the revocation header.
func (f *Cloud) syncCaller(h http.Header, name string) (*Account, *session, error) {
	t := strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
	if s, ok := f.sessions[t]; ok && s.userID == "" {
		f.calls[name]++
		for _, d := range f.devices {
			if d.DeviceId == s.deviceID && d.RevokedAt != nil {
				ce := connect.NewError(connect.CodeUnauthenticated, errors.New("this workstation was revoked"))
				ce.Meta().Set("Healthprep-Revoked", "device")
				return nil, nil, ce
			}
		}
		if f.suspended {
			return nil, nil, suspendedError()
		}
		return nil, s, nil
	}
	return f.caller(h, name)
}

// SessionToken makes a verified session for a user, as a completed
// sign-in would (for tests that start signed in).
func (f *Cloud) SessionToken(userID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := token()
	f.sessions[t] = &session{userID: userID, verified: true}
	return t
}

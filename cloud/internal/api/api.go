// Package api is the cloud core's wire edge: the Connect handlers of
// healthprep.v1 (served as Connect, gRPC and gRPC-Web), the one RBAC
// mechanism that guards them (an interceptor and a single table of which
// roles may call which procedure), and the only place where domain errors
// become wire codes. Handlers are thin: decode the request, call the domain,
// encode the answer. Domain packages never see generated types.
//
// The domain services the handlers need are declared here as small
// interfaces (Authenticator, Orgs, Users, Auth, AuditLog) and wired in
// cmd/healthprep-cloud.
package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// Role is what a signed-in user may do.
type Role string

// Roles, as stored.
const (
	RoleRootAdmin Role = "root_admin"
	RoleAdmin     Role = "admin"
	RoleNurse     Role = "nurse"
	RoleMA        Role = "ma"
)

// Roles lists every role.
var Roles = []Role{RoleRootAdmin, RoleAdmin, RoleNurse, RoleMA}

// Principal is the signed-in user behind a session.
type Principal struct {
	UserID    uuid.UUID
	OrgID     tenancy.OrgID
	Role      Role
	SessionID uuid.UUID
	// Pending is what the session still owes before it may do everything
	// its role allows (PendingNone for a complete sign-in).
	Pending Pending
	// DeviceID is the enrolled workstation calling with its device token
	// (Role is then RoleDevice and UserID the admin who enrolled it).
	DeviceID uuid.UUID
}

// Pending is an unfinished step of signing in.
type Pending int

// Pending steps.
const (
	PendingNone Pending = iota
	// PendingSecondFactor: password accepted, TOTP or recovery code owed.
	PendingSecondFactor
	// PendingEnrolment: a second factor is mandatory and not yet set up.
	PendingEnrolment
)

// Caller is who is calling: the principal (when signed in) and where from.
type Caller struct {
	Principal     Principal
	Authenticated bool
	IP            string
	UserAgent     string
}

// ErrSessionInvalid is what an Authenticator returns (wrapped or not) for a
// missing, malformed, tampered, expired or revoked session token.
var ErrSessionInvalid = errors.New("session is not valid")

// Authenticator turns a bearer session token into its principal. Any
// replica can validate any session (sessions live in Postgres).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// Orgs is the organisation store (org.Store).
type Orgs interface {
	Create(ctx context.Context, actor org.Actor, in org.NewOrg) (org.Org, error)
	Get(ctx context.Context, id tenancy.OrgID) (org.Org, error)
	UpdateSettings(ctx context.Context, actor org.Actor, id tenancy.OrgID, p org.SettingsPatch) (org.Org, error)
	SetStatus(ctx context.Context, actor org.Actor, id tenancy.OrgID, next org.Status, reason string, trialEndsAt time.Time) (org.Org, error)
	List(ctx context.Context, status org.Status, page org.Page) ([]org.Org, string, error)
}

// ClientKind is what kind of client opens a session.
type ClientKind string

// Client kinds.
const (
	ClientAPI     ClientKind = "api"
	ClientWeb     ClientKind = "web"
	ClientDesktop ClientKind = "desktop"
)

// SignIn is a sign-in attempt.
type SignIn struct {
	Email, Password string
	Kind            ClientKind
	DeviceID        string
	IP, UserAgent   string
}

// SessionStart is a new session.
type SessionStart struct {
	Token                 string
	ExpiresAt             time.Time
	SecondFactorRequired  bool
	TOTPEnrolmentRequired bool
}

// Verified is the result of a second factor.
type Verified struct {
	Token                  string // the verified session's token
	ExpiresAt              time.Time
	RecoveryCodesRemaining int // set when a recovery code was used
}

// TOTPEnrolment is a started enrolment.
type TOTPEnrolment struct {
	Secret     string
	OTPAuthURI string
	QRPNG      []byte
}

// AcceptInvite is an invited person creating their account.
type AcceptInvite struct {
	Token, Password, DisplayName string
	Kind                         ClientKind
	DeviceID                     string
	IP, UserAgent                string
}

// PasswordReset completes a reset.
type PasswordReset struct {
	Token, NewPassword, TOTPCode string
	IP, UserAgent                string
}

// Me describes the caller's session.
type Me struct {
	User             User
	SessionExpiresAt time.Time
}

// Auth is sign-in, second factors, password reset and invites accepted
// (the identity service).
type Auth interface {
	SignIn(ctx context.Context, in SignIn) (SessionStart, error)
	VerifySecondFactor(ctx context.Context, c Caller, totpCode, recoveryCode string) (Verified, error)
	SignOut(ctx context.Context, c Caller) error
	StartTOTPEnrolment(ctx context.Context, c Caller) (TOTPEnrolment, error)
	ConfirmTOTPEnrolment(ctx context.Context, c Caller, code string) (recoveryCodes []string, err error)
	RequestPasswordReset(ctx context.Context, email, ip, userAgent string) error
	CompletePasswordReset(ctx context.Context, in PasswordReset) error
	AcceptInvite(ctx context.Context, in AcceptInvite) (SessionStart, error)
	WhoAmI(ctx context.Context, c Caller) (Me, error)
}

// User is a user as the API shows it.
type User struct {
	ID           uuid.UUID
	OrgID        tenancy.OrgID
	Email        string
	DisplayName  string
	Role         Role
	Active       bool
	TOTPEnrolled bool
	CreatedAt    time.Time
}

// InviteState is where an invite is in its life.
type InviteState string

// Invite states.
const (
	InvitePending   InviteState = "pending"
	InviteAccepted  InviteState = "accepted"
	InviteCancelled InviteState = "cancelled"
	InviteExpired   InviteState = "expired"
)

// Invite is an invite as the API shows it (never its token).
type Invite struct {
	ID        uuid.UUID
	OrgID     tenancy.OrgID
	Email     string
	Role      Role
	State     InviteState
	CreatedAt time.Time
	ExpiresAt time.Time
	SentCount int
}

// Users manages an organisation's users and invites (the identity
// service). The caller has passed RBAC and may act on org.
type Users interface {
	List(ctx context.Context, c Caller, o tenancy.OrgID, page org.Page, includeDeactivated bool) ([]User, string, error)
	ListInvites(ctx context.Context, c Caller, o tenancy.OrgID) ([]Invite, error)
	Invite(ctx context.Context, c Caller, o tenancy.OrgID, email string, role Role) (Invite, error)
	ResendInvite(ctx context.Context, c Caller, o tenancy.OrgID, id uuid.UUID) (Invite, error)
	CancelInvite(ctx context.Context, c Caller, o tenancy.OrgID, id uuid.UUID) (Invite, error)
	ChangeRole(ctx context.Context, c Caller, o tenancy.OrgID, userID uuid.UUID, role Role) (User, error)
	Deactivate(ctx context.Context, c Caller, o tenancy.OrgID, userID uuid.UUID) (User, error)
	RevokeSessions(ctx context.Context, c Caller, o tenancy.OrgID, userID uuid.UUID) (int, error)
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	Org         tenancy.OrgID
	ActorUserID uuid.UUID
	Action      string // exact, or a prefix ending in "."
	PatientRef  string
	Since       time.Time
	Until       time.Time
	Outcome     audit.Outcome
}

// ChainReport is the result of verifying one organisation's audit chain.
type ChainReport struct {
	Org         tenancy.OrgID
	OK          bool
	Checked     int64
	FirstBadSeq int64
	Problem     string
}

// AuditLog reads the audit log (the audit service). The caller has passed
// RBAC and may read f.Org.
type AuditLog interface {
	Query(ctx context.Context, f AuditFilter, page org.Page) ([]audit.Entry, string, error)
	ExportCSV(ctx context.Context, f AuditFilter, w io.Writer) error
	Verify(ctx context.Context, o tenancy.OrgID) (ChainReport, error)
}

// Options configure the API.
type Options struct {
	// MaxRequestBytes bounds every request message (default 1 MiB).
	MaxRequestBytes int
	// TrustForwardedFor takes the client IP from X-Forwarded-For (set it
	// only behind a load balancer that overwrites the header).
	TrustForwardedFor bool
	Logger            *slog.Logger
	Now               func() time.Time
	// Draining, when closed, ends every open streaming call (SyncService
	// Watch) cleanly while unary calls run to completion. Close it when
	// the server starts shutting down (http.Server.RegisterOnShutdown), or
	// Shutdown waits for streams that never end. Nil: streams end only
	// when their clients leave.
	Draining <-chan struct{}
}

// Services are the domain services behind the API.
type Services struct {
	Authenticator Authenticator
	Orgs          Orgs
	Users         Users
	Auth          Auth
	Audit         AuditLog
	// Epic services (issue 5); nil leaves EpicService Unimplemented.
	EpicConfigs EpicConfigs
	Ingest      IngestStore
	// Sync is the workstation sync feed (issue 6); nil answers
	// Unimplemented.
	Sync Sync
	// Devices is the workstation registry (issue 6): enrolment, device
	// tokens, revocation; nil answers Unimplemented and accepts no device
	// tokens.
	Devices Devices
	// Screenings is the organisations' screening settings store; nil
	// answers Unimplemented.
	Screenings ScreeningSettings
}

// Handler returns the HTTP handler serving every healthprep.v1 service
// behind the RBAC interceptor, and the list of service names (for health
// checks and reflection).
func Handler(svc Services, opt Options) (http.Handler, []string) {
	if opt.MaxRequestBytes == 0 {
		opt.MaxRequestBytes = 1 << 20
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	authn := svc.Authenticator
	if svc.Devices != nil {
		authn = deviceAuthn{sessions: authn, devices: svc.Devices}
	}
	g := &guard{auth: authn, rules: rules, trustXFF: opt.TrustForwardedFor, log: opt.Logger}
	opts := []connect.HandlerOption{
		connect.WithInterceptors(drainInterceptor{draining: opt.Draining}, versionInterceptor{}, g),
		connect.WithReadMaxBytes(opt.MaxRequestBytes),
	}
	em := errorMapper{log: opt.Logger}
	mux := http.NewServeMux()
	mux.Handle(healthprepv1connect.NewOrgServiceHandler(&orgServer{orgs: svc.Orgs, errs: em}, opts...))
	mux.Handle(healthprepv1connect.NewUserServiceHandler(&userServer{users: svc.Users, errs: em}, opts...))
	mux.Handle(healthprepv1connect.NewAuthServiceHandler(&authServer{auth: svc.Auth, errs: em}, opts...))
	mux.Handle(healthprepv1connect.NewAuditServiceHandler(&auditServer{log: svc.Audit, errs: em}, opts...))
	mux.Handle(healthprepv1connect.NewEpicServiceHandler(&epicServer{configs: svc.EpicConfigs, store: svc.Ingest, errs: em}, opts...))
	mux.Handle(healthprepv1connect.NewSyncServiceHandler(&syncServer{sync: svc.Sync, errs: em}, opts...))
	mux.Handle(healthprepv1connect.NewDeviceServiceHandler(&deviceServer{devices: svc.Devices, errs: em}, opts...))
	mux.Handle(healthprepv1connect.NewScreeningServiceHandler(&screeningServer{store: svc.Screenings, errs: em}, opts...))
	return mux, []string{
		healthprepv1connect.OrgServiceName,
		healthprepv1connect.UserServiceName,
		healthprepv1connect.AuthServiceName,
		healthprepv1connect.AuditServiceName,
		healthprepv1connect.EpicServiceName,
		healthprepv1connect.SyncServiceName,
		healthprepv1connect.DeviceServiceName,
		healthprepv1connect.ScreeningServiceName,
	}
}

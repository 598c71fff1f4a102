package api

import (
	"context"
	"errors"
	"net/netip"
	"sort"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/identity/password"
	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/tenancy"
)

// Identity adapts *identity.Service to the Authenticator, Auth and Users
// the handlers need. It translates types only; identity decides.
type Identity struct{ Svc *identity.Service }

var (
	_ Authenticator = Identity{}
	_ Auth          = Identity{}
	_ Users         = Identity{}
)

// identityErrors maps identity's sentinels to codes; their messages are
// written to be shown (no email, token, password or PHI).
var identityErrors = []struct {
	sentinel error
	code     connect.Code
}{
	{identity.ErrUnauthenticated, connect.CodeUnauthenticated},
	{identity.ErrInvalidCredentials, connect.CodeUnauthenticated},
	{identity.ErrLocked, connect.CodeResourceExhausted},
	{identity.ErrThrottled, connect.CodeResourceExhausted},
	{identity.ErrMFARequired, connect.CodeFailedPrecondition},
	{identity.ErrInvalidTOTP, connect.CodeInvalidArgument},
	{identity.ErrTOTPEnrolled, connect.CodeFailedPrecondition},
	{identity.ErrTOTPNotEnrolled, connect.CodeFailedPrecondition},
	{identity.ErrInviteInvalid, connect.CodeFailedPrecondition},
	{identity.ErrInviteOpen, connect.CodeAlreadyExists},
	{identity.ErrResetInvalid, connect.CodeFailedPrecondition},
	{identity.ErrMaxUsers, connect.CodeFailedPrecondition},
	{identity.ErrEmailInUse, connect.CodeAlreadyExists},
	{identity.ErrPermissionDenied, connect.CodePermissionDenied},
	{identity.ErrNotFound, connect.CodeNotFound},
	{identity.ErrLastAdmin, connect.CodeFailedPrecondition},
}

// identityWire maps an identity error, or returns nil when err is not one.
func identityWire(err error) *connect.Error {
	if errors.Is(err, identity.ErrOrgSuspended) {
		return suspendedError()
	}
	var ie *identity.InputError
	if errors.As(err, &ie) {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(ie.Error()))
	}
	var we *password.WeakError
	if errors.As(err, &we) {
		return connect.NewError(connect.CodeInvalidArgument, errors.New("password: "+we.Error()))
	}
	for _, m := range identityErrors {
		if errors.Is(err, m.sentinel) {
			return connect.NewError(m.code, errors.New(m.sentinel.Error()))
		}
	}
	return nil
}

var pendingOf = map[identity.Scope]Pending{
	identity.ScopeFull:         PendingNone,
	identity.ScopeSecondFactor: PendingSecondFactor,
	identity.ScopeEnrol:        PendingEnrolment,
}

func principalOf(p identity.Principal) Principal {
	pending, ok := pendingOf[p.Scope]
	if !ok {
		pending = PendingSecondFactor // unknown scope: the least power that is not none
	}
	return Principal{UserID: p.UserID, OrgID: p.OrgID, Role: Role(p.Role), SessionID: p.SessionID, Pending: pending}
}

// identityPrincipal rebuilds identity's principal for a call. Identity
// re-reads what it needs from the session row; Scope mirrors Pending.
func identityPrincipal(c Caller) identity.Principal {
	scope := identity.ScopeFull
	switch c.Principal.Pending {
	case PendingSecondFactor:
		scope = identity.ScopeSecondFactor
	case PendingEnrolment:
		scope = identity.ScopeEnrol
	}
	return identity.Principal{
		UserID: c.Principal.UserID, OrgID: c.Principal.OrgID, Role: identity.Role(c.Principal.Role),
		SessionID: c.Principal.SessionID, Scope: scope,
	}
}

func client(ip, ua string, kind ClientKind, device string) identity.Client {
	addr, _ := netip.ParseAddr(ip)
	return identity.Client{IP: addr, DeviceID: device, Kind: identity.Kind(kind), UserAgent: ua}
}

func sessionStart(s identity.Session) SessionStart {
	return SessionStart{
		Token: s.Token, ExpiresAt: s.ExpiresAt,
		SecondFactorRequired:  s.Principal.Scope == identity.ScopeSecondFactor,
		TOTPEnrolmentRequired: s.Principal.Scope == identity.ScopeEnrol,
	}
}

// Authenticate implements Authenticator.
func (a Identity) Authenticate(ctx context.Context, token string) (Principal, error) {
	p, err := a.Svc.Validate(ctx, token)
	if errors.Is(err, identity.ErrUnauthenticated) {
		return Principal{}, ErrSessionInvalid
	}
	if errors.Is(err, identity.ErrOrgSuspended) {
		return Principal{}, ErrOrgSuspended
	}
	if err != nil {
		return Principal{}, err
	}
	return principalOf(p), nil
}

// SignIn implements Auth.
func (a Identity) SignIn(ctx context.Context, in SignIn) (SessionStart, error) {
	s, err := a.Svc.SignIn(ctx, identity.SignInRequest{
		Email: in.Email, Password: in.Password, Client: client(in.IP, in.UserAgent, in.Kind, in.DeviceID),
	})
	if err != nil {
		return SessionStart{}, err
	}
	return sessionStart(s), nil
}

// VerifySecondFactor implements Auth.
func (a Identity) VerifySecondFactor(ctx context.Context, c Caller, totpCode, recoveryCode string) (Verified, error) {
	code := totpCode
	if code == "" {
		code = recoveryCode
	}
	s, err := a.Svc.VerifyTOTP(ctx, identityPrincipal(c), code)
	if err != nil {
		return Verified{}, err
	}
	return Verified{Token: s.Token, ExpiresAt: s.ExpiresAt}, nil
}

// SignOut implements Auth.
func (a Identity) SignOut(ctx context.Context, c Caller) error {
	return a.Svc.SignOut(ctx, identityPrincipal(c))
}

// StartTOTPEnrolment implements Auth.
func (a Identity) StartTOTPEnrolment(ctx context.Context, c Caller) (TOTPEnrolment, error) {
	e, err := a.Svc.BeginTOTPEnrolment(ctx, identityPrincipal(c))
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: e.Secret, OTPAuthURI: e.URL, QRPNG: e.QRCode}, nil
}

// ConfirmTOTPEnrolment implements Auth.
func (a Identity) ConfirmTOTPEnrolment(ctx context.Context, c Caller, code string) ([]string, error) {
	return a.Svc.ConfirmTOTP(ctx, identityPrincipal(c), code)
}

// RequestPasswordReset implements Auth.
func (a Identity) RequestPasswordReset(ctx context.Context, email, ip, ua string) error {
	return a.Svc.RequestPasswordReset(ctx, email, client(ip, ua, ClientWeb, ""))
}

// CompletePasswordReset implements Auth.
func (a Identity) CompletePasswordReset(ctx context.Context, in PasswordReset) error {
	return a.Svc.CompletePasswordReset(ctx, identity.CompletePasswordResetRequest{
		Token: in.Token, Password: in.NewPassword, SecondFactor: in.TOTPCode, Client: client(in.IP, in.UserAgent, ClientWeb, ""),
	})
}

// AcceptInvite implements Auth.
func (a Identity) AcceptInvite(ctx context.Context, in AcceptInvite) (SessionStart, error) {
	s, err := a.Svc.AcceptInvite(ctx, identity.AcceptInviteRequest{
		Token: in.Token, Password: in.Password, DisplayName: in.DisplayName,
		Client: client(in.IP, in.UserAgent, in.Kind, in.DeviceID),
	})
	if err != nil {
		return SessionStart{}, err
	}
	return sessionStart(s), nil
}

// WhoAmI implements Auth: the caller's own account (email, display name)
// and session expiry; the role is the session's, read live at validation.
func (a Identity) WhoAmI(ctx context.Context, c Caller) (Me, error) {
	self, err := a.Svc.Self(ctx, identityPrincipal(c))
	if err != nil {
		return Me{}, err
	}
	u := userOf(self.User)
	u.Role = c.Principal.Role
	return Me{User: u, SessionExpiresAt: self.SessionExpiresAt}, nil
}

func userOf(u identity.User) User {
	return User{
		ID: u.ID, OrgID: u.OrgID, Email: u.Email, DisplayName: u.DisplayName, Role: Role(u.Role),
		Active: u.Active, TOTPEnrolled: u.TOTPEnabled, CreatedAt: u.CreatedAt,
	}
}

func inviteOf(i identity.Invite) Invite {
	return Invite{
		ID: i.ID, OrgID: i.OrgID, Email: i.Email, Role: Role(i.Role), State: InvitePending,
		CreatedAt: i.CreatedAt, ExpiresAt: i.ExpiresAt, SentCount: i.SentCount,
	}
}

// List implements Users: identity returns every user; paging by email
// happens here.
func (a Identity) List(ctx context.Context, c Caller, o tenancy.OrgID, page org.Page, includeDeactivated bool) ([]User, string, error) {
	size := page.Size
	if size == 0 {
		size = 100
	}
	if size < 1 || size > 500 {
		return nil, "", &InvalidInput{Field: "page_size", Problem: "must be between 1 and 500"}
	}
	all, err := a.Svc.ListUsers(ctx, identityPrincipal(c), o)
	if err != nil {
		return nil, "", err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Email < all[j].Email })
	var out []User
	for _, u := range all {
		if (!u.Active && !includeDeactivated) || u.Email <= page.After {
			continue
		}
		if len(out) == size {
			return out, out[size-1].Email, nil
		}
		out = append(out, userOf(u))
	}
	return out, "", nil
}

func (a Identity) findUser(ctx context.Context, c Caller, o tenancy.OrgID, id uuid.UUID) (User, error) {
	all, err := a.Svc.ListUsers(ctx, identityPrincipal(c), o)
	if err != nil {
		return User{}, err
	}
	for _, u := range all {
		if u.ID == id {
			return userOf(u), nil
		}
	}
	return User{}, identity.ErrNotFound
}

// ListInvites implements Users.
func (a Identity) ListInvites(ctx context.Context, c Caller, o tenancy.OrgID) ([]Invite, error) {
	invs, err := a.Svc.ListInvites(ctx, identityPrincipal(c), o)
	if err != nil {
		return nil, err
	}
	out := make([]Invite, 0, len(invs))
	for _, i := range invs {
		out = append(out, inviteOf(i))
	}
	return out, nil
}

// Invite implements Users.
func (a Identity) Invite(ctx context.Context, c Caller, o tenancy.OrgID, email string, role Role) (Invite, error) {
	i, err := a.Svc.CreateInvite(ctx, identityPrincipal(c), o, email, identity.Role(role))
	if err != nil {
		return Invite{}, err
	}
	return inviteOf(i), nil
}

// ResendInvite implements Users.
func (a Identity) ResendInvite(ctx context.Context, c Caller, o tenancy.OrgID, id uuid.UUID) (Invite, error) {
	i, err := a.Svc.ResendInvite(ctx, identityPrincipal(c), o, id)
	if err != nil {
		return Invite{}, err
	}
	return inviteOf(i), nil
}

// CancelInvite implements Users.
func (a Identity) CancelInvite(ctx context.Context, c Caller, o tenancy.OrgID, id uuid.UUID) (Invite, error) {
	if err := a.Svc.CancelInvite(ctx, identityPrincipal(c), o, id); err != nil {
		return Invite{}, err
	}
	return Invite{ID: id, OrgID: o, State: InviteCancelled}, nil
}

// ChangeRole implements Users.
func (a Identity) ChangeRole(ctx context.Context, c Caller, o tenancy.OrgID, userID uuid.UUID, role Role) (User, error) {
	if err := a.Svc.ChangeRole(ctx, identityPrincipal(c), o, userID, identity.Role(role)); err != nil {
		return User{}, err
	}
	return a.findUser(ctx, c, o, userID)
}

// Deactivate implements Users.
func (a Identity) Deactivate(ctx context.Context, c Caller, o tenancy.OrgID, userID uuid.UUID) (User, error) {
	if err := a.Svc.Deactivate(ctx, identityPrincipal(c), o, userID); err != nil {
		return User{}, err
	}
	return a.findUser(ctx, c, o, userID)
}

// RevokeSessions implements Users.
func (a Identity) RevokeSessions(ctx context.Context, c Caller, o tenancy.OrgID, userID uuid.UUID) (int, error) {
	return a.Svc.RevokeUserSessions(ctx, identityPrincipal(c), o, userID)
}

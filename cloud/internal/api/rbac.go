package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// rule says who may call one procedure.
type rule struct {
	// public procedures need no session (sign-in, password reset, accept
	// invite); roles is then empty.
	public bool
	roles  []Role
	// duringSecondFactor and duringEnrolment procedures may be called by a
	// session that still owes its second factor, or must first enrol one.
	duringSecondFactor, duringEnrolment bool
}

var (
	everyone = Roles
	admins   = []Role{RoleRootAdmin, RoleAdmin}
	rootOnly = []Role{RoleRootAdmin}
)

// rules is THE access table: every procedure of healthprep.v1 and the roles
// allowed to call it. A procedure that is not here is refused to everyone
// (and a test fails when one is missing).
var rules = map[string]rule{
	c.OrgServiceCreateOrgProcedure:         {roles: rootOnly},
	c.OrgServiceGetOrgProcedure:            {roles: everyone},
	c.OrgServiceUpdateOrgSettingsProcedure: {roles: admins},
	c.OrgServiceSetOrgStatusProcedure:      {roles: rootOnly},
	c.OrgServiceListOrgsProcedure:          {roles: rootOnly},

	c.UserServiceListUsersProcedure:          {roles: admins},
	c.UserServiceListInvitesProcedure:        {roles: admins},
	c.UserServiceInviteUserProcedure:         {roles: admins},
	c.UserServiceResendInviteProcedure:       {roles: admins},
	c.UserServiceCancelInviteProcedure:       {roles: admins},
	c.UserServiceChangeUserRoleProcedure:     {roles: admins},
	c.UserServiceDeactivateUserProcedure:     {roles: admins},
	c.UserServiceRevokeUserSessionsProcedure: {roles: admins},

	c.AuthServiceSignInProcedure:                {public: true},
	c.AuthServiceRequestPasswordResetProcedure:  {public: true},
	c.AuthServiceCompletePasswordResetProcedure: {public: true},
	c.AuthServiceAcceptInviteProcedure:          {public: true},
	c.AuthServiceVerifySecondFactorProcedure:    {roles: everyone, duringSecondFactor: true},
	c.AuthServiceStartTotpEnrolmentProcedure:    {roles: everyone, duringEnrolment: true},
	c.AuthServiceConfirmTotpEnrolmentProcedure:  {roles: everyone, duringEnrolment: true},
	c.AuthServiceSignOutProcedure:               {roles: everyone, duringSecondFactor: true, duringEnrolment: true},
	c.AuthServiceWhoAmIProcedure:                {roles: everyone, duringSecondFactor: true, duringEnrolment: true},

	c.AuditServiceQueryAuditProcedure:       {roles: admins},
	c.AuditServiceExportAuditCsvProcedure:   {roles: admins},
	c.AuditServiceVerifyAuditChainProcedure: {roles: admins},

	// ---- Epic (issue 5; handlers in epic.go) ----
	c.EpicServiceGetEpicConfigProcedure:       {roles: admins},
	c.EpicServiceUpdateEpicConfigProcedure:    {roles: admins},
	c.EpicServiceGetEpicRegistrationProcedure: {roles: admins},
	c.EpicServiceStartEpicConnectProcedure:    {roles: admins},
	c.EpicServiceGetEpicStatusProcedure:       {roles: admins},
	c.EpicServiceListQuarantineProcedure:      {roles: admins},
	c.EpicServiceFindPatientByMrnProcedure:    {roles: everyone},

	// ---- workstation sync (issue 6; handlers in sync.go) ----
	// Every signed-in role syncs its own organisation's feed; the
	// handlers never take an org from the request.
	c.SyncServicePullProcedure:  {roles: syncers},
	c.SyncServicePushProcedure:  {roles: syncers},
	c.SyncServiceWatchProcedure: {roles: syncers},

	// ---- workstation devices (issue 6; handlers in device.go) ----
	// Admins enrol and revoke; a workstation exchanges a code without a
	// session (the single-use code is the credential); an enrolled
	// workstation (RoleDevice) may call only the sync rows above.
	c.DeviceServiceIssueEnrolmentCodeProcedure: {roles: admins},
	c.DeviceServiceEnrolDeviceProcedure:        {public: true},
	c.DeviceServiceListDevicesProcedure:        {roles: admins},
	c.DeviceServiceRevokeDeviceProcedure:       {roles: admins},

	// ---- screening settings (issues 4 and 8; handlers in screening.go) ----
	// Every role of the organisation reads its screening changes; only
	// admins save them.
	c.ScreeningServiceGetScreeningSettingsProcedure:    {roles: everyone},
	c.ScreeningServiceUpdateScreeningSettingsProcedure: {roles: admins},
}

// syncers may sync: every signed-in role and enrolled workstations.
var syncers = append(append([]Role(nil), Roles...), RoleDevice)

// Messages a person sees when refused. They say what to do, never why a
// token failed in detail (that would help an attacker).
const (
	msgSignIn        = "sign in first: this call needs a valid session"
	msgSecondFactor  = "finish signing in with your second factor first"
	msgEnrol         = "set up two-factor authentication first"
	msgNotAllowed    = "your role does not allow this"
	msgOtherOrg      = "you can act only on your own organisation"
	msgUnknownCall   = "this call is not available"
	msgBadOrgID      = "org_id: is not a valid organisation id"
	msgClientTooOld  = "this HealthPrep client is too old for the server; please update it"
	msgBadVersionHdr = "the " + ProtocolVersionHeader + " header must be a whole number"
)

type callerKey struct{}

// CallerFrom returns the caller the RBAC interceptor admitted.
func CallerFrom(ctx context.Context) Caller {
	cl, _ := ctx.Value(callerKey{}).(Caller)
	return cl
}

// guard is the RBAC interceptor: it authenticates the bearer token (a
// session or device of a suspended organisation is refused with
// suspendedError, whatever the procedure), looks the procedure up in
// rules, checks the role and the second factor, and
// checks that a request naming an organisation names the caller's own
// unless the caller is a root admin.
type guard struct {
	auth     Authenticator
	rules    map[string]rule
	trustXFF bool
	log      *slog.Logger
}

func (g *guard) admit(ctx context.Context, procedure string, h http.Header, peer string) (context.Context, error) {
	r, ok := g.rules[procedure]
	if !ok {
		return ctx, connect.NewError(connect.CodePermissionDenied, errors.New(msgUnknownCall))
	}
	cl := Caller{IP: g.clientIP(h, peer), UserAgent: truncate(h.Get("User-Agent"), 500)}
	if r.public {
		return context.WithValue(ctx, callerKey{}, cl), nil
	}
	token, ok := bearer(h.Get("Authorization"))
	if !ok {
		return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New(msgSignIn))
	}
	p, err := g.auth.Authenticate(ctx, token)
	if errors.Is(err, ErrRevoked) {
		return ctx, revokedError()
	}
	if errors.Is(err, ErrOrgSuspended) {
		return ctx, suspendedError()
	}
	if errors.Is(err, ErrSessionInvalid) {
		return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New(msgSignIn))
	}
	if err != nil {
		g.log.ErrorContext(ctx, "authenticating session", "procedure", procedure, "err", err)
		return ctx, connect.NewError(connect.CodeUnavailable, errors.New("cannot check your session right now; try again"))
	}
	switch {
	case p.Pending == PendingSecondFactor && !r.duringSecondFactor:
		return ctx, connect.NewError(connect.CodePermissionDenied, errors.New(msgSecondFactor))
	case p.Pending == PendingEnrolment && !r.duringEnrolment:
		return ctx, connect.NewError(connect.CodePermissionDenied, errors.New(msgEnrol))
	}
	if !slices.Contains(r.roles, p.Role) {
		return ctx, connect.NewError(connect.CodePermissionDenied, errors.New(msgNotAllowed))
	}
	cl.Principal, cl.Authenticated = p, true
	return context.WithValue(ctx, callerKey{}, cl), nil
}

// orgScoped is every request message that names an organisation.
type orgScoped interface{ GetOrgId() string }

// filtered is every request message whose filter names an organisation.
type filtered interface{ GetFilter() *v1.AuditFilter }

// checkOrg refuses a non-root caller naming another organisation.
func checkOrg(cl Caller, msg any) error {
	var id string
	switch m := msg.(type) {
	case orgScoped:
		id = m.GetOrgId()
	case filtered:
		id = m.GetFilter().GetOrgId()
	default:
		return nil
	}
	if id == "" || !cl.Authenticated || cl.Principal.Role == RoleRootAdmin {
		return nil
	}
	o, err := tenancy.ParseOrgID(id)
	if err != nil {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(msgBadOrgID))
	}
	if o != cl.Principal.OrgID {
		return connect.NewError(connect.CodePermissionDenied, errors.New(msgOtherOrg))
	}
	return nil
}

// targetOrg is the organisation a request acts on: the one it names (RBAC
// has checked the caller may), or the caller's own.
func targetOrg(ctx context.Context, id string) (tenancy.OrgID, error) {
	if id == "" {
		return CallerFrom(ctx).Principal.OrgID, nil
	}
	o, err := tenancy.ParseOrgID(id)
	if err != nil {
		return tenancy.OrgID{}, connect.NewError(connect.CodeInvalidArgument, errors.New(msgBadOrgID))
	}
	return o, nil
}

func (g *guard) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := g.admit(ctx, req.Spec().Procedure, req.Header(), req.Peer().Addr)
		if err != nil {
			return nil, err
		}
		if err := checkOrg(CallerFrom(ctx), req.Any()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (g *guard) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (g *guard) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := g.admit(ctx, conn.Spec().Procedure, conn.RequestHeader(), conn.Peer().Addr)
		if err != nil {
			return err
		}
		return next(ctx, &scopedConn{StreamingHandlerConn: conn, caller: CallerFrom(ctx)})
	}
}

// scopedConn checks the organisation of every message a stream receives.
type scopedConn struct {
	connect.StreamingHandlerConn
	caller Caller
}

func (s *scopedConn) Receive(msg any) error {
	if err := s.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	return checkOrg(s.caller, msg)
}

func bearer(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != "" && len(t) <= 512
}

func (g *guard) clientIP(h http.Header, peer string) string {
	if g.trustXFF {
		if xff := h.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(peer)
	if err != nil {
		return peer
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Protocol versions: see proto/healthprep/v1/common.proto.
const (
	ProtocolVersionHeader = "Healthprep-Protocol-Version"
	// ProtocolVersion is the version this server speaks.
	ProtocolVersion = 1
	// MinProtocolVersion is the oldest client version still served.
	MinProtocolVersion = 1
)

// versionInterceptor refuses clients older than MinProtocolVersion and
// answers with the server's version.
type versionInterceptor struct{}

func checkVersion(h http.Header) error {
	v := h.Get(ProtocolVersionHeader)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(msgBadVersionHdr))
	}
	if n < MinProtocolVersion {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(msgClientTooOld))
	}
	return nil
}

func (versionInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := checkVersion(req.Header()); err != nil {
			return nil, err
		}
		res, err := next(ctx, req)
		if err == nil {
			res.Header().Set(ProtocolVersionHeader, strconv.Itoa(ProtocolVersion))
		}
		return res, err
	}
}

func (versionInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (versionInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := checkVersion(conn.RequestHeader()); err != nil {
			return err
		}
		conn.ResponseHeader().Set(ProtocolVersionHeader, strconv.Itoa(ProtocolVersion))
		return next(ctx, conn)
	}
}

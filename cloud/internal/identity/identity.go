// Package identity is who may use HealthPrep and how they prove it:
// passwords, sign-in with lockout and throttling, TOTP second factor with
// recovery codes, server-side sessions, invitations and password resets.
//
// Everything goes through a Service built from explicit dependencies:
//
//	svc, err := identity.New(db, keys, mailer, time.Now, identity.Config{...})
//
// All state lives in Postgres (any replica validates any session); tenant
// rows are touched only through tenancy.WithOrg, or tenancy.WithPlatform for
// sign-in and token lookups before the organisation is known; every security
// event is appended to the audit log in the same transaction as the change.
// Time comes from the clock given to New, never from the database.
//
// # The API, by Connect service
//
// AuthService (callers may be anonymous):
//   - SignIn(email, password, optional second factor, client) → Session.
//     The session's Principal.Scope says what the caller may do next:
//     ScopeFull; ScopeSecondFactor (TOTP enrolled, no code given: call
//     VerifyTOTP within 10 minutes); ScopeEnrol (TOTP is mandatory for this
//     user but not set up: only BeginTOTPEnrolment, ConfirmTOTP and SignOut).
//   - VerifyTOTP(principal, code or recovery code) → a new full Session.
//   - SignOut(principal).
//   - BeginTOTPEnrolment(principal) → otpauth URL + PNG QR code;
//     ConfirmTOTP(principal, first code) → 10 recovery codes, shown once;
//     DisableTOTP(principal, code).
//   - ChangePassword(principal, current, new) → a new Session (every other
//     session of the user is revoked).
//   - RequestPasswordReset(email, client): the same answer whether or not the
//     email exists; CheckPasswordReset(token) → whether the second factor
//     will be needed (read-only, for the page a link opens);
//     CompletePasswordReset(token, new password, second factor).
//   - CheckInvite(token) → the org's name and the role (read-only, for the
//     page a link opens); AcceptInvite(token, password, display name,
//     client) → Session.
//
// UserService (callers are signed-in admins of the org, or root admins):
//   - ListUsers, CreateInvite, ListInvites, ResendInvite, CancelInvite,
//     ChangeRole, Deactivate, ResetTOTP, RevokeUserSessions, RevokeSession.
//   - CreateRootAdmin bootstraps the platform's first root admin (hpctl).
//
// Validate(token) → Principal is what the API layer's interceptor calls on
// every request. RBAC belongs to the API layer; Service methods still refuse
// callers without a full-scope session, org admins acting on other orgs
// (ErrPermissionDenied) and, through row-level security, rows of other orgs
// (ErrNotFound).
//
// # Rules and decisions
//
//   - Passwords: package password (Argon2id t=3, m=64 MiB, p=2; NIST 800-63B).
//   - Lockout: 5 consecutive failures (wrong password or wrong second factor)
//     lock the account for 30 minutes (audit auth.lockout); attempts during a
//     lock neither count nor extend it; success resets the count. Emails
//     without an account are locked the same way (table login_locks), so
//     ErrLocked reveals nothing.
//   - Throttle: an IP with 20 failures in the last 15 minutes is refused
//     (ErrThrottled) until the window slides; the first refusal raises an
//     audit alert auth.throttled in the platform org. Failures against 3 or
//     more distinct emails from one IP within 15 minutes raise
//     auth.password_spraying (outcome alert) in the platform org. "One IP"
//     is the address for IPv4 and the /64 for IPv6 (one subscriber's
//     network, whose addresses its owner rotates at will); attempts keep
//     the full address.
//   - Unknown emails cost one Argon2id verification against a dummy hash
//     and answer ErrInvalidCredentials, like a wrong password; deactivated
//     accounts answer the same. login_attempts stores an HMAC-SHA256 of the
//     email under Config.EmailHashKey, never the email.
//   - Suspension: while an organisation's status is suspended its users
//     cannot sign in and its open sessions do not validate (both
//     ErrOrgSuspended); nothing is revoked, so reinstating the organisation
//     (any other status) restores access at once. SignIn checks the
//     password first, so the answer reveals the organisation's status only
//     to someone who knows the password; the refusal is audited in the
//     organisation's chain (auth.signin, failure, reason org_suspended),
//     is not counted towards lockout, throttling or spraying detection,
//     and burns no TOTP code. The platform organisation (root admins) is
//     never treated as suspended.
//   - TOTP: SHA-1, 6 digits, 30 s, ±1 step; a code (its time step) is
//     accepted once (users.totp_last_step). Mandatory for root_admin and
//     admin, and for everyone in an org with require_2fa_all; the scope is
//     computed on every Validate, so turning the setting on limits existing
//     sessions to enrolment at once. Seeds are sealed by the keyring for
//     (org, "totp/user/<id>").
//   - Sessions: 256-bit random tokens (base64url), only SHA-256 stored; idle
//     timeout from organizations.session_idle_minutes (desktop sessions:
//     desktop_idle_minutes), absolute 12 h. Every failure of Validate is
//     ErrUnauthenticated, except a valid session of a suspended
//     organisation (ErrOrgSuspended).
//   - Invites: 256-bit tokens, 7 days, one-time (accept is one conditional
//     UPDATE under the org row lock), max_users counts active users plus
//     open, unexpired invites.
//   - Resets: 1 hour, single use, at most 3 requested per user per hour,
//     a newer request supersedes older ones; completing one needs the second
//     factor when enrolled, unlocks the account and revokes every session.
//     A request runs the same statements whether or not the email has an
//     account (see RequestPasswordReset), so its timing tells nothing.
//   - Mail: requests never talk to SMTP/SES. The rendered message is
//     sealed by the keyring and written to mail_outbox in the request's
//     transaction; MailOutbox (Service.MailOutbox; start its Run once per
//     process, on every replica) sends it, retries with backoff and after
//     OutboxConfig.MaxAttempts gives up with an audit entry
//     mail.undeliverable. An invitation therefore exists as soon as
//     CreateInvite returns, even when its mail could not be sent yet
//     (CreateInvite and ResendInvite try once before returning; the outbox
//     retries); ResendInvite issues a new link and drops the unsent mail of
//     the old one, CancelInvite drops it too.
//
// Errors are the sentinels below (and *InputError for malformed input); their
// messages carry no email, token, password or PHI.
package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/identity/password"
	"healthprep.dev/cloud/internal/tenancy"
)

// Role is a user's role.
type Role string

// Roles.
const (
	RoleRootAdmin Role = "root_admin"
	RoleAdmin     Role = "admin"
	RoleNurse     Role = "nurse"
	RoleMA        Role = "ma"
)

// Kind is the kind of client a session belongs to.
type Kind string

// Session kinds.
const (
	KindWeb     Kind = "web"
	KindAPI     Kind = "api"
	KindDesktop Kind = "desktop"
)

// Scope is what a session may do.
type Scope int

// Scopes.
const (
	// ScopeFull: everything the role allows.
	ScopeFull Scope = iota + 1
	// ScopeSecondFactor: password accepted, TOTP or recovery code pending
	// (VerifyTOTP, SignOut).
	ScopeSecondFactor
	// ScopeEnrol: TOTP is mandatory and not set up (BeginTOTPEnrolment,
	// ConfirmTOTP, SignOut).
	ScopeEnrol
)

func (s Scope) String() string {
	switch s {
	case ScopeFull:
		return "full"
	case ScopeSecondFactor:
		return "second_factor"
	case ScopeEnrol:
		return "enrol"
	}
	return "none"
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID      uuid.UUID
	OrgID       tenancy.OrgID
	Role        Role
	SessionID   uuid.UUID
	DeviceID    string
	Kind        Kind
	MFAVerified bool // the session was opened with a second factor
	Scope       Scope
}

// Session is a newly issued session. Token is shown to the client once and
// never stored.
type Session struct {
	Token     string
	Principal Principal
	ExpiresAt time.Time
}

// Client describes where a request comes from.
type Client struct {
	IP        netip.Addr
	DeviceID  string // ≤ 200 characters; the desktop's device ID, or ""
	Kind      Kind
	UserAgent string // truncated to 500 characters
}

// Errors. Each message is safe to show a person and carries no secret.
var (
	// ErrUnauthenticated: the session token is unknown, malformed,
	// tampered with, expired or revoked (deliberately not saying which).
	ErrUnauthenticated = errors.New("not signed in or session expired")
	// ErrInvalidCredentials: wrong email or password (not saying which).
	ErrInvalidCredentials = errors.New("wrong email or password")
	// ErrLocked: too many failed attempts on this account; try again later.
	ErrLocked = errors.New("too many failed attempts: account locked for 30 minutes")
	// ErrThrottled: too many failed attempts from this network address.
	ErrThrottled = errors.New("too many failed sign-in attempts from this address: try again in 15 minutes")
	// ErrMFARequired: a second factor is needed (or, for a limited
	// session, must first be completed or enrolled).
	ErrMFARequired = errors.New("two-factor authentication required")
	// ErrInvalidTOTP: the authenticator or recovery code is wrong, expired
	// or already used.
	ErrInvalidTOTP = errors.New("wrong or already used authentication code")
	// ErrTOTPEnrolled: TOTP is already set up (disable it first).
	ErrTOTPEnrolled = errors.New("two-factor authentication is already set up")
	// ErrTOTPNotEnrolled: no TOTP set up (or enrolment not started).
	ErrTOTPNotEnrolled = errors.New("two-factor authentication is not set up")
	// ErrInviteInvalid: the invitation link is unknown, expired, already
	// used or cancelled.
	ErrInviteInvalid = errors.New("this invitation link is not valid: ask your administrator for a new one")
	// ErrInviteOpen: an open invitation for this email already exists.
	ErrInviteOpen = errors.New("an invitation for this email is already open: resend or cancel it")
	// ErrResetInvalid: the reset link is unknown, expired or already used.
	ErrResetInvalid = errors.New("this password reset link is not valid: request a new one")
	// ErrWeakPassword matches every refused new password; errors.As with
	// *password.WeakError gives the reason.
	ErrWeakPassword = password.ErrWeak
	// ErrMaxUsers: the organisation has as many users and open invitations
	// as its plan allows.
	ErrMaxUsers = errors.New("the organisation has reached its maximum number of users")
	// ErrEmailInUse: the email already belongs to an account.
	ErrEmailInUse = errors.New("this email already has an account")
	// ErrPermissionDenied: the caller's role may not do this.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrNotFound: no such user, invitation, session or organisation
	// visible to the caller.
	ErrNotFound = errors.New("not found")
	// ErrLastAdmin: the change would leave the organisation without an
	// active admin.
	ErrLastAdmin = errors.New("the organisation must keep at least one active admin")
	// ErrOrgSuspended: the user's organisation is suspended (status
	// suspended). SignIn says so only after the password was verified;
	// Validate says so for a session that is otherwise valid.
	ErrOrgSuspended = errors.New("this organisation's HealthPrep account is suspended: contact your administrator or HealthPrep support")
	// ErrInvalidInput matches every *InputError.
	ErrInvalidInput = errors.New("invalid input")
)

// InputError says which field of a request is malformed and why.
type InputError struct{ Field, Reason string }

func (e *InputError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// Mailer sends one rendered message. Package mail implements it (SES v2 and
// SMTP); the transport is its business. Only MailOutbox calls it.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Message is a rendered email.
type Message struct {
	To, Subject, Text, HTML string
}

// Sealer encrypts secrets at rest bound to an org and a purpose; package
// keyring implements it.
type Sealer interface {
	Seal(ctx context.Context, org tenancy.OrgID, purpose string, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, org tenancy.OrgID, purpose string, ciphertext []byte) ([]byte, error)
}

// Config holds identity's settings.
type Config struct {
	// BaseURL is where people reach the web pages; links in mails are
	// built from it (BaseURL + "/invite/accept?token=…",
	// BaseURL + "/password/reset?token=…").
	BaseURL string
	// EmailHashKey keys the HMAC of emails in login_attempts and
	// login_locks; at least 32 bytes, kept secret, stable across replicas.
	EmailHashKey []byte
	// TOTPIssuer names the product in authenticator apps; default
	// "HealthPrep".
	TOTPIssuer string
	// Password are the Argon2id parameters for new hashes; zero means
	// password.DefaultParams().
	Password password.Params
	// Outbox tunes the delivery of mail (see MailOutbox).
	Outbox OutboxConfig
}

// Limits and durations.
const (
	MaxFailures         = 5
	LockDuration        = 30 * time.Minute
	ThrottleWindow      = 15 * time.Minute
	ThrottleFailures    = 20
	SprayAccounts       = 3
	SessionAbsolute     = 12 * time.Hour
	SecondFactorTimeout = 10 * time.Minute
	InviteValidity      = 7 * 24 * time.Hour
	ResetValidity       = time.Hour
	ResetsPerHour       = 3
	RecoveryCodeCount   = 10
	totpPeriod          = 30
)

// Service is the identity domain.
type Service struct {
	db     *tenancy.DB
	keys   Sealer
	now    func() time.Time
	cfg    Config
	base   *url.URL
	policy *password.Policy
	dummy  string // a hash verified for unknown emails
	outbox *MailOutbox

	mu       sync.Mutex
	platform tenancy.OrgID
}

// New builds a Service. now is the clock (time.Now in production).
func New(db *tenancy.DB, keys Sealer, mailer Mailer, now func() time.Time, cfg Config) (*Service, error) {
	if db == nil || keys == nil || mailer == nil || now == nil {
		return nil, errors.New("identity: db, keyring, mailer and clock are required")
	}
	if len(cfg.EmailHashKey) < 32 {
		return nil, errors.New("identity: email hash key must be at least 32 bytes")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("identity: base URL must be an absolute http(s) URL without query")
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "HealthPrep"
	}
	if cfg.Password == (password.Params{}) {
		cfg.Password = password.DefaultParams()
	}
	if err := cfg.Password.Validate(); err != nil {
		return nil, fmt.Errorf("identity: password parameters: %w", err)
	}
	dummy, err := password.Hash("not a password anyone has: "+rand.Text(), cfg.Password)
	if err != nil {
		return nil, fmt.Errorf("identity: making dummy hash: %w", err)
	}
	return &Service{
		db: db, keys: keys, now: now, cfg: cfg, base: base,
		policy: password.NewPolicy(), dummy: dummy,
		outbox: newMailOutbox(db, keys, mailer, now, cfg.Outbox),
	}, nil
}

// clock returns the current time at the database's precision.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// newToken returns a 256-bit random token and its SHA-256.
func newToken() (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("identity: crypto/rand failed: " + err.Error()) // never happens on supported systems
	}
	h := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b), h[:]
}

// tokenHash parses a token made by newToken; ok is false for anything else.
func tokenHash(tok string) ([]byte, bool) {
	if len(tok) != 43 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != 32 {
		return nil, false
	}
	h := sha256.Sum256(b)
	return h[:], true
}

// normEmail returns the canonical form of an email address.
func normEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if len(e) < 3 || len(e) > 254 {
		return "", &InputError{Field: "email", Reason: "must be an email address of at most 254 characters"}
	}
	a, err := mail.ParseAddress(e)
	local, domain, ok := strings.Cut(e, "@")
	if err != nil || a.Address != e || a.Name != "" || !ok || len(local) > 64 || !strings.Contains(domain, ".") {
		return "", &InputError{Field: "email", Reason: "is not a valid email address"}
	}
	return e, nil
}

func (s *Service) emailHash(email string) []byte {
	m := hmac.New(sha256.New, s.cfg.EmailHashKey)
	m.Write([]byte(email))
	return m.Sum(nil)
}

func checkClient(c Client) (Client, error) {
	if !c.IP.IsValid() {
		return c, &InputError{Field: "client address", Reason: "is missing"}
	}
	c.IP = c.IP.Unmap()
	if utf8.RuneCountInString(c.DeviceID) > 200 || !printable(c.DeviceID) {
		return c, &InputError{Field: "device id", Reason: "must be at most 200 printable characters"}
	}
	switch c.Kind {
	case KindWeb, KindAPI, KindDesktop:
	case "":
		c.Kind = KindAPI
	default:
		return c, &InputError{Field: "client kind", Reason: "must be web, api or desktop"}
	}
	c.UserAgent = strings.ToValidUTF8(c.UserAgent, "")
	if r := []rune(c.UserAgent); len(r) > 500 {
		c.UserAgent = string(r[:500])
	}
	return c, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func checkDisplayName(n string) (string, error) {
	n = strings.TrimSpace(n)
	if utf8.RuneCountInString(n) > 200 || !printable(n) {
		return "", &InputError{Field: "display name", Reason: "must be at most 200 printable characters"}
	}
	return n, nil
}

// platformOrg returns the platform organisation (home of root admins, and
// of audit entries that belong to no tenant: unknown-email failures,
// throttling and spraying alerts).
func (s *Service) platformOrg(ctx context.Context, tx pgx.Tx) (tenancy.OrgID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.platform.IsZero() {
		return s.platform, nil
	}
	err := tx.QueryRow(ctx, `SELECT id FROM organizations WHERE is_platform`).Scan(&s.platform)
	if err != nil {
		return tenancy.OrgID{}, fmt.Errorf("finding the platform organisation: %w", err)
	}
	return s.platform, nil
}

// mfaRequired reports whether TOTP is mandatory for role in an org with
// the given require_2fa_all setting.
func mfaRequired(role Role, requireAll bool) bool {
	return requireAll || role == RoleRootAdmin || role == RoleAdmin
}

func scopeOf(role Role, requireAll, enrolled, verified bool) Scope {
	switch {
	case enrolled && !verified:
		return ScopeSecondFactor
	case !enrolled && mfaRequired(role, requireAll):
		return ScopeEnrol
	}
	return ScopeFull
}

// requireFull refuses limited sessions.
func requireFull(p Principal) error {
	if p.Scope != ScopeFull {
		return ErrMFARequired
	}
	return nil
}

// authorizeAdmin lets a full-scope root admin act on any org and an admin
// on their own.
func authorizeAdmin(p Principal, org tenancy.OrgID) error {
	if err := requireFull(p); err != nil {
		return err
	}
	if org.IsZero() {
		return &InputError{Field: "organisation", Reason: "is missing"}
	}
	if p.Role == RoleRootAdmin || (p.Role == RoleAdmin && p.OrgID == org) {
		return nil
	}
	return ErrPermissionDenied
}

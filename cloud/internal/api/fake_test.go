package api

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/tenancy"
)

// Fakes of the domain services, for the tests that are about the API layer
// itself (RBAC, error mapping, limits). They succeed unless told otherwise
// and count calls so a test can prove a refused request reached nothing.
// The end-to-end tests use the real services on Postgres.

var (
	orgA = tenancy.OrgID(uuid.MustParse("0a000000-0000-4000-8000-00000000000a"))
	orgB = tenancy.OrgID(uuid.MustParse("0b000000-0000-4000-8000-00000000000b"))
	home = tenancy.OrgID(uuid.MustParse("0f000000-0000-4000-8000-00000000000f"))
)

// tokens are the sessions the fake authenticator knows.
var tokens = map[string]Principal{
	"root":        {UserID: uuid.New(), OrgID: home, Role: RoleRootAdmin, SessionID: uuid.New()},
	"admin":       {UserID: uuid.New(), OrgID: orgA, Role: RoleAdmin, SessionID: uuid.New()},
	"nurse":       {UserID: uuid.New(), OrgID: orgA, Role: RoleNurse, SessionID: uuid.New()},
	"ma":          {UserID: uuid.New(), OrgID: orgA, Role: RoleMA, SessionID: uuid.New()},
	"admin-2fa":   {UserID: uuid.New(), OrgID: orgA, Role: RoleAdmin, SessionID: uuid.New(), Pending: PendingSecondFactor},
	"admin-enrol": {UserID: uuid.New(), OrgID: orgA, Role: RoleAdmin, SessionID: uuid.New(), Pending: PendingEnrolment},
}

type fakeAuthn struct{}

// suspendedToken is a valid session of a suspended organisation.
const suspendedToken = "nurse-of-suspended-org"

func (fakeAuthn) Authenticate(_ context.Context, token string) (Principal, error) {
	if token == suspendedToken {
		return Principal{}, fmt.Errorf("validating session: %w", ErrOrgSuspended)
	}
	p, ok := tokens[token]
	if !ok {
		return Principal{}, ErrSessionInvalid
	}
	return p, nil
}

type fakeOrgs struct {
	calls atomic.Int64
	err   error // returned by every call when set
}

func (f *fakeOrgs) result(id tenancy.OrgID) (org.Org, error) {
	f.calls.Add(1)
	if f.err != nil {
		return org.Org{}, f.err
	}
	return org.Org{ID: id, Name: "Clinic", Slug: "clinic", Status: org.StatusLive}, nil
}

func (f *fakeOrgs) Create(_ context.Context, _ org.Actor, in org.NewOrg) (org.Org, error) {
	return f.result(tenancy.NewOrgID())
}
func (f *fakeOrgs) Get(_ context.Context, id tenancy.OrgID) (org.Org, error) { return f.result(id) }
func (f *fakeOrgs) UpdateSettings(_ context.Context, _ org.Actor, id tenancy.OrgID, _ org.SettingsPatch) (org.Org, error) {
	return f.result(id)
}
func (f *fakeOrgs) SetStatus(_ context.Context, _ org.Actor, id tenancy.OrgID, _ org.Status, _ string, _ time.Time) (org.Org, error) {
	return f.result(id)
}
func (f *fakeOrgs) List(context.Context, org.Status, org.Page) ([]org.Org, string, error) {
	o, err := f.result(orgA)
	return []org.Org{o}, "", err
}

type fakeUsers struct{ calls atomic.Int64 }

func (f *fakeUsers) user(o tenancy.OrgID) User {
	f.calls.Add(1)
	return User{ID: uuid.New(), OrgID: o, Email: "pat@example.org", Role: RoleNurse, Active: true}
}
func (f *fakeUsers) invite(o tenancy.OrgID) Invite {
	f.calls.Add(1)
	return Invite{ID: uuid.New(), OrgID: o, Email: "new@example.org", Role: RoleNurse, State: InvitePending}
}
func (f *fakeUsers) List(_ context.Context, _ Caller, o tenancy.OrgID, _ org.Page, _ bool) ([]User, string, error) {
	return []User{f.user(o)}, "", nil
}
func (f *fakeUsers) ListInvites(_ context.Context, _ Caller, o tenancy.OrgID) ([]Invite, error) {
	return []Invite{f.invite(o)}, nil
}
func (f *fakeUsers) Invite(_ context.Context, _ Caller, o tenancy.OrgID, _ string, _ Role) (Invite, error) {
	return f.invite(o), nil
}
func (f *fakeUsers) ResendInvite(_ context.Context, _ Caller, o tenancy.OrgID, _ uuid.UUID) (Invite, error) {
	return f.invite(o), nil
}
func (f *fakeUsers) CancelInvite(_ context.Context, _ Caller, o tenancy.OrgID, _ uuid.UUID) (Invite, error) {
	return f.invite(o), nil
}
func (f *fakeUsers) ChangeRole(_ context.Context, _ Caller, o tenancy.OrgID, _ uuid.UUID, _ Role) (User, error) {
	return f.user(o), nil
}
func (f *fakeUsers) Deactivate(_ context.Context, _ Caller, o tenancy.OrgID, _ uuid.UUID) (User, error) {
	return f.user(o), nil
}
func (f *fakeUsers) RevokeSessions(_ context.Context, _ Caller, o tenancy.OrgID, _ uuid.UUID) (int, error) {
	f.user(o)
	return 1, nil
}

type fakeAuth struct{ calls atomic.Int64 }

func (f *fakeAuth) SignIn(context.Context, SignIn) (SessionStart, error) {
	f.calls.Add(1)
	return SessionStart{Token: "t", ExpiresAt: time.Now().Add(time.Hour)}, nil
}
func (f *fakeAuth) VerifySecondFactor(context.Context, Caller, string, string) (Verified, error) {
	f.calls.Add(1)
	return Verified{}, nil
}
func (f *fakeAuth) SignOut(context.Context, Caller) error { f.calls.Add(1); return nil }
func (f *fakeAuth) StartTOTPEnrolment(context.Context, Caller) (TOTPEnrolment, error) {
	f.calls.Add(1)
	return TOTPEnrolment{}, nil
}
func (f *fakeAuth) ConfirmTOTPEnrolment(context.Context, Caller, string) ([]string, error) {
	f.calls.Add(1)
	return nil, nil
}
func (f *fakeAuth) RequestPasswordReset(context.Context, string, string, string) error {
	f.calls.Add(1)
	return nil
}
func (f *fakeAuth) CompletePasswordReset(context.Context, PasswordReset) error {
	f.calls.Add(1)
	return nil
}
func (f *fakeAuth) AcceptInvite(context.Context, AcceptInvite) (SessionStart, error) {
	f.calls.Add(1)
	return SessionStart{Token: "t"}, nil
}
func (f *fakeAuth) WhoAmI(_ context.Context, c Caller) (Me, error) {
	f.calls.Add(1)
	return Me{User: User{ID: c.Principal.UserID, Email: "me@example.org"}}, nil
}

type fakeAudit struct{ calls atomic.Int64 }

func (f *fakeAudit) Query(_ context.Context, fl AuditFilter, _ org.Page) ([]audit.Entry, string, error) {
	f.calls.Add(1)
	return []audit.Entry{{OrgID: fl.Org, Seq: 1, Event: audit.Event{Action: "auth.signin", Outcome: audit.Success}}}, "", nil
}
func (f *fakeAudit) ExportCSV(_ context.Context, _ AuditFilter, w io.Writer) error {
	f.calls.Add(1)
	_, err := io.WriteString(w, "seq,action\n1,auth.signin\n")
	return err
}
func (f *fakeAudit) Verify(_ context.Context, o tenancy.OrgID) (ChainReport, error) {
	f.calls.Add(1)
	return ChainReport{Org: o, OK: true, Checked: 1}, nil
}

// fakes is the bundle a fake-backed test needs.
type fakes struct {
	orgs   *fakeOrgs
	users  *fakeUsers
	auth   *fakeAuth
	audit  *fakeAudit
	url    string
	client *http.Client
}

func (f *fakes) calls() int64 {
	return f.orgs.calls.Load() + f.users.calls.Load() + f.auth.calls.Load() + f.audit.calls.Load()
}

// setupFakes serves the API over HTTP/2 without TLS (h2c) on loopback,
// backed by fakes.
func setupFakes(t *testing.T, opt Options) *fakes {
	t.Helper()
	f := &fakes{orgs: &fakeOrgs{}, users: &fakeUsers{}, auth: &fakeAuth{}, audit: &fakeAudit{}}
	h, _ := Handler(Services{Authenticator: fakeAuthn{}, Orgs: f.orgs, Users: f.users, Auth: f.auth, Audit: f.audit}, opt)
	f.url, f.client = serveH2C(t, h)
	return f
}

// serveH2C starts h on a loopback HTTP/2 cleartext server and returns its
// URL and a client that speaks HTTP/2 to it.
func serveH2C(t testing.TB, h http.Handler) (string, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, h2cClient()
}

func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:       p,
		TLSClientConfig: &tls.Config{},
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}}
}

package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/pquerna/otp/totp"

	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/identity/password"
	"healthprep.dev/cloud/internal/keyring"
	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// mailbox records the mail identity sends (the mail transports have their
// own tests against a real capture server).
type mailbox struct {
	mu   sync.Mutex
	msgs []identity.Message
}

func (m *mailbox) Send(_ context.Context, msg identity.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) token(t testing.TB, to string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		if m.msgs[i].To == to {
			if _, after, ok := strings.Cut(m.msgs[i].Text, "token="); ok {
				return strings.Fields(after)[0]
			}
		}
	}
	t.Fatalf("no mail with a link to %s", to)
	return ""
}

// instance is one cloud server: its own pool, its own services, its own
// HTTP/2 listener, like one replica.
type instance struct {
	url    string
	http   *http.Client
	orgs   c.OrgServiceClient
	users  c.UserServiceClient
	auth   c.AuthServiceClient
	audit  c.AuditServiceClient
	id     *identity.Service
	tenant *tenancy.DB
}

// cluster is N instances on one Postgres database.
type cluster struct {
	db    *pgtest.DB
	mail  *mailbox
	nodes []*instance
}

const (
	rootEmail = "root@healthprep.test"
	rootPass  = "correct horse battery staple 42"
)

var cheap = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

func newCluster(t testing.TB, n int) *cluster {
	t.Helper()
	cl := &cluster{db: pg.NewDB(t), mail: &mailbox{}}
	keys, err := keyring.NewLocal([]byte(strings.Repeat("K", keyring.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		db := tenancy.New(cl.db.AppPool(t))
		ids, err := identity.New(db, keys, cl.mail, time.Now, identity.Config{
			BaseURL: "https://hp.test", EmailHashKey: []byte(strings.Repeat("e", 32)), Password: cheap,
		})
		if err != nil {
			t.Fatal(err)
		}
		idAPI := Identity{Svc: ids}
		h, _ := Handler(Services{Authenticator: idAPI, Orgs: org.NewStore(db, time.Now), Users: idAPI, Auth: idAPI, Audit: AuditStore{DB: db}}, Options{})
		url, hc := serveH2C(t, h)
		cl.nodes = append(cl.nodes, &instance{
			url: url, http: hc, id: ids, tenant: db,
			orgs: c.NewOrgServiceClient(hc, url), users: c.NewUserServiceClient(hc, url),
			auth: c.NewAuthServiceClient(hc, url), audit: c.NewAuditServiceClient(hc, url),
		})
	}
	return cl
}

func withToken[T any](token string, msg *T) *connect.Request[T] {
	r := connect.NewRequest(msg)
	r.Header().Set("Authorization", "Bearer "+token)
	return r
}

// rootSession bootstraps the root admin and signs in through node a,
// enrolling TOTP (mandatory for root) through node b.
func (cl *cluster) rootSession(t testing.TB, a, b *instance) string {
	t.Helper()
	ctx := context.Background()
	if _, err := org.NewStore(a.tenant, time.Now).EnsurePlatform(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.id.CreateRootAdmin(ctx, rootEmail, rootPass, "Root"); err != nil {
		t.Fatalf("CreateRootAdmin: %v", err)
	}
	res, err := a.auth.SignIn(ctx, connect.NewRequest(&v1.SignInRequest{Email: rootEmail, Password: rootPass}))
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	tok := res.Msg.GetSessionToken()
	if !res.Msg.GetTotpEnrolmentRequired() {
		t.Fatalf("root sign-in: enrolment not required; want required")
	}
	en, err := b.auth.StartTotpEnrolment(ctx, withToken(tok, &v1.StartTotpEnrolmentRequest{}))
	if err != nil {
		t.Fatalf("StartTotpEnrolment through the other instance: %v", err)
	}
	code, err := totp.GenerateCode(en.Msg.GetSecret(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.auth.ConfirmTotpEnrolment(ctx, withToken(tok, &v1.ConfirmTotpEnrolmentRequest{TotpCode: code})); err != nil {
		t.Fatalf("ConfirmTotpEnrolment: %v", err)
	}
	return tok
}

// TestTwoInstances runs two servers, each with its own pool, on one
// Postgres: a session created through one works through the other, and an
// invite accepted through one cannot be accepted again through the other.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t, 2)
	a, b := cl.nodes[0], cl.nodes[1]
	root := cl.rootSession(t, a, b)

	me, err := b.auth.WhoAmI(ctx, withToken(root, &v1.WhoAmIRequest{}))
	if err != nil || me.Msg.GetRole() != v1.Role_ROLE_ROOT_ADMIN || !me.Msg.GetSecondFactorVerified() {
		t.Fatalf("WhoAmI through b with a's session = %v, %v; want a verified root admin", me, err)
	}
	created, err := b.orgs.CreateOrg(ctx, withToken(root, &v1.CreateOrgRequest{Name: "Lakeside Clinic", Slug: "lakeside"}))
	if err != nil {
		t.Fatalf("CreateOrg through b: %v", err)
	}
	orgID := created.Msg.GetOrganization().GetId()

	const nurse = "nurse@lakeside.test"
	if _, err := a.users.InviteUser(ctx, withToken(root, &v1.InviteUserRequest{OrgId: orgID, Email: nurse, Role: v1.Role_ROLE_NURSE})); err != nil {
		t.Fatalf("InviteUser through a: %v", err)
	}
	token := cl.mail.token(t, nurse)
	accept := &v1.AcceptInviteRequest{Token: token, Password: "a long and unusual passphrase 7", DisplayName: "Nurse"}
	acc, err := a.auth.AcceptInvite(ctx, connect.NewRequest(accept))
	if err != nil {
		t.Fatalf("AcceptInvite through a: %v", err)
	}
	_, err = b.auth.AcceptInvite(ctx, connect.NewRequest(accept))
	if got := connect.CodeOf(err); got != connect.CodeFailedPrecondition {
		t.Errorf("second AcceptInvite through b: error %v; want FailedPrecondition", err)
	}
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Message() != identity.ErrInviteInvalid.Error() {
		t.Errorf("second AcceptInvite message %q; want %q", ce.Message(), identity.ErrInviteInvalid.Error())
	}
	users, err := b.users.ListUsers(ctx, withToken(root, &v1.ListUsersRequest{OrgId: orgID}))
	if err != nil || len(users.Msg.GetUsers()) != 1 {
		t.Errorf("users after a double accept = %v, %v; want exactly one", users.Msg.GetUsers(), err)
	}
	// The nurse's session, made by a, reads the org through b.
	got, err := b.orgs.GetOrg(ctx, withToken(acc.Msg.GetSessionToken(), &v1.GetOrgRequest{}))
	if err != nil || got.Msg.GetOrganization().GetSlug() != "lakeside" {
		t.Errorf("GetOrg as the nurse through b = %v, %v; want lakeside", got, err)
	}

	// Accepted concurrently through both: exactly one wins.
	const ma = "ma@lakeside.test"
	if _, err := b.users.InviteUser(ctx, withToken(root, &v1.InviteUserRequest{OrgId: orgID, Email: ma, Role: v1.Role_ROLE_MA})); err != nil {
		t.Fatal(err)
	}
	req := &v1.AcceptInviteRequest{Token: cl.mail.token(t, ma), Password: "another long passphrase 99", DisplayName: "MA"}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range cl.nodes {
		wg.Go(func() { _, errs[i] = n.auth.AcceptInvite(ctx, connect.NewRequest(req)) })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Errorf("concurrent accepts: errors %v and %v; want exactly one success", errs[0], errs[1])
	}
}

// TestBadInputEndToEnd shows what a person sees for bad input through the
// real stack, and that nothing changed.
func TestBadInputEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t, 1)
	n := cl.nodes[0]
	root := cl.rootSession(t, n, n)
	created, err := n.orgs.CreateOrg(ctx, withToken(root, &v1.CreateOrgRequest{Name: "Lakeside", Slug: "lakeside"}))
	if err != nil {
		t.Fatal(err)
	}
	orgID := created.Msg.GetOrganization().GetId()
	count := func() (orgs, invites int) {
		t.Helper()
		list, err := n.orgs.ListOrgs(ctx, withToken(root, &v1.ListOrgsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := n.users.ListInvites(ctx, withToken(root, &v1.ListInvitesRequest{OrgId: orgID}))
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Msg.GetOrganizations()), len(inv.Msg.GetInvites())
	}
	tests := []struct {
		name     string
		call     func() error
		wantCode connect.Code
		wantMsg  string
	}{
		{"unknown org", func() error {
			_, err := n.orgs.GetOrg(ctx, withToken(root, &v1.GetOrgRequest{OrgId: tenancy.NewOrgID().String()}))
			return err
		}, connect.CodeNotFound, "no such organisation"},
		{"bad slug", func() error {
			_, err := n.orgs.CreateOrg(ctx, withToken(root, &v1.CreateOrgRequest{Name: "X", Slug: "Bad Slug"}))
			return err
		}, connect.CodeInvalidArgument, "slug: may contain only lowercase letters, digits and single hyphens, and must start and end with a letter or digit"},
		{"taken slug", func() error {
			_, err := n.orgs.CreateOrg(ctx, withToken(root, &v1.CreateOrgRequest{Name: "X", Slug: "lakeside"}))
			return err
		}, connect.CodeAlreadyExists, "slug: another organisation already uses it"},
		{"invalid setting", func() error {
			bad := int32(0)
			_, err := n.orgs.UpdateOrgSettings(ctx, withToken(root, &v1.UpdateOrgSettingsRequest{OrgId: orgID, SessionIdleMinutes: &bad}))
			return err
		}, connect.CodeInvalidArgument, "session_idle_minutes: must be between 1 and 720"},
		{"malformed email", func() error {
			_, err := n.users.InviteUser(ctx, withToken(root, &v1.InviteUserRequest{OrgId: orgID, Email: "not-an-email", Role: v1.Role_ROLE_NURSE}))
			return err
		}, connect.CodeInvalidArgument, ""},
		{"tampered session token", func() error {
			_, err := n.orgs.GetOrg(ctx, withToken(root[:len(root)-2]+"xx", &v1.GetOrgRequest{}))
			return err
		}, connect.CodeUnauthenticated, msgSignIn},
		{"used invite token", func() error {
			_, err := n.auth.AcceptInvite(ctx, connect.NewRequest(&v1.AcceptInviteRequest{Token: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Password: "a long and unusual passphrase 7"}))
			return err
		}, connect.CodeFailedPrecondition, identity.ErrInviteInvalid.Error()},
	}
	for _, tt := range tests {
		orgsBefore, invBefore := count()
		err := tt.call()
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != tt.wantCode {
			t.Errorf("%s: error %v; want code %v", tt.name, err, tt.wantCode)
			continue
		}
		if tt.wantMsg != "" && ce.Message() != tt.wantMsg {
			t.Errorf("%s: message %q; want %q", tt.name, ce.Message(), tt.wantMsg)
		}
		t.Logf("%s: %v", tt.name, ce)
		if o, i := count(); o != orgsBefore || i != invBefore {
			t.Errorf("%s: orgs %d→%d, invites %d→%d; want unchanged", tt.name, orgsBefore, o, invBefore, i)
		}
	}
	got, err := n.orgs.GetOrg(ctx, withToken(root, &v1.GetOrgRequest{OrgId: orgID}))
	if err != nil || got.Msg.GetOrganization().GetSettings().GetSessionIdleMinutes() != 15 {
		t.Errorf("settings after refused update: %v, %v; want idle 15", got, err)
	}
	// The audit log of the org records its creation and verifies.
	v, err := n.audit.VerifyAuditChain(ctx, withToken(root, &v1.VerifyAuditChainRequest{OrgId: orgID}))
	if err != nil || !v.Msg.GetOk() || v.Msg.GetEntriesChecked() < 1 {
		t.Errorf("VerifyAuditChain = %v, %v; want ok with entries", v, err)
	}
}

// BenchmarkGetOrg measures an authenticated simple read (session
// validation + GetOrg, both under row-level security) over loopback HTTP/2,
// and reports throughput and p99 latency. Target: ≥ 1,000 RPS at p99 ≤ 50 ms.
func BenchmarkGetOrg(b *testing.B) {
	ctx := context.Background()
	cl := newCluster(b, 1)
	n := cl.nodes[0]
	root := cl.rootSession(b, n, n)
	created, err := n.orgs.CreateOrg(ctx, withToken(root, &v1.CreateOrgRequest{Name: "Bench", Slug: "bench"}))
	if err != nil {
		b.Fatal(err)
	}
	orgID := created.Msg.GetOrganization().GetId()
	// Each client goroutine signs in as its own nurse: real traffic comes
	// from many sessions, and one session's row would serialise every
	// request on its last-seen update.
	const sessions = 16
	var toks []string
	for i := range sessions {
		email := fmt.Sprintf("nurse%d@bench.test", i)
		if _, err := n.users.InviteUser(ctx, withToken(root, &v1.InviteUserRequest{OrgId: orgID, Email: email, Role: v1.Role_ROLE_NURSE})); err != nil {
			b.Fatal(err)
		}
		acc, err := n.auth.AcceptInvite(ctx, connect.NewRequest(&v1.AcceptInviteRequest{
			Token: cl.mail.token(b, email), Password: "a long and unusual passphrase 7", DisplayName: "N",
		}))
		if err != nil {
			b.Fatal(err)
		}
		toks = append(toks, acc.Msg.GetSessionToken())
	}
	var next atomic.Int64

	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(sessions / runtime.GOMAXPROCS(0)) // 16 concurrent clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		tok := toks[int(next.Add(1)-1)%sessions]
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			if _, err := n.orgs.GetOrg(ctx, withToken(tok, &v1.GetOrgRequest{})); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p99 := lat[(len(lat)*99)/100]
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "rps")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
}

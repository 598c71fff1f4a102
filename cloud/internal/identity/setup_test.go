package identity_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/identity/password"
	"healthprep.dev/cloud/internal/keyring"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// cheap Argon2id parameters keep the suite fast; the production cost is
// checked in package password.
var cheap = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

// clock is a test clock moved by hand, so expiry is tested without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recordingMailer keeps what would have been sent. The transports
// themselves (SES v2, SMTP) are tested against real capture servers in
// package mail.
//
// Mail goes through the outbox: every read first delivers what is due
// (drain), as a running MailOutbox would.
type recordingMailer struct {
	drain func()
	mu    sync.Mutex
	sent  []identity.Message
}

// count delivers due mail and returns how many messages were sent.
func (m *recordingMailer) count() int {
	m.drain()
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

func (m *recordingMailer) Send(_ context.Context, msg identity.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

func (m *recordingMailer) to(addr string) []identity.Message {
	m.drain()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []identity.Message
	for _, msg := range m.sent {
		if msg.To == addr {
			out = append(out, msg)
		}
	}
	return out
}

// lastToken returns the token of the last link mailed to addr.
func (m *recordingMailer) lastToken(t *testing.T, addr string) string {
	t.Helper()
	msgs := m.to(addr)
	if len(msgs) == 0 {
		t.Fatalf("no mail sent to %s", addr)
	}
	_, after, ok := strings.Cut(msgs[len(msgs)-1].Text, "token=")
	if !ok {
		t.Fatalf("mail to %s has no token link: %q", addr, msgs[len(msgs)-1].Text)
	}
	return strings.Fields(after)[0]
}

type fixture struct {
	svc      *identity.Service
	db       *tenancy.DB
	pool     *pgxpool.Pool
	clock    *clock
	mail     *recordingMailer
	keys     *keyring.Local
	platform tenancy.OrgID
	orgA     tenancy.OrgID
	orgB     tenancy.OrgID
}

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func setup(t testing.TB) *fixture { return setupWith(t, options{}) }

// options vary the fixture: a tracer on the pool, another mailer than the
// recording one, outbox settings.
type options struct {
	tracer pgx.QueryTracer
	mailer identity.Mailer
	outbox identity.OutboxConfig
}

func setupWith(t testing.TB, o options) *fixture {
	t.Helper()
	pdb := pg.NewDB(t)
	cfg, err := pgxpool.ParseConfig(pdb.AppDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = o.tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	f := &fixture{db: tenancy.New(pool), pool: pool, clock: &clock{t: start}, mail: &recordingMailer{}}
	if f.keys, err = keyring.NewLocal(bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	var m identity.Mailer = f.mail
	if o.mailer != nil {
		m = o.mailer
	}
	f.svc, err = identity.New(f.db, f.keys, m, f.clock.Now, identity.Config{
		BaseURL:      "https://app.healthprep.test",
		EmailHashKey: bytes.Repeat([]byte{9}, 32),
		Password:     cheap,
		Outbox:       o.outbox,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.mail.drain = func() {
		if _, err := f.svc.MailOutbox().DeliverDue(context.Background()); err != nil {
			t.Errorf("DeliverDue = %v", err)
		}
	}
	f.platform = f.org(t, "platform", true)
	f.orgA = f.org(t, "clinic-a", false)
	f.orgB = f.org(t, "clinic-b", false)
	return f
}

func (f *fixture) org(t testing.TB, slug string, platform bool) tenancy.OrgID {
	t.Helper()
	var id tenancy.OrgID
	err := f.db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(),
			`INSERT INTO organizations (name, slug, is_platform) VALUES ($1, $1, $2) RETURNING id`, slug, platform).Scan(&id)
	})
	if err != nil {
		t.Fatalf("creating org %s: %v", slug, err)
	}
	return id
}

// exec runs SQL in org's scope (test arrangement, e.g. settings).
func (f *fixture) exec(t testing.TB, org tenancy.OrgID, sql string, args ...any) {
	t.Helper()
	if err := f.db.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), sql, args...)
		return err
	}); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// count returns a count(*) query's answer in the platform scope.
func (f *fixture) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), sql, args...).Scan(&n)
	}); err != nil {
		t.Fatalf("count %q: %v", sql, err)
	}
	return n
}

// audits counts audit entries of org with action and outcome.
func (f *fixture) audits(t testing.TB, org tenancy.OrgID, action, outcome string) int {
	t.Helper()
	return f.count(t, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = $2 AND outcome = $3`, org, action, outcome)
}

const pw = "plum tree owls at dusk"

// user inserts an active user with password pw directly (arrangement; the
// invite flow that creates users in the product is tested on its own).
func (f *fixture) user(t testing.TB, org tenancy.OrgID, email string, role identity.Role) uuid.UUID {
	t.Helper()
	h, err := password.Hash(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	var id uuid.UUID
	if err := f.db.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `INSERT INTO users (org_id, email, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
			org, email, string(role), h).Scan(&id)
	}); err != nil {
		t.Fatalf("creating user: %v", err)
	}
	return id
}

var ip1 = netip.MustParseAddr("192.0.2.10")

func web(ip netip.Addr) identity.Client {
	return identity.Client{IP: ip, DeviceID: "browser-1", Kind: identity.KindWeb, UserAgent: "test"}
}

func (f *fixture) signIn(t testing.TB, email string) identity.Session {
	t.Helper()
	s, err := f.svc.SignIn(context.Background(), identity.SignInRequest{Email: email, Password: pw, Client: web(ip1)})
	if err != nil {
		t.Fatalf("SignIn(%s) = %v", email, err)
	}
	return s
}

// enrol sets up TOTP for the session's user and returns the secret and
// recovery codes; the session becomes MFA-verified.
func (f *fixture) enrol(t testing.TB, s identity.Session) (string, []string) {
	t.Helper()
	ctx := context.Background()
	en, err := f.svc.BeginTOTPEnrolment(ctx, s.Principal)
	if err != nil {
		t.Fatalf("BeginTOTPEnrolment = %v", err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, s.Principal, code(t, en.Secret, f.clock.Now()))
	if err != nil {
		t.Fatalf("ConfirmTOTP = %v", err)
	}
	f.clock.Advance(30 * time.Second) // the next code is a new step
	return en.Secret, codes
}

func code(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

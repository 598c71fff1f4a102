package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/identity/password"
	"healthprep.dev/cloud/internal/keyring"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/cloud/internal/web"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// cheap Argon2id parameters keep the suite fast; the production cost is
// checked in package password.
var cheap = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock is a test clock moved by hand: expiry and TOTP steps are tested
// without sleeping.
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

// recordingMailer keeps what would have been sent (the SES and SMTP
// transports are tested against real capture servers in package mail).
//
// Mail goes through identity's outbox: every read first delivers what is
// due (drain), as a running MailOutbox would.
type recordingMailer struct {
	drain func()
	mu    sync.Mutex
	sent  []identity.Message
}

func (m *recordingMailer) Send(_ context.Context, msg identity.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

func (m *recordingMailer) count(to string) int {
	m.drain()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, msg := range m.sent {
		if msg.To == to {
			n++
		}
	}
	return n
}

var linkRE = regexp.MustCompile(`https://\S+\?token=[A-Za-z0-9_-]+`)

// lastLink returns the link of the last mail sent to addr.
func (m *recordingMailer) lastLink(t testing.TB, to string) string {
	t.Helper()
	m.drain()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].To == to {
			if l := linkRE.FindString(m.sent[i].Text); l != "" {
				return l
			}
			t.Fatalf("mail to %s has no link: %q", to, m.sent[i].Text)
		}
	}
	t.Fatalf("no mail sent to %s", to)
	return ""
}

// syncBuffer collects the handler's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	ids    *identity.Service
	db     *tenancy.DB
	clock  *clock
	mail   *recordingMailer
	srv    *httptest.Server
	origin string // https://127.0.0.1:port
	base   string // origin + "/web"
	org    tenancy.OrgID
	root   identity.Principal
	logs   *syncBuffer

	mu      sync.Mutex
	secrets []string // strings the log must never contain
}

// setup starts the pages over TLS on loopback, mounted at /web/ as the
// server mounts them, on a fresh database, with a root admin and a clinic.
func setup(t testing.TB) *fixture {
	t.Helper()
	pdb := pg.NewDB(t)
	db := tenancy.New(pdb.AppPool(t))
	f := &fixture{db: db, clock: &clock{t: start}, mail: &recordingMailer{}, logs: &syncBuffer{}}
	f.srv = httptest.NewUnstartedServer(nil)
	f.origin = "https://" + f.srv.Listener.Addr().String()
	f.base = f.origin + "/web"
	keys, err := keyring.NewLocal(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f.ids, err = identity.New(db, keys, f.mail, f.clock.Now, identity.Config{
		BaseURL: f.base, EmailHashKey: bytes.Repeat([]byte{9}, 32), Password: cheap,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.mail.drain = func() {
		if _, err := f.ids.MailOutbox().DeliverDue(context.Background()); err != nil {
			t.Errorf("DeliverDue = %v", err)
		}
	}
	h, err := web.New(f.ids, web.Config{
		BaseURL: f.base, CSRFKey: bytes.Repeat([]byte{5}, 32),
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/web/", h)
	f.srv.Config.Handler = mux
	f.srv.Config.ErrorLog = nil
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)

	f.orgRow(t, "platform", true)
	f.org = f.orgRow(t, "Riverside Family Clinic", false)
	f.root = f.rootAdmin(t)
	t.Cleanup(func() {
		logs := f.logs.String()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range f.secrets {
			if s != "" && strings.Contains(logs, s) {
				t.Errorf("the log contains a secret (%.6s…): %s", s, logs)
			}
		}
	})
	return f
}

// secret registers strings the handler's log must never contain.
func (f *fixture) secret(s ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, s...)
}

func (f *fixture) orgRow(t testing.TB, name string, platform bool) tenancy.OrgID {
	t.Helper()
	slug := strings.ToLower(strings.ReplaceAll(name, " ", "-"))
	var id tenancy.OrgID
	err := f.db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(),
			`INSERT INTO organizations (name, slug, is_platform) VALUES ($1, $2, $3) RETURNING id`, name, slug, platform).Scan(&id)
	})
	if err != nil {
		t.Fatalf("creating org %s: %v", name, err)
	}
	return id
}

const rootPassword = "granite harbour lanterns"

// rootAdmin creates the platform's root admin with TOTP and returns its
// full-scope principal, the way hpctl does.
func (f *fixture) rootAdmin(t testing.TB) identity.Principal {
	t.Helper()
	ctx := context.Background()
	if _, err := f.ids.CreateRootAdmin(ctx, "root@platform.example", rootPassword, "Root"); err != nil {
		t.Fatalf("CreateRootAdmin = %v", err)
	}
	s, err := f.ids.SignIn(ctx, identity.SignInRequest{Email: "root@platform.example", Password: rootPassword,
		Client: identity.Client{IP: mustAddr("192.0.2.1"), Kind: identity.KindAPI}})
	if err != nil {
		t.Fatalf("SignIn(root) = %v", err)
	}
	en, err := f.ids.BeginTOTPEnrolment(ctx, s.Principal)
	if err != nil {
		t.Fatalf("BeginTOTPEnrolment(root) = %v", err)
	}
	if _, err := f.ids.ConfirmTOTP(ctx, s.Principal, totpCode(t, en.Secret, f.clock.Now())); err != nil {
		t.Fatalf("ConfirmTOTP(root) = %v", err)
	}
	p, err := f.ids.Validate(ctx, s.Token)
	if err != nil {
		t.Fatalf("Validate(root) = %v", err)
	}
	return p
}

// invite invites email to the clinic with role and returns the mailed link.
func (f *fixture) invite(t testing.TB, email string, role identity.Role) (identity.Invite, string) {
	t.Helper()
	inv, err := f.ids.CreateInvite(context.Background(), f.root, f.org, email, role)
	if err != nil {
		t.Fatalf("CreateInvite(%s) = %v", email, err)
	}
	link := f.mail.lastLink(t, email)
	f.secret(link[strings.Index(link, "token=")+len("token="):])
	return inv, link
}

const userPassword = "copper kettle on a quiet shelf"

// enrolledUser creates, through identity itself, a clinic admin who has
// set userPassword and enrolled TOTP; it returns the TOTP secret.
func (f *fixture) enrolledUser(t testing.TB, email string) string {
	t.Helper()
	ctx := context.Background()
	_, link := f.invite(t, email, identity.RoleAdmin)
	tok := link[strings.Index(link, "token=")+len("token="):]
	s, err := f.ids.AcceptInvite(ctx, identity.AcceptInviteRequest{Token: tok, Password: userPassword,
		Client: identity.Client{IP: mustAddr("192.0.2.2"), Kind: identity.KindWeb}})
	if err != nil {
		t.Fatalf("AcceptInvite = %v", err)
	}
	en, err := f.ids.BeginTOTPEnrolment(ctx, s.Principal)
	if err != nil {
		t.Fatalf("BeginTOTPEnrolment = %v", err)
	}
	if _, err := f.ids.ConfirmTOTP(ctx, s.Principal, totpCode(t, en.Secret, f.clock.Now())); err != nil {
		t.Fatalf("ConfirmTOTP = %v", err)
	}
	if err := f.ids.SignOut(ctx, s.Principal); err != nil {
		t.Fatalf("SignOut = %v", err)
	}
	f.clock.Advance(30 * time.Second) // the next code is a fresh step
	return en.Secret
}

// count answers a count(*) query, run as the application role in the
// platform scope.
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

func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(strings.ReplaceAll(secret, " ", ""), at,
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// browser is an HTTP client that keeps cookies and behaves like a browser
// posting same-origin forms. It does not follow redirects by itself.
type browser struct {
	t testing.TB
	f *fixture
	c *http.Client
}

func (f *fixture) browser(t testing.TB) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *f.srv.Client() // a copy: each browser has its own jar
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, f: f, c: &c}
}

// page is one response.
type page struct {
	status int
	header http.Header
	body   string
	url    string
}

func (p page) location() string { return p.header.Get("Location") }

// setCookie returns the Set-Cookie line for name, or "".
func (p page) setCookie(name string) string {
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, name+"=") {
			return c
		}
	}
	return ""
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrf returns the token of the page's (first) form.
func (p page) csrf(t testing.TB) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("page %s has no CSRF field:\n%s", p.url, p.body)
	}
	return m[1]
}

// do sends one request; header may add or override headers.
func (b *browser) do(method, target string, form url.Values, header http.Header) page {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.f.origin + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.f.origin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(data), url: target}
}

// follow follows redirects from p, as a browser would, and returns the
// final page.
func (b *browser) follow(p page) page {
	b.t.Helper()
	for i := 0; i < 5 && p.status >= 300 && p.status < 400; i++ {
		p = b.do(http.MethodGet, p.location(), nil, nil)
	}
	return p
}

// get opens a page, following redirects.
func (b *browser) get(target string) page {
	b.t.Helper()
	return b.follow(b.do(http.MethodGet, target, nil, nil))
}

// submit posts a form to path with the token of the page that showed it;
// it does not follow the redirect.
func (b *browser) submit(from page, path string, form url.Values) page {
	b.t.Helper()
	form.Set("csrf", from.csrf(b.t))
	return b.do(http.MethodPost, path, form, nil)
}

func mustContain(t testing.TB, p page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.body, w) {
			t.Errorf("page %s (status %d) does not contain %q:\n%s", p.url, p.status, w, p.body)
		}
	}
}

package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/web"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

var codeItemRE = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
var secretRE = regexp.MustCompile(`id="secret">([^<]+)<`)

// checkSessionCookie checks the session cookie's attributes.
func checkSessionCookie(t *testing.T, p page) {
	t.Helper()
	c := p.setCookie(web.SessionCookie)
	if c == "" {
		t.Fatalf("no session cookie set; Set-Cookie = %q", p.header.Values("Set-Cookie"))
	}
	for _, want := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Strict"} {
		if !strings.Contains(c, want) {
			t.Errorf("session cookie %q lacks %s", c, want)
		}
	}
	for _, bad := range []string{"Domain=", "Max-Age=", "Expires="} {
		if strings.Contains(c, bad) {
			t.Errorf("session cookie %q has %s; want a host-only browser-session cookie", c, bad)
		}
	}
}

// TestInviteToSignIn walks the whole life of an invited admin through the
// pages: link, password (refused, then accepted), TOTP enrolment (wrong
// code, then right), recovery codes, sign-out, sign-in with a replayed and
// then a fresh code.
func TestInviteToSignIn(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const email = "dana.admin@riverside.example"
	const pw = "willow bridges over slow water"
	f.secret(email, pw)
	inv, link := f.invite(t, email, identity.RoleAdmin)
	b := f.browser(t)

	// The link's token moves into a cookie and leaves the URL.
	first := b.do(http.MethodGet, link, nil, nil)
	if first.status != http.StatusSeeOther || first.location() != "/web/invite/accept" {
		t.Fatalf("GET link = %d → %q; want 303 → /web/invite/accept", first.status, first.location())
	}
	ic := first.setCookie(web.InviteCookie)
	for _, want := range []string{"Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=1800"} {
		if !strings.Contains(ic, want) {
			t.Errorf("invite cookie %q lacks %s", ic, want)
		}
	}
	form := b.follow(first)
	if form.status != http.StatusOK {
		t.Fatalf("invite form status = %d; want 200:\n%s", form.status, form.body)
	}
	mustContain(t, form, "Welcome to HealthPrep", `name="password"`, `name="confirm"`,
		"You have been invited to join <strong>Riverside Family Clinic</strong> as <strong>Administrator</strong>.")
	if strings.Contains(form.body, "token") {
		t.Errorf("invite form mentions the token:\n%s", form.body)
	}

	// Refused passwords: the person reads why, and nothing is created.
	refused := []struct {
		name, password, confirm, want string
	}{
		{"too short", "short pw", "short pw", "Please choose another password: it must be at least 12 characters long."},
		{"common", "password123456", "password123456", "it is one of the most commonly used passwords"},
		{"contains email name", "dana.admin rules 2026", "dana.admin rules 2026", "it must not contain your email name"},
		{"sequential", "abcdefghijklmn", "abcdefghijklmn", "it is a repeated or sequential run of characters"},
		{"mismatched confirmation", pw, pw + "!", "The two passwords do not match."},
	}
	for _, c := range refused {
		got := b.submit(form, "/web/invite/accept", url.Values{"name": {"Dana"}, "password": {c.password}, "confirm": {c.confirm}})
		if got.status != http.StatusBadRequest {
			t.Errorf("%s: status = %d; want 400", c.name, got.status)
		}
		mustContain(t, got, c.want)
		if strings.Contains(got.body, c.password) {
			t.Errorf("%s: the page repeats the password", c.name)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM users WHERE email = $1`, email); n != 0 {
		t.Fatalf("users after refused passwords = %d; want 0", n)
	}
	if n := f.count(t, `SELECT count(*) FROM invites WHERE id = $1 AND accepted_at IS NULL`, inv.ID); n != 1 {
		t.Fatalf("open invite after refused passwords = %d; want 1", n)
	}

	accepted := b.submit(form, "/web/invite/accept", url.Values{"name": {"Dana"}, "password": {pw}, "confirm": {pw}})
	if accepted.status != http.StatusSeeOther || accepted.location() != "/web/totp/enrol" {
		t.Fatalf("accept = %d → %q; want 303 → /web/totp/enrol:\n%s", accepted.status, accepted.location(), accepted.body)
	}
	checkSessionCookie(t, accepted)
	if c := accepted.setCookie(web.InviteCookie); !strings.Contains(c, "Max-Age=0") {
		t.Errorf("invite cookie after accepting = %q; want it cleared", c)
	}
	if n := f.count(t, `SELECT count(*) FROM users WHERE email = $1 AND role = 'admin' AND display_name = 'Dana'`, email); n != 1 {
		t.Fatalf("users after accepting = %d; want 1", n)
	}

	// Enrolment: the QR code and the key are shown; a wrong code is
	// refused and changes nothing.
	enrol := b.follow(accepted)
	mustContain(t, enrol, "Set up two-factor authentication", `src="data:image/png;base64,`, "Your account needs a second step")
	if strings.Contains(enrol.body, "Skip for now") {
		t.Errorf("an admin (TOTP mandatory) is offered to skip enrolment")
	}
	m := secretRE.FindStringSubmatch(enrol.body)
	if m == nil {
		t.Fatalf("enrolment page shows no key:\n%s", enrol.body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	f.secret(secret)
	good := totpCode(t, secret, f.clock.Now())
	wrong := "000000"
	if wrong == good {
		wrong = "111111"
	}
	bad := b.submit(enrol, "/web/totp/enrol", url.Values{"code": {wrong}})
	if bad.status != http.StatusUnauthorized {
		t.Errorf("wrong enrolment code status = %d; want 401", bad.status)
	}
	mustContain(t, bad, "Wrong or already used authentication code.", "Start over with a new QR code")
	if strings.Contains(bad.body, "data:image/png") {
		t.Errorf("the retry page shows the QR code again")
	}
	if n := f.count(t, `SELECT count(*) FROM users WHERE email = $1 AND totp_enabled_at IS NULL`, email); n != 1 {
		t.Fatalf("TOTP enabled after a wrong code")
	}

	codes := b.submit(bad, "/web/totp/enrol", url.Values{"code": {good}})
	if codes.status != http.StatusOK {
		t.Fatalf("confirm status = %d; want 200:\n%s", codes.status, codes.body)
	}
	mustContain(t, codes, "Save your recovery codes", "shown only now")
	items := codeItemRE.FindAllStringSubmatch(codes.body, -1)
	if len(items) != identity.RecoveryCodeCount {
		t.Errorf("recovery codes shown = %d; want %d", len(items), identity.RecoveryCodeCount)
	}
	for _, it := range items {
		f.secret(it[1])
	}
	if n := f.count(t, `SELECT count(*) FROM recovery_codes r JOIN users u ON u.id = r.user_id WHERE u.email = $1`, email); n != 10 {
		t.Errorf("recovery code rows = %d; want 10", n)
	}

	landing := b.get("/web/")
	mustContain(t, landing, "You are signed in", "Administrator")

	// Sign out: the session is revoked and the landing page is gone.
	out := b.submit(landing, "/web/signout", url.Values{})
	if out.status != http.StatusSeeOther || out.location() != "/web/signin?m=signed_out" {
		t.Fatalf("sign-out = %d → %q; want 303 → /web/signin?m=signed_out", out.status, out.location())
	}
	mustContain(t, b.follow(out), "You have signed out.")
	if n := f.count(t, `SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1 AND s.revoked_at IS NULL`, email); n != 0 {
		t.Errorf("open sessions after sign-out = %d; want 0", n)
	}
	if p := b.do(http.MethodGet, "/web/", nil, nil); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/web/signin") {
		t.Errorf("landing after sign-out = %d → %q; want a redirect to sign in", p.status, p.location())
	}

	// Sign in again: password, then TOTP; the enrolment code is refused
	// as a replay, a fresh one lets the person in.
	f.clock.Advance(30 * time.Second)
	signin := b.get("/web/signin")
	step := b.submit(signin, "/web/signin", url.Values{"email": {email}, "password": {pw}})
	if step.status != http.StatusSeeOther || step.location() != "/web/signin/code" {
		t.Fatalf("sign-in = %d → %q; want 303 → /web/signin/code:\n%s", step.status, step.location(), step.body)
	}
	checkSessionCookie(t, step)
	codePage := b.follow(step)
	mustContain(t, codePage, "Enter your authentication code")
	replay := b.submit(codePage, "/web/signin/code", url.Values{"code": {good}})
	if replay.status != http.StatusUnauthorized {
		t.Errorf("replayed code status = %d; want 401", replay.status)
	}
	mustContain(t, replay, "Wrong or already used authentication code.")
	in := b.submit(replay, "/web/signin/code", url.Values{"code": {totpCode(t, secret, f.clock.Now())}})
	if in.status != http.StatusSeeOther || in.location() != "/web/" {
		t.Fatalf("second factor = %d → %q; want 303 → /web/:\n%s", in.status, in.location(), in.body)
	}
	checkSessionCookie(t, in)
	mustContain(t, b.follow(in), "You are signed in", "Administrator")
}

// TestInviteLinkRefused shows every unusable invitation link the same
// clear page, sets no cookie, and creates no user.
func TestInviteLinkRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		token func(t *testing.T) string // returns the link to open
	}{
		{"expired", func(t *testing.T) string {
			_, link := f.invite(t, "late@riverside.example", identity.RoleNurse)
			f.clock.Advance(identity.InviteValidity + time.Second)
			return link
		}},
		{"used", func(t *testing.T) string {
			_, link := f.invite(t, "used@riverside.example", identity.RoleNurse)
			tok := link[strings.Index(link, "token=")+6:]
			if _, err := f.ids.AcceptInvite(ctx, identity.AcceptInviteRequest{Token: tok, Password: userPassword,
				Client: identity.Client{IP: mustAddr("192.0.2.3"), Kind: identity.KindWeb}}); err != nil {
				t.Fatalf("AcceptInvite = %v", err)
			}
			return link
		}},
		{"cancelled", func(t *testing.T) string {
			inv, link := f.invite(t, "cancelled@riverside.example", identity.RoleNurse)
			if err := f.ids.CancelInvite(ctx, f.root, f.org, inv.ID); err != nil {
				t.Fatalf("CancelInvite = %v", err)
			}
			return link
		}},
		{"superseded by a resend", func(t *testing.T) string {
			inv, link := f.invite(t, "resent@riverside.example", identity.RoleNurse)
			if _, err := f.ids.ResendInvite(ctx, f.root, f.org, inv.ID); err != nil {
				t.Fatalf("ResendInvite = %v", err)
			}
			return link
		}},
		{"malformed token", func(*testing.T) string { return f.base + "/invite/accept?token=not-a-token" }},
		{"empty token", func(*testing.T) string { return f.base + "/invite/accept?token=" }},
		{"no token and no cookie", func(*testing.T) string { return f.base + "/invite/accept" }},
	}
	for _, c := range cases { // sequential: they share the clock
		t.Run(c.name, func(t *testing.T) {
			link := c.token(t)
			users := f.count(t, `SELECT count(*) FROM users`)
			b := f.browser(t)
			p := b.do(http.MethodGet, link, nil, nil)
			if p.status != http.StatusGone {
				t.Errorf("status = %d; want 410", p.status)
			}
			mustContain(t, p, "This link has expired or was already used", "Ask your administrator to send you a new invitation.")
			if c := p.setCookie(web.InviteCookie); c != "" && !strings.Contains(c, "Max-Age=0") {
				t.Errorf("invite cookie set for a refused link: %q", c)
			}
			if got := f.count(t, `SELECT count(*) FROM users`); got != users {
				t.Errorf("users = %d; want %d", got, users)
			}
		})
	}

	// A link that was valid when opened but cancelled before the form is
	// sent: the POST shows the same page and creates nobody.
	t.Run("cancelled while the form was open", func(t *testing.T) {
		inv, link := f.invite(t, "slow@riverside.example", identity.RoleNurse)
		b := f.browser(t)
		form := b.get(link)
		mustContain(t, form, "Welcome to HealthPrep")
		if err := f.ids.CancelInvite(ctx, f.root, f.org, inv.ID); err != nil {
			t.Fatalf("CancelInvite = %v", err)
		}
		p := b.submit(form, "/web/invite/accept", url.Values{"password": {userPassword}, "confirm": {userPassword}})
		if p.status != http.StatusGone {
			t.Errorf("status = %d; want 410", p.status)
		}
		mustContain(t, p, "This link has expired or was already used")
		if n := f.count(t, `SELECT count(*) FROM users WHERE email = 'slow@riverside.example'`); n != 0 {
			t.Errorf("users = %d; want 0", n)
		}
	})
}

// TestOptionalEnrolment: a nurse (TOTP not mandatory) may skip enrolment.
func TestOptionalEnrolment(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, link := f.invite(t, "nora.nurse@riverside.example", identity.RoleNurse)
	b := f.browser(t)
	form := b.get(link)
	enrol := b.follow(b.submit(form, "/web/invite/accept", url.Values{"password": {userPassword}, "confirm": {userPassword}}))
	mustContain(t, enrol, "Add a second step to your sign-in.", "Skip for now", `src="data:image/png;base64,`)
	landing := b.get("/web/")
	mustContain(t, landing, "Nurse", "Set up two-factor authentication")
}

// TestSignInRefused shows the person-readable answer to every refused
// sign-in and that no session is opened.
func TestSignInRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const email = "sam.admin@riverside.example"
	f.enrolledUser(t, email)
	f.secret(email, userPassword)
	sessions := func() int { return f.count(t, `SELECT count(*) FROM sessions WHERE revoked_at IS NULL`) }
	before := sessions()

	b := f.browser(t)
	form := b.get("/web/signin")
	try := func(email, pw string) page {
		t.Helper()
		return b.submit(form, "/web/signin", url.Values{"email": {email}, "password": {pw}})
	}
	wrong := try(email, "not the right password")
	unknown := try("nobody@riverside.example", "not the right password")
	for _, p := range []page{wrong, unknown} {
		if p.status != http.StatusUnauthorized {
			t.Errorf("status = %d; want 401", p.status)
		}
		mustContain(t, p, "Wrong email or password.")
	}
	if strings.Contains(wrong.body, "not the right password") {
		t.Errorf("the page repeats the password")
	}
	malformed := try("not an email", "whatever password")
	if malformed.status != http.StatusBadRequest {
		t.Errorf("malformed email status = %d; want 400", malformed.status)
	}
	mustContain(t, malformed, "The email is not a valid email address.")

	for i := 0; i < identity.MaxFailures-1; i++ {
		try(email, "still not the password")
	}
	locked := try(email, userPassword) // even the right password, now
	if locked.status != http.StatusTooManyRequests {
		t.Errorf("locked status = %d; want 429", locked.status)
	}
	mustContain(t, locked, "Too many failed attempts: account locked for 30 minutes.")

	// Throttling by address: failures against many accounts.
	for i := 0; i < identity.ThrottleFailures; i++ {
		try("spray"+string(rune('a'+i))+"@riverside.example", "guessing passwords")
	}
	throttled := try("other@riverside.example", "guessing passwords")
	if throttled.status != http.StatusTooManyRequests {
		t.Errorf("throttled status = %d; want 429", throttled.status)
	}
	mustContain(t, throttled, "Too many failed sign-in attempts from this address: try again in 15 minutes.")
	if got := sessions(); got != before {
		t.Errorf("open sessions = %d; want %d", got, before)
	}
}

// TestSecondFactorRefused: wrong, malformed and replayed codes at sign-in.
func TestSecondFactorRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const email = "ali.admin@riverside.example"
	secret := f.enrolledUser(t, email)
	b := f.browser(t)
	step := b.submit(b.get("/web/signin"), "/web/signin", url.Values{"email": {email}, "password": {userPassword}})
	codePage := b.follow(step)
	full := func() int {
		return f.count(t, `SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND mfa_verified`)
	}
	before := full()
	used := totpCode(t, secret, f.clock.Now().Add(-30*time.Second)) // the enrolment's code
	good := totpCode(t, secret, f.clock.Now())
	wrong := "123456"
	if wrong == good {
		wrong = "654321"
	}
	for _, c := range []struct{ name, code string }{
		{"wrong", wrong},
		{"malformed", "12ab"},
		{"replayed", used},
	} {
		p := b.submit(codePage, "/web/signin/code", url.Values{"code": {c.code}})
		if p.status != http.StatusUnauthorized {
			t.Errorf("%s: status = %d; want 401", c.name, p.status)
		}
		mustContain(t, p, "Wrong or already used authentication code.")
	}
	if got := full(); got != before {
		t.Errorf("verified sessions = %d; want %d", got, before)
	}
	// Without a pending session, the code page sends the person to sign in.
	other := f.browser(t)
	if p := other.do(http.MethodGet, "/web/signin/code", nil, nil); p.status != http.StatusSeeOther || p.location() != "/web/signin" {
		t.Errorf("code page without session = %d → %q; want 303 → /web/signin", p.status, p.location())
	}
}

// TestPasswordReset: the request answers the same for any email; the link
// leaves the URL; the second factor is required when enrolled; bad input
// changes nothing; success revokes every session.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const email = "rae.admin@riverside.example"
	const newPW = "seven herons in the reeds"
	secret := f.enrolledUser(t, email)
	f.secret(email, newPW, secret)

	// An open session that the reset must end.
	old := f.browser(t)
	step := old.submit(old.get("/web/signin"), "/web/signin", url.Values{"email": {email}, "password": {userPassword}})
	old.submit(old.follow(step), "/web/signin/code", url.Values{"code": {totpCode(t, secret, f.clock.Now())}})
	mustContain(t, old.get("/web/"), "You are signed in")
	f.clock.Advance(30 * time.Second)

	b := f.browser(t)
	ask := func(addr string) page {
		return b.submit(b.get("/web/password/forgot"), "/web/password/forgot", url.Values{"email": {addr}})
	}
	known, unknown := ask(email), ask("nobody@riverside.example")
	if known.status != http.StatusOK || unknown.status != http.StatusOK || known.body != unknown.body {
		t.Errorf("known email → %d, unknown → %d; want the same page:\n%s\n----\n%s", known.status, unknown.status, known.body, unknown.body)
	}
	mustContain(t, known, "If an account exists for that address")
	if f.mail.count(email) != 2 || f.mail.count("nobody@riverside.example") != 0 { // invite + reset
		t.Errorf("mails: %d to the account, %d to the unknown address; want 2 and 0", f.mail.count(email), f.mail.count("nobody@riverside.example"))
	}
	malformed := ask("not-an-email")
	if malformed.status != http.StatusBadRequest {
		t.Errorf("malformed email status = %d; want 400", malformed.status)
	}
	mustContain(t, malformed, "The email is not a valid email address.")

	link := f.mail.lastLink(t, email)
	f.secret(link[strings.Index(link, "token=")+6:])
	first := b.do(http.MethodGet, link, nil, nil)
	if first.status != http.StatusSeeOther || first.location() != "/web/password/reset" {
		t.Fatalf("GET reset link = %d → %q; want 303 → /web/password/reset", first.status, first.location())
	}
	if c := first.setCookie(web.ResetCookie); !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "Secure") {
		t.Errorf("reset cookie = %q; want HttpOnly, Secure", c)
	}
	form := b.follow(first)
	// CheckPasswordReset says the account has TOTP: the code is asked for
	// up front.
	mustContain(t, form, "Choose a new password", `name="code"`, "(required: from your authenticator app")

	passwordIs := func(pw string) bool {
		_, err := f.ids.SignIn(context.Background(), identity.SignInRequest{Email: email, Password: pw,
			Client: identity.Client{IP: mustAddr("198.51.100.7"), Kind: identity.KindAPI}})
		return err == nil
	}
	refused := []struct {
		name       string
		form       url.Values
		status     int
		want       string
		tokenSpent bool
	}{
		{"weak", url.Values{"password": {"tiny"}, "confirm": {"tiny"}, "code": {totpCode(t, secret, f.clock.Now())}}, 400, "it must be at least 12 characters long", false},
		{"mismatched", url.Values{"password": {newPW}, "confirm": {newPW + "x"}}, 400, "The two passwords do not match.", false},
		{"no code", url.Values{"password": {newPW}, "confirm": {newPW}}, 400, "This account uses two-factor authentication", false},
		{"wrong code", url.Values{"password": {newPW}, "confirm": {newPW}, "code": {"999999"}}, 401, "Wrong or already used authentication code.", false},
	}
	if totpCode(t, secret, f.clock.Now()) == "999999" {
		refused[3].form.Set("code", "999998")
	}
	for _, c := range refused {
		p := b.submit(form, "/web/password/reset", c.form)
		if p.status != c.status {
			t.Errorf("%s: status = %d; want %d", c.name, p.status, c.status)
		}
		mustContain(t, p, c.want)
	}
	if passwordIs(newPW) || !passwordIs(userPassword) {
		t.Fatalf("the password changed after refused resets")
	}

	done := b.submit(form, "/web/password/reset", url.Values{"password": {newPW}, "confirm": {newPW}, "code": {totpCode(t, secret, f.clock.Now())}})
	if done.status != http.StatusSeeOther || done.location() != "/web/signin?m=reset" {
		t.Fatalf("reset = %d → %q; want 303 → /web/signin?m=reset:\n%s", done.status, done.location(), done.body)
	}
	mustContain(t, b.follow(done), "Your password has been changed.")
	if !passwordIs(newPW) {
		t.Errorf("the new password does not work")
	}
	if p := old.do(http.MethodGet, "/web/", nil, nil); p.status != http.StatusSeeOther || p.location() != "/web/signin?m=expired" {
		t.Errorf("old session after reset = %d → %q; want 303 → /web/signin?m=expired", p.status, p.location())
	}
	again := f.browser(t).do(http.MethodGet, link, nil, nil)
	if again.status != http.StatusGone {
		t.Errorf("used reset link status = %d; want 410", again.status)
	}
	mustContain(t, again, "This link has expired or was already used")
}

// TestCSRF: every POST without the token of its own form, or sent
// cross-site, is refused with 403 before anything happens; the same POST
// with its token then works (so the refusals are not vacuous).
func TestCSRF(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const email = "cy.admin@riverside.example"
	secret := f.enrolledUser(t, email)
	ctx := context.Background()

	type state struct {
		b     *browser
		form  page         // the page showing the form
		path  string       // where it posts
		value url.Values   // a valid submission
		after func() int   // a count that a successful post changes
		ok    func(p page) // checks the successful post
	}
	signedIn := func(t *testing.T) *browser {
		b := f.browser(t)
		f.clock.Advance(30 * time.Second)
		step := b.submit(b.get("/web/signin"), "/web/signin", url.Values{"email": {email}, "password": {userPassword}})
		b.submit(b.follow(step), "/web/signin/code", url.Values{"code": {totpCode(t, secret, f.clock.Now())}})
		return b
	}
	redirects := func(t *testing.T, to string) func(page) {
		return func(p page) {
			t.Helper()
			if p.status != http.StatusSeeOther || p.location() != to {
				t.Errorf("valid post = %d → %q; want 303 → %s:\n%s", p.status, p.location(), to, p.body)
			}
		}
	}
	forms := []struct {
		name    string
		arrange func(t *testing.T) state
	}{
		{"sign-in", func(t *testing.T) state {
			b := f.browser(t)
			return state{b: b, form: b.get("/web/signin"), path: "/web/signin",
				value: url.Values{"email": {email}, "password": {userPassword}},
				after: func() int { return f.count(t, `SELECT count(*) FROM sessions`) },
				ok:    redirects(t, "/web/signin/code")}
		}},
		{"second factor", func(t *testing.T) state {
			b := f.browser(t)
			f.clock.Advance(30 * time.Second)
			page := b.follow(b.submit(b.get("/web/signin"), "/web/signin", url.Values{"email": {email}, "password": {userPassword}}))
			return state{b: b, form: page, path: "/web/signin/code",
				value: url.Values{"code": {totpCode(t, secret, f.clock.Now())}},
				after: func() int { return f.count(t, `SELECT count(*) FROM sessions WHERE mfa_verified`) },
				ok:    redirects(t, "/web/")}
		}},
		{"sign-out", func(t *testing.T) state {
			b := signedIn(t)
			return state{b: b, form: b.get("/web/"), path: "/web/signout", value: url.Values{},
				after: func() int { return f.count(t, `SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL`) },
				ok:    redirects(t, "/web/signin?m=signed_out")}
		}},
		{"accept invite", func(t *testing.T) state {
			_, link := f.invite(t, "csrf.invitee@riverside.example", identity.RoleAdmin)
			b := f.browser(t)
			return state{b: b, form: b.get(link), path: "/web/invite/accept",
				value: url.Values{"password": {userPassword}, "confirm": {userPassword}},
				after: func() int { return f.count(t, `SELECT count(*) FROM users`) },
				ok:    redirects(t, "/web/totp/enrol")}
		}},
		{"confirm TOTP", func(t *testing.T) state {
			_, link := f.invite(t, "csrf.enrol@riverside.example", identity.RoleAdmin)
			b := f.browser(t)
			enrol := b.follow(b.submit(b.get(link), "/web/invite/accept", url.Values{"password": {userPassword}, "confirm": {userPassword}}))
			m := secretRE.FindStringSubmatch(enrol.body)
			if m == nil {
				t.Fatalf("no key on the enrolment page")
			}
			return state{b: b, form: enrol, path: "/web/totp/enrol",
				value: url.Values{"code": {totpCode(t, m[1], f.clock.Now())}},
				after: func() int { return f.count(t, `SELECT count(*) FROM users WHERE totp_enabled_at IS NOT NULL`) },
				ok: func(p page) {
					if p.status != http.StatusOK || !strings.Contains(p.body, "Save your recovery codes") {
						t.Errorf("valid post = %d:\n%s", p.status, p.body)
					}
				}}
		}},
		{"request reset", func(t *testing.T) state {
			b := f.browser(t)
			return state{b: b, form: b.get("/web/password/forgot"), path: "/web/password/forgot",
				value: url.Values{"email": {email}},
				after: func() int { return f.mail.count(email) },
				ok: func(p page) {
					if p.status != http.StatusOK || !strings.Contains(p.body, "Check your email") {
						t.Errorf("valid post = %d:\n%s", p.status, p.body)
					}
				}}
		}},
		{"complete reset", func(t *testing.T) state {
			if err := f.ids.RequestPasswordReset(ctx, email, identity.Client{IP: mustAddr("192.0.2.9"), Kind: identity.KindWeb}); err != nil {
				t.Fatalf("RequestPasswordReset = %v", err)
			}
			b := f.browser(t)
			f.clock.Advance(30 * time.Second)
			return state{b: b, form: b.get(f.mail.lastLink(t, email)), path: "/web/password/reset",
				value: url.Values{"password": {userPassword + " again"}, "confirm": {userPassword + " again"}, "code": {totpCode(t, secret, f.clock.Now())}},
				after: func() int { return f.count(t, `SELECT count(*) FROM password_resets WHERE used_at IS NOT NULL`) },
				ok:    redirects(t, "/web/signin?m=reset")}
		}},
	}
	for _, fm := range forms { // sequential: they share one account and clock
		t.Run(fm.name, func(t *testing.T) {
			s := fm.arrange(t)
			if s.form.status != http.StatusOK {
				t.Fatalf("form page status = %d:\n%s", s.form.status, s.form.body)
			}
			before := s.after()
			other := "/web/password/forgot"
			if s.path == other {
				other = "/web/signin"
			}
			otherForm := s.b.get(other) // a valid token, for another form
			stranger := f.browser(t)    // a valid token, for another browser
			strangerToken := stranger.get("/web/signin").csrf(t)
			attacks := []struct {
				name   string
				token  string
				header http.Header
			}{
				{"missing token", "", nil},
				{"garbage token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil},
				{"token of another form", otherForm.csrf(t), nil},
				{"token of another browser", strangerToken, nil},
				{"valid token, cross-site request", s.form.csrf(t), http.Header{"Sec-Fetch-Site": {"cross-site"}}},
				{"valid token, foreign Origin", s.form.csrf(t), http.Header{"Sec-Fetch-Site": nil, "Origin": {"https://evil.example"}}},
			}
			for _, a := range attacks {
				v := url.Values{}
				for k, vs := range s.value {
					v[k] = vs
				}
				if a.token != "" {
					v.Set("csrf", a.token)
				}
				p := s.b.do(http.MethodPost, s.path, v, a.header)
				if p.status != http.StatusForbidden {
					t.Errorf("%s: status = %d; want 403", a.name, p.status)
				}
				mustContain(t, p, "This form has expired")
				if got := s.after(); got != before {
					t.Fatalf("%s: state changed (%d → %d)", a.name, before, got)
				}
			}
			s.ok(s.b.submit(s.form, s.path, s.value))
			if got := s.after(); got == before {
				t.Errorf("the valid post changed nothing (%d)", got)
			}
		})
	}
}

// TestHeaders: every page carries the security headers; pages are never
// cached.
func TestHeaders(t *testing.T) {
	t.Parallel()
	f := setup(t)
	b := f.browser(t)
	for _, path := range []string{
		"/web/signin", "/web/signin?m=expired", "/web/password/forgot", "/web/invite/accept", "/web/password/reset",
		"/web/", "/web/totp/enrol", "/web/no-such-page",
	} {
		p := b.do(http.MethodGet, path, nil, nil)
		want := map[string]string{
			"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Cache-Control":           "no-store",
			"X-Frame-Options":         "DENY",
		}
		for k, v := range want {
			if got := p.header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q; want %q", path, k, got, v)
			}
		}
		if strings.Contains(p.body, "<script") {
			t.Errorf("GET %s has a script", path)
		}
	}
	css := b.do(http.MethodGet, "/web/static/style.css", nil, nil)
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Errorf("style sheet = %d %q", css.status, css.header.Get("Content-Type"))
	}
	if p := b.do(http.MethodGet, "/web/no-such-page", nil, nil); p.status != http.StatusNotFound {
		t.Errorf("unknown page status = %d; want 404", p.status)
	}
	big := url.Values{"email": {strings.Repeat("a", 20<<10)}}
	if p := b.submit(b.get("/web/signin"), "/web/signin", big); p.status != http.StatusBadRequest && p.status != http.StatusForbidden {
		t.Errorf("oversized form status = %d; want 400 or 403", p.status)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{1}, 32)
	var ids web.Identity = (*identity.Service)(nil)
	cases := []struct {
		name string
		ids  web.Identity
		cfg  web.Config
		want string
	}{
		{"no identity", nil, web.Config{BaseURL: "https://x.example/web", CSRFKey: key}, "identity service is required"},
		{"short key", ids, web.Config{BaseURL: "https://x.example/web", CSRFKey: key[:16]}, "at least 32 bytes"},
		{"relative base", ids, web.Config{BaseURL: "/web", CSRFKey: key}, "absolute http(s) URL"},
		{"base with query", ids, web.Config{BaseURL: "https://x.example/web?a=b", CSRFKey: key}, "absolute http(s) URL"},
	}
	for _, c := range cases {
		_, err := web.New(c.ids, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v; want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestResetLinkRefused shows every unusable reset link the same page,
// sets no cookie and leaves the password as it was.
func TestResetLinkRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	const email = "rex.admin@riverside.example"
	f.enrolledUser(t, email)
	request := func(t *testing.T) string {
		t.Helper()
		if err := f.ids.RequestPasswordReset(ctx, email, identity.Client{IP: mustAddr("192.0.2.9"), Kind: identity.KindWeb}); err != nil {
			t.Fatalf("RequestPasswordReset = %v", err)
		}
		return f.mail.lastLink(t, email)
	}
	cases := []struct {
		name string
		link func(t *testing.T) string
	}{
		{"expired", func(t *testing.T) string {
			link := request(t)
			f.clock.Advance(identity.ResetValidity)
			return link
		}},
		{"superseded by a newer request", func(t *testing.T) string {
			link := request(t)
			request(t)
			return link
		}},
		{"unknown", func(t *testing.T) string {
			link := request(t)
			i := strings.Index(link, "token=") + 6
			return link[:i] + "A" + link[i+1:]
		}},
		{"malformed token", func(*testing.T) string { return f.base + "/password/reset?token=not-a-token" }},
		{"no token and no cookie", func(*testing.T) string { return f.base + "/password/reset" }},
	}
	for _, c := range cases { // sequential: they share the clock and the account
		t.Run(c.name, func(t *testing.T) {
			link := c.link(t)
			open := f.count(t, `SELECT count(*) FROM password_resets WHERE used_at IS NULL`)
			p := f.browser(t).do(http.MethodGet, link, nil, nil)
			if p.status != http.StatusGone {
				t.Errorf("status = %d; want 410", p.status)
			}
			mustContain(t, p, "This link has expired or was already used", "Ask for a new link")
			if c := p.setCookie(web.ResetCookie); c != "" && !strings.Contains(c, "Max-Age=0") {
				t.Errorf("reset cookie set for a refused link: %q", c)
			}
			if got := f.count(t, `SELECT count(*) FROM password_resets WHERE used_at IS NULL`); got != open {
				t.Errorf("open reset links = %d; want %d (checking must not use a link up)", got, open)
			}
		})
	}
}

// TestSuspendedOrganisation: a suspended clinic's person with the right
// password is told the account is suspended (403, not "wrong password"),
// an open session stops working without an error in the log, and after
// reinstatement the person signs in again.
func TestSuspendedOrganisation(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const email = "nina.nurse@riverside.example"
	_, link := f.invite(t, email, identity.RoleNurse)
	b := f.browser(t)
	form := b.get(link)
	enrol := b.follow(b.submit(form, "/web/invite/accept", url.Values{"password": {userPassword}, "confirm": {userPassword}}))
	mustContain(t, enrol, "Skip for now")
	mustContain(t, b.get("/web/"), "Nurse")

	status := func(s string) {
		t.Helper()
		// As a root admin's status change does (platform scope).
		if err := f.db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), `UPDATE organizations SET status = $2 WHERE id = $1`, f.org, s)
			return err
		}); err != nil {
			t.Fatalf("setting status %s: %v", s, err)
		}
	}
	status("suspended")
	if p := b.get("/web/"); strings.Contains(p.body, "Nurse") {
		t.Errorf("a suspended clinic's open session still shows the landing page")
	}
	other := f.browser(t)
	p := other.submit(other.get("/web/signin"), "/web/signin", url.Values{"email": {email}, "password": {userPassword}})
	if p.status != http.StatusForbidden {
		t.Errorf("sign-in status = %d; want 403", p.status)
	}
	mustContain(t, p, "This organisation&#39;s HealthPrep account is suspended: contact your administrator or HealthPrep support.")
	if strings.Contains(f.logs.String(), "validating session") {
		t.Errorf("the log reports a suspended session as an error:\n%s", f.logs.String())
	}
	status("live")
	// The page dropped the refused session's cookie: sign in again.
	again := f.browser(t)
	again.follow(again.submit(again.get("/web/signin"), "/web/signin", url.Values{"email": {email}, "password": {userPassword}}))
	mustContain(t, again.get("/web/"), "Nurse")
}

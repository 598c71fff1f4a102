package identity_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/identity"
)

func (f *fixture) try(email, password string, ip netip.Addr) error {
	_, err := f.svc.SignIn(context.Background(), identity.SignInRequest{Email: email, Password: password, Client: web(ip)})
	return err
}

func TestSignInAnswers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	gone := f.user(t, f.orgA, "gone@a.example", identity.RoleNurse)
	f.exec(t, f.orgA, `UPDATE users SET status = 'deactivated' WHERE id = $1`, gone)
	tests := []struct {
		name, email, password string
		want                  error
	}{
		{"right", "nurse@a.example", pw, nil},
		{"email case and spaces do not matter", "  Nurse@A.example ", pw, nil},
		{"wrong password", "nurse@a.example", pw + "x", identity.ErrInvalidCredentials},
		{"unknown email: same answer", "nobody@a.example", pw, identity.ErrInvalidCredentials},
		{"deactivated: same answer", "gone@a.example", pw, identity.ErrInvalidCredentials},
		{"empty password", "nurse@a.example", "", identity.ErrInvalidCredentials},
		{"oversized password", "nurse@a.example", strings.Repeat("x", 1<<20), identity.ErrInvalidCredentials},
		{"malformed email", "not-an-email", pw, identity.ErrInvalidInput},
		{"email with display name", "Nurse <nurse@a.example>", pw, identity.ErrInvalidInput},
		{"oversized email", strings.Repeat("a", 300) + "@a.example", pw, identity.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.try(tt.email, tt.password, netip.MustParseAddr("198.51.100.1"))
			if !errors.Is(err, tt.want) || (err != nil && tt.want != identity.ErrInvalidInput && err.Error() != tt.want.Error()) {
				t.Errorf("SignIn = %v; want %v", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "@") {
				t.Errorf("error %q carries an email", err)
			}
		})
	}
	// Bad client data is refused before anything is recorded.
	before := f.count(t, `SELECT count(*) FROM login_attempts`)
	for name, c := range map[string]identity.Client{
		"no IP":        {Kind: identity.KindWeb},
		"bad kind":     {IP: ip1, Kind: "fax"},
		"huge device":  {IP: ip1, DeviceID: strings.Repeat("d", 201)},
		"control char": {IP: ip1, DeviceID: "dev\x00"},
	} {
		_, err := f.svc.SignIn(context.Background(), identity.SignInRequest{Email: "nurse@a.example", Password: pw, Client: c})
		if !errors.Is(err, identity.ErrInvalidInput) {
			t.Errorf("SignIn with %s = %v; want ErrInvalidInput", name, err)
		}
	}
	if after := f.count(t, `SELECT count(*) FROM login_attempts`); after != before {
		t.Errorf("refused requests recorded %d attempts", after-before)
	}
	// login_attempts never holds an email.
	if n := f.count(t, `SELECT count(*) FROM login_attempts WHERE position('nurse' in encode(email_hash, 'escape')) > 0`); n != 0 {
		t.Errorf("login_attempts holds the email in clear")
	}
	if got := f.audits(t, f.orgA, "auth.signin", "success"); got != 2 {
		t.Errorf("auth.signin success entries in org A = %d; want 2", got)
	}
	if got := f.audits(t, f.orgA, "auth.signin", "failure"); got != 4 {
		t.Errorf("auth.signin failure entries in org A = %d; want 4 (wrong, deactivated, empty, oversized)", got)
	}
	if got := f.audits(t, f.platform, "auth.signin", "failure"); got != 1 {
		t.Errorf("auth.signin failure entries for unknown emails (platform org) = %d; want 1", got)
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	for _, known := range []bool{true, false} {
		t.Run(fmt.Sprintf("account exists=%v", known), func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			email := "ghost@a.example"
			if known {
				email = "nurse@a.example"
				f.user(t, f.orgA, email, identity.RoleNurse)
			}
			rightAnswer := error(nil)
			if !known {
				rightAnswer = identity.ErrInvalidCredentials
			}
			// 4 failures, then the right password still works and resets the count.
			for i := 0; i < 4; i++ {
				if err := f.try(email, "wrong password!", ip1); !errors.Is(err, identity.ErrInvalidCredentials) {
					t.Fatalf("failure %d = %v; want ErrInvalidCredentials", i+1, err)
				}
			}
			if err := f.try(email, pw, ip1); !errors.Is(err, rightAnswer) {
				t.Fatalf("right password after 4 failures = %v; want %v", err, rightAnswer)
			}
			if !known {
				// An unknown email's "right" attempt was a 5th failure.
				goto locked
			}
			// 5 consecutive failures lock the account.
			for i := 0; i < 5; i++ {
				if err := f.try(email, "wrong password!", ip1); !errors.Is(err, identity.ErrInvalidCredentials) {
					t.Fatalf("failure %d = %v; want ErrInvalidCredentials", i+1, err)
				}
			}
		locked:
			if err := f.try(email, pw, ip1); !errors.Is(err, identity.ErrLocked) {
				t.Fatalf("right password while locked = %v; want ErrLocked", err)
			}
			f.clock.Advance(30*time.Minute - time.Microsecond)
			if err := f.try(email, pw, ip1); !errors.Is(err, identity.ErrLocked) {
				t.Fatalf("at 30 min − 1µs = %v; want ErrLocked", err)
			}
			f.clock.Advance(time.Microsecond)
			if err := f.try(email, pw, ip1); !errors.Is(err, rightAnswer) {
				t.Fatalf("at 30 min = %v; want %v", err, rightAnswer)
			}
			org := f.orgA
			if !known {
				org = f.platform
			}
			if got := f.audits(t, org, "auth.lockout", "failure"); got != 1 {
				t.Errorf("auth.lockout entries = %d; want 1", got)
			}
		})
	}
}

func TestThrottleAndSpraying(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	attacker := netip.MustParseAddr("203.0.113.66")
	// Two accounts tried: no spraying alert yet.
	for _, e := range []string{"a1@x.example", "a2@x.example", "a1@x.example"} {
		if err := f.try(e, "wrong password!", attacker); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if got := f.audits(t, f.platform, "auth.password_spraying", "alert"); got != 0 {
		t.Fatalf("spraying alerts after 2 accounts = %d; want 0", got)
	}
	// The third account raises one alert; more accounts do not repeat it.
	for i := 3; i <= 19; i++ { // 3 + 17 = 20 failures
		if err := f.try(fmt.Sprintf("a%d@x.example", i), "wrong password!", attacker); !errors.Is(err, identity.ErrInvalidCredentials) {
			t.Fatalf("failure %d = %v", i, err)
		}
	}
	if got := f.audits(t, f.platform, "auth.password_spraying", "alert"); got != 1 {
		t.Errorf("spraying alerts = %d; want 1", got)
	}
	// 20 failures so far from this IP: the next attempt is refused, even
	// with the right password, while another IP is unaffected.
	if err := f.try("nurse@a.example", pw, attacker); !errors.Is(err, identity.ErrThrottled) {
		t.Fatalf("21st attempt = %v; want ErrThrottled", err)
	}
	if err := f.try("nurse@a.example", pw, attacker); !errors.Is(err, identity.ErrThrottled) {
		t.Fatalf("22nd attempt = %v; want ErrThrottled", err)
	}
	if err := f.try("nurse@a.example", pw, ip1); err != nil {
		t.Fatalf("from another IP = %v; want success", err)
	}
	if got := f.audits(t, f.platform, "auth.throttled", "alert"); got != 1 {
		t.Errorf("throttle alerts = %d; want 1", got)
	}
	// The window slides: 15 minutes after the failures the IP may try again.
	f.clock.Advance(15 * time.Minute)
	if err := f.try("nurse@a.example", pw, attacker); err != nil {
		t.Fatalf("after the window = %v; want success", err)
	}
}

func TestTOTPSignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	uid := f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	secret, recovery := f.enrol(t, f.signIn(t, "nurse@a.example"))
	if len(recovery) != 10 {
		t.Fatalf("recovery codes = %d; want 10", len(recovery))
	}

	// Password alone: a session that may only complete the second factor.
	s := f.signIn(t, "nurse@a.example")
	if s.Principal.Scope != identity.ScopeSecondFactor || s.Principal.MFAVerified {
		t.Fatalf("password-only scope = %v verified=%v; want second_factor, false", s.Principal.Scope, s.Principal.MFAVerified)
	}
	if got := s.ExpiresAt.Sub(f.clock.Now()); got != 10*time.Minute {
		t.Errorf("pending session lifetime = %v; want 10m", got)
	}
	if _, err := f.svc.ListUsers(ctx, s.Principal, f.orgA); !errors.Is(err, identity.ErrMFARequired) {
		t.Errorf("pending session lists users = %v; want ErrMFARequired", err)
	}
	full, err := f.svc.VerifyTOTP(ctx, s.Principal, code(t, secret, f.clock.Now()))
	if err != nil {
		t.Fatalf("VerifyTOTP = %v", err)
	}
	if p, err := f.svc.Validate(ctx, full.Token); err != nil || p.Scope != identity.ScopeFull || !p.MFAVerified || p.UserID != uid {
		t.Errorf("verified session = %+v, %v; want full scope, verified", p, err)
	}
	if _, err := f.svc.Validate(ctx, s.Token); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("pending session after VerifyTOTP = %v; want replaced", err)
	}

	// Each code once; ±1 step accepted, ±2 not.
	f.clock.Advance(time.Minute)
	now := f.clock.Now()
	steps := []struct {
		name string
		at   time.Time
		want error
	}{
		{"−2 steps", now.Add(-60 * time.Second), identity.ErrInvalidTOTP},
		{"+2 steps", now.Add(60 * time.Second), identity.ErrInvalidTOTP},
		{"−1 step", now.Add(-30 * time.Second), nil},
		{"−1 step again (replay)", now.Add(-30 * time.Second), identity.ErrInvalidTOTP},
		{"current", now, nil},
		{"current again (replay)", now, identity.ErrInvalidTOTP},
		{"+1 step", now.Add(30 * time.Second), nil},
		{"current after +1 used (older step)", now, identity.ErrInvalidTOTP},
	}
	for _, st := range steps {
		_, err := f.svc.SignIn(ctx, identity.SignInRequest{Email: "nurse@a.example", Password: pw,
			SecondFactor: code(t, secret, st.at), Client: web(ip1)})
		if !errors.Is(err, st.want) {
			t.Errorf("%s: SignIn = %v; want %v", st.name, err, st.want)
		}
		if st.want != nil {
			// Reset the failure count so the table does not lock the account.
			f.exec(t, f.orgA, `UPDATE users SET failed_logins = 0 WHERE id = $1`, uid)
		}
	}
	for _, bad := range []string{"12345", "1234567", "abcdef", "", "   "} {
		s := f.signIn(t, "nurse@a.example")
		if _, err := f.svc.VerifyTOTP(ctx, s.Principal, bad); !errors.Is(err, identity.ErrInvalidTOTP) {
			t.Errorf("VerifyTOTP(%q) = %v; want ErrInvalidTOTP", bad, err)
		}
		f.exec(t, f.orgA, `UPDATE users SET failed_logins = 0 WHERE id = $1`, uid)
	}

	// Recovery codes: each once, any case and spacing.
	s = f.signIn(t, "nurse@a.example")
	if _, err := f.svc.VerifyTOTP(ctx, s.Principal, strings.ToUpper(recovery[0])); err != nil {
		t.Fatalf("recovery code = %v", err)
	}
	s = f.signIn(t, "nurse@a.example")
	if _, err := f.svc.VerifyTOTP(ctx, s.Principal, recovery[0]); !errors.Is(err, identity.ErrInvalidTOTP) {
		t.Errorf("reused recovery code = %v; want ErrInvalidTOTP", err)
	}
	if n := f.count(t, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, uid); n != 9 {
		t.Errorf("unused recovery codes = %d; want 9", n)
	}
	if got := f.audits(t, f.orgA, "auth.recovery_code_use", "success"); got != 1 {
		t.Errorf("recovery code audit entries = %d; want 1", got)
	}

	// Five wrong codes lock the account and end the pending session.
	f.exec(t, f.orgA, `UPDATE users SET failed_logins = 0 WHERE id = $1`, uid)
	s = f.signIn(t, "nurse@a.example")
	for i := 0; i < 5; i++ {
		if _, err := f.svc.VerifyTOTP(ctx, s.Principal, "000000"); !errors.Is(err, identity.ErrInvalidTOTP) {
			t.Fatalf("wrong code %d = %v", i+1, err)
		}
	}
	if _, err := f.svc.Validate(ctx, s.Token); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("pending session after lockout = %v; want revoked", err)
	}
	if _, err := f.svc.VerifyTOTP(ctx, s.Principal, code(t, secret, f.clock.Now().Add(30*time.Second))); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("right code on the revoked pending session = %v; want ErrUnauthenticated", err)
	}
	if err := f.try("nurse@a.example", pw, ip1); !errors.Is(err, identity.ErrLocked) {
		t.Errorf("password after 5 wrong codes = %v; want ErrLocked", err)
	}
}

func TestTOTPEnrolment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	uid := f.user(t, f.orgA, "admin@a.example", identity.RoleAdmin)
	f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)

	// Admins must enrol: their first session is limited to enrolment.
	s := f.signIn(t, "admin@a.example")
	if s.Principal.Scope != identity.ScopeEnrol {
		t.Fatalf("admin without TOTP scope = %v; want enrol", s.Principal.Scope)
	}
	if _, err := f.svc.ListUsers(ctx, s.Principal, f.orgA); !errors.Is(err, identity.ErrMFARequired) {
		t.Errorf("enrol-only session lists users = %v; want ErrMFARequired", err)
	}
	en, err := f.svc.BeginTOTPEnrolment(ctx, s.Principal)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(en.URL, "otpauth://totp/HealthPrep:admin@a.example?") || !strings.Contains(en.URL, "period=30") ||
		len(en.QRCode) < 100 || string(en.QRCode[1:4]) != "PNG" {
		t.Errorf("enrolment = URL %q, %d-byte QR; want an otpauth URL and a PNG", en.URL, len(en.QRCode))
	}
	// The stored secret is sealed, not the base32 text.
	if n := f.count(t, `SELECT count(*) FROM users WHERE id = $1 AND position(convert_to($2, 'UTF8') in totp_secret_enc) = 0 AND totp_enabled_at IS NULL`, uid, en.Secret); n != 1 {
		t.Errorf("secret stored in clear, or enabled before confirmation")
	}
	if _, err := f.svc.ConfirmTOTP(ctx, s.Principal, "000000"); !errors.Is(err, identity.ErrInvalidTOTP) {
		t.Errorf("ConfirmTOTP(wrong) = %v; want ErrInvalidTOTP", err)
	}
	if n := f.count(t, `SELECT count(*) FROM users WHERE id = $1 AND totp_enabled_at IS NULL`, uid); n != 1 {
		t.Errorf("wrong confirmation enabled TOTP")
	}
	codes, err := f.svc.ConfirmTOTP(ctx, s.Principal, code(t, en.Secret, f.clock.Now()))
	if err != nil || len(codes) != 10 {
		t.Fatalf("ConfirmTOTP = %d codes, %v; want 10", len(codes), err)
	}
	if p, _ := f.svc.Validate(ctx, s.Token); p.Scope != identity.ScopeFull || !p.MFAVerified {
		t.Errorf("session after enrolment = %v verified=%v; want full", p.Scope, p.MFAVerified)
	}
	if _, err := f.svc.BeginTOTPEnrolment(ctx, s.Principal); !errors.Is(err, identity.ErrTOTPEnrolled) {
		t.Errorf("second enrolment = %v; want ErrTOTPEnrolled", err)
	}
	// Recovery codes are stored as SHA-256 only.
	if n := f.count(t, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND length(code_hash) = 32`, uid); n != 10 {
		t.Errorf("stored recovery code hashes = %d; want 10", n)
	}
	// Admins cannot disable mandatory TOTP.
	f.clock.Advance(30 * time.Second)
	if err := f.svc.DisableTOTP(ctx, mustValidate(t, f, s.Token), code(t, en.Secret, f.clock.Now())); !errors.Is(err, identity.ErrMFARequired) {
		t.Errorf("admin disables TOTP = %v; want ErrMFARequired", err)
	}
	if got := f.audits(t, f.orgA, "auth.totp_enrol", "success"); got != 1 {
		t.Errorf("enrol audit entries = %d; want 1", got)
	}

	// A nurse may use TOTP optionally, and disable it with a code.
	ns := f.signIn(t, "nurse@a.example")
	if ns.Principal.Scope != identity.ScopeFull {
		t.Fatalf("nurse without TOTP scope = %v; want full", ns.Principal.Scope)
	}
	nsecret, _ := f.enrol(t, ns)
	np := mustValidate(t, f, ns.Token)
	if err := f.svc.DisableTOTP(ctx, np, "000000"); !errors.Is(err, identity.ErrInvalidTOTP) {
		t.Errorf("disable with wrong code = %v; want ErrInvalidTOTP", err)
	}
	if err := f.svc.DisableTOTP(ctx, np, code(t, nsecret, f.clock.Now())); err != nil {
		t.Fatalf("disable = %v", err)
	}
	if got := f.audits(t, f.orgA, "auth.totp_disable", "success"); got != 1 {
		t.Errorf("disable audit entries = %d; want 1", got)
	}

	// require_2fa_all limits the nurse's open session to enrolment at once.
	f.exec(t, f.orgA, `UPDATE organizations SET require_2fa_all = true`)
	if p := mustValidate(t, f, ns.Token); p.Scope != identity.ScopeEnrol {
		t.Errorf("nurse scope after require_2fa_all = %v; want enrol", p.Scope)
	}
}

func mustValidate(t *testing.T, f *fixture, tok string) identity.Principal {
	t.Helper()
	p, err := f.svc.Validate(context.Background(), tok)
	if err != nil {
		t.Fatalf("Validate = %v", err)
	}
	return p
}

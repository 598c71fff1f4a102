package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/identity"
)

func (f *fixture) complete(tok, password, second string) error {
	return f.svc.CompletePasswordReset(context.Background(), identity.CompletePasswordResetRequest{
		Token: tok, Password: password, SecondFactor: second, Client: web(ip1)})
}

const newPw = "a completely different passphrase"

func TestPasswordReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	old := f.signIn(t, "nurse@a.example")

	// Same answer for a known and an unknown email; mail only to the known.
	for _, e := range []string{"nurse@a.example", "nobody@a.example"} {
		if err := f.svc.RequestPasswordReset(ctx, e, web(ip1)); err != nil {
			t.Errorf("RequestPasswordReset(%s) = %v; want nil", e, err)
		}
	}
	if n := len(f.mail.to("nobody@a.example")); n != 0 {
		t.Errorf("mails to an unknown email = %d", n)
	}
	if err := f.svc.RequestPasswordReset(ctx, "bad", web(ip1)); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("malformed email = %v; want ErrInvalidInput", err)
	}
	msg := f.mail.to("nurse@a.example")[0]
	if !strings.Contains(msg.Text, "https://app.healthprep.test/password/reset?token=") || strings.Contains(msg.Text, pw) {
		t.Errorf("reset mail text = %q; want the link and nothing secret", msg.Text)
	}
	tok := f.mail.lastToken(t, "nurse@a.example")

	// Bad input changes nothing.
	for name, c := range map[string]struct{ tok, pw string }{
		"weak password":   {tok, "password1234"},
		"tampered token":  {"A" + tok[1:], newPw},
		"malformed token": {"x", newPw},
	} {
		if err := f.complete(c.tok, c.pw, ""); err == nil {
			t.Errorf("%s: completed", name)
		}
	}
	if err := f.try("nurse@a.example", pw, ip1); err != nil {
		t.Fatalf("old password after refused resets = %v; want still valid", err)
	}

	if err := f.complete(tok, newPw, ""); err != nil {
		t.Fatalf("CompletePasswordReset = %v", err)
	}
	if err := f.complete(tok, newPw+"!", ""); !errors.Is(err, identity.ErrResetInvalid) {
		t.Errorf("reuse = %v; want ErrResetInvalid", err)
	}
	if _, err := f.svc.Validate(ctx, old.Token); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("session from before the reset = %v; want revoked", err)
	}
	if err := f.try("nurse@a.example", pw, ip1); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Errorf("old password = %v; want ErrInvalidCredentials", err)
	}
	if err := f.try("nurse@a.example", newPw, ip1); err != nil {
		t.Errorf("new password = %v", err)
	}

	// Expiry at 1 hour; a newer link supersedes an older one.
	f.clock.Advance(2 * time.Hour)
	_ = f.svc.RequestPasswordReset(ctx, "nurse@a.example", web(ip1))
	first := f.mail.lastToken(t, "nurse@a.example")
	_ = f.svc.RequestPasswordReset(ctx, "nurse@a.example", web(ip1))
	second := f.mail.lastToken(t, "nurse@a.example")
	if err := f.complete(first, newPw+" 2", ""); !errors.Is(err, identity.ErrResetInvalid) {
		t.Errorf("superseded link = %v; want ErrResetInvalid", err)
	}
	f.clock.Advance(time.Hour)
	if err := f.complete(second, newPw+" 2", ""); !errors.Is(err, identity.ErrResetInvalid) {
		t.Errorf("link at 1 hour = %v; want ErrResetInvalid", err)
	}
	// At most 3 per hour, each sent as it is requested.
	before := len(f.mail.to("nurse@a.example"))
	links := f.count(t, `SELECT count(*) FROM password_resets`)
	for i := 0; i < 5; i++ {
		if err := f.svc.RequestPasswordReset(ctx, "nurse@a.example", web(ip1)); err != nil {
			t.Fatal(err)
		}
		f.mail.to("nurse@a.example") // a running outbox sends each at once
	}
	if got := len(f.mail.to("nurse@a.example")) - before; got != 3 {
		t.Errorf("mails for 5 requests in an hour = %d; want 3", got)
	}
	if got := f.count(t, `SELECT count(*) FROM password_resets`) - links; got != 3 {
		t.Errorf("links for 5 requests in an hour = %d; want 3", got)
	}
	if got := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'auth.password_reset_request' AND outcome = 'failure'
		AND details->>'reason' = 'rate_limited'`); got != 2 {
		t.Errorf("rate-limited requests audited = %d; want 2", got)
	}
	// Unsent mail of a superseded link is dropped: only the newest link
	// goes out.
	f.clock.Advance(time.Hour)
	before = len(f.mail.to("nurse@a.example"))
	for i := 0; i < 3; i++ {
		if err := f.svc.RequestPasswordReset(ctx, "nurse@a.example", web(ip1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.mail.to("nurse@a.example")) - before; got != 1 {
		t.Errorf("mails for 3 requests before the outbox ran = %d; want 1", got)
	}
	if err := f.complete(f.mail.lastToken(t, "nurse@a.example"), newPw+" 3", ""); err != nil {
		t.Errorf("the one mailed link = %v; want it to work", err)
	}
	if got := f.audits(t, f.orgA, "auth.password_reset", "success"); got != 2 {
		t.Errorf("password_reset audit entries = %d; want 2", got)
	}
}

func TestPasswordResetNeedsTOTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	secret, recovery := f.enrol(t, f.signIn(t, "nurse@a.example"))
	f.exec(t, f.orgA, `UPDATE users SET locked_until = NULL`)
	_ = f.svc.RequestPasswordReset(ctx, "nurse@a.example", web(ip1))
	tok := f.mail.lastToken(t, "nurse@a.example")
	if err := f.complete(tok, newPw, ""); !errors.Is(err, identity.ErrMFARequired) {
		t.Errorf("without code = %v; want ErrMFARequired", err)
	}
	if err := f.complete(tok, newPw, "000000"); !errors.Is(err, identity.ErrInvalidTOTP) {
		t.Errorf("wrong code = %v; want ErrInvalidTOTP", err)
	}
	if err := f.try("nurse@a.example", pw, ip1); err != nil {
		t.Fatalf("password unchanged after refused completions: %v", err)
	}
	if err := f.complete(tok, newPw, code(t, secret, f.clock.Now())); err != nil {
		t.Fatalf("with code = %v", err)
	}
	// Recovery codes work too.
	f.clock.Advance(time.Minute)
	_ = f.svc.RequestPasswordReset(ctx, "nurse@a.example", web(ip1))
	if err := f.complete(f.mail.lastToken(t, "nurse@a.example"), newPw+" again", recovery[3]); err != nil {
		t.Errorf("with a recovery code = %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	s1, s2 := f.signIn(t, "nurse@a.example"), f.signIn(t, "nurse@a.example")
	if _, err := f.svc.ChangePassword(ctx, s1.Principal, "wrong password!", newPw, web(ip1)); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Errorf("wrong current = %v; want ErrInvalidCredentials", err)
	}
	if _, err := f.svc.ChangePassword(ctx, s1.Principal, pw, "nurse.password!", web(ip1)); !errors.Is(err, identity.ErrWeakPassword) {
		t.Errorf("password with email name = %v; want ErrWeakPassword", err)
	}
	if _, err := f.svc.Validate(ctx, s2.Token); err != nil {
		t.Fatalf("sessions survive refused changes: %v", err)
	}
	ns, err := f.svc.ChangePassword(ctx, s1.Principal, pw, newPw, web(ip1))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []identity.Session{s1, s2} {
		if _, err := f.svc.Validate(ctx, s.Token); !errors.Is(err, identity.ErrUnauthenticated) {
			t.Errorf("old session after change = %v; want revoked", err)
		}
	}
	if _, err := f.svc.Validate(ctx, ns.Token); err != nil {
		t.Errorf("new session = %v", err)
	}
	if got := f.audits(t, f.orgA, "auth.password_change", "success"); got != 1 {
		t.Errorf("password_change entries = %d; want 1", got)
	}
}

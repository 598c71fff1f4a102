package identity_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/identity"
)

// TestSuspendedOrganisation: while an organisation is suspended its people
// cannot sign in (told so only after the right password, audited in its
// chain, counted nowhere) and its open sessions stop validating; another
// organisation and the root admins' platform organisation are unaffected;
// reinstating restores the same sessions and sign-in.
func TestSuspendedOrganisation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	nurse := f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	f.user(t, f.orgA, "ma@a.example", identity.RoleMA)
	f.user(t, f.orgB, "nurse@b.example", identity.RoleNurse)
	f.user(t, f.platform, "root@healthprep.example", identity.RoleRootAdmin)
	open := f.signIn(t, "nurse@a.example")
	other := f.signIn(t, "nurse@b.example")
	secret, _ := f.enrol(t, f.signIn(t, "ma@a.example"))

	f.exec(t, f.orgA, `UPDATE organizations SET status = 'suspended' WHERE id = $1`, f.orgA)
	// The platform organisation has no lifecycle (package org refuses
	// it); even a status forced in the database does not lock root out.
	f.exec(t, f.platform, `UPDATE organizations SET status = 'suspended' WHERE id = $1`, f.platform)
	f.clock.Advance(2 * time.Minute)
	failedBefore := f.count(t, `SELECT count(*) FROM login_attempts WHERE NOT success`)
	ip := netip.MustParseAddr("203.0.113.7")

	for _, tt := range []struct {
		name, email, password, secondFactor string
		want                                error
	}{
		{"right password", "nurse@a.example", pw, "", identity.ErrOrgSuspended},
		{"right password and TOTP code", "ma@a.example", pw, code(t, secret, f.clock.Now()), identity.ErrOrgSuspended},
		{"another organisation", "nurse@b.example", pw, "", nil},
		{"root admin", "root@healthprep.example", pw, "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.SignIn(ctx, identity.SignInRequest{Email: tt.email, Password: tt.password, SecondFactor: tt.secondFactor,
				Client: web(ip)})
			if !errors.Is(err, tt.want) {
				t.Fatalf("SignIn = %v; want %v", err, tt.want)
			}
			if tt.want != nil && err.Error() != "this organisation's HealthPrep account is suspended: contact your administrator or HealthPrep support" {
				t.Errorf("message %q; want the suspension message", err)
			}
		})
	}
	if got := f.count(t, `SELECT count(*) FROM login_attempts WHERE NOT success`); got != failedBefore {
		t.Errorf("suspension refusals recorded %d failed attempts; want 0 (no throttling or spraying alerts for a clinic's staff)", got-failedBefore)
	}
	if got := f.count(t, `SELECT failed_logins FROM users WHERE id = $1`, nurse); got != 0 {
		t.Errorf("failed_logins = %d after a suspension refusal; want 0", got)
	}
	// A wrong password still answers wrong password: the status is told
	// only to someone who knows the password.
	if err := f.try("nurse@a.example", pw+"x", ip); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Errorf("wrong password while suspended = %v; want ErrInvalidCredentials", err)
	}
	if got := f.count(t, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'auth.signin' AND outcome = 'failure'
		AND details->>'reason' = 'org_suspended' AND actor_user_id = $2 AND target_id = $2::text AND ip = $3`, f.orgA, nurse, ip.String()); got != 1 {
		t.Errorf("audit entries for the nurse's refused sign-in = %d; want 1", got)
	}
	if got := f.audits(t, f.orgA, "auth.signin", "failure"); got != 3 {
		t.Errorf("auth.signin failures in org A = %d; want 3 (two suspended, one wrong password)", got)
	}

	// Open sessions: refused at once, not touched (the clock moved past
	// touchInterval).
	seenBefore := f.count(t, `SELECT extract(epoch FROM last_seen_at)::int FROM sessions WHERE id = $1`, open.Principal.SessionID)
	if _, err := f.svc.Validate(ctx, open.Token); !errors.Is(err, identity.ErrOrgSuspended) {
		t.Errorf("open session while suspended = %v; want ErrOrgSuspended", err)
	}
	if got := f.count(t, `SELECT extract(epoch FROM last_seen_at)::int FROM sessions WHERE id = $1`, open.Principal.SessionID); got != seenBefore {
		t.Errorf("a refused session's last use moved")
	}
	if _, err := f.svc.Validate(ctx, other.Token); err != nil {
		t.Errorf("another organisation's session = %v; want valid", err)
	}

	// Reinstated: the same session and the same (unburnt) TOTP code work.
	f.exec(t, f.orgA, `UPDATE organizations SET status = 'live' WHERE id = $1`, f.orgA)
	if p, err := f.svc.Validate(ctx, open.Token); err != nil || p.UserID != nurse {
		t.Errorf("open session after reinstatement = %+v, %v; want the nurse", p, err)
	}
	if _, err := f.svc.SignIn(ctx, identity.SignInRequest{Email: "ma@a.example", Password: pw, SecondFactor: code(t, secret, f.clock.Now()),
		Client: web(ip)}); err != nil {
		t.Errorf("sign-in after reinstatement with the code refused during suspension = %v; want accepted", err)
	}
	if err := f.try("nurse@a.example", pw, ip); err != nil {
		t.Errorf("sign-in after reinstatement = %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM sessions WHERE org_id = $1 AND revoked_at IS NOT NULL AND revoke_reason NOT IN ('second_factor_done')`, f.orgA); n != 0 {
		t.Errorf("%d sessions of org A were revoked; suspension revokes nothing", n)
	}
	if strings.Contains(identity.ErrOrgSuspended.Error(), "@") {
		t.Errorf("the message carries an email")
	}
}

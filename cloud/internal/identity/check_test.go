package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/identity"
)

// snapshot is every row count and audit entry a link check could change.
func (f *fixture) snapshot(t *testing.T) [5]int {
	t.Helper()
	return [5]int{
		f.count(t, `SELECT count(*) FROM invites WHERE accepted_at IS NULL AND cancelled_at IS NULL`),
		f.count(t, `SELECT count(*) FROM password_resets WHERE used_at IS NULL`),
		f.count(t, `SELECT count(*) FROM audit_log`),
		f.count(t, `SELECT count(*) FROM login_attempts`),
		f.count(t, `SELECT coalesce(sum(failed_logins), 0) FROM users`),
	}
}

func TestCheckInvite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	admin := f.admin(t, f.orgA, "admin@a.example")
	invite := func(email string, role identity.Role) (identity.Invite, string) {
		t.Helper()
		inv, err := f.svc.CreateInvite(ctx, admin, f.orgA, email, role)
		if err != nil {
			t.Fatalf("CreateInvite(%s) = %v", email, err)
		}
		return inv, f.mail.lastToken(t, email)
	}
	// Arrange one link per way of being invalid; the expired one first, so
	// that moving the clock past its 7 days leaves the others valid.
	_, expired := invite("late@a.example", identity.RoleMA)
	f.clock.Advance(identity.InviteValidity)
	_, open := invite("open@a.example", identity.RoleNurse)
	_, used := invite("used@a.example", identity.RoleMA)
	if _, err := f.accept(used); err != nil {
		t.Fatalf("accept = %v", err)
	}
	cancelled, cancelledTok := invite("cancelled@a.example", identity.RoleMA)
	if err := f.svc.CancelInvite(ctx, admin, f.orgA, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	resent, superseded := invite("resent@a.example", identity.RoleMA)
	if _, err := f.svc.ResendInvite(ctx, admin, f.orgA, resent.ID); err != nil {
		t.Fatal(err)
	}

	before := f.snapshot(t)
	for _, tt := range []struct {
		name  string
		token string
	}{
		{"unknown", "A" + open[1:]},
		{"malformed", "not-a-token"},
		{"empty", ""},
		{"expired", expired},
		{"already used", used},
		{"cancelled", cancelledTok},
		{"superseded by a resend", superseded},
	} {
		got, err := f.svc.CheckInvite(ctx, tt.token)
		if !errors.Is(err, identity.ErrInviteInvalid) || got != (identity.InviteInfo{}) {
			t.Errorf("%s: CheckInvite = %+v, %v; want ErrInviteInvalid and nothing shown", tt.name, got, err)
		}
	}
	for range 2 { // checking is repeatable: it uses nothing up
		got, err := f.svc.CheckInvite(ctx, open)
		if want := (identity.InviteInfo{OrgName: "clinic-a", Role: identity.RoleNurse}); err != nil || got != want {
			t.Errorf("valid link: CheckInvite = %+v, %v; want %+v", got, err, want)
		}
	}
	if after := f.snapshot(t); after != before {
		t.Errorf("state after checks = %v; want unchanged %v", after, before)
	}
	if _, err := f.accept(open); err != nil {
		t.Errorf("accept after checks = %v; want success", err)
	}
	if _, err := f.svc.CheckInvite(ctx, open); !errors.Is(err, identity.ErrInviteInvalid) {
		t.Errorf("CheckInvite after accepting = %v; want ErrInviteInvalid", err)
	}
}

func TestCheckPasswordReset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	request := func(email string) string {
		t.Helper()
		if err := f.svc.RequestPasswordReset(ctx, email, web(ip1)); err != nil {
			t.Fatalf("RequestPasswordReset(%s) = %v", email, err)
		}
		return f.mail.lastToken(t, email)
	}
	f.user(t, f.orgA, "late@a.example", identity.RoleNurse)
	expired := request("late@a.example")
	f.clock.Advance(identity.ResetValidity)

	f.user(t, f.orgA, "plain@a.example", identity.RoleNurse)
	plain := request("plain@a.example")
	f.user(t, f.orgA, "totp@a.example", identity.RoleNurse)
	f.enrol(t, f.signIn(t, "totp@a.example"))
	withTOTP := request("totp@a.example")
	f.user(t, f.orgA, "used@a.example", identity.RoleNurse)
	used := request("used@a.example")
	if err := f.complete(used, newPw, ""); err != nil {
		t.Fatalf("CompletePasswordReset = %v", err)
	}
	f.user(t, f.orgA, "twice@a.example", identity.RoleNurse)
	superseded := request("twice@a.example")
	request("twice@a.example")
	f.user(t, f.orgA, "gone@a.example", identity.RoleNurse)
	deactivated := request("gone@a.example")
	f.exec(t, f.orgA, `UPDATE users SET status = 'deactivated' WHERE email = 'gone@a.example'`)

	before := f.snapshot(t)
	for _, tt := range []struct {
		name  string
		token string
	}{
		{"unknown", "A" + plain[1:]},
		{"malformed", strings.Repeat("!", 43)},
		{"empty", ""},
		{"expired", expired},
		{"already used", used},
		{"superseded by a newer request", superseded},
		{"deactivated account", deactivated},
	} {
		if mfa, err := f.svc.CheckPasswordReset(ctx, tt.token); !errors.Is(err, identity.ErrResetInvalid) || mfa {
			t.Errorf("%s: CheckPasswordReset = %v, %v; want false, ErrResetInvalid", tt.name, mfa, err)
		}
	}
	for _, tt := range []struct {
		name  string
		token string
		want  bool
	}{
		{"no second factor", plain, false},
		{"TOTP enrolled", withTOTP, true},
	} {
		if mfa, err := f.svc.CheckPasswordReset(ctx, tt.token); err != nil || mfa != tt.want {
			t.Errorf("%s: CheckPasswordReset = %v, %v; want %v, nil", tt.name, mfa, err, tt.want)
		}
	}
	if after := f.snapshot(t); after != before {
		t.Errorf("state after checks = %v; want unchanged %v", after, before)
	}
	f.clock.Advance(time.Minute)
	if err := f.complete(plain, newPw, ""); err != nil {
		t.Errorf("complete after checks = %v; want success", err)
	}
}

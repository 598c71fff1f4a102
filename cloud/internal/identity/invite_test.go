package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/tenancy"
)

// admin returns a full-scope principal of a new admin of org (TOTP enrolled).
func (f *fixture) admin(t *testing.T, org tenancy.OrgID, email string) identity.Principal {
	t.Helper()
	f.user(t, org, email, identity.RoleAdmin)
	s := f.signIn(t, email)
	f.enrol(t, s)
	return mustValidate(t, f, s.Token)
}

// root returns a full-scope root admin principal.
func (f *fixture) root(t *testing.T) identity.Principal {
	t.Helper()
	if _, err := f.svc.CreateRootAdmin(context.Background(), "root@platform.example", pw, "Root"); err != nil {
		t.Fatalf("CreateRootAdmin = %v", err)
	}
	s := f.signIn(t, "root@platform.example")
	if s.Principal.Scope != identity.ScopeEnrol {
		t.Fatalf("root admin without TOTP scope = %v; want enrol", s.Principal.Scope)
	}
	f.enrol(t, s)
	return mustValidate(t, f, s.Token)
}

func (f *fixture) accept(tok string) (identity.Session, error) {
	return f.svc.AcceptInvite(context.Background(), identity.AcceptInviteRequest{
		Token: tok, Password: "a brand new passphrase", DisplayName: "New Person", Client: web(ip1)})
}

func TestInviteFirstAdminAndStaff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	root := f.root(t)

	inv, err := f.svc.CreateInvite(ctx, root, f.orgA, "First.Admin@A.example", identity.RoleAdmin)
	if err != nil {
		t.Fatalf("root invites first admin = %v", err)
	}
	if inv.Email != "first.admin@a.example" || inv.ExpiresAt.Sub(f.clock.Now()) != 7*24*time.Hour {
		t.Errorf("invite = %+v; want normalised email, 7-day expiry", inv)
	}
	msgs := f.mail.to("first.admin@a.example")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "https://app.healthprep.test/invite/accept?token=") ||
		!strings.Contains(msgs[0].HTML, "https://app.healthprep.test/invite/accept?token=") || !strings.Contains(msgs[0].Text, "clinic-a") {
		t.Fatalf("invite mail = %+v; want one mail with the accept link", msgs)
	}
	tok := f.mail.lastToken(t, "first.admin@a.example")
	if n := f.count(t, `SELECT count(*) FROM invites WHERE position(convert_to($1, 'UTF8') in token_hash) > 0`, tok); n != 0 {
		t.Errorf("invite token stored in clear")
	}

	s, err := f.accept(tok)
	if err != nil {
		t.Fatalf("AcceptInvite = %v", err)
	}
	if s.Principal.Role != identity.RoleAdmin || s.Principal.OrgID != f.orgA || s.Principal.Scope != identity.ScopeEnrol {
		t.Errorf("first admin's session = %+v; want admin of org A limited to enrolment", s.Principal)
	}
	if _, err := f.accept(tok); !errors.Is(err, identity.ErrInviteInvalid) {
		t.Errorf("second accept = %v; want ErrInviteInvalid", err)
	}
	f.enrol(t, s)
	admin := mustValidate(t, f, s.Token)

	// The admin invites staff into their own org only.
	if _, err := f.svc.CreateInvite(ctx, admin, f.orgA, "nurse@a.example", identity.RoleNurse); err != nil {
		t.Fatalf("admin invites nurse = %v", err)
	}
	if _, err := f.svc.CreateInvite(ctx, admin, f.orgB, "x@b.example", identity.RoleNurse); !errors.Is(err, identity.ErrPermissionDenied) {
		t.Errorf("admin of A invites into B = %v; want ErrPermissionDenied", err)
	}
	ns, err := f.accept(f.mail.lastToken(t, "nurse@a.example"))
	if err != nil || ns.Principal.Role != identity.RoleNurse || ns.Principal.Scope != identity.ScopeFull {
		t.Fatalf("nurse accepts = %+v, %v; want a full nurse session", ns.Principal, err)
	}
	if _, err := f.svc.CreateInvite(ctx, ns.Principal, f.orgA, "y@a.example", identity.RoleMA); !errors.Is(err, identity.ErrPermissionDenied) {
		t.Errorf("nurse invites = %v; want ErrPermissionDenied", err)
	}
	for _, e := range []struct{ action string }{{"invite.create"}, {"invite.accept"}} {
		if got := f.audits(t, f.orgA, e.action, "success"); got != 2 {
			t.Errorf("%s audit entries = %d; want 2", e.action, got)
		}
	}
}

func TestInviteLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	admin := f.admin(t, f.orgA, "admin@a.example")
	invite := func(email string) (identity.Invite, string) {
		t.Helper()
		inv, err := f.svc.CreateInvite(ctx, admin, f.orgA, email, identity.RoleMA)
		if err != nil {
			t.Fatalf("CreateInvite(%s) = %v", email, err)
		}
		return inv, f.mail.lastToken(t, email)
	}

	t.Run("expired", func(t *testing.T) {
		_, tok := invite("late@a.example")
		f.clock.Advance(7 * 24 * time.Hour)
		if _, err := f.accept(tok); !errors.Is(err, identity.ErrInviteInvalid) {
			t.Errorf("accept at 7 days = %v; want ErrInviteInvalid", err)
		}
		// An expired invite no longer blocks a new one for the same email.
		_, tok = invite("late@a.example")
		f.clock.Advance(7*24*time.Hour - time.Microsecond)
		if _, err := f.accept(tok); err != nil {
			t.Errorf("accept at 7 days − 1µs = %v; want success", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		inv, tok := invite("cancel@a.example")
		if err := f.svc.CancelInvite(ctx, admin, f.orgA, inv.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.accept(tok); !errors.Is(err, identity.ErrInviteInvalid) {
			t.Errorf("accept cancelled = %v; want ErrInviteInvalid", err)
		}
		if err := f.svc.CancelInvite(ctx, admin, f.orgA, inv.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("cancel twice = %v; want ErrNotFound", err)
		}
	})
	t.Run("resent", func(t *testing.T) {
		inv, old := invite("resend@a.example")
		got, err := f.svc.ResendInvite(ctx, admin, f.orgA, inv.ID)
		if err != nil || got.SentCount != 2 {
			t.Fatalf("ResendInvite = %+v, %v; want sent twice", got, err)
		}
		fresh := f.mail.lastToken(t, "resend@a.example")
		if fresh == old {
			t.Fatal("resend reused the token")
		}
		if _, err := f.accept(old); !errors.Is(err, identity.ErrInviteInvalid) {
			t.Errorf("accept with the old token = %v; want ErrInviteInvalid", err)
		}
		if _, err := f.accept(fresh); err != nil {
			t.Errorf("accept with the new token = %v", err)
		}
		if _, err := f.svc.ResendInvite(ctx, admin, f.orgA, inv.ID); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("resend an accepted invite = %v; want ErrNotFound", err)
		}
	})
	t.Run("duplicate open invite", func(t *testing.T) {
		invite("dup@a.example")
		if _, err := f.svc.CreateInvite(ctx, admin, f.orgA, "dup@a.example", identity.RoleMA); !errors.Is(err, identity.ErrInviteOpen) {
			t.Errorf("second invite = %v; want ErrInviteOpen", err)
		}
		if _, err := f.svc.CreateInvite(ctx, admin, f.orgA, "admin@a.example", identity.RoleMA); !errors.Is(err, identity.ErrEmailInUse) {
			t.Errorf("invite an existing user = %v; want ErrEmailInUse", err)
		}
	})
	t.Run("bad input changes nothing", func(t *testing.T) {
		before := f.count(t, `SELECT count(*) FROM invites`)
		mails := f.mail.count()
		for name, tt := range map[string]struct {
			email string
			role  identity.Role
			org   tenancy.OrgID
			want  error
		}{
			"malformed email": {"nope", identity.RoleMA, f.orgA, identity.ErrInvalidInput},
			"root_admin role": {"r@a.example", identity.RoleRootAdmin, f.orgA, identity.ErrInvalidInput},
			"unknown role":    {"r@a.example", "doctor", f.orgA, identity.ErrInvalidInput},
			"zero org":        {"r@a.example", identity.RoleMA, tenancy.OrgID{}, identity.ErrInvalidInput},
			"unknown org":     {"r@a.example", identity.RoleMA, tenancy.NewOrgID(), identity.ErrPermissionDenied},
		} {
			if _, err := f.svc.CreateInvite(ctx, admin, tt.org, tt.email, tt.role); !errors.Is(err, tt.want) {
				t.Errorf("%s: CreateInvite = %v; want %v", name, err, tt.want)
			}
		}
		_, tok := invite("weak@a.example")
		before++
		mails++
		for name, req := range map[string]identity.AcceptInviteRequest{
			"weak password":     {Token: tok, Password: "password1234", Client: web(ip1)},
			"short password":    {Token: tok, Password: "short", Client: web(ip1)},
			"email in password": {Token: tok, Password: "weak@a.example rocks", Client: web(ip1)},
			"long name":         {Token: tok, Password: "a brand new passphrase", DisplayName: strings.Repeat("n", 201), Client: web(ip1)},
		} {
			if _, err := f.svc.AcceptInvite(ctx, req); err == nil {
				t.Errorf("%s: AcceptInvite succeeded", name)
			}
		}
		for name, bad := range map[string]string{"empty": "", "tampered": "A" + tok[1:], "short": tok[:20], "garbage": strings.Repeat("!", 43)} {
			if _, err := f.accept(bad); !errors.Is(err, identity.ErrInviteInvalid) {
				t.Errorf("%s token: AcceptInvite = %v; want ErrInviteInvalid", name, err)
			}
		}
		if n := f.count(t, `SELECT count(*) FROM invites`); n != before {
			t.Errorf("invites = %d; want %d", n, before)
		}
		if n := f.count(t, `SELECT count(*) FROM users WHERE email = 'weak@a.example'`); n != 0 {
			t.Errorf("a refused accept created the user")
		}
		if f.mail.count() != mails {
			t.Errorf("refused requests sent %d mails", f.mail.count()-mails)
		}
		if _, err := f.accept(tok); err != nil {
			t.Errorf("the invite still works after refused attempts: %v", err)
		}
	})
}

func TestInviteMaxUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	admin := f.admin(t, f.orgA, "admin@a.example")
	f.exec(t, f.orgA, `UPDATE organizations SET max_users = 3`)
	// 1 user + 2 open invites = 3 seats.
	i1, err := f.svc.CreateInvite(ctx, admin, f.orgA, "one@a.example", identity.RoleMA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateInvite(ctx, admin, f.orgA, "two@a.example", identity.RoleMA); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateInvite(ctx, admin, f.orgA, "three@a.example", identity.RoleMA); !errors.Is(err, identity.ErrMaxUsers) {
		t.Fatalf("4th seat = %v; want ErrMaxUsers", err)
	}
	// Cancelling frees a seat; an expired invite frees its seat but
	// resending it must find one.
	if err := f.svc.CancelInvite(ctx, admin, f.orgA, i1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateInvite(ctx, admin, f.orgA, "three@a.example", identity.RoleMA); err != nil {
		t.Fatalf("after cancel = %v; want a free seat", err)
	}
	f.clock.Advance(8 * 24 * time.Hour)
	i4, err := f.svc.CreateInvite(ctx, admin, f.orgA, "four@a.example", identity.RoleMA)
	if err != nil {
		t.Fatalf("with both invites expired = %v; want a free seat", err)
	}
	if _, err := f.svc.CreateInvite(ctx, admin, f.orgA, "five@a.example", identity.RoleMA); err != nil {
		t.Fatalf("second seat = %v", err)
	}
	invs, err := f.svc.ListInvites(ctx, admin, f.orgA)
	if err != nil {
		t.Fatal(err)
	}
	var expired uuid.UUID
	for _, i := range invs {
		if i.Email == "two@a.example" {
			expired = i.ID
		}
	}
	if _, err := f.svc.ResendInvite(ctx, admin, f.orgA, expired); !errors.Is(err, identity.ErrMaxUsers) {
		t.Errorf("resend an expired invite with no seat = %v; want ErrMaxUsers", err)
	}
	_ = i4
}

// TestConcurrentAccept: two connections accept one invite at once; exactly
// one succeeds.
func TestConcurrentAccept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	admin := f.admin(t, f.orgA, "admin@a.example")
	for round := 0; round < 5; round++ {
		email := "race" + string(rune('a'+round)) + "@a.example"
		if _, err := f.svc.CreateInvite(ctx, admin, f.orgA, email, identity.RoleNurse); err != nil {
			t.Fatal(err)
		}
		tok := f.mail.lastToken(t, email)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.accept(tok)
			}()
		}
		wg.Wait()
		ok, invalid := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, identity.ErrInviteInvalid):
				invalid++
			default:
				t.Errorf("accept = %v", err)
			}
		}
		if ok != 1 || invalid != 1 {
			t.Errorf("round %d: %d succeeded, %d refused; want 1 and 1", round, ok, invalid)
		}
		if n := f.count(t, `SELECT count(*) FROM users WHERE email = $1`, email); n != 1 {
			t.Errorf("round %d: %d users created; want 1", round, n)
		}
	}
}

func TestUserAdministration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	admin := f.admin(t, f.orgA, "admin@a.example")
	nurse := f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	bNurse := f.user(t, f.orgB, "nurse@b.example", identity.RoleNurse)
	adminB := f.admin(t, f.orgB, "admin@b.example")

	users, err := f.svc.ListUsers(ctx, admin, f.orgA)
	if err != nil || len(users) != 2 || users[0].Email != "admin@a.example" || !users[0].TOTPEnabled || users[1].Role != identity.RoleNurse {
		t.Fatalf("ListUsers(A) = %+v, %v; want admin (TOTP) and nurse", users, err)
	}
	if _, err := f.svc.ListUsers(ctx, admin, f.orgB); !errors.Is(err, identity.ErrPermissionDenied) {
		t.Errorf("admin A lists B = %v; want ErrPermissionDenied", err)
	}

	// Org A's admin cannot touch org B's users, naming either org.
	for name, op := range map[string]func(tenancy.OrgID) error{
		"change role": func(o tenancy.OrgID) error { return f.svc.ChangeRole(ctx, admin, o, bNurse, identity.RoleMA) },
		"deactivate":  func(o tenancy.OrgID) error { return f.svc.Deactivate(ctx, admin, o, bNurse) },
		"reset totp":  func(o tenancy.OrgID) error { return f.svc.ResetTOTP(ctx, admin, o, adminB.UserID) },
	} {
		if err := op(f.orgB); !errors.Is(err, identity.ErrPermissionDenied) {
			t.Errorf("%s in B = %v; want ErrPermissionDenied", name, err)
		}
		if err := op(f.orgA); !errors.Is(err, identity.ErrNotFound) {
			t.Errorf("%s of B's user via A = %v; want ErrNotFound", name, err)
		}
	}
	if users, _ := f.svc.ListUsers(ctx, adminB, f.orgB); len(users) != 2 || users[1].Role != identity.RoleNurse || !users[1].Active {
		t.Errorf("org B's users after A's attempts = %+v; want unchanged", users)
	}

	// Role change takes effect on open sessions.
	ns := f.signIn(t, "nurse@a.example")
	if err := f.svc.ChangeRole(ctx, admin, f.orgA, nurse, identity.RoleMA); err != nil {
		t.Fatal(err)
	}
	if p := mustValidate(t, f, ns.Token); p.Role != identity.RoleMA {
		t.Errorf("role after change = %v; want ma", p.Role)
	}
	if err := f.svc.ChangeRole(ctx, admin, f.orgA, nurse, identity.RoleRootAdmin); !errors.Is(err, identity.ErrInvalidInput) {
		t.Errorf("promote to root_admin = %v; want ErrInvalidInput", err)
	}
	// The last admin stays.
	if err := f.svc.ChangeRole(ctx, admin, f.orgA, admin.UserID, identity.RoleNurse); !errors.Is(err, identity.ErrLastAdmin) {
		t.Errorf("demote the last admin = %v; want ErrLastAdmin", err)
	}
	if err := f.svc.Deactivate(ctx, admin, f.orgA, admin.UserID); !errors.Is(err, identity.ErrLastAdmin) {
		t.Errorf("deactivate the last admin = %v; want ErrLastAdmin", err)
	}
	// Deactivation ends sessions and sign-in.
	if err := f.svc.Deactivate(ctx, admin, f.orgA, nurse); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Validate(ctx, ns.Token); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("deactivated user's session = %v", err)
	}
	if err := f.try("nurse@a.example", pw, ip1); !errors.Is(err, identity.ErrInvalidCredentials) {
		t.Errorf("deactivated user signs in = %v; want ErrInvalidCredentials", err)
	}
	for action, want := range map[string]int{"user.role_change": 1, "user.deactivate": 1} {
		if got := f.audits(t, f.orgA, action, "success"); got != want {
			t.Errorf("%s entries = %d; want %d", action, got, want)
		}
	}
	if got := f.audits(t, f.orgB, "user.role_change", "success") + f.audits(t, f.orgB, "user.deactivate", "success"); got != 0 {
		t.Errorf("org B has %d change entries from A's attempts", got)
	}
}

// TestInviteIsolation: org A's admin can neither see, resend nor cancel
// org B's invitations, naming either org.
func TestInviteIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	adminA := f.admin(t, f.orgA, "admin@a.example")
	adminB := f.admin(t, f.orgB, "admin@b.example")
	invB, err := f.svc.CreateInvite(ctx, adminB, f.orgB, "staff@b.example", identity.RoleMA)
	if err != nil {
		t.Fatal(err)
	}
	tok := f.mail.lastToken(t, "staff@b.example")
	if got, err := f.svc.ListInvites(ctx, adminA, f.orgA); err != nil || len(got) != 0 {
		t.Errorf("A lists its invites = %+v, %v; want none", got, err)
	}
	if _, err := f.svc.ListInvites(ctx, adminA, f.orgB); !errors.Is(err, identity.ErrPermissionDenied) {
		t.Errorf("A lists B's invites = %v; want ErrPermissionDenied", err)
	}
	if _, err := f.svc.ResendInvite(ctx, adminA, f.orgA, invB.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("A resends B's invite = %v; want ErrNotFound", err)
	}
	if err := f.svc.CancelInvite(ctx, adminA, f.orgA, invB.ID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("A cancels B's invite = %v; want ErrNotFound", err)
	}
	if len(f.mail.to("staff@b.example")) != 1 {
		t.Errorf("B's invitee got %d mails; want 1", len(f.mail.to("staff@b.example")))
	}
	s, err := f.accept(tok)
	if err != nil || s.Principal.OrgID != f.orgB {
		t.Errorf("B's invite after A's attempts = %+v, %v; want accepted into B", s.Principal, err)
	}
}

func TestResetTOTPByAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	admin := f.admin(t, f.orgA, "admin@a.example")
	other := f.admin(t, f.orgA, "second@a.example")
	if err := f.svc.ResetTOTP(ctx, admin, f.orgA, other.UserID); err != nil {
		t.Fatalf("ResetTOTP = %v", err)
	}
	if err := f.svc.ResetTOTP(ctx, admin, f.orgA, other.UserID); !errors.Is(err, identity.ErrTOTPNotEnrolled) {
		t.Errorf("ResetTOTP twice = %v; want ErrTOTPNotEnrolled", err)
	}
	if n := f.count(t, `SELECT count(*) FROM recovery_codes WHERE user_id = $1`, other.UserID); n != 0 {
		t.Errorf("recovery codes after reset = %d; want 0", n)
	}
	if s := f.signIn(t, "second@a.example"); s.Principal.Scope != identity.ScopeEnrol {
		t.Errorf("admin after TOTP reset signs in with scope %v; want enrol", s.Principal.Scope)
	}
	if got := f.audits(t, f.orgA, "auth.totp_reset", "success"); got != 1 {
		t.Errorf("totp_reset entries = %d; want 1", got)
	}
}

package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/identity"
)

func TestSessionToken(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	uid := f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	s := f.signIn(t, "nurse@a.example")
	if len(s.Token) != 43 {
		t.Errorf("token length %d; want 43 (256 bits, base64url)", len(s.Token))
	}
	p, err := f.svc.Validate(ctx, s.Token)
	if err != nil {
		t.Fatalf("Validate = %v", err)
	}
	want := identity.Principal{UserID: uid, OrgID: f.orgA, Role: identity.RoleNurse, SessionID: s.Principal.SessionID,
		DeviceID: "browser-1", Kind: identity.KindWeb, Scope: identity.ScopeFull}
	if p != want {
		t.Errorf("Validate = %+v; want %+v", p, want)
	}
	if n := f.count(t, `SELECT count(*) FROM sessions WHERE token_hash = convert_to($1, 'UTF8') OR encode(token_hash, 'base64') LIKE '%'||$1||'%'`, s.Token); n != 0 {
		t.Errorf("the token itself is stored")
	}

	flip := func(i int) string {
		b := []byte(s.Token)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	bad := map[string]string{
		"empty":          "",
		"tampered first": flip(0),
		"tampered last":  flip(41), // the last character carries padding bits; flip a full one
		"truncated":      s.Token[:42],
		"extended":       s.Token + "A",
		"not base64url":  strings.Repeat("*", 43),
		"unknown":        strings.Repeat("A", 43),
		"padded":         s.Token[:40] + "===",
		"with spaces":    " " + s.Token[1:],
		"huge":           strings.Repeat("A", 1<<16),
	}
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := f.svc.Validate(ctx, tok); !errors.Is(err, identity.ErrUnauthenticated) || err.Error() != identity.ErrUnauthenticated.Error() {
				t.Errorf("Validate(%s) = %v; want exactly ErrUnauthenticated", name, err)
			}
		})
	}
	if _, err := f.svc.Validate(ctx, s.Token); err != nil {
		t.Errorf("after bad tokens, the real one: %v; want valid", err)
	}
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name     string
		kind     identity.Kind
		orgIdle  int // session_idle_minutes
		deskIdle int // desktop_idle_minutes
		wantIdle time.Duration
	}{
		{"web default", identity.KindWeb, 15, 15, 15 * time.Minute},
		{"web, org setting", identity.KindWeb, 30, 15, 30 * time.Minute},
		{"api, org setting", identity.KindAPI, 5, 15, 5 * time.Minute},
		{"desktop uses its own setting", identity.KindDesktop, 5, 60, 60 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.exec(t, f.orgA, `UPDATE organizations SET session_idle_minutes = $1, desktop_idle_minutes = $2`, tt.orgIdle, tt.deskIdle)
			f.user(t, f.orgA, "ma@a.example", identity.RoleMA)
			c := web(ip1)
			c.Kind = tt.kind
			s, err := f.svc.SignIn(ctx, identity.SignInRequest{Email: "ma@a.example", Password: pw, Client: c})
			if err != nil {
				t.Fatal(err)
			}
			// Just inside the idle window: valid, and the use slides it.
			f.clock.Advance(tt.wantIdle - time.Microsecond)
			if _, err := f.svc.Validate(ctx, s.Token); err != nil {
				t.Fatalf("validate at idle−1µs = %v; want valid", err)
			}
			// Exactly idle minutes after the last use: expired.
			f.clock.Advance(tt.wantIdle)
			if _, err := f.svc.Validate(ctx, s.Token); !errors.Is(err, identity.ErrUnauthenticated) {
				t.Fatalf("validate at idle after last use = %v; want ErrUnauthenticated", err)
			}
		})
	}

	t.Run("absolute 12 h despite activity", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		f.user(t, f.orgA, "ma@a.example", identity.RoleMA)
		s := f.signIn(t, "ma@a.example")
		if got := s.ExpiresAt.Sub(start); got != 12*time.Hour {
			t.Errorf("ExpiresAt − sign-in = %v; want 12h", got)
		}
		for elapsed := time.Duration(0); elapsed < 12*time.Hour-10*time.Minute; elapsed += 10 * time.Minute {
			f.clock.Advance(10 * time.Minute)
			if _, err := f.svc.Validate(ctx, s.Token); err != nil {
				t.Fatalf("validate at %v = %v; want valid", elapsed+10*time.Minute, err)
			}
		}
		f.clock.Advance(10*time.Minute - time.Microsecond) // 12h − 1µs
		if _, err := f.svc.Validate(ctx, s.Token); err != nil {
			t.Fatalf("validate at 12h−1µs = %v; want valid", err)
		}
		f.clock.Advance(time.Microsecond)
		if _, err := f.svc.Validate(ctx, s.Token); !errors.Is(err, identity.ErrUnauthenticated) {
			t.Fatalf("validate at 12h = %v; want ErrUnauthenticated", err)
		}
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	admin := f.user(t, f.orgA, "admin@a.example", identity.RoleAdmin)
	nurse := f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	f.user(t, f.orgB, "nurse@b.example", identity.RoleNurse)
	as := f.signIn(t, "admin@a.example")
	f.enrol(t, as) // admins need TOTP for a full session
	n1, n2 := f.signIn(t, "nurse@a.example"), f.signIn(t, "nurse@a.example")
	b1 := f.signIn(t, "nurse@b.example")

	// Sign out ends exactly one session.
	if err := f.svc.SignOut(ctx, n1.Principal); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Validate(ctx, n1.Token); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("signed-out session validates: %v", err)
	}
	if _, err := f.svc.Validate(ctx, n2.Token); err != nil {
		t.Errorf("other session after sign-out = %v; want valid", err)
	}
	if err := f.svc.SignOut(ctx, n1.Principal); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("second sign-out = %v; want ErrUnauthenticated", err)
	}

	// A nurse cannot revoke another user's session, nor learn it exists.
	n3 := f.signIn(t, "nurse@a.example")
	adminSess, _ := f.svc.Validate(ctx, as.Token)
	if err := f.svc.RevokeSession(ctx, n3.Principal, adminSess.SessionID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("nurse revokes admin's session = %v; want ErrNotFound", err)
	}
	// Org A's admin cannot revoke org B's session or sessions of org B's users.
	if err := f.svc.RevokeSession(ctx, adminSess, b1.Principal.SessionID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("admin A revokes a session of org B = %v; want ErrNotFound", err)
	}
	if _, err := f.svc.RevokeUserSessions(ctx, adminSess, f.orgB, b1.Principal.UserID); !errors.Is(err, identity.ErrPermissionDenied) {
		t.Errorf("admin A revokes all of org B's user (naming org B) = %v; want ErrPermissionDenied", err)
	}
	if _, err := f.svc.RevokeUserSessions(ctx, adminSess, f.orgA, b1.Principal.UserID); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("admin A revokes all of org B's user (naming org A) = %v; want ErrNotFound", err)
	}
	if _, err := f.svc.Validate(ctx, b1.Token); err != nil {
		t.Errorf("org B's session after org A's attempts = %v; want valid", err)
	}

	// Admin revokes all of the nurse's sessions.
	n, err := f.svc.RevokeUserSessions(ctx, adminSess, f.orgA, nurse)
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions = %d, %v; want 2, nil", n, err)
	}
	for _, s := range []identity.Session{n2, n3} {
		if _, err := f.svc.Validate(ctx, s.Token); !errors.Is(err, identity.ErrUnauthenticated) {
			t.Errorf("revoked session validates: %v", err)
		}
	}
	if _, err := f.svc.Validate(ctx, as.Token); err != nil {
		t.Errorf("admin's own session after revoking the nurse's = %v", err)
	}
	if _, err := f.svc.RevokeUserSessions(ctx, adminSess, f.orgA, uuid.New()); !errors.Is(err, identity.ErrNotFound) {
		t.Errorf("revoke for an unknown user = %v; want ErrNotFound", err)
	}
	if got := f.audits(t, f.orgA, "session.revoke_all", "success"); got != 1 {
		t.Errorf("session.revoke_all audit entries = %d; want 1", got)
	}
	if got := f.audits(t, f.orgA, "auth.signout", "success"); got != 1 {
		t.Errorf("auth.signout audit entries = %d; want 1", got)
	}
	_ = admin
}

func TestDeactivatedUserSessionsStop(t *testing.T) {
	t.Parallel()
	f := setup(t)
	uid := f.user(t, f.orgA, "ma@a.example", identity.RoleMA)
	s := f.signIn(t, "ma@a.example")
	f.exec(t, f.orgA, `UPDATE users SET status = 'deactivated' WHERE id = $1`, uid)
	if _, err := f.svc.Validate(context.Background(), s.Token); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("session of a deactivated user = %v; want ErrUnauthenticated", err)
	}
}

func BenchmarkValidate(b *testing.B) {
	f := setup(b)
	f.user(b, f.orgA, "nurse@a.example", identity.RoleNurse)
	s := f.signIn(b, "nurse@a.example")
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.svc.Validate(ctx, s.Token); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

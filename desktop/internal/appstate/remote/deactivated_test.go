package remote_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"healthprep.dev/desktop/internal/appstate"
)

// TestDeactivatedAccountLosesOfflineSignIn: after an admin deactivates a
// nurse who signed in on this workstation, the cloud refuses her online
// sign-in (like a wrong password: it does not say which) and the refusal
// of the password the workstation's wrap still accepts destroys that
// wrap before the error is shown; with the cloud gone she can no longer
// sign in offline. A typo online keeps the wrap; the admin's is untouched.
func TestDeactivatedAccountLosesOfflineSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	nurse := appstate.Credentials{Email: "nurse@clinic.example", Password: password}
	if _, err := b.auth.SignIn(ctx, nurse); err != nil {
		t.Fatalf("nurse's online sign-in: %v", err)
	}
	b.auth.Lock()
	// A typo online: refused, the wrap stays.
	if _, err := b.auth.SignIn(ctx, appstate.Credentials{Email: nurse.Email, Password: "typo"}); !errors.Is(err, appstate.ErrWrongPassword) {
		t.Fatalf("typo online: %v, want ErrWrongPassword", err)
	}
	if users, err := b.store.Users(ctx); err != nil || !slices.Contains(users, b.nurseID) {
		t.Fatalf("after a typo, offline users %v (%v); want the nurse kept", users, err)
	}

	b.signInAdmin(t)
	if _, err := b.admin.Deactivate(ctx, b.nurseID); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
	b.auth.SignOut(ctx)
	b.auth.Lock()
	if _, err := b.auth.SignIn(ctx, nurse); !errors.Is(err, appstate.ErrWrongPassword) {
		t.Fatalf("deactivated nurse online: %v, want the cloud's refusal", err)
	}
	if !b.store.Locked() {
		t.Fatal("a refused sign-in unlocked the store")
	}
	users, err := b.store.Users(ctx)
	if err != nil || slices.Contains(users, b.nurseID) || !slices.Contains(users, b.adminID) {
		t.Fatalf("after the refusal, offline users %v (%v); want the admin only", users, err)
	}
	b.cloud.Stop()
	if _, err := b.auth.SignIn(ctx, nurse); !errors.Is(err, appstate.ErrNotOnThisWorkstation) {
		t.Errorf("deactivated nurse offline: %v, want ErrNotOnThisWorkstation", err)
	}
	if _, err := b.auth.SignIn(ctx, appstate.Credentials{Email: "admin@clinic.example", Password: password}); err != nil {
		t.Errorf("admin offline: %v, want signed in", err)
	}
}

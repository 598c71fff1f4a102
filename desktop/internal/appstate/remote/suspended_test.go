package remote_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/syncagent"
)

// TestSuspendedOrganisation: while the cloud refuses the organisation as
// suspended, a sign-in with the right password says so (not "wrong
// password", not "disabled") and keeps the person's offline sign-in; an
// admin's open screens get the cloud's sentence; the workstation's sync
// says "suspended" without going offline or counting as revoked. After
// reinstatement everything works again with nothing re-enrolled.
func TestSuspendedOrganisation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	nurse := appstate.Credentials{Email: "nurse@clinic.example", Password: password}
	if _, err := b.auth.SignIn(ctx, nurse); err != nil {
		t.Fatalf("nurse's online sign-in: %v", err)
	}
	b.auth.SignOut(ctx)
	b.auth.Lock()
	b.signInAdmin(t)
	dev := b.cloud.AddDevice("Front desk", "linux/amd64", "dev", "Ada Admin", time.Time{})
	tok := b.cloud.DeviceToken(dev)
	session := appstate.NewSession(nil, 0, nil)
	cloud := remote.Observe(syncagent.NewConnectCloud(b.url, func() (string, error) { return tok, nil }, dev), session, nil)

	b.cloud.Suspend(true)

	_, err := b.admin.Members(ctx)
	var refused *appstate.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Message, "suspended") {
		t.Errorf("admin screen while suspended: %v, want the cloud's suspended sentence", err)
	}
	_, err = cloud.Pull(ctx, "", 10)
	if !errors.Is(err, syncagent.ErrSuspended) || errors.Is(err, syncagent.ErrRevoked) {
		t.Errorf("sync while suspended: %v, want ErrSuspended and not ErrRevoked", err)
	}
	if st := session.Status(); !st.Online || !strings.Contains(st.SyncError, "suspended") {
		t.Errorf("status while suspended: online %v, error %q; want online with the suspended sentence", st.Online, st.SyncError)
	}

	b.auth.SignOut(ctx)
	b.auth.Lock()
	_, err = b.auth.SignIn(ctx, nurse)
	if !errors.Is(err, appstate.ErrOrgSuspended) {
		t.Fatalf("sign-in while suspended: %v, want ErrOrgSuspended", err)
	}
	if msg := appstate.SignInMessage(err); !strings.Contains(msg, "suspended") || strings.Contains(msg, "password") {
		t.Errorf("the sign-in screen says %q", msg)
	}
	if !b.store.Locked() {
		t.Error("a refused sign-in unlocked the store")
	}
	if users, err := b.store.Users(ctx); err != nil || !slices.Contains(users, b.nurseID) {
		t.Errorf("after the refusal, offline users %v (%v); want the nurse kept", users, err)
	}

	b.cloud.Suspend(false)
	if _, err := b.auth.SignIn(ctx, nurse); err != nil {
		t.Errorf("sign-in after reinstatement: %v", err)
	}
	if _, err := cloud.Pull(ctx, "", 10); err != nil {
		t.Errorf("sync after reinstatement: %v", err)
	}
}

package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
)

// TestRevokedUserLosesOfflineAccess: two people signed in on an enrolled
// workstation; the cloud then lists one of them as revoked (deactivated,
// or every session revoked by an admin) in the feed. The agent's next
// sync destroys that person's password wrap: they can no longer unlock
// offline, the other person still can, and the cached data stays.
func TestRevokedUserLosesOfflineAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFakeCloud(t)
	seedClinic(f, 2)
	url := f.start(t)
	dir := filepath.Join(t.TempDir(), "profile")
	ks := []string{"-profile", dir, "-keystore", string(keystore.BackendInsecureFile)}
	if code, out, errs := runCmd(append([]string{"enrol", "-server", url, "-code", "abcde fghjk", "-name", "Room 2"}, ks...)...); code != 0 {
		t.Fatalf("enrol: exit %d, %s%s", code, out, errs)
	}
	if code, out, errs := runCmd(append([]string{"agent", "-once"}, ks...)...); code != 0 {
		t.Fatalf("agent -once: exit %d, %q %q", code, out, errs)
	}
	flags := profileFlags{Dir: dir, Keystore: string(keystore.BackendInsecureFile)}
	p, err := openProfile(ctx, flags, false)
	if err != nil {
		t.Fatal(err)
	}
	pw := map[string]string{"user-ann": "ann's long password", "user-bea": "bea's long password"}
	for u, w := range pw {
		if err := p.local.SetUserPassword(ctx, u, w); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()

	f.publish(v1.SyncEntityKind_SYNC_ENTITY_KIND_CONFIG, "revoked_users", []byte(`{"user_ids":["user-ann"]}`))
	if code, out, errs := runCmd(append([]string{"agent", "-once"}, ks...)...); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("agent -once after the revocation: exit %d, %q %q", code, out, errs)
	}
	p, err = openProfile(ctx, flags, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if users, err := p.local.Users(ctx); err != nil || !slices.Equal(users, []string{"user-bea"}) {
		t.Fatalf("offline users after the sync: %v (%v); want user-bea only", users, err)
	}
	p.local.Lock()
	if err := p.local.UnlockWithPassword(ctx, "user-ann", pw["user-ann"]); !errors.Is(err, localstore.ErrUnknownUser) {
		t.Errorf("revoked user unlocking offline: %v; want ErrUnknownUser", err)
	}
	if err := p.local.UnlockWithPassword(ctx, "user-bea", pw["user-bea"]); err != nil {
		t.Errorf("other user unlocking offline: %v", err)
	}
	if _, err := p.local.Patient(ctx, "p1"); err != nil {
		t.Errorf("cached patient after the revocation: %v", err)
	}
}

package localstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
)

// TestWithOSKeyStore runs the device-key life cycle against the real OS key
// store. On Linux it needs a Secret Service on the session bus (see
// keystore's TestOS for the command).
func TestWithOSKeyStore(t *testing.T) {
	if runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		skipOrFail(t, "no session bus, so no Secret Service to test against; run under dbus-run-session with gnome-keyring-daemon")
	}
	keys := keystore.NewOS("HealthPrep-test")
	if err := keys.Set("probe", []byte("x")); err != nil {
		skipOrFail(t, fmt.Sprintf("the session bus has no usable Secret Service: %v", err))
	}
	_ = keys.Delete("probe")

	ctx := context.Background()
	opts := localstore.Options{Path: filepath.Join(t.TempDir(), "profile.db"), DeviceKeys: keys}
	s, err := localstore.Open(ctx, opts)
	mustNil(t, err)
	defer s.Close()
	mustNil(t, s.Initialize(ctx))
	mustNil(t, s.ApplyPage(ctx, localstore.Page{Changes: []localstore.Change{localstore.UpsertPatient(ann)}}, "c1"))
	mustNil(t, s.Close())

	s, err = localstore.Open(ctx, opts)
	mustNil(t, err)
	defer s.Close()
	mustNil(t, s.UnlockWithDevice(ctx))
	if got, err := s.Patient(ctx, ann.ID); err != nil || got.Name != ann.Name {
		t.Fatalf("after reopening with the OS key: got %q, %v", got.Name, err)
	}
	name := s.DeviceKeyName()
	if _, err := keys.Get(name); err != nil {
		t.Fatalf("device key in the OS key store: %v", err)
	}
	mustNil(t, s.Shred(ctx))
	if _, err := keys.Get(name); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("device key after shred: got %v, want ErrNotFound", err)
	}
	if err := s.UnlockWithDevice(ctx); !errors.Is(err, localstore.ErrShredded) {
		t.Errorf("after shred: got %v, want ErrShredded", err)
	}
}

// skipOrFail skips a test that needs a Secret Service when none runs here,
// unless HP_REQUIRE_SECRET_SERVICE=1 (make test-keystore sets it), where a
// missing Secret Service is a failure rather than a silent pass.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("HP_REQUIRE_SECRET_SERVICE") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

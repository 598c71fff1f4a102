package keystore_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/keystore"
)

// conformance runs the same specification against every Store.
func conformance(t *testing.T, s keystore.Store, prefix string) {
	t.Helper()
	name := prefix + "profile-1"
	t.Cleanup(func() { _ = s.Delete(name) })

	if _, err := s.Get(name); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Get of a missing secret: got %v, want ErrNotFound", err)
	}
	first := []byte{0, 1, 2, 0xff, 'k'}
	if err := s.Set(name, first); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, err := s.Get(name)
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("Get after Set: got %x, %v; want %x", got, err, first)
	}
	second := bytes.Repeat([]byte{7}, 32)
	if err := s.Set(name, second); err != nil {
		t.Fatalf("Set again: %v", err)
	}
	if got, _ := s.Get(name); !bytes.Equal(got, second) {
		t.Fatalf("Get after replacing: got %x, want %x", got, second)
	}
	if err := s.Delete(name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(name); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Get after Delete: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(name); err != nil {
		t.Fatalf("Delete of a missing secret: got %v, want nil", err)
	}
}

func TestInsecureFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := keystore.Open(keystore.Config{Backend: keystore.BackendInsecureFile, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, s, "")

	f := s.(*keystore.InsecureFile)
	if err := f.Set("a/b", []byte("secret")); err != nil {
		t.Fatal(err)
	}
	path := f.Path("a/b")
	if filepath.Dir(path) != dir || !strings.HasSuffix(path, ".device-key.INSECURE-TEST-ONLY") {
		t.Errorf("file: got %s, want a *.device-key.INSECURE-TEST-ONLY file directly under %s", path, dir)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode: got %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (no temporary left over)", len(entries))
	}
}

// TestOS runs the conformance suite against the real OS key store. On Linux
// it needs a Secret Service on the session bus, e.g.
//
//	dbus-run-session -- sh -c 'echo | gnome-keyring-daemon --unlock --components=secrets >/dev/null; go test ./internal/keystore'
func TestOS(t *testing.T) {
	if runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		skipOrFail(t, "no session bus, so no Secret Service to test against; run under dbus-run-session with gnome-keyring-daemon (see the comment)")
	}
	s := keystore.NewOS("HealthPrep-test")
	if err := s.Set("probe", []byte("x")); err != nil {
		skipOrFail(t, fmt.Sprintf("the session bus has no usable Secret Service: %v", err))
	}
	_ = s.Delete("probe")
	conformance(t, s, t.Name()+"-")
}

func TestOSRefusesWithoutSessionBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the session-bus check exists only on Linux")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	_, err := keystore.NewOS("").Get("x")
	if !errors.Is(err, keystore.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
}

func TestOpenConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     keystore.Config
		wantErr string
	}{
		{"default is the OS store", keystore.Config{}, ""},
		{"file needs a directory", keystore.Config{Backend: keystore.BackendInsecureFile}, "insecure file key store: no directory configured"},
		{"file needs an existing directory", keystore.Config{Backend: keystore.BackendInsecureFile, Dir: "/nonexistent/hp"}, "no such file or directory"},
		{"unknown backend", keystore.Config{Backend: "file"}, `unknown keystore backend "file"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := keystore.Open(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if _, ok := s.(*keystore.OS); !ok {
					t.Fatalf("got %T, want *keystore.OS", s)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
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

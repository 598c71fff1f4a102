// Package keystore keeps the workstation's device secrets (the key that
// wraps the local store's data key) outside the store's own file.
//
// In production the secret lives in the operating system's key store: the
// Windows Credential Manager, the macOS Keychain, or a Secret Service
// (GNOME Keyring, KWallet) on Linux; see OS. Headless Linux machines without
// a Secret Service (CI, test containers) may use InsecureFile, which writes
// the secret to a 0600 file whose name says it is for tests only. The
// backend is always chosen explicitly by configuration (Config.Backend):
// nothing falls back to the file silently when the OS key store is missing.
package keystore

import (
	"errors"
	"fmt"
	"runtime"
)

// Store holds small named secrets.
type Store interface {
	// Get returns the secret stored under name, or an error wrapping
	// ErrNotFound.
	Get(name string) ([]byte, error)
	// Set stores secret under name, replacing any previous value.
	Set(name string, secret []byte) error
	// Delete removes the secret stored under name. Deleting a missing
	// secret is not an error.
	Delete(name string) error
}

// Sentinel errors, wrapped by every Store.
var (
	// ErrNotFound: no secret is stored under that name.
	ErrNotFound = errors.New("keystore: secret not found")
	// ErrUnavailable: the backend cannot be reached on this machine (for
	// example no Secret Service on the session bus).
	ErrUnavailable = errors.New("keystore: key store unavailable")
)

// Backend names a Store implementation.
type Backend string

// The backends.
const (
	// BackendOS is the operating system's key store (the default).
	BackendOS Backend = "os"
	// BackendInsecureFile keeps secrets in 0600 files under a directory.
	// Only for headless Linux tests; never for a clinic workstation.
	BackendInsecureFile Backend = "insecure-file-for-tests"
)

// Config chooses a backend.
type Config struct {
	// Backend is BackendOS when empty.
	Backend Backend
	// Service names the application in the OS key store; "HealthPrep" when
	// empty.
	Service string
	// Dir is the profile directory, used (and required) only by
	// BackendInsecureFile.
	Dir string
}

// Open returns the Store that cfg names.
func Open(cfg Config) (Store, error) {
	switch cfg.Backend {
	case "", BackendOS:
		return NewOS(cfg.Service), nil
	case BackendInsecureFile:
		if runtime.GOOS != "linux" {
			return nil, fmt.Errorf("keystore backend %q is only allowed on headless Linux test machines, not %s", cfg.Backend, runtime.GOOS)
		}
		return NewInsecureFile(cfg.Dir)
	default:
		return nil, fmt.Errorf("unknown keystore backend %q (want %q or %q)", cfg.Backend, BackendOS, BackendInsecureFile)
	}
}

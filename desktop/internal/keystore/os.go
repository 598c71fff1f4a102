package keystore

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/zalando/go-keyring"
)

// OS is the operating system's key store, through go-keyring: Windows
// Credential Manager, macOS Keychain, or the Secret Service on the Linux
// session bus. Secrets are stored base64-encoded under (Service, name).
type OS struct {
	service string
}

// NewOS returns the OS key store for service ("HealthPrep" when empty).
func NewOS(service string) *OS {
	if service == "" {
		service = "HealthPrep"
	}
	return &OS{service: service}
}

// available refuses early on Linux without a session bus: godbus would
// otherwise launch a dbus-daemon of its own that outlives the process.
func (s *OS) available() error {
	if runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return fmt.Errorf("%w: no session bus for the Secret Service (DBUS_SESSION_BUS_ADDRESS is empty)", ErrUnavailable)
	}
	return nil
}

// Get implements Store.
func (s *OS) Get(name string) ([]byte, error) {
	if err := s.available(); err != nil {
		return nil, err
	}
	v, err := keyring.Get(s.service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, fmt.Errorf("reading %s from the OS key store: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from the OS key store: %w: %v", name, ErrUnavailable, err)
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("decoding %s from the OS key store: %w", name, err)
	}
	return b, nil
}

// Set implements Store.
func (s *OS) Set(name string, secret []byte) error {
	if err := s.available(); err != nil {
		return err
	}
	if err := keyring.Set(s.service, name, base64.StdEncoding.EncodeToString(secret)); err != nil {
		return fmt.Errorf("writing %s to the OS key store: %w: %v", name, ErrUnavailable, err)
	}
	return nil
}

// Delete implements Store.
func (s *OS) Delete(name string) error {
	if err := s.available(); err != nil {
		return err
	}
	err := keyring.Delete(s.service, name)
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("deleting %s from the OS key store: %w: %v", name, ErrUnavailable, err)
	}
	return nil
}

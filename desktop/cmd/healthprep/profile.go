package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncstore"
)

// profileFlags are the flags every subcommand has.
type profileFlags struct {
	Dir      string
	Keystore string
}

func (p *profileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.Dir, "profile", "", "workstation profile directory (required)")
	fs.StringVar(&p.Keystore, "keystore", string(keystore.BackendOS),
		"device secrets: os, or "+string(keystore.BackendInsecureFile)+" (headless Linux tests only)")
}

func (p *profileFlags) check() error {
	if p.Dir == "" {
		return errors.New("-profile: required")
	}
	switch keystore.Backend(p.Keystore) {
	case keystore.BackendOS, keystore.BackendInsecureFile:
		return nil
	}
	return fmt.Errorf("-keystore: want %s or %s", keystore.BackendOS, keystore.BackendInsecureFile)
}

// DeviceRecord is what the profile remembers of its enrolment (no
// secret: the token is in the key store).
type DeviceRecord struct {
	Server   string `json:"server"`
	DeviceID string `json:"device_id"`
	OrgID    string `json:"org_id"`
	Name     string `json:"name"`
}

const deviceFile = "device.json"

func tokenKey(deviceID string) string { return "healthprep-device-token-" + deviceID }

func readDevice(dir string) (DeviceRecord, error) {
	var d DeviceRecord
	b, err := os.ReadFile(filepath.Join(dir, deviceFile))
	if errors.Is(err, os.ErrNotExist) {
		return d, errors.New("this workstation is not enrolled: run healthprep enrol first")
	}
	if err != nil {
		return d, fmt.Errorf("reading the device record: %w", err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("reading the device record: %w", err)
	}
	return d, nil
}

func writeDevice(dir string, d DeviceRecord) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, deviceFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing the device record: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, deviceFile))
}

// profile is an opened, unlocked workstation profile.
type profile struct {
	dir   string
	keys  keystore.Store
	local *localstore.Store
	sync  *syncstore.Store
}

// openProfile opens (creating when create is set) the profile's encrypted
// store and unlocks it with the device key.
func openProfile(ctx context.Context, p profileFlags, create bool) (*profile, error) {
	if create {
		if err := os.MkdirAll(p.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the profile directory: %w", err)
		}
	} else if _, err := os.Stat(p.Dir); err != nil {
		return nil, fmt.Errorf("opening the profile: %w", err)
	}
	keys, err := keystore.Open(keystore.Config{Backend: keystore.Backend(p.Keystore), Dir: p.Dir})
	if err != nil {
		return nil, err
	}
	ls, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(p.Dir, "profile.db"), DeviceKeys: keys})
	if err != nil {
		return nil, err
	}
	err = ls.UnlockWithDevice(ctx)
	if errors.Is(err, localstore.ErrNotInitialized) && create {
		err = ls.Initialize(ctx)
	}
	if err != nil {
		ls.Close()
		return nil, err
	}
	pr := &profile{dir: p.Dir, keys: keys, local: ls}
	// An unknown time zone falls back to UTC here; the commands that show
	// times warn about it (profile.clinic).
	c, err := syncstore.New(ls, nil).Clinic(ctx)
	if err != nil {
		ls.Close()
		return nil, err
	}
	pr.sync = syncstore.New(ls, c.Location)
	return pr, nil
}

// clinic reads the synced settings (syncstore's Clinic): a time zone this
// machine does not know falls back to UTC, and the warning saying so
// goes to stderr (and the caller shows it where people look).
func (p *profile) clinic(ctx context.Context, stderr io.Writer) (syncstore.Clinic, string, error) {
	c, err := p.sync.Clinic(ctx)
	if c.Warning != "" {
		fmt.Fprintf(stderr, "healthprep: warning: %s\n", c.Warning)
	}
	return c, c.Warning, err
}

func (p *profile) Close() error { return p.local.Close() }

// shred crypto-shreds the profile and forgets the device credentials.
func (p *profile) shred(ctx context.Context, d DeviceRecord) error {
	err := p.local.Shred(ctx)
	if d.DeviceID != "" {
		err = errors.Join(err, p.keys.Delete(tokenKey(d.DeviceID)))
	}
	return err
}

func trim(b []byte) string { return strings.TrimSpace(string(b)) }

package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// InsecureFileSuffix ends the name of every file InsecureFile writes, so
// that nobody mistakes one for a production key store.
const InsecureFileSuffix = ".device-key.INSECURE-TEST-ONLY"

// InsecureFile keeps each secret in its own 0600 file under a directory
// (the profile directory). It is NOT a key store: anyone who can read the
// file can read the secret. It exists only so that headless Linux tests can
// run without a Secret Service; choose it explicitly with
// BackendInsecureFile.
type InsecureFile struct {
	dir string
}

// NewInsecureFile returns a file store under dir, which must exist.
func NewInsecureFile(dir string) (*InsecureFile, error) {
	if dir == "" {
		return nil, errors.New("insecure file key store: no directory configured")
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("insecure file key store: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("insecure file key store: %s is not a directory", dir)
	}
	return &InsecureFile{dir: dir}, nil
}

// Path returns the file that holds the secret named name.
func (s *InsecureFile) Path(name string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
	return filepath.Join(s.dir, safe+InsecureFileSuffix)
}

// Get implements Store.
func (s *InsecureFile) Get(name string) ([]byte, error) {
	b, err := os.ReadFile(s.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s from the insecure test key file: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from the insecure test key file: %w", name, err)
	}
	return b, nil
}

// Set implements Store: it writes a temporary 0600 file and renames it into
// place, so a crash leaves the old secret or the new one.
func (s *InsecureFile) Set(name string, secret []byte) error {
	path := s.Path(name)
	f, err := os.CreateTemp(s.dir, ".tmp-device-key-*")
	if err != nil {
		return fmt.Errorf("writing %s to the insecure test key file: %w", name, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing %s to the insecure test key file: %w", name, err)
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		return fmt.Errorf("writing %s to the insecure test key file: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s to the insecure test key file: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s to the insecure test key file: %w", name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s to the insecure test key file: %w", name, err)
	}
	return nil
}

// Delete implements Store. It overwrites the file with zeros before
// removing it (best effort: journaling file systems and SSDs may keep old
// blocks).
func (s *InsecureFile) Delete(name string) error {
	path := s.Path(name)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s from the insecure test key file: %w", name, err)
	}
	if st, err := f.Stat(); err == nil {
		_, _ = f.WriteAt(make([]byte, st.Size()), 0)
		_ = f.Sync()
	}
	f.Close()
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("deleting %s from the insecure test key file: %w", name, err)
	}
	return nil
}

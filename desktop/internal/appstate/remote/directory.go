package remote

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// FileDirectory is a Directory in a small JSON file of the profile: a
// SHA-256 of each lower-cased email (not the email itself) to the user id
// (which the store's key wraps show anyway). It is safe for concurrent
// use.
type FileDirectory struct {
	path string
	mu   sync.Mutex
}

// NewFileDirectory keeps the directory in path.
func NewFileDirectory(path string) *FileDirectory { return &FileDirectory{path: path} }

func emailKey(email string) string {
	h := sha256.Sum256([]byte("healthprep-signin:" + strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(h[:])
}

func (d *FileDirectory) read() (map[string]string, error) {
	m := map[string]string{}
	b, err := os.ReadFile(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// Lookup implements Directory.
func (d *FileDirectory) Lookup(email string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.read()
	if err != nil {
		return "", false
	}
	id, ok := m[emailKey(email)]
	return id, ok
}

// Remember implements Directory.
func (d *FileDirectory) Remember(email, userID string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, err := d.read()
	if err != nil {
		m = map[string]string{} // an unreadable file is rebuilt
	}
	m[emailKey(email)] = userID
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("remembering the sign-in: %w", err)
	}
	if err := os.Rename(tmp, d.path); err != nil {
		return fmt.Errorf("remembering the sign-in: %w", err)
	}
	return nil
}

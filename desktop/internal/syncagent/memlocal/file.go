package memlocal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"healthprep.dev/desktop/internal/syncagent"
)

// snapshot is the file form of a Store.
type snapshot struct {
	Cursor  string            `json:"cursor"`
	Records map[string]Record `json:"records"`
	Outbox  []syncagent.Entry `json:"outbox"`
	Applied int               `json:"applied"`
}

// Open returns a Store kept in the file at path: every change is written
// to a temporary file, synced and renamed over it before the call returns,
// so a killed process finds the last completed change. It is a test
// store: the file is NOT encrypted, so the headless agent uses it only
// against a loopback server (real workstations use package localstore).
func Open(path string) (*Store, error) {
	s := New()
	s.path = path
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the test store: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("reading the test store: %w", err)
	}
	s.cursor, s.outbox, s.applied = snap.Cursor, snap.Outbox, snap.Applied
	if snap.Records != nil {
		s.records = snap.Records
	}
	return s, nil
}

// save writes the store to its file (caller holds mu); a Store made with
// New has no file.
func (s *Store) save() error {
	if s.path == "" {
		return nil
	}
	b, err := json.Marshal(snapshot{Cursor: s.cursor, Records: s.records, Outbox: s.outbox, Applied: s.applied})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".memlocal-*")
	if err != nil {
		return fmt.Errorf("saving the test store: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the test store: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the test store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving the test store: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("saving the test store: %w", err)
	}
	return nil
}

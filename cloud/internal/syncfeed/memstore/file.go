package memstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/tenancy"
)

// Snapshot is the file form of a Store (see Open).
type Snapshot struct {
	Orgs map[string]OrgSnapshot `json:"orgs"`
}

// OrgSnapshot is one organisation's state.
type OrgSnapshot struct {
	Seq      int64              `json:"seq"`
	Records  []syncfeed.Record  `json:"records"`
	Receipts []syncfeed.Receipt `json:"receipts"`
}

// Open returns a Store kept in the file at path: every commit is written to
// a temporary file, synced and renamed over it before Update returns, so a
// killed process restarts with every acknowledged write. For the
// real-process sync test and development only (the file is not
// encrypted); production uses the Postgres store.
func Open(path string) (*Store, error) {
	s := New()
	s.path = path
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the store file: %w", err)
	}
	var snap Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("reading the store file: %w", err)
	}
	for id, o := range snap.Orgs {
		oid, err := tenancy.ParseOrgID(id)
		if err != nil {
			return nil, fmt.Errorf("reading the store file: %w", err)
		}
		g := s.org(oid)
		g.seq = o.Seq
		for _, r := range o.Records {
			g.records[key{r.Kind, r.ID}] = r
		}
		for _, r := range o.Receipts {
			g.receipts[r.Ack.ClientID] = r
		}
	}
	return s, nil
}

// save writes the whole store (caller holds mu).
func (s *Store) save() error {
	if s.path == "" {
		return nil
	}
	snap := Snapshot{Orgs: map[string]OrgSnapshot{}}
	for id, g := range s.orgs {
		o := OrgSnapshot{Seq: g.seq}
		for _, r := range g.records {
			o.Records = append(o.Records, r)
		}
		for _, r := range g.receipts {
			o.Receipts = append(o.Receipts, r)
		}
		snap.Orgs[id.String()] = o
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".memstore-*")
	if err != nil {
		return fmt.Errorf("saving the store file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the store file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving the store file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving the store file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("saving the store file: %w", err)
	}
	return nil
}

// Package memlocal is an in-memory syncagent.Store for the sync simulation
// and tests: a replica of the feed's records, the cursor and the outbox,
// with the same transactional promises as the SQLite store (a page and its
// cursor apply together or not at all). Everything in it counts as durable:
// a simulated workstation crash throws the agent away and keeps the Store.
package memlocal

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"healthprep.dev/desktop/internal/syncagent"
)

// Record is a replicated record.
type Record struct {
	Payload string
	Seq     int64
}

// Store is an in-memory syncagent.Store.
type Store struct {
	mu      sync.Mutex
	cursor  string
	records map[string]Record // kind/id
	outbox  []syncagent.Entry
	// violations are ordering errors seen while applying (a record moved
	// back to an older seq).
	violations []string
	applied    int
	path       string // see Open
}

// New returns an empty Store.
func New() *Store { return &Store{records: map[string]Record{}} }

// Cursor implements syncagent.Store.
func (s *Store) Cursor(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor, nil
}

// ApplyPage implements syncagent.Store.
func (s *Store) ApplyPage(_ context.Context, p syncagent.Page) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.From != s.cursor {
		return syncagent.ErrCursorMismatch
	}
	for _, c := range p.Changes {
		if c.Kind == "" || c.ID == "" {
			return fmt.Errorf("applying a page: a change without kind or id")
		}
	}
	for _, c := range p.Changes {
		k := c.Kind + "/" + c.ID
		if old, ok := s.records[k]; ok && old.Seq > c.Seq {
			s.violations = append(s.violations, fmt.Sprintf("%s went back from seq %d to %d", k, old.Seq, c.Seq))
		}
		if c.Delete {
			delete(s.records, k)
			continue
		}
		s.records[k] = Record{Payload: string(c.Payload), Seq: c.Seq}
	}
	s.cursor = p.Next
	s.applied++
	return s.save()
}

// Outbox implements syncagent.Store.
func (s *Store) Outbox(_ context.Context, limit int) ([]syncagent.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(limit, len(s.outbox))
	return slices.Clone(s.outbox[:n]), nil
}

// Ack implements syncagent.Store.
func (s *Store) Ack(_ context.Context, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := map[string]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	s.outbox = slices.DeleteFunc(s.outbox, func(e syncagent.Entry) bool { return drop[e.ID] })
	return s.save()
}

// Enqueue adds an entry to the outbox (a local result recorded).
func (s *Store) Enqueue(e syncagent.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = append(s.outbox, e)
	return s.save()
}

// Record returns the replicated record kind/id.
func (s *Store) Record(kind, id string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[kind+"/"+id]
	return r, ok
}

// Records returns every replicated record by kind/id.
func (s *Store) Records() map[string]Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.records)
}

// Pending returns the outbox.
func (s *Store) Pending() []syncagent.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.outbox)
}

// Applied returns how many pages were applied.
func (s *Store) Applied() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

// Violations returns the ordering errors seen.
func (s *Store) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

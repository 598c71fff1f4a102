// Package memstore is an in-memory syncfeed.Store for simulations and
// tests: the same semantics as the Postgres store (one change sequence per
// organisation, atomic transactions, receipts), no I/O. Its whole state is
// what a real server keeps durably, so a simulated server restart is a new
// syncfeed.Feed over the same Store.
package memstore

import (
	"context"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/tenancy"
)

type key struct {
	kind syncfeed.Kind
	id   string
}

type org struct {
	seq      int64
	records  map[key]syncfeed.Record
	receipts map[uuid.UUID]syncfeed.Receipt
}

// Store is an in-memory syncfeed.Store. The zero value is not usable; use
// New.
type Store struct {
	mu   sync.Mutex
	orgs map[tenancy.OrgID]*org
	// FailCommit, when set, is called before each commit; an error aborts
	// the transaction (fault injection).
	FailCommit func() error
	path       string // see Open
}

// New returns an empty Store.
func New() *Store { return &Store{orgs: map[tenancy.OrgID]*org{}} }

func (s *Store) org(o tenancy.OrgID) *org {
	g := s.orgs[o]
	if g == nil {
		g = &org{records: map[key]syncfeed.Record{}, receipts: map[uuid.UUID]syncfeed.Receipt{}}
		s.orgs[o] = g
	}
	return g
}

// Changes implements syncfeed.Store.
func (s *Store) Changes(_ context.Context, o tenancy.OrgID, _ syncfeed.Actor, after int64, limit, _ int) ([]syncfeed.Change, int64, error) {
	if o.IsZero() {
		return nil, 0, tenancy.ErrNoOrg
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.org(o)
	var out []syncfeed.Change
	for _, r := range g.records {
		if r.Seq > after && r.Kind.InFeed() {
			out = append(out, syncfeed.Change(r))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	if len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		out[i].Payload = slices.Clone(out[i].Payload)
	}
	return out, g.seq, nil
}

// LatestSeq implements syncfeed.Store.
func (s *Store) LatestSeq(_ context.Context, o tenancy.OrgID) (int64, error) {
	if o.IsZero() {
		return 0, tenancy.ErrNoOrg
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.org(o).seq, nil
}

// Update implements syncfeed.Store: fn sees its own writes; they are
// applied together when it returns nil.
func (s *Store) Update(_ context.Context, o tenancy.OrgID, fn func(syncfeed.Tx) error) error {
	if o.IsZero() {
		return tenancy.ErrNoOrg
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.org(o)
	tx := &tx{g: g, seq: g.seq, records: map[key]syncfeed.Record{}, receipts: map[uuid.UUID]syncfeed.Receipt{}}
	if err := fn(tx); err != nil {
		return err
	}
	if s.FailCommit != nil {
		if err := s.FailCommit(); err != nil {
			return err
		}
	}
	// Write the new state to the file (if any) before it becomes visible:
	// a failed save commits nothing.
	var undo func()
	if s.path != "" {
		oldSeq, oldRecs, oldRcpts := g.seq, maps.Clone(g.records), maps.Clone(g.receipts)
		undo = func() { g.seq, g.records, g.receipts = oldSeq, oldRecs, oldRcpts }
	}
	maps.Copy(g.records, tx.records)
	maps.Copy(g.receipts, tx.receipts)
	g.seq = tx.seq
	if err := s.save(); err != nil {
		undo()
		return err
	}
	return nil
}

// Publish writes a record as another cloud writer would (ingest,
// configuration) and returns its seq.
func (s *Store) Publish(ctx context.Context, o tenancy.OrgID, kind syncfeed.Kind, id string, op syncfeed.Op, payload []byte) (int64, error) {
	var seq int64
	err := s.Update(ctx, o, func(t syncfeed.Tx) error {
		var err error
		seq, err = t.Put(kind, id, op, payload)
		return err
	})
	return seq, err
}

// Snapshot returns the org's current feed records (deletes included) by
// kind and id, for convergence checks.
func (s *Store) Snapshot(o tenancy.OrgID) map[string]syncfeed.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]syncfeed.Record{}
	for k, r := range s.org(o).records {
		out[string(k.kind)+"/"+k.id] = r
	}
	return out
}

// Receipts returns the org's stored receipts.
func (s *Store) Receipts(o tenancy.OrgID) map[uuid.UUID]syncfeed.Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.org(o).receipts)
}

type tx struct {
	g        *org
	seq      int64
	records  map[key]syncfeed.Record
	receipts map[uuid.UUID]syncfeed.Receipt
}

func (t *tx) Receipt(id uuid.UUID) (syncfeed.Receipt, bool, error) {
	if r, ok := t.receipts[id]; ok {
		return r, true, nil
	}
	r, ok := t.g.receipts[id]
	return r, ok, nil
}

func (t *tx) SaveReceipt(r syncfeed.Receipt) error {
	t.receipts[r.Ack.ClientID] = r
	return nil
}

func (t *tx) Record(kind syncfeed.Kind, id string) (syncfeed.Record, bool, error) {
	k := key{kind, id}
	if r, ok := t.records[k]; ok {
		return r, true, nil
	}
	r, ok := t.g.records[k]
	return r, ok, nil
}

func (t *tx) Put(kind syncfeed.Kind, id string, op syncfeed.Op, payload []byte) (int64, error) {
	t.seq++
	if op == syncfeed.OpDelete {
		payload = nil
	}
	t.records[key{kind, id}] = syncfeed.Record{Kind: kind, ID: id, Op: op, Payload: slices.Clone(payload), Seq: t.seq}
	return t.seq, nil
}

func (t *tx) Records(kind syncfeed.Kind, prefix string) ([]syncfeed.Record, error) {
	seen := map[string]syncfeed.Record{}
	for k, r := range t.g.records {
		if k.kind == kind && strings.HasPrefix(k.id, prefix) {
			seen[k.id] = r
		}
	}
	for k, r := range t.records {
		if k.kind == kind && strings.HasPrefix(k.id, prefix) {
			seen[k.id] = r
		}
	}
	ids := slices.Sorted(maps.Keys(seen))
	out := make([]syncfeed.Record, 0, len(ids))
	for _, id := range ids {
		out = append(out, seen[id])
	}
	return out, nil
}

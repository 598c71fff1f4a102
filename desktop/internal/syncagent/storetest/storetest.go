// Package storetest is the conformance suite every syncagent.Store passes
// (the in-memory store of the simulation and the encrypted SQLite store):
// pages apply with their cursor atomically, stale and duplicated pages
// change nothing, and the outbox keeps entries in order until acknowledged.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"healthprep.dev/desktop/internal/syncagent"
)

// Harness is what the suite needs from a store under test.
type Harness struct {
	Store syncagent.Store
	// Enqueue records a local result with its outbox entry.
	Enqueue func(t *testing.T, e syncagent.Entry)
	// Upsert returns a valid upsert of record i at version v (the payload
	// differs per version), stamped with seq.
	Upsert func(i, v int, seq int64) syncagent.Change
	// Delete returns the delete of record i.
	Delete func(i int, seq int64) syncagent.Change
	// Version returns the version of record i the store holds (0: none).
	Version func(t *testing.T, i int) int
	// Entry returns a valid outbox entry numbered n.
	Entry func(n int) syncagent.Entry
}

// Run runs the suite; setup returns a fresh harness for each test.
func Run(t *testing.T, setup func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"a fresh store starts from the empty cursor", testFresh},
		{"a page applies with its cursor", testApply},
		{"a stale or duplicated page changes nothing", testStale},
		{"a failing page changes nothing", testAtomic},
		{"the outbox keeps entries in order until acknowledged", testOutbox},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, setup(t))
		})
	}
}

func cursor(t *testing.T, h Harness) string {
	t.Helper()
	c, err := h.Store.Cursor(context.Background())
	if err != nil {
		t.Fatalf("reading cursor: %v", err)
	}
	return c
}

func versions(t *testing.T, h Harness, n int) string {
	t.Helper()
	var out []int
	for i := range n {
		out = append(out, h.Version(t, i))
	}
	return fmt.Sprint(out)
}

func testFresh(t *testing.T, h Harness) {
	if c := cursor(t, h); c != "" {
		t.Errorf("cursor = %q; want empty", c)
	}
	es, err := h.Store.Outbox(context.Background(), 10)
	if err != nil || len(es) != 0 {
		t.Errorf("outbox = %v, %v; want empty", es, err)
	}
}

func testApply(t *testing.T, h Harness) {
	ctx := context.Background()
	p1 := syncagent.Page{From: "", Next: "c1", Changes: []syncagent.Change{h.Upsert(0, 1, 1), h.Upsert(1, 1, 2), h.Upsert(2, 1, 3)}}
	if err := h.Store.ApplyPage(ctx, p1); err != nil {
		t.Fatalf("apply page 1: %v", err)
	}
	p2 := syncagent.Page{From: "c1", Next: "c2", Changes: []syncagent.Change{h.Upsert(0, 2, 4), h.Delete(1, 5)}}
	if err := h.Store.ApplyPage(ctx, p2); err != nil {
		t.Fatalf("apply page 2: %v", err)
	}
	if got, want := versions(t, h, 3), "[2 0 1]"; got != want {
		t.Errorf("record versions %s; want %s", got, want)
	}
	if c := cursor(t, h); c != "c2" {
		t.Errorf("cursor = %q; want c2", c)
	}
	// An empty page still moves the cursor.
	if err := h.Store.ApplyPage(ctx, syncagent.Page{From: "c2", Next: "c3"}); err != nil {
		t.Fatalf("apply empty page: %v", err)
	}
	if c := cursor(t, h); c != "c3" {
		t.Errorf("cursor after an empty page = %q; want c3", c)
	}
}

func testStale(t *testing.T, h Harness) {
	ctx := context.Background()
	p1 := syncagent.Page{From: "", Next: "c1", Changes: []syncagent.Change{h.Upsert(0, 1, 1)}}
	if err := h.Store.ApplyPage(ctx, p1); err != nil {
		t.Fatalf("apply: %v", err)
	}
	for _, p := range []syncagent.Page{
		{From: "", Next: "c1", Changes: []syncagent.Change{h.Upsert(0, 1, 1)}},    // duplicate
		{From: "c0", Next: "c9", Changes: []syncagent.Change{h.Upsert(0, 3, 9)}},  // stale
		{From: "c5", Next: "c6", Changes: []syncagent.Change{h.Upsert(1, 3, 12)}}, // from elsewhere
	} {
		if err := h.Store.ApplyPage(ctx, p); !errors.Is(err, syncagent.ErrCursorMismatch) {
			t.Errorf("page from %q: error %v; want ErrCursorMismatch", p.From, err)
		}
	}
	if got, want := versions(t, h, 2), "[1 0]"; got != want {
		t.Errorf("record versions %s; want %s (unchanged)", got, want)
	}
	if c := cursor(t, h); c != "c1" {
		t.Errorf("cursor = %q; want c1", c)
	}
}

func testAtomic(t *testing.T, h Harness) {
	ctx := context.Background()
	bad := syncagent.Change{Kind: "", ID: "x", Payload: []byte("{}"), Seq: 3}
	p := syncagent.Page{From: "", Next: "c1", Changes: []syncagent.Change{h.Upsert(0, 1, 1), h.Upsert(1, 1, 2), bad}}
	if err := h.Store.ApplyPage(ctx, p); err == nil {
		t.Fatal("a page with a change without kind applied; want an error")
	}
	if got, want := versions(t, h, 2), "[0 0]"; got != want {
		t.Errorf("record versions %s after a failed page; want %s", got, want)
	}
	if c := cursor(t, h); c != "" {
		t.Errorf("cursor = %q after a failed page; want empty", c)
	}
}

func testOutbox(t *testing.T, h Harness) {
	ctx := context.Background()
	var ids []string
	for n := range 5 {
		e := h.Entry(n)
		h.Enqueue(t, e)
		ids = append(ids, e.ID)
	}
	got, err := h.Store.Outbox(ctx, 3)
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	if len(got) != 3 || got[0].ID != ids[0] || got[2].ID != ids[2] {
		t.Fatalf("outbox(3) = %d entries starting %v; want the 3 oldest", len(got), got)
	}
	want := h.Entry(0)
	if g := got[0]; g.Kind != want.Kind || string(g.Payload) != string(want.Payload) || g.RecordID != want.RecordID ||
		g.BaseSeq != want.BaseSeq || g.DocumentID != want.DocumentID || g.ContentSHA256 != want.ContentSHA256 || g.PipelineVersion != want.PipelineVersion {
		t.Errorf("entry read back as %+v; want %+v", g, want)
	}
	if err := h.Store.Ack(ctx, ids[1], ids[3], uuid.NewString()); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if err := h.Store.Ack(ctx, ids[1]); err != nil {
		t.Fatalf("acking twice: %v", err)
	}
	got, err = h.Store.Outbox(ctx, 10)
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	var left []string
	for _, e := range got {
		left = append(left, e.ID)
	}
	if fmt.Sprint(left) != fmt.Sprint([]string{ids[0], ids[2], ids[4]}) {
		t.Errorf("outbox after acks = %v; want %v", left, []string{ids[0], ids[2], ids[4]})
	}
}

// Package syncfeedtest is the conformance suite every syncfeed.Store passes:
// the same feed and push specification run against the in-memory store and
// the Postgres store (river's riverdrivertest pattern).
package syncfeedtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/tenancy"
)

// Harness is what the suite needs from a store under test.
type Harness struct {
	Store syncfeed.Store
	// Publish writes a record as another cloud writer would.
	Publish func(ctx context.Context, org tenancy.OrgID, kind syncfeed.Kind, id string, op syncfeed.Op, payload []byte) (int64, error)
	// A and B are two existing, empty organisations.
	A, B tenancy.OrgID
}

var actor = syncfeed.Actor{UserID: uuid.MustParse("00000000-0000-4000-8000-0000000000a1"), Role: "nurse", IP: "127.0.0.1"}

// Run runs the suite; setup returns a fresh harness for each test.
func Run(t *testing.T, setup func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"empty feed", testEmpty},
		{"pages in sequence order", testPaging},
		{"a record appears once at its latest seq", testCompaction},
		{"organisations never see each other", testIsolation},
		{"an old protocol version is served without newer kinds", testOldVersion},
		{"bad requests change nothing", testBadPull},
		{"a retried push is applied once", testPushOnce},
		{"a reused client id is rejected", testReusedID},
		{"document results are immutable", testDocumentResults},
		{"concurrent override edits become a visible conflict", testOverrideConflict},
		{"invalid entries are rejected and change nothing", testRejected},
		{"print events are stored but not sent", testPrintEvent},
		{"watch reports the latest seq as it moves", testWatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, setup(t))
		})
	}
}

func feed(h Harness) *syncfeed.Feed {
	return syncfeed.New(h.Store, syncfeed.Options{WatchInterval: 10 * time.Millisecond})
}

func publish(t *testing.T, h Harness, org tenancy.OrgID, kind syncfeed.Kind, id, payload string) int64 {
	t.Helper()
	op := syncfeed.OpUpsert
	var p []byte
	if payload == "" {
		op = syncfeed.OpDelete
	} else {
		p = []byte(payload)
	}
	seq, err := h.Publish(context.Background(), org, kind, id, op, p)
	if err != nil {
		t.Fatalf("publishing %s/%s: %v", kind, id, err)
	}
	return seq
}

// pullAll pulls the whole feed from cursor with limit, page by page.
func pullAll(t *testing.T, f *syncfeed.Feed, org tenancy.OrgID, cursor string, limit, version int) ([]syncfeed.Change, string) {
	t.Helper()
	var out []syncfeed.Change
	for i := 0; ; i++ {
		p, err := f.Pull(context.Background(), org, actor, cursor, limit, version)
		if err != nil {
			t.Fatalf("pull %d: %v", i, err)
		}
		out = append(out, p.Changes...)
		cursor = p.Next
		if !p.HasMore {
			return out, cursor
		}
		if i > 10000 {
			t.Fatal("pull never ends")
		}
	}
}

func describe(cs []syncfeed.Change) string {
	var b strings.Builder
	for _, c := range cs {
		op := "upsert"
		if c.Op == syncfeed.OpDelete {
			op = "delete"
		}
		fmt.Fprintf(&b, "%s/%s:%s:%s ", c.Kind, c.ID, op, c.Payload)
	}
	return strings.TrimSpace(b.String())
}

func testEmpty(t *testing.T, h Harness) {
	p, err := feed(h).Pull(context.Background(), h.A, actor, "", 0, syncfeed.ProtocolVersion)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if len(p.Changes) != 0 || p.HasMore || p.Latest != 0 || p.Next != syncfeed.Cursor(0) {
		t.Errorf("empty feed: got %d changes, has_more %v, latest %d, next %q; want none, false, 0, %q",
			len(p.Changes), p.HasMore, p.Latest, p.Next, syncfeed.Cursor(0))
	}
}

func testPaging(t *testing.T, h Harness) {
	ctx := context.Background()
	f := feed(h)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("p%d", i)
		publish(t, h, h.A, syncfeed.KindPatient, id, fmt.Sprintf(`{"n":%d}`, i))
		want = append(want, fmt.Sprintf(`patient/%s:upsert:{"n":%d}`, id, i))
	}
	cursor := ""
	var sizes []int
	var got []syncfeed.Change
	for {
		p, err := f.Pull(ctx, h.A, actor, cursor, 3, syncfeed.ProtocolVersion)
		if err != nil {
			t.Fatalf("pull: %v", err)
		}
		sizes = append(sizes, len(p.Changes))
		got = append(got, p.Changes...)
		if p.Latest != 7 {
			t.Errorf("latest = %d; want 7", p.Latest)
		}
		cursor = p.Next
		if !p.HasMore {
			break
		}
	}
	if fmt.Sprint(sizes) != "[3 3 1]" {
		t.Errorf("page sizes %v; want [3 3 1]", sizes)
	}
	if g, w := describe(got), strings.Join(want, " "); g != w {
		t.Errorf("feed:\n got %s\nwant %s", g, w)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("seq %d after %d: not increasing", got[i].Seq, got[i-1].Seq)
		}
	}
	// Nothing new: the next pull is empty and keeps the cursor.
	p, err := f.Pull(ctx, h.A, actor, cursor, 3, syncfeed.ProtocolVersion)
	if err != nil || len(p.Changes) != 0 || p.HasMore || p.Next != cursor {
		t.Errorf("pull at the end: %d changes, has_more %v, next %q, err %v; want 0, false, %q, nil", len(p.Changes), p.HasMore, p.Next, err, cursor)
	}
}

func testCompaction(t *testing.T, h Harness) {
	f := feed(h)
	publish(t, h, h.A, syncfeed.KindAppointment, "a1", `{"v":1}`)
	publish(t, h, h.A, syncfeed.KindPatient, "p1", `{"v":1}`)
	publish(t, h, h.A, syncfeed.KindAppointment, "a1", `{"v":2}`)
	publish(t, h, h.A, syncfeed.KindPatient, "p1", "")
	got, cursor := pullAll(t, f, h.A, "", 10, syncfeed.ProtocolVersion)
	if g, w := describe(got), `appointment/a1:upsert:{"v":2} patient/p1:delete:`; g != w {
		t.Errorf("feed:\n got %s\nwant %s", g, w)
	}
	// A change after the cursor is the only thing the next pull sees.
	publish(t, h, h.A, syncfeed.KindAppointment, "a1", `{"v":3}`)
	got, _ = pullAll(t, f, h.A, cursor, 10, syncfeed.ProtocolVersion)
	if g, w := describe(got), `appointment/a1:upsert:{"v":3}`; g != w {
		t.Errorf("feed after cursor:\n got %s\nwant %s", g, w)
	}
}

func testIsolation(t *testing.T, h Harness) {
	f := feed(h)
	publish(t, h, h.A, syncfeed.KindPatient, "p1", `{"org":"a"}`)
	acks, err := f.Push(context.Background(), h.A, actor, []syncfeed.Entry{override(uuid.New(), "o1", 0, `{"x":1}`)}, syncfeed.ProtocolVersion)
	if err != nil || acks[0].Status != syncfeed.StatusApplied {
		t.Fatalf("push to A: %v %v", acks, err)
	}
	got, _ := pullAll(t, f, h.B, "", 10, syncfeed.ProtocolVersion)
	if len(got) != 0 {
		t.Errorf("org B sees %s; want nothing", describe(got))
	}
	if n, err := h.Store.LatestSeq(context.Background(), h.B); err != nil || n != 0 {
		t.Errorf("org B latest seq = %d, %v; want 0", n, err)
	}
	if _, err := h.Store.LatestSeq(context.Background(), tenancy.OrgID{}); err == nil {
		t.Error("latest seq of the zero org: no error; want one")
	}
}

func testOldVersion(t *testing.T, h Harness) {
	f := feed(h)
	publish(t, h, h.A, syncfeed.KindPatient, "p1", `{}`)
	publish(t, h, h.A, syncfeed.KindDocumentResult, "d1/x/1", `{}`)
	publish(t, h, h.A, syncfeed.KindOverrideConflict, "o1/c", `{}`)
	p, err := f.Pull(context.Background(), h.A, actor, "", 10, 1)
	if err != nil {
		t.Fatalf("pull v1: %v", err)
	}
	if g, w := describe(p.Changes), `patient/p1:upsert:{}`; g != w {
		t.Errorf("v1 feed: got %s; want %s", g, w)
	}
	if p.Next != syncfeed.Cursor(3) || p.HasMore || p.Version != 1 {
		t.Errorf("v1 page: next %q, has_more %v, version %d; want %q, false, 1", p.Next, p.HasMore, p.Version, syncfeed.Cursor(3))
	}
	got, _ := pullAll(t, f, h.A, "", 10, syncfeed.ProtocolVersion)
	if len(got) != 3 {
		t.Errorf("v%d feed: %d changes; want 3", syncfeed.ProtocolVersion, len(got))
	}
}

func testBadPull(t *testing.T, h Harness) {
	f := feed(h)
	publish(t, h, h.A, syncfeed.KindPatient, "p1", `{}`)
	tests := []struct {
		name    string
		cursor  string
		version int
		want    error
	}{
		{"garbage cursor", "seq=5", 2, syncfeed.ErrBadCursor},
		{"negative cursor", "c1.-1", 2, syncfeed.ErrBadCursor},
		{"cursor ahead of the server", syncfeed.Cursor(99), 2, syncfeed.ErrCursorAhead},
		{"version too old", "", -1, syncfeed.ErrTooOld},
	}
	for _, tt := range tests {
		_, err := f.Pull(context.Background(), h.A, actor, tt.cursor, 10, tt.version)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: error %v; want %v", tt.name, err, tt.want)
		}
	}
	if n, _ := h.Store.LatestSeq(context.Background(), h.A); n != 1 {
		t.Errorf("latest seq %d after bad pulls; want 1", n)
	}
}

func override(id uuid.UUID, record string, base int64, payload string) syncfeed.Entry {
	return syncfeed.Entry{ClientID: id, Kind: syncfeed.PushOverride, RecordID: record, BaseSeq: base, Payload: []byte(payload)}
}

func docResult(id uuid.UUID, doc, hash, pipeline, payload string) syncfeed.Entry {
	return syncfeed.Entry{ClientID: id, Kind: syncfeed.PushDocumentResult, DocumentID: doc, ContentSHA256: hash, PipelineVersion: pipeline, Payload: []byte(payload)}
}

const hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func push(t *testing.T, f *syncfeed.Feed, org tenancy.OrgID, es ...syncfeed.Entry) []syncfeed.Ack {
	t.Helper()
	acks, err := f.Push(context.Background(), org, actor, es, syncfeed.ProtocolVersion)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if len(acks) != len(es) {
		t.Fatalf("push: %d acks for %d entries", len(acks), len(es))
	}
	return acks
}

func testPushOnce(t *testing.T, h Harness) {
	f := feed(h)
	e1 := docResult(uuid.New(), "d1", hashA, "ocr-1", `{"text":"[REDACTED] colonoscopy"}`)
	e2 := override(uuid.New(), "o1", 0, `{"status":"complete"}`)
	first := push(t, f, h.A, e1, e2)
	again := push(t, f, h.A, e2, e1, e2)
	if first[0].Status != syncfeed.StatusApplied || first[1].Status != syncfeed.StatusApplied {
		t.Fatalf("first push: %+v; want both applied", first)
	}
	if again[0] != first[1] || again[1] != first[0] || again[2] != first[1] {
		t.Errorf("retried acks %+v; want the first acks %+v again", again, first)
	}
	got, _ := pullAll(t, f, h.A, "", 10, syncfeed.ProtocolVersion)
	if len(got) != 2 {
		t.Errorf("feed after retries: %s; want 2 records", describe(got))
	}
	if n, _ := h.Store.LatestSeq(context.Background(), h.A); n != 2 {
		t.Errorf("latest seq %d after retries; want 2 (nothing applied twice)", n)
	}
}

func testReusedID(t *testing.T, h Harness) {
	f := feed(h)
	id := uuid.New()
	push(t, f, h.A, override(id, "o1", 0, `{"status":"complete"}`))
	a := push(t, f, h.A, override(id, "o1", 0, `{"status":"declined"}`))
	if a[0].Status != syncfeed.StatusRejected || a[0].Message != "client_id: already used for a different entry" {
		t.Errorf("reused id: %+v; want rejected, already used", a[0])
	}
	got, _ := pullAll(t, f, h.A, "", 10, syncfeed.ProtocolVersion)
	if g, w := describe(got), `override/o1:upsert:{"status":"complete"}`; g != w {
		t.Errorf("feed: got %s; want %s", g, w)
	}
}

func testDocumentResults(t *testing.T, h Harness) {
	f := feed(h)
	a := push(t, f, h.A, docResult(uuid.New(), "d1", hashA, "ocr-1", `{"ws":1}`))
	b := push(t, f, h.A, docResult(uuid.New(), "d1", hashA, "ocr-1", `{"ws":2}`))
	c := push(t, f, h.A, docResult(uuid.New(), "d1", hashA, "ocr-2", `{"ws":2}`))
	if a[0].Status != syncfeed.StatusApplied || b[0].Status != syncfeed.StatusAlreadyStored || b[0].Seq != a[0].Seq || c[0].Status != syncfeed.StatusApplied {
		t.Errorf("acks %+v %+v %+v; want applied, already stored at %d, applied", a[0], b[0], c[0], a[0].Seq)
	}
	got, _ := pullAll(t, f, h.A, "", 10, syncfeed.ProtocolVersion)
	want := fmt.Sprintf(`document_result/d1/%s/ocr-1:upsert:{"ws":1} document_result/d1/%s/ocr-2:upsert:{"ws":2}`, hashA, hashA)
	if g := describe(got); g != want {
		t.Errorf("feed:\n got %s\nwant %s", g, want)
	}
}

func testOverrideConflict(t *testing.T, h Harness) {
	f := feed(h)
	a := push(t, f, h.A, override(uuid.New(), "o1", 0, `{"by":"ws1","v":1}`))
	base := a[0].Seq
	// Two workstations edit version base; the first wins, the second
	// becomes a conflict and the record keeps the first.
	w1 := push(t, f, h.A, override(uuid.New(), "o1", base, `{"by":"ws1","v":2}`))
	lostID := uuid.New()
	w2 := push(t, f, h.A, override(lostID, "o1", base, `{"by":"ws2","v":2}`))
	if w1[0].Status != syncfeed.StatusApplied || w2[0].Status != syncfeed.StatusConflict {
		t.Fatalf("acks %+v %+v; want applied, conflict", w1[0], w2[0])
	}
	got, cursor := pullAll(t, f, h.A, "", 10, syncfeed.ProtocolVersion)
	var cf syncfeed.Conflict
	var rec string
	for _, c := range got {
		switch c.Kind {
		case syncfeed.KindOverride:
			rec = string(c.Payload)
		case syncfeed.KindOverrideConflict:
			if err := json.Unmarshal(c.Payload, &cf); err != nil {
				t.Fatalf("conflict payload: %v", err)
			}
		}
	}
	if rec != `{"by":"ws1","v":2}` {
		t.Errorf("override = %s; want ws1's edit kept", rec)
	}
	if cf.RecordID != "o1" || cf.ClientID != lostID.String() || cf.BaseSeq != base || cf.CurrentSeq != w1[0].Seq || cf.Resolved || string(cf.Proposed) != `{"by":"ws2","v":2}` {
		t.Errorf("conflict = %+v; want ws2's edit, open, based on %d against %d", cf, base, w1[0].Seq)
	}
	// A person resolves it by editing the current version.
	r := push(t, f, h.A, override(uuid.New(), "o1", w1[0].Seq, `{"by":"ws2","v":3}`))
	if r[0].Status != syncfeed.StatusApplied {
		t.Fatalf("resolving edit: %+v; want applied", r[0])
	}
	got, _ = pullAll(t, f, h.A, cursor, 10, syncfeed.ProtocolVersion)
	var resolved bool
	for _, c := range got {
		if c.Kind == syncfeed.KindOverrideConflict {
			_ = json.Unmarshal(c.Payload, &cf)
			resolved = cf.Resolved
		}
	}
	if !resolved {
		t.Errorf("after the resolving edit the feed says %s; want the conflict resolved", describe(got))
	}
}

func testRejected(t *testing.T, h Harness) {
	f := feed(h)
	tests := []struct {
		name string
		e    syncfeed.Entry
		want string
	}{
		{"no client id", override(uuid.Nil, "o1", 0, `{}`), "client_id: is not a UUID"},
		{"not JSON", override(uuid.New(), "o1", 0, `{`), "payload: is not JSON"},
		{"unknown kind", syncfeed.Entry{ClientID: uuid.New(), Kind: "wipe", Payload: []byte(`{}`)}, "kind: unknown push kind"},
		{"override without record", override(uuid.New(), "", 0, `{}`), "override: needs record_id and a base_seq ≥ 0"},
		{"override with a slash", override(uuid.New(), "o1/x", 0, `{}`), "override: needs record_id and a base_seq ≥ 0"},
		{"short hash", docResult(uuid.New(), "d1", "abc", "ocr-1", `{}`), "document result: needs document_id, content_sha256 (64 hex digits) and pipeline_version"},
	}
	for _, tt := range tests {
		a := push(t, f, h.A, tt.e)
		if a[0].Status != syncfeed.StatusRejected || a[0].Message != tt.want || a[0].Seq != 0 {
			t.Errorf("%s: %+v; want rejected %q", tt.name, a[0], tt.want)
		}
	}
	if _, err := f.Push(context.Background(), h.A, actor, make([]syncfeed.Entry, syncfeed.MaxPush+1), 2); !errors.Is(err, syncfeed.ErrTooMany) {
		t.Errorf("oversized push: %v; want %v", err, syncfeed.ErrTooMany)
	}
	if n, _ := h.Store.LatestSeq(context.Background(), h.A); n != 0 {
		t.Errorf("latest seq %d after rejected entries; want 0", n)
	}
}

func testPrintEvent(t *testing.T, h Harness) {
	f := feed(h)
	a := push(t, f, h.A, syncfeed.Entry{ClientID: uuid.New(), Kind: syncfeed.PushPrintEvent, Payload: []byte(`{"sheet":"a1"}`)})
	if a[0].Status != syncfeed.StatusApplied || a[0].Seq == 0 {
		t.Errorf("print event: %+v; want applied with a seq", a[0])
	}
	got, _ := pullAll(t, f, h.A, "", 10, syncfeed.ProtocolVersion)
	if len(got) != 0 {
		t.Errorf("feed: %s; want no print events", describe(got))
	}
}

func testWatch(t *testing.T, h Harness) {
	f := feed(h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := make(chan int64, 10)
	done := make(chan error, 1)
	go func() {
		done <- f.Watch(ctx, h.A, func(n int64) error {
			seen <- n
			if n >= 1 {
				return errStop
			}
			return nil
		})
	}()
	if n := <-seen; n != 0 {
		t.Errorf("first watch value %d; want 0", n)
	}
	publish(t, h, h.A, syncfeed.KindPatient, "p1", `{}`)
	select {
	case n := <-seen:
		if n != 1 {
			t.Errorf("watch value %d; want 1", n)
		}
	case <-ctx.Done():
		t.Fatal("watch never reported the new seq")
	}
	if err := <-done; !errors.Is(err, errStop) {
		t.Errorf("watch ended with %v; want the callback's error", err)
	}
}

var errStop = errors.New("stop")

package pgstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/tenancy"
)

// epicDocs is an Epic FHIR server with one patient on tomorrow's schedule
// and scanned documents given by url, their Binaries in binaries.
type epicDocs struct {
	docs     []string // DocumentReference ids; attachment url Binary/<id>
	binaries map[string][]byte
}

func (e *epicDocs) SearchPages(_ context.Context, typ string, _ url.Values, fn func(epic.Page) error) error {
	day := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	var res []string
	switch typ {
	case "Appointment":
		res = []string{`{"resourceType":"Appointment","id":"a1","status":"booked","start":"` + day + `T15:00:00Z","end":"` + day + `T15:20:00Z","participant":[{"actor":{"reference":"Patient/p1"}}]}`}
	case "Patient":
		res = []string{`{"resourceType":"Patient","id":"p1","name":[{"family":"Docs","given":["Dee"]}],"birthDate":"1960-01-01"}`}
	case "DocumentReference":
		for _, id := range e.docs {
			res = append(res, fmt.Sprintf(`{"resourceType":"DocumentReference","id":%q,"status":"current","subject":{"reference":"Patient/p1"},
				"date":"2024-05-01T10:00:00Z","content":[{"attachment":{"contentType":"application/pdf","url":"Binary/%s"}}]}`, id, id))
		}
	}
	p := epic.Page{Total: len(res)}
	for _, r := range res {
		p.Resources = append(p.Resources, json.RawMessage(r))
	}
	return fn(p)
}

func (e *epicDocs) Binary(_ context.Context, ref string) (*epic.Binary, error) {
	data, ok := e.binaries[strings.TrimPrefix(ref, "Binary/")]
	if !ok {
		return nil, epic.ErrNotFound
	}
	return &epic.Binary{ContentType: "application/pdf", Data: data}, nil
}

func ingestDocs(t *testing.T, b bundle, org tenancy.OrgID, src *epicDocs) ingest.RunStats {
	t.Helper()
	st, err := ingest.NewStore(b.db, b.keys).Run(context.Background(), org, src, ingest.RunOptions{WindowDays: 14, Concurrency: 1})
	if err != nil {
		t.Fatalf("ingest run: %v", err)
	}
	return st
}

func contentReads(t *testing.T, b bundle, org tenancy.OrgID) int {
	t.Helper()
	ctx := context.Background()
	var n int
	err := b.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'phi.read' AND patient_ref = 'Patient/p1'
			AND target_type = 'document_content'`, org).Scan(&n)
	})
	if err != nil {
		t.Fatalf("reading audit: %v", err)
	}
	return n
}

// pullAll pulls the whole feed after cursor at version v and returns its
// changes and the final cursor.
func pullAll(t *testing.T, f *syncfeed.Feed, org tenancy.OrgID, cursor string, v int) ([]syncfeed.Change, string) {
	t.Helper()
	actor := syncfeed.Actor{UserID: uuid.New(), Role: "nurse", IP: "127.0.0.1", DeviceID: "ws-1"}
	var all []syncfeed.Change
	for range 100 {
		p, err := f.Pull(context.Background(), org, actor, cursor, 100, v)
		if err != nil {
			t.Fatalf("pull v%d: %v", v, err)
		}
		all, cursor = append(all, p.Changes...), p.Next
		if !p.HasMore {
			return all, cursor
		}
	}
	t.Fatal("the feed never ended")
	return nil, ""
}

func contentsOf(cs []syncfeed.Change) []syncfeed.Change {
	var out []syncfeed.Change
	for _, c := range cs {
		if c.Kind == syncfeed.KindDocumentContent {
			out = append(out, c)
		}
	}
	return out
}

// TestDocumentContentInFeed checks that a document's content ingest stored
// travels once in the feed (after its DocumentReference, as the bytes Epic
// gave, with their size and SHA-256), that the read is audited per
// document, and that a client of the previous protocol version is sent
// none of it and still reaches the end of the feed.
func TestDocumentContentInFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pdf := []byte("%PDF-1.4\n% colonoscopy 2019: normal\n%%EOF\n")
	src := &epicDocs{docs: []string{"d1"}, binaries: map[string][]byte{"d1": pdf}}
	if st := ingestDocs(t, b, b.a, src); st.Contents != 1 {
		t.Fatalf("ingest stored %d contents; want 1", st.Contents)
	}
	f := syncfeed.New(b.store, syncfeed.Options{})

	// The previous version: no content, no content read audited, and the
	// cursor still reaches the org's latest seq.
	old, oldCursor := pullAll(t, f, b.a, "", syncfeed.ProtocolVersion-1)
	if got := contentsOf(old); len(got) != 0 {
		t.Errorf("v%d feed carries %d document contents; want none", syncfeed.ProtocolVersion-1, len(got))
	}
	if len(old) == 0 {
		t.Error("v-previous feed is empty; want the patient, appointment and document")
	}
	latest, err := b.store.LatestSeq(context.Background(), b.a)
	if err != nil {
		t.Fatal(err)
	}
	if oldCursor != syncfeed.Cursor(latest) {
		t.Errorf("v-previous cursor = %q; want %q (past the content it was not sent)", oldCursor, syncfeed.Cursor(latest))
	}
	if n := contentReads(t, b, b.a); n != 0 {
		t.Errorf("document content reads audited for the v-previous pull = %d; want 0", n)
	}

	all, cursor := pullAll(t, f, b.a, "", syncfeed.ProtocolVersion)
	got := contentsOf(all)
	if len(got) != 1 {
		t.Fatalf("feed carries %d document contents; want 1", len(got))
	}
	c := got[0]
	if c.ID != "d1/0" || c.Op != syncfeed.OpUpsert {
		t.Errorf("content change = %s %v; want d1/0 upsert", c.ID, c.Op)
	}
	var docSeq int64
	for _, x := range all {
		if x.Kind == syncfeed.KindChartResource && x.ID == "DocumentReference/d1" {
			docSeq = x.Seq
		}
	}
	if docSeq == 0 || c.Seq <= docSeq {
		t.Errorf("content seq %d, its DocumentReference's %d; want the content after the document", c.Seq, docSeq)
	}
	var p syncfeed.DocumentContent
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		t.Fatalf("content payload: %v", err)
	}
	sum := sha256.Sum256(pdf)
	want := syncfeed.DocumentContent{DocumentID: "d1", AttachmentIndex: 0, PatientID: "p1", ContentType: "application/pdf",
		Size: int64(len(pdf)), SHA256: hex.EncodeToString(sum[:])}
	data := p.Data
	p.Data = nil
	if fmt.Sprint(p) != fmt.Sprint(want) || !bytes.Equal(data, pdf) {
		t.Errorf("content payload = %+v %q; want %+v %q", p, data, want, pdf)
	}
	if n := contentReads(t, b, b.a); n != 1 {
		t.Errorf("document content reads audited = %d; want 1", n)
	}

	// Ingest runs again: nothing changed, nothing new in the feed.
	if st := ingestDocs(t, b, b.a, src); st.Contents != 0 {
		t.Errorf("second ingest stored %d contents; want 0", st.Contents)
	}
	if again, _ := pullAll(t, f, b.a, cursor, syncfeed.ProtocolVersion); len(contentsOf(again)) != 0 {
		t.Errorf("after a second ingest the feed carries the content again (%d changes)", len(again))
	}
	// The other organisation sees none of it.
	if other, _ := pullAll(t, f, b.b, "", syncfeed.ProtocolVersion); len(other) != 0 {
		t.Errorf("org B feed: %d changes; want none", len(other))
	}
}

// TestDocumentContentPagesAreCapped checks that a page carries at most
// MaxPageContentBytes of document content, a larger content alone, and
// that every content still arrives once.
func TestDocumentContentPagesAreCapped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const mib = 1 << 20
	sizes := map[string]int{"d1": 3 * mib, "d2": 3 * mib, "d3": syncfeed.MaxPageContentBytes + mib, "d4": 10}
	src := &epicDocs{docs: []string{"d1", "d2", "d3", "d4"}, binaries: map[string][]byte{}}
	for id, n := range sizes {
		src.binaries[id] = bytes.Repeat([]byte(id[1:]), n)
	}
	if st := ingestDocs(t, b, b.a, src); st.Contents != 4 {
		t.Fatalf("ingest stored %d contents; want 4", st.Contents)
	}
	f := syncfeed.New(b.store, syncfeed.Options{})
	actor := syncfeed.Actor{UserID: uuid.New(), Role: "nurse", IP: "127.0.0.1", DeviceID: "ws-1"}
	cursor := ""
	seen := map[string]int{}
	for range 20 {
		p, err := f.Pull(context.Background(), b.a, actor, cursor, 100, syncfeed.ProtocolVersion)
		if err != nil {
			t.Fatalf("pull: %v", err)
		}
		var bytesInPage, contents int
		for _, c := range contentsOf(p.Changes) {
			var dc syncfeed.DocumentContent
			if err := json.Unmarshal(c.Payload, &dc); err != nil {
				t.Fatalf("content payload: %v", err)
			}
			seen[dc.DocumentID]++
			bytesInPage += len(dc.Data)
			contents++
		}
		if bytesInPage > syncfeed.MaxPageContentBytes && len(p.Changes) != 1 {
			t.Errorf("a page carries %d bytes of content in %d changes; want at most %d, or one content alone",
				bytesInPage, len(p.Changes), syncfeed.MaxPageContentBytes)
		}
		cursor = p.Next
		if !p.HasMore {
			break
		}
	}
	for id := range sizes {
		if seen[id] != 1 {
			t.Errorf("content of %s arrived %d times; want once", id, seen[id])
		}
	}
}

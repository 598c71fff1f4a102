package syncstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncstore"
)

// contentJSON is a document_content payload as the cloud sends it.
func contentJSON(t *testing.T, doc, patient string, data []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(data)
	b, err := json.Marshal(map[string]any{
		"document_id": doc, "attachment_index": 0, "patient_id": patient, "content_type": "application/pdf",
		"size": len(data), "sha256": hex.EncodeToString(sum[:]), "data": data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pendingDocs(t *testing.T, s *syncstore.Store) []syncstore.PendingDocument {
	t.Helper()
	sets, err := s.Local().Settings(context.Background(), syncstore.PendingDocumentPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []syncstore.PendingDocument
	for _, st := range sets {
		var p syncstore.PendingDocument
		if err := json.Unmarshal(st.Value, &p); err != nil {
			t.Fatalf("pending %s: %v", st.Key, err)
		}
		out = append(out, p)
	}
	return out
}

// TestDocumentContent: a synced Epic document content becomes the
// patient's document with its bytes sealed as content, pending once for
// the document pipeline however often it arrives.
func TestDocumentContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	pdf := []byte("%PDF-1.4\n% mammogram 2025: BI-RADS 1\n%%EOF\n")
	c := syncagent.Change{Kind: syncstore.KindDocumentContent, ID: "d1/0", Payload: contentJSON(t, "d1", "p1", pdf), Seq: 2}
	page(s, t, syncagent.Change{Kind: "patient", ID: "p1", Payload: patientJSON("p1", "Ann"), Seq: 1}, c)

	sum := sha256.Sum256(pdf)
	id := syncstore.ContentDocumentID("d1/0", hex.EncodeToString(sum[:]))
	got := pendingDocs(t, s)
	if len(got) != 1 || got[0].ID != id || got[0].PatientID != "p1" || got[0].Added.IsZero() {
		t.Fatalf("pending = %+v; want one item, document %s of p1", got, id)
	}
	docs, err := s.Local().Documents(ctx, "p1")
	if err != nil || len(docs) != 1 || docs[0].ID != id || docs[0].ContentType != "application/pdf" || docs[0].Text != "" {
		t.Errorf("documents of p1 = %+v, %v; want the Epic document, no text yet", docs, err)
	}
	if b, err := s.Local().DocumentContent(ctx, id); err != nil || string(b) != string(pdf) {
		t.Errorf("content = %q, %v; want the PDF", b, err)
	}
	if strings.Contains(id, "d1") {
		t.Errorf("document id %q names the Epic document", id)
	}

	// The same content again (a retried page, a resync, twice in a page):
	// still one pending item, one document.
	c.Seq = 3
	page(s, t, c, c)
	if got := pendingDocs(t, s); len(got) != 1 {
		t.Errorf("after the same content again: %d pending; want 1", len(got))
	}
	if docs, _ := s.Local().Documents(ctx, "p1"); len(docs) != 1 {
		t.Errorf("after the same content again: %d documents; want 1", len(docs))
	}
	// Once drained, the same content does not come back as pending.
	key := syncstore.PendingDocumentPrefix + id
	if err := s.Local().Update(ctx, func(tx *localstore.Tx) error { return tx.DeleteSetting(key) }); err != nil {
		t.Fatal(err)
	}
	page(s, t, c)
	if got := pendingDocs(t, s); len(got) != 0 {
		t.Errorf("after a drained content arrives again: %d pending; want 0", len(got))
	}
	// A changed content of the same attachment is a new document.
	c.Payload, c.Seq = contentJSON(t, "d1", "p1", []byte("%PDF-1.4\n% amended\n%%EOF\n")), 4
	page(s, t, c)
	if got := pendingDocs(t, s); len(got) != 1 || got[0].ID == id {
		t.Errorf("after a changed content: pending %+v; want one new document", got)
	}
	if s.Unreadable() != 0 {
		t.Errorf("unreadable = %d; want 0", s.Unreadable())
	}
}

// TestDocumentContentBad: a content whose bytes do not match its hash or
// size, or that names no patient, stores nothing, is counted unreadable,
// and does not block the page.
func TestDocumentContentBad(t *testing.T) {
	t.Parallel()
	data := []byte("%PDF-1.4\n%%EOF\n")
	good := func() map[string]any {
		var m map[string]any
		if err := json.Unmarshal(contentJSON(t, "d1", "p1", data), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name   string
		change func(m map[string]any)
	}{
		{"tampered bytes", func(m map[string]any) { m["data"] = []byte("%PDF-1.4\n%%EOF\n!") }},
		{"wrong size", func(m map[string]any) { m["size"] = 3 }},
		{"no patient", func(m map[string]any) { delete(m, "patient_id") }},
		{"hash not hex", func(m map[string]any) { m["sha256"] = "zz" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			m := good()
			tt.change(m)
			b, _ := json.Marshal(m)
			page(s, t, syncagent.Change{Kind: syncstore.KindDocumentContent, ID: "d1/0", Payload: b, Seq: 1},
				syncagent.Change{Kind: "patient", ID: "p1", Payload: patientJSON("p1", "Ann"), Seq: 2})
			if got := pendingDocs(t, s); len(got) != 0 {
				t.Errorf("pending = %+v; want none", got)
			}
			if docs, _ := s.Local().Documents(context.Background(), "p1"); len(docs) != 0 {
				t.Errorf("documents = %+v; want none", docs)
			}
			if s.Unreadable() != 1 {
				t.Errorf("unreadable = %d; want 1", s.Unreadable())
			}
			if _, err := s.Local().Patient(context.Background(), "p1"); err != nil {
				t.Errorf("the rest of the page was not applied: %v", err)
			}
		})
	}
}

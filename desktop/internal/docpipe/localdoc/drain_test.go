package localdoc_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncstore"
)

// TestSyncedEpicDocumentRunsThroughThePipeline: an Epic document content
// delivered by sync is drained into the pipeline once, processed under its
// patient (whose identifiers are redacted), and ends as one outbox entry.
func TestSyncedEpicDocumentRunsThroughThePipeline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	scan, err := os.ReadFile(b.file)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(scan)
	content, err := json.Marshal(map[string]any{"document_id": "d1", "attachment_index": 0, "patient_id": "p1",
		"content_type": "image/png", "size": len(scan), "sha256": hex.EncodeToString(sum[:]), "data": scan})
	if err != nil {
		t.Fatal(err)
	}
	patient := []byte(`{"resourceType":"Patient","id":"p1","birthDate":"1958-02-11","name":[{"given":["Johnathan"],"family":"Smithfield"}],
		"identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"88421973"}]}`)
	ss := syncstore.New(b.ls, time.UTC)
	apply := func(from, next string, cs ...syncagent.Change) {
		t.Helper()
		if err := ss.ApplyPage(ctx, syncagent.Page{From: from, Next: next, Changes: cs}); err != nil {
			t.Fatalf("ApplyPage: %v", err)
		}
	}
	c := syncagent.Change{Kind: syncstore.KindDocumentContent, ID: "d1/0", Payload: content, Seq: 2}
	apply("", "c1.2", syncagent.Change{Kind: "patient", ID: "p1", Payload: patient, Seq: 1}, c)

	_, p := b.inbox(t)
	if n, err := b.docs.DrainPending(ctx, p); err != nil || n != 1 {
		t.Fatalf("DrainPending = %d, %v; want 1 queued", n, err)
	}
	if n, err := b.docs.DrainPending(ctx, p); err != nil || n != 0 {
		t.Errorf("second DrainPending = %d, %v; want 0", n, err)
	}
	if err := p.Drain(ctx); err != nil {
		t.Fatalf("pipeline Drain: %v", err)
	}
	id := syncstore.ContentDocumentID("d1/0", hex.EncodeToString(sum[:]))
	docs, err := b.ls.Documents(ctx, "p1")
	if err != nil || len(docs) != 1 || docs[0].ID != id {
		t.Fatalf("documents of p1 = %+v, %v; want the synced one", docs, err)
	}
	d := docs[0]
	if d.PipelineVersion == "" || !strings.Contains(d.Text, "polyps") || strings.Contains(d.Text, "Smithfield") || strings.Contains(d.Text, "88421973") {
		t.Errorf("document after the pipeline: version %q, text %q; want the redacted text", d.PipelineVersion, d.Text)
	}
	out, err := b.ls.Outbox(ctx, 100)
	if err != nil || len(out) != 1 || !strings.HasSuffix(out[0].Kind, "document_result") {
		t.Fatalf("outbox = %+v, %v; want one document result", out, err)
	}

	// The same content synced again is not queued again.
	c.Seq = 3
	apply("c1.2", "c1.3", c)
	if n, err := b.docs.DrainPending(ctx, p); err != nil || n != 0 {
		t.Errorf("DrainPending after the same content again = %d, %v; want 0", n, err)
	}
}

package localdoc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/localdoc"
	"healthprep.dev/desktop/internal/docpipe/queuefile"
	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/ocrtest"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
	"healthprep.dev/shared/preset"
)

type bundle struct {
	ls    *localstore.Store
	docs  *localdoc.Store
	x     *docpipe.Extractor
	file  string // a scan on disk
	dir   string
	inbox func(t *testing.T) (*docpipe.Inbox, *docpipe.Pipeline)
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := keystore.NewInsecureFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(dir, "profile.db"), DeviceKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	if err := ls.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	x, err := docpipe.NewExtractor(docpipe.ExtractorConfig{Workers: 1, NewEngine: func() (ocr.Engine, error) { return tesscmd.New(tesscmd.Config{}) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	lib, err := preset.Default()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ocrtest.RenderPage([]string{"COLONOSCOPY REPORT", "Patient: Johnathan Smithfield MRN: 88421973", "Date of service: 04/09/2024", "Two small polyps were removed."},
		ocrtest.Layout{WidthInches: 6, HeightInches: 2.5, MarginInches: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, s.Image.Pix); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "Smithfield colonoscopy.png")
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	bd := &bundle{ls: ls, docs: localdoc.New(ls), x: x, file: file, dir: dir}
	n := 0
	// inbox makes a pipeline on a fresh queue, as a second run would see it.
	bd.inbox = func(t *testing.T) (*docpipe.Inbox, *docpipe.Pipeline) {
		n++
		q, err := queuefile.Open(filepath.Join(dir, "queue"+string(rune('0'+n))+".json"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := docpipe.New(docpipe.Config{Extractor: x, Queue: q, Loader: bd.docs, Sink: bd.docs,
			Redactor: docpipe.PHIRedactor{Detector: phi.NewDetector(phi.Options{})},
			Analyzer: &docpipe.Analyzer{Classifier: doctype.NewClassifier(), Evidence: doctype.NewFinder(lib)}})
		if err != nil {
			t.Fatal(err)
		}
		in, err := docpipe.NewInbox(docpipe.InboxConfig{Originals: bd.docs, Pipeline: p, Queue: q})
		if err != nil {
			t.Fatal(err)
		}
		return in, p
	}
	return bd
}

func (b *bundle) run(t *testing.T) string {
	t.Helper()
	in, p := b.inbox(t)
	id, err := in.Import(context.Background(), b.file)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if err := p.Drain(context.Background()); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	return id
}

func TestADocumentEndsAsOneOutboxEntry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := b.run(t)
	out, err := b.ls.Outbox(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("outbox holds %d entries, want 1", len(out))
	}
	// The local record: redacted text, type, date; the original kept sealed.
	docs, err := b.ls.Documents(ctx, localdoc.Unfiled)
	if err != nil || len(docs) != 1 {
		t.Fatalf("Documents = %d, %v; want 1", len(docs), err)
	}
	d := docs[0]
	if d.ID != id || d.Type != "procedure" && d.Type != "other" || d.ContentSHA256 == "" || d.PipelineVersion != docpipe.PipelineVersion {
		t.Errorf("document %s: type %q, sha %q, version %q", d.ID, d.Type, d.ContentSHA256, d.PipelineVersion)
	}
	if strings.Contains(d.Text, "Smithfield") || !strings.Contains(d.Text, "polyps") {
		t.Errorf("document text is not the redacted text: %q", d.Text)
	}
	orig, err := os.ReadFile(b.file)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.ls.DocumentContent(ctx, id); err != nil || !bytes.Equal(got, orig) {
		t.Errorf("kept original: %d bytes, %v; want the file's %d bytes", len(got), err, len(orig))
	}
	// The entry: what the cloud's syncfeed takes for a document result.
	var env struct {
		Payload         json.RawMessage `json:"payload"`
		DocumentID      string          `json:"document_id"`
		ContentSHA256   string          `json:"content_sha256"`
		PipelineVersion string          `json:"pipeline_version"`
	}
	if err := json.Unmarshal(out[0].Payload, &env); err != nil {
		t.Fatalf("outbox payload: %v", err)
	}
	if env.DocumentID != id || env.ContentSHA256 != d.ContentSHA256 || env.PipelineVersion != docpipe.PipelineVersion || !strings.HasSuffix(out[0].Kind, "document_result") {
		t.Errorf("outbox entry %s kind %q for %s/%s/%s; want document_result for %s/%s/%s", out[0].ID, out[0].Kind,
			env.DocumentID, env.ContentSHA256, env.PipelineVersion, id, d.ContentSHA256, docpipe.PipelineVersion)
	}
	if strings.Contains(string(out[0].Payload), "Smithfield") || strings.Contains(string(out[0].Payload), "88421973") {
		t.Errorf("outbox payload holds an identifier")
	}

	// The same content again, on a fresh queue: no second entry, also once
	// the first was acknowledged.
	b.run(t)
	if out, _ := b.ls.Outbox(ctx, 100); len(out) != 1 {
		t.Fatalf("after a second run the outbox holds %d entries, want 1", len(out))
	}
	if err := b.ls.Ack(ctx, out[0].ID); err != nil {
		t.Fatal(err)
	}
	b.run(t)
	if out, _ := b.ls.Outbox(ctx, 100); len(out) != 0 {
		t.Fatalf("after an acknowledged result ran again the outbox holds %d entries, want 0", len(out))
	}

	// Past retention the original goes; the record stays.
	if err := b.docs.Forget(ctx, docpipe.Job{ID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.docs.Load(ctx, docpipe.Job{ID: id}); err != localdoc.ErrForgotten {
		t.Errorf("Load after Forget: %v, want ErrForgotten", err)
	}
	if docs, _ := b.ls.Documents(ctx, localdoc.Unfiled); len(docs) != 1 || docs[0].Text != d.Text {
		t.Errorf("record changed by Forget")
	}
}

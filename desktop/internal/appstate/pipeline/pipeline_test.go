package pipeline_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/pipeline"
	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/queuefile"
	"healthprep.dev/desktop/internal/ocr"
)

// queueOnly stands in for *docpipe.Pipeline: it adds the job to the queue
// the way Enqueue does, without running anything.
type queueOnly struct{ q docpipe.Queue }

func (e queueOnly) Enqueue(ctx context.Context, job docpipe.Job) error {
	job.State = docpipe.StatePending
	return e.q.Add(ctx, job)
}

// memOriginals keeps originals in memory, as the local store would.
type memOriginals struct {
	mu    sync.Mutex
	data  map[string][]byte
	names map[string]string
}

func (m *memOriginals) Keep(_ context.Context, job docpipe.Job, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[job.ID]; !ok {
		m.data[job.ID], m.names[job.ID] = data, name
	}
	return nil
}

func (m *memOriginals) Forget(_ context.Context, job docpipe.Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, job.ID)
	return nil
}

func (m *memOriginals) Load(_ context.Context, job docpipe.Job) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[job.ID]
	if !ok {
		return nil, errors.New("no such original")
	}
	return d, nil
}

type nopSink struct{}

func (nopSink) Store(context.Context, docpipe.Result) error { return nil }

type bundle struct {
	src       *pipeline.Source
	queue     *queuefile.Queue
	originals *memOriginals
}

func setup(t *testing.T) bundle {
	t.Helper()
	dir := t.TempDir()
	q, err := queuefile.Open(filepath.Join(dir, "queue.json"))
	if err != nil {
		t.Fatal(err)
	}
	o := &memOriginals{data: map[string][]byte{}, names: map[string]string{}}
	return bundle{src: pipeline.New(pipeline.Config{Queue: q, Originals: o, Pipeline: queueOnly{q}}), queue: q, originals: o}
}

func TestImportQueuesOncePerContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	pdf := []byte("%PDF-1.7 a letter")
	first, err := b.src.Import(ctx, appstate.ImportFile{Name: "letter.pdf", Data: pdf})
	if err != nil || first.Duplicate {
		t.Fatalf("Import = %+v, %v; want a new document", first, err)
	}
	again, err := b.src.Import(ctx, appstate.ImportFile{Name: "copy of letter.pdf", Data: pdf})
	if err != nil || !again.Duplicate || again.DocumentID != first.DocumentID {
		t.Errorf("second Import = %+v, %v; want a duplicate of %s", again, err, first.DocumentID)
	}
	jobs, _ := b.queue.List(ctx, docpipe.StatePending)
	if len(jobs) != 1 || jobs[0].ID != first.DocumentID {
		t.Fatalf("pending jobs %+v, want one, %s", jobs, first.DocumentID)
	}
	if got, err := b.originals.Load(ctx, jobs[0]); err != nil || string(got) != string(pdf) || b.originals.names[jobs[0].ID] != "letter.pdf" {
		t.Errorf("kept original %q (%v) named %q, want the imported bytes named letter.pdf", got, err, b.originals.names[jobs[0].ID])
	}
}

func TestImportRefusesEmptyFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	_, err := b.src.Import(ctx, appstate.ImportFile{Name: "scan.pdf"})
	if !errors.Is(err, appstate.ErrEmptyFile) {
		t.Errorf("Import(empty) = %v, want ErrEmptyFile", err)
	}
	if got := appstate.ImportMessage("scan.pdf", appstate.Imported{}, err); got != "scan.pdf is empty (0 bytes) and was not imported." {
		t.Errorf("message %q", got)
	}
	if jobs, _ := b.queue.List(ctx, docpipe.StatePending); len(jobs) != 0 {
		t.Errorf("%d jobs queued after a refused import, want 0", len(jobs))
	}
	if len(b.originals.data) != 0 {
		t.Errorf("%d originals kept after a refused import, want 0", len(b.originals.data))
	}
}

func TestQuarantineAndReview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	locked, err := b.src.Import(ctx, appstate.ImportFile{Name: "locked.pdf", Data: []byte("%PDF-1.7 encrypted")})
	if err != nil {
		t.Fatal(err)
	}
	msg := (&docpipe.DocumentError{Kind: docpipe.KindPasswordProtected, Format: "PDF"}).Error()
	if err := b.queue.Quarantine(ctx, locked.DocumentID, docpipe.KindPasswordProtected, msg); err != nil {
		t.Fatal(err)
	}
	q, err := b.src.Quarantined(ctx)
	if err != nil || len(q) != 1 {
		t.Fatalf("Quarantined = %+v, %v; want 1", q, err)
	}
	if q[0].Name != "locked.pdf" || q[0].Reason != "password-protected" || q[0].Message != msg {
		t.Errorf("quarantined %+v, want locked.pdf, password-protected, %q", q[0], msg)
	}

	scan, _ := b.src.Import(ctx, appstate.ImportFile{Name: "fax.tif", Data: []byte("II*\x00 fax")})
	sink := b.src.Sink(nopSink{})
	res := docpipe.Result{Job: docpipe.Job{ID: scan.DocumentID}, Extraction: docpipe.Extraction{Pages: []docpipe.PageResult{
		{Number: 1, Page: ocr.Page{MeanConfidence: 91}},
		{Number: 2, Page: ocr.Page{Flags: ocr.FlagLowConfidence}},
		{Number: 3, Page: ocr.Page{Flags: ocr.FlagNoText | ocr.FlagRotated}},
	}}}
	for range 2 { // stored twice, as after a crash
		if err := sink.Store(ctx, res); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := b.src.ForReview(ctx)
	want := []string{"fax.tif, page 2 of 3: hard to read (low OCR confidence)", "fax.tif, page 3 of 3: no text found"}
	if len(got) != len(want) {
		t.Fatalf("ForReview = %+v, want %q", got, want)
	}
	for i := range want {
		if got[i].Text() != want[i] {
			t.Errorf("review %d = %q, want %q", i, got[i].Text(), want[i])
		}
	}
	if err := b.src.MarkReviewed(ctx, scan.DocumentID, 2, appstate.User{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.src.ForReview(ctx); len(got) != 1 || got[0].Page != 3 {
		t.Errorf("after reviewing page 2: %+v, want page 3 only", got)
	}
	if _, err := b.src.Page(ctx, scan.DocumentID, 2); !errors.Is(err, appstate.ErrNoPageImage) {
		t.Errorf("Page = %v, want ErrNoPageImage without an Extractor", err)
	}
}

package docpipe_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/shared/phi"
)

// memOriginals keeps originals in memory.
type memOriginals struct {
	mu    sync.Mutex
	data  map[string][]byte
	names map[string]string
	keeps int
}

func (m *memOriginals) Keep(_ context.Context, job docpipe.Job, name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keeps++
	if _, ok := m.data[job.ID]; !ok {
		m.data[job.ID], m.names[job.ID] = data, name
	}
	return nil
}

func (m *memOriginals) Load(_ context.Context, job docpipe.Job) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.data[job.ID]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return b, nil
}

func (m *memOriginals) Forget(_ context.Context, job docpipe.Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, job.ID)
	return nil
}

type inboxSetup struct {
	*setup
	dir       string
	originals *memOriginals
	inbox     *docpipe.Inbox
	now       time.Time
}

func newInboxSetup(t *testing.T) *inboxSetup {
	t.Helper()
	s := &inboxSetup{setup: newSetup(t), dir: t.TempDir(), originals: &memOriginals{data: map[string][]byte{}, names: map[string]string{}},
		now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	var err error
	s.pipeline, err = docpipe.New(docpipe.Config{Extractor: s.x, Queue: s.queue, Loader: s.originals, Sink: s.sink,
		Redactor: docpipe.PHIRedactor{Detector: phi.NewDetector(phi.Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	s.inbox, err = docpipe.NewInbox(docpipe.InboxConfig{Dir: s.dir, Originals: s.originals, Pipeline: s.pipeline,
		Queue: s.queue, Retention: 30 * 24 * time.Hour, Now: func() time.Time { return s.now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *inboxSetup) poll(t *testing.T) []string {
	t.Helper()
	ids, err := s.inbox.Poll(context.Background())
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	return ids
}

func (s *inboxSetup) drain(t *testing.T) {
	t.Helper()
	if err := s.pipeline.Drain(context.Background()); err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

func TestInboxTakesADroppedFileOnce(t *testing.T) {
	t.Parallel()
	s := newInboxSetup(t)
	page := pngBytes(t, render(t, linesA).Image.Pix)
	path := filepath.Join(s.dir, "scan 0001.png")
	if err := os.WriteFile(path, page, 0o600); err != nil {
		t.Fatal(err)
	}
	if ids := s.poll(t); len(ids) != 0 {
		t.Fatalf("first listing took %v; want nothing until the file is seen unchanged", ids)
	}
	ids := s.poll(t)
	if len(ids) != 1 {
		t.Fatalf("second listing took %v, want one job", ids)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("taken file still in the watched folder (stat: %v)", err)
	}
	if got := s.originals.names[ids[0]]; got != "scan 0001.png" {
		t.Errorf("original kept under name %q, want %q", got, "scan 0001.png")
	}
	if more := s.poll(t); len(more) != 0 {
		t.Errorf("third listing took %v, want nothing", more)
	}
	s.drain(t)

	// The same scan dropped again is the same job: not processed twice.
	if err := os.WriteFile(path, page, 0o600); err != nil {
		t.Fatal(err)
	}
	s.poll(t)
	if again := s.poll(t); len(again) != 1 || again[0] != ids[0] {
		t.Fatalf("same content dropped again gave jobs %v, want the same job %s", again, ids[0])
	}
	s.drain(t)
	if got := len(s.sink.get(ids[0])); got != 1 {
		t.Errorf("results for the dropped file = %d, want 1", got)
	}
}

func TestInboxWaitsForAFileStillBeingWritten(t *testing.T) {
	t.Parallel()
	s := newInboxSetup(t)
	page := pngBytes(t, render(t, linesB).Image.Pix)
	path := filepath.Join(s.dir, "incoming.png")
	if err := os.WriteFile(path, page[:len(page)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	s.poll(t)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(page[len(page)/3 : 2*len(page)/3]); err != nil {
		t.Fatal(err)
	}
	if ids := s.poll(t); len(ids) != 0 {
		t.Fatalf("a growing file was taken (%v); want it left until it stops changing", ids)
	}
	if _, err := f.Write(page[2*len(page)/3:]); err != nil {
		t.Fatal(err)
	}
	if ids := s.poll(t); len(ids) != 0 {
		t.Fatalf("a file that grew since the last listing was taken (%v)", ids)
	}
	ids := s.poll(t)
	if len(ids) != 1 {
		t.Fatalf("the finished file gave jobs %v, want one", ids)
	}
	s.drain(t)
	if res := s.sink.get(ids[0]); len(res) != 1 || len(res[0].Extraction.Pages) != 1 {
		t.Fatalf("results = %d, want one complete page", len(res))
	}
}

func TestInboxQuarantinesBadFilesWithTheirReason(t *testing.T) {
	t.Parallel()
	s := newInboxSetup(t)
	files := []struct {
		name string
		data []byte
		want docpipe.Kind
	}{
		{"letter.pdf", []byte("Dear colleague, this is not a PDF at all."), docpipe.KindUnknownFormat},
		{"empty.tif", nil, docpipe.KindEmpty},
		{"cut.png", pngBytes(t, render(t, linesA).Image.Pix)[:4000], docpipe.KindTruncated},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(s.dir, f.name), f.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for range 20 { // an empty file waits for more listings than a full one
		ids = append(ids, s.poll(t)...)
	}
	if len(ids) != len(files) {
		t.Fatalf("took %d files, want %d", len(ids), len(files))
	}
	s.drain(t)
	q, err := s.queue.List(context.Background(), docpipe.StateQuarantined)
	if err != nil {
		t.Fatal(err)
	}
	got := map[docpipe.Kind]string{}
	for _, j := range q {
		got[j.Reason] = j.Message
	}
	for _, f := range files {
		if msg, ok := got[f.want]; !ok || msg == "" {
			t.Errorf("%s: quarantine list %v lacks reason %q with a message", f.name, got, f.want)
		}
	}
}

func TestInboxImportLeavesTheFileAndSweepForgetsOldOriginals(t *testing.T) {
	t.Parallel()
	s := newInboxSetup(t)
	path := filepath.Join(t.TempDir(), "outside report.png")
	if err := os.WriteFile(path, pngBytes(t, render(t, linesB).Image.Pix), 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := s.inbox.Import(context.Background(), path)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("imported file was touched: %v", err)
	}
	s.drain(t)
	if got := len(s.sink.get(id)); got != 1 {
		t.Fatalf("results = %d, want 1", got)
	}
	ctx := context.Background()
	if n, err := s.inbox.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep within retention = %d, %v; want 0, nil", n, err)
	}
	if _, err := s.originals.Load(ctx, docpipe.Job{ID: id}); err != nil {
		t.Fatalf("original gone within retention: %v", err)
	}
	s.now = s.now.Add(31 * 24 * time.Hour)
	if n, err := s.inbox.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep after retention = %d, %v; want 1, nil", n, err)
	}
	if _, err := s.originals.Load(ctx, docpipe.Job{ID: id}); err == nil {
		t.Errorf("original still kept after its retention")
	}
}

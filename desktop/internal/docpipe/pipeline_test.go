package docpipe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/queuefile"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
	"healthprep.dev/shared/phi"
)

// memLoader serves documents by source; a missing one fails like a missing
// file, quoting the source in a *fs.PathError.
type memLoader map[string][]byte

func (m memLoader) Load(_ context.Context, job docpipe.Job) ([]byte, error) {
	b, ok := m[job.Source]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: job.Source, Err: fs.ErrNotExist}
	}
	return b, nil
}

// memSink records results; fail, when set, decides whether a Store fails.
type memSink struct {
	mu      sync.Mutex
	results map[string][]docpipe.Result
	fail    func(job docpipe.Job) error
	stored  func(docpipe.Result)
}

func (s *memSink) Store(_ context.Context, r docpipe.Result) error {
	if s.fail != nil {
		if err := s.fail(r.Job); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.results == nil {
		s.results = map[string][]docpipe.Result{}
	}
	s.results[r.Job.ID] = append(s.results[r.Job.ID], r)
	s.mu.Unlock()
	if s.stored != nil {
		s.stored(r)
	}
	return nil
}

func (s *memSink) get(id string) []docpipe.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.results[id]
}

type setup struct {
	queue    docpipe.Queue
	reopen   func() docpipe.Queue
	loader   memLoader
	sink     *memSink
	logs     *bytes.Buffer
	pipeline *docpipe.Pipeline
	x        *docpipe.Extractor
}

// newSetup builds a pipeline on a file queue in a temp dir, the real phi
// redactor, and a debug-level JSON logger into a buffer.
func newSetup(t *testing.T) *setup {
	t.Helper()
	path := filepath.Join(t.TempDir(), "queue.json")
	reopen := func() docpipe.Queue {
		q, err := queuefile.Open(path)
		if err != nil {
			t.Fatalf("opening queue: %v", err)
		}
		return q
	}
	s := &setup{queue: reopen(), reopen: reopen, loader: memLoader{}, sink: &memSink{}, logs: &bytes.Buffer{}}
	s.x = newExtractor(t, docpipe.ExtractorConfig{Workers: 2})
	s.pipeline = s.newPipeline(t, s.queue)
	return s
}

func (s *setup) newPipeline(t *testing.T, q docpipe.Queue) *docpipe.Pipeline {
	t.Helper()
	p, err := docpipe.New(docpipe.Config{
		Extractor: s.x, Queue: q, Loader: s.loader, Sink: s.sink,
		Redactor: docpipe.PHIRedactor{Detector: phi.NewDetector(phi.Options{})},
		Analyzer: newAnalyzer(t),
		Logger:   slog.New(slog.NewJSONHandler(&lockedWriter{w: s.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("docpipe.New: %v", err)
	}
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (s *setup) add(t *testing.T, p *docpipe.Pipeline, id, source string, data []byte) {
	t.Helper()
	if data != nil {
		s.loader[source] = data
	}
	if err := p.Enqueue(context.Background(), docpipe.Job{ID: id, Source: source}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

func states(t *testing.T, q docpipe.Queue) map[string]docpipe.Job {
	t.Helper()
	out := map[string]docpipe.Job{}
	for _, st := range []docpipe.State{docpipe.StatePending, docpipe.StateRunning, docpipe.StateDone, docpipe.StateQuarantined} {
		js, err := q.List(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range js {
			out[j.ID] = j
		}
	}
	return out
}

func TestPipelineQuarantinesBadDocumentsWithoutBlockingGoodOnes(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	a := render(t, linesA)
	s.add(t, s.pipeline, "empty", "/in/empty.pdf", []byte{})
	s.add(t, s.pipeline, "locked", "/in/locked.pdf", makePDF(t, []pdfPage{{text: linesA}}, pdfOptions{userPassword: "pw"}))
	s.add(t, s.pipeline, "dot", "/in/dot.png", pngBytes(t, image.NewGray(image.Rect(0, 0, 1, 1))))
	s.add(t, s.pipeline, "gone", "/in/gone.pdf", nil) // the loader cannot find it
	s.add(t, s.pipeline, "text", "/in/letter.pdf", makePDF(t, []pdfPage{{text: linesB}}, pdfOptions{}))
	s.add(t, s.pipeline, "png-named-pdf", "/in/scan.pdf", pngBytes(t, a.Image.Pix))

	if err := s.pipeline.Drain(context.Background()); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	got := states(t, s.queue)
	want := map[string]struct {
		state  docpipe.State
		reason docpipe.Kind
	}{
		"empty":         {docpipe.StateQuarantined, docpipe.KindEmpty},
		"locked":        {docpipe.StateQuarantined, docpipe.KindPasswordProtected},
		"dot":           {docpipe.StateQuarantined, docpipe.KindImageTooSmall},
		"gone":          {docpipe.StateQuarantined, docpipe.KindFailed},
		"text":          {docpipe.StateDone, ""},
		"png-named-pdf": {docpipe.StateDone, ""},
	}
	for id, w := range want {
		j := got[id]
		if j.State != w.state || j.Reason != w.reason {
			t.Errorf("job %s: %s (%s), want %s (%s)", id, j.State, j.Reason, w.state, w.reason)
		}
		if w.state == docpipe.StateQuarantined && (j.Message == "" || strings.Contains(j.Message, "/in/")) {
			t.Errorf("job %s: quarantine message %q, want a reason without the path", id, j.Message)
		}
	}
	if j := got["gone"]; j.Attempts != 3 {
		t.Errorf("job gone: %d attempts, want 3 before quarantine", j.Attempts)
	}
	r := s.sink.get("png-named-pdf")
	if len(r) != 1 || r[0].Extraction.Format != docpipe.PNG || r[0].Extraction.Pages[0].Source != docpipe.SourceOCR {
		t.Fatalf("png-named-pdf results = %+v, want one PNG result from OCR", r)
	}
	if len(s.sink.get("text")) != 1 || s.sink.get("text")[0].Redaction.Redacted.Len() == 0 {
		t.Errorf("text: want one result with redacted text")
	}
}

func TestPipelineRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	var mu sync.Mutex
	tries := map[string]int{}
	s.sink.fail = func(job docpipe.Job) error {
		mu.Lock()
		defer mu.Unlock()
		tries[job.ID]++
		if tries[job.ID] == 1 {
			return errors.New("disk full")
		}
		return nil
	}
	s.add(t, s.pipeline, "doc", "/in/doc.pdf", makePDF(t, []pdfPage{{text: linesA}}, pdfOptions{}))
	if err := s.pipeline.Drain(context.Background()); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if j := states(t, s.queue)["doc"]; j.State != docpipe.StateDone || j.Attempts != 2 {
		t.Errorf("doc: %s after %d attempts, want done after 2", j.State, j.Attempts)
	}
}

// The queue survives a shutdown mid-run and a crash with a job running:
// after a restart every document is processed and none is lost.
func TestPipelineResumesAfterRestart(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	doc := makePDF(t, []pdfPage{{text: linesA}}, pdfOptions{})
	for _, id := range []string{"j1", "j2", "j3", "j4", "j5"} {
		s.add(t, s.pipeline, id, "/in/"+id+".pdf", doc)
	}

	// Shutdown after the first stored result.
	ctx, cancel := context.WithCancel(context.Background())
	s.sink.stored = func(docpipe.Result) { cancel() }
	if err := s.pipeline.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	s.sink.stored = nil
	done := 0
	for _, j := range states(t, s.queue) {
		if j.State == docpipe.StateDone {
			done++
		}
		if j.State == docpipe.StateRunning {
			t.Errorf("job %s still running after a clean shutdown", j.ID)
		}
	}
	if done == 0 || done == 5 {
		t.Fatalf("%d jobs done after the shutdown, want some but not all", done)
	}

	// A crash: a job is claimed and the process dies before finishing it.
	crashed, ok, err := s.queue.Claim(context.Background())
	if err != nil || !ok {
		t.Fatalf("Claim: %v, %v", ok, err)
	}

	// Restart: a new process opens the same queue file.
	q := s.reopen()
	if err := s.newPipeline(t, q).Drain(context.Background()); err != nil {
		t.Fatalf("Drain after restart: %v", err)
	}
	for id, j := range states(t, q) {
		if j.State != docpipe.StateDone {
			t.Errorf("job %s: %s after restart, want done", id, j.State)
		}
		if n := len(s.sink.get(id)); n != 1 {
			t.Errorf("job %s stored %d times, want once", id, n)
		}
	}
	if got := len(states(t, q)); got != 5 {
		t.Errorf("%d jobs after restart, want 5", got)
	}
	if !strings.Contains(s.logs.String(), `"msg":"docpipe: resuming interrupted jobs","count":1`) {
		t.Errorf("no log of the recovered job %s", crashed.ID)
	}
}

// A document full of PHI goes through the whole pipeline, as a scan and as
// a text layer, with a PHI-laden file name, with logging at debug level;
// some jobs fail and are quarantined. No identifier appears in any log
// line, queue message or error.
func TestNoPHIInLogsOrErrors(t *testing.T) {
	t.Parallel()
	s := newSetup(t)
	phiLines := []string{
		"Patient: Johnathan Quincy Smithfield",
		"DOB: 03/14/1961 MRN: 88421973",
		"SSN 219-09-9999 Phone (617) 555-0142",
	}
	injected := []string{"Johnathan", "Quincy", "Smithfield", "03/14/1961", "88421973", "219-09-9999", "555-0142"}
	scan := render(t, phiLines)
	name := "/in/Smithfield_Johnathan_MRN88421973"
	s.add(t, s.pipeline, "scan", name+"_scan.pdf", makePDF(t, []pdfPage{{scan: scan.Image.Pix}, {text: phiLines}}, pdfOptions{}))
	s.add(t, s.pipeline, "image", name+".png", pngBytes(t, scan.Image.Pix))
	s.add(t, s.pipeline, "missing", name+"_missing.pdf", nil)
	s.add(t, s.pipeline, "locked", name+"_locked.pdf", makePDF(t, []pdfPage{{text: phiLines}}, pdfOptions{userPassword: "Smithfield"}))
	s.add(t, s.pipeline, "cut", name+"_cut.png", pngBytes(t, scan.Image.Pix)[:5000])
	if err := s.pipeline.Drain(context.Background()); err != nil {
		t.Fatalf("Drain: %v", err)
	}

	// The PHI really went through: the extracted text holds it.
	res := s.sink.get("scan")
	if len(res) != 1 || !strings.Contains(res[0].Extraction.Text(), "Smithfield") {
		t.Fatalf("scan results = %d, want one whose extracted text holds the injected name", len(res))
	}
	var emitted strings.Builder
	emitted.WriteString(s.logs.String())
	for _, j := range states(t, s.queue) {
		emitted.WriteString(j.ID + " " + string(j.Reason) + " " + j.Message + "\n")
	}
	if !strings.Contains(emitted.String(), "docpipe: job done") || !strings.Contains(emitted.String(), "quarantined") {
		t.Fatalf("logs lack job lines; the test is not looking at the pipeline's output:\n%s", emitted.String())
	}
	for _, line := range strings.Split(emitted.String(), "\n") {
		for _, id := range injected {
			if strings.Contains(line, id) {
				t.Errorf("emitted line contains %q: %s", id, line)
			}
		}
	}
	for _, r := range append(res, s.sink.get("image")...) {
		if r.Document == nil {
			t.Fatalf("job %s: no document result", r.Job.ID)
		}
		payload, err := json.Marshal(r.Document)
		if err != nil {
			t.Fatal(err)
		}
		red := r.Redaction.Redacted.String() + "\n" + string(payload)
		for _, id := range []string{"Smithfield", "88421973", "219-09-9999", "555-0142"} {
			if strings.Contains(red, id) {
				t.Errorf("job %s: redacted text still holds %q", r.Job.ID, id)
			}
		}
	}
}

// Pages of one document are recognised in parallel, never by more engines
// than there are workers.
func TestWorkersBoundConcurrency(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	made, running, peak := 0, 0, 0
	x := newExtractor(t, docpipe.ExtractorConfig{Workers: 2, NewEngine: func() (ocr.Engine, error) {
		mu.Lock()
		made++
		mu.Unlock()
		e, err := tesscmd.New(tesscmd.Config{})
		return &countingEngine{Engine: e, enter: func(d int) {
			mu.Lock()
			running += d
			peak = max(peak, running)
			mu.Unlock()
		}}, err
	}})
	a, b := render(t, linesA), render(t, linesB)
	ex, err := x.Extract(context.Background(), makeTIFF(t, []*image.Gray{a.Image.Pix, b.Image.Pix, a.Image.Pix, b.Image.Pix}, 300))
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if len(ex.Pages) != 4 || made != 2 || peak > 2 {
		t.Errorf("%d pages, %d engines made, peak %d at once; want 4 pages, 2 engines, ≤ 2", len(ex.Pages), made, peak)
	}
}

type countingEngine struct {
	ocr.Engine
	enter func(int)
}

func (c *countingEngine) Words(ctx context.Context, img ocr.Image) ([]ocr.Word, error) {
	c.enter(1)
	defer c.enter(-1)
	return c.Engine.Words(ctx, img)
}

// Package pipeline implements the Documents screen's appstate interfaces
// (Importer, DocumentSource, and DocumentFiler with Config.Filing) over the document pipeline (package docpipe):
// an import is kept in the pipeline's Originals (sealed on the workstation)
// and queued, the quarantine is the queue's quarantined jobs with their
// PHI-free reasons, the pages to review are those flagged in the results
// the pipeline stores through Sink, and a page is redrawn redacted from
// the original with docpipe's Extractor.Redact.
//
// The pipeline does not store extractions yet, so the review list and the
// page images cover the documents processed since the window opened; see
// Source.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/localdoc"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/shared/phi"
)

// Config wires a Source. Queue, Originals and Pipeline are required;
// without Extractor no page image is shown.
type Config struct {
	Queue     docpipe.Queue
	Originals docpipe.Originals
	Pipeline  docpipe.Enqueuer
	Extractor *docpipe.Extractor
	// Filing, when set, makes Source an appstate.DocumentFiler
	// (localdoc.Store is one).
	Filing Filing
	// Keep is how many processed documents' pages stay viewable; 0 means
	// 200 (the most recent).
	Keep int
}

// Filing lists the documents filed under no patient and files them.
type Filing interface {
	Unfiled(ctx context.Context) ([]localstore.Document, error)
	// AssignMRN fails with localdoc.ErrUnknownPatient for an MRN not
	// cached here.
	AssignMRN(ctx context.Context, documentID, mrn string) error
}

// Source is an appstate.Importer and appstate.DocumentSource over a
// docpipe queue. Wrap the pipeline's Sink with Sink so that Source learns
// the pages flagged for review and can redraw pages. It is safe for
// concurrent use.
type Source struct {
	cfg Config

	mu       sync.Mutex
	names    map[string]string // document ID → imported file name, this run
	review   []appstate.ReviewPage
	reviewed map[string]bool // "id/page"
	results  map[string]kept // by document ID
	order    []string        // results' IDs, oldest first
}

// kept is what Page needs of a processed document (held in memory only:
// the extraction is unredacted).
type kept struct {
	job      docpipe.Job
	ex       docpipe.Extraction
	spans    []phi.Span
	evidence map[string]int // phrase (lowercase) → first page
}

// New returns a Source.
func New(cfg Config) *Source {
	if cfg.Keep <= 0 {
		cfg.Keep = 200
	}
	return &Source{cfg: cfg, names: map[string]string{}, reviewed: map[string]bool{}, results: map[string]kept{}}
}

// Import implements appstate.Importer the way docpipe.Inbox.Import does
// for a path: the job is named by the content hash (so importing the same
// file twice queues it once) and the bytes go to Originals, never to a
// plain file.
func (s *Source) Import(ctx context.Context, f appstate.ImportFile) (appstate.Imported, error) {
	if err := appstate.CheckImport(int64(len(f.Data))); err != nil {
		return appstate.Imported{}, err
	}
	sum := sha256.Sum256(f.Data)
	id := hex.EncodeToString(sum[:16])
	for _, st := range []docpipe.State{docpipe.StatePending, docpipe.StateRunning, docpipe.StateDone, docpipe.StateQuarantined} {
		jobs, err := s.cfg.Queue.List(ctx, st)
		if err != nil {
			return appstate.Imported{}, fmt.Errorf("reading the queue: %w", err)
		}
		if slices.ContainsFunc(jobs, func(j docpipe.Job) bool { return j.ID == id }) {
			return appstate.Imported{DocumentID: id, Duplicate: true}, nil
		}
	}
	job := docpipe.Job{ID: id, Source: "original:" + id}
	if err := s.cfg.Originals.Keep(ctx, job, f.Name, f.Data); err != nil {
		return appstate.Imported{}, fmt.Errorf("keeping document %s: %w", id, err)
	}
	if err := s.cfg.Pipeline.Enqueue(ctx, job); err != nil {
		return appstate.Imported{}, fmt.Errorf("queueing document %s: %w", id, err)
	}
	s.mu.Lock()
	s.names[id] = f.Name
	s.mu.Unlock()
	return appstate.Imported{DocumentID: id}, nil
}

// Quarantined implements appstate.DocumentSource.
func (s *Source) Quarantined(ctx context.Context) ([]appstate.QuarantinedDoc, error) {
	jobs, err := s.cfg.Queue.List(ctx, docpipe.StateQuarantined)
	if err != nil {
		return nil, fmt.Errorf("listing the quarantine: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]appstate.QuarantinedDoc, len(jobs))
	for i, j := range jobs {
		out[i] = appstate.QuarantinedDoc{DocumentID: j.ID, Name: s.names[j.ID], Added: j.Added, Reason: string(j.Reason), Message: j.Message}
	}
	return out, nil
}

// ForReview implements appstate.DocumentSource: the flagged pages of the
// results stored since this Source was made.
func (s *Source) ForReview(context.Context) ([]appstate.ReviewPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []appstate.ReviewPage
	for _, p := range s.review {
		if !s.reviewed[reviewKey(p.DocumentID, p.Page)] {
			out = append(out, p)
		}
	}
	return out, nil
}

func reviewKey(id string, page int) string { return fmt.Sprintf("%s/%d", id, page) }

// MarkReviewed implements appstate.DocumentSource.
func (s *Source) MarkReviewed(_ context.Context, id string, page int, _ appstate.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reviewed[reviewKey(id, page)] = true
	return nil
}

// Page implements appstate.DocumentSource: the page redrawn from the
// original with the redacted words covered; the words' text reads
// [REDACTED] where covered, so a highlight never points at PHI.
func (s *Source) Page(ctx context.Context, id string, page int) (appstate.PageImage, error) {
	s.mu.Lock()
	k, ok := s.results[id]
	s.mu.Unlock()
	if !ok || s.cfg.Extractor == nil || page < 1 || page > len(k.ex.Pages) {
		return appstate.PageImage{}, appstate.ErrNoPageImage
	}
	data, err := s.cfg.Originals.Load(ctx, k.job)
	if err != nil {
		return appstate.PageImage{}, fmt.Errorf("loading document %s: %w", id, err)
	}
	var out appstate.PageImage
	errFound := errors.New("found")
	err = s.cfg.Extractor.Redact(ctx, data, k.ex, k.spans, func(p docpipe.RedactedPage) error {
		if p.Number != page {
			return nil
		}
		out = appstate.PageImage{DocumentID: id, Page: page, Image: p.Image}
		return errFound
	})
	if !errors.Is(err, errFound) {
		if err == nil {
			return appstate.PageImage{}, appstate.ErrNoPageImage
		}
		return appstate.PageImage{}, fmt.Errorf("redrawing page %d of document %s: %w", page, id, err)
	}
	pi := slices.IndexFunc(k.ex.Pages, func(p docpipe.PageResult) bool { return p.Number == page })
	covered := map[int]bool{}
	for _, g := range k.ex.RedactedWords(k.spans)[pi] {
		for _, w := range g {
			covered[w] = true
		}
	}
	for i, w := range k.ex.Pages[pi].Words {
		text := w.Text
		if covered[i] {
			text = "[REDACTED]"
		}
		out.Words = append(out.Words, appstate.PageWord{Text: text, Box: w.Box, Line: w.Line})
	}
	return out, nil
}

// EvidencePage implements appstate.DocumentSource for documents processed
// here: source is "DocumentReference/" and the document ID (or the ID
// alone), and the page is the first the analyzer found phrase on.
func (s *Source) EvidencePage(_ context.Context, source, phrase string) (string, int, error) {
	id := strings.TrimPrefix(source, "DocumentReference/")
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.results[id]
	if !ok {
		return "", 0, appstate.ErrNoPageImage
	}
	if p, ok := k.evidence[strings.ToLower(phrase)]; ok {
		return id, p, nil
	}
	return id, 1, nil
}

// Sink wraps the pipeline's sink: after next stores a result, the pages
// the extraction flagged join the review list and the document's pages
// become viewable.
func (s *Source) Sink(next docpipe.Sink) docpipe.Sink { return sink{s, next} }

type sink struct {
	s    *Source
	next docpipe.Sink
}

func (k sink) Store(ctx context.Context, r docpipe.Result) error {
	if err := k.next.Store(ctx, r); err != nil {
		return err
	}
	s := k.s
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.Job.ID
	ev := map[string]int{}
	if r.Document != nil {
		for _, e := range r.Document.Evidence() {
			if _, ok := ev[strings.ToLower(e.Phrase)]; !ok {
				ev[strings.ToLower(e.Phrase)] = e.Page
			}
		}
	}
	if _, ok := s.results[id]; !ok {
		s.order = append(s.order, id)
	}
	s.results[id] = kept{job: r.Job, ex: r.Extraction, spans: r.Redaction.Spans, evidence: ev}
	for len(s.order) > s.cfg.Keep {
		delete(s.results, s.order[0])
		s.order = s.order[1:]
	}
	for _, pg := range r.Extraction.Pages {
		var flags []string
		if pg.Flags&ocr.FlagLowConfidence != 0 {
			flags = append(flags, appstate.ReviewLowConfidence)
		}
		if pg.Flags&ocr.FlagNoText != 0 {
			flags = append(flags, appstate.ReviewNoText)
		}
		if len(flags) == 0 {
			continue
		}
		p := appstate.ReviewPage{DocumentID: id, Name: s.names[id], Page: pg.Number, Pages: len(r.Extraction.Pages), Flags: flags}
		// Store runs again for a job after a crash: keep one entry a page.
		if !slices.ContainsFunc(s.review, func(q appstate.ReviewPage) bool { return q.DocumentID == p.DocumentID && q.Page == p.Page }) {
			s.review = append(s.review, p)
		}
	}
	return nil
}

// ErrNoFiling: the Source was made without Config.Filing.
var ErrNoFiling = errors.New("pipeline: no filing configured")

// Unfiled implements appstate.DocumentFiler.
func (s *Source) Unfiled(ctx context.Context) ([]appstate.UnfiledDoc, error) {
	if s.cfg.Filing == nil {
		return nil, nil
	}
	docs, err := s.cfg.Filing.Unfiled(ctx)
	if err != nil {
		return nil, err
	}
	var out []appstate.UnfiledDoc
	for _, d := range docs {
		if d.PipelineVersion == "" {
			continue // still being read
		}
		out = append(out, appstate.UnfiledDoc{DocumentID: d.ID, Name: d.Title, Type: d.Type})
	}
	return out, nil
}

// Assign implements appstate.DocumentFiler.
func (s *Source) Assign(ctx context.Context, documentID, mrn string, _ appstate.User) error {
	if s.cfg.Filing == nil {
		return ErrNoFiling
	}
	mrn = strings.TrimSpace(mrn)
	err := s.cfg.Filing.AssignMRN(ctx, documentID, mrn)
	if errors.Is(err, localdoc.ErrUnknownPatient) {
		return appstate.ErrUnknownMRN
	}
	return err
}

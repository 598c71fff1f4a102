// Package pipeline implements the Documents screen's appstate interfaces
// (Importer, DocumentSource) over the document pipeline (package docpipe):
// an import is copied into the pipeline's inbox folder and queued, the
// quarantine is the queue's quarantined jobs with their PHI-free reasons,
// and the pages to review are those the pipeline flagged in the results it
// stored through Sink.
//
// What the pipeline does not keep yet — redacted page images, and the
// review list across restarts — this adapter answers with
// appstate.ErrNoPageImage or from memory; see Source.
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/ocr"
)

// Enqueuer queues a job and wakes the pipeline; *docpipe.Pipeline is one.
type Enqueuer interface {
	Enqueue(ctx context.Context, job docpipe.Job) error
}

// Source is an appstate.Importer and appstate.DocumentSource over a
// docpipe queue. Wrap the pipeline's Sink with Sink so that Source learns
// the pages flagged for review. It is safe for concurrent use.
type Source struct {
	queue docpipe.Queue
	pipe  Enqueuer
	inbox string

	mu       sync.Mutex
	names    map[string]string // document ID → imported file name, this run
	review   []appstate.ReviewPage
	reviewed map[string]bool // "id/page"
}

// New returns a Source: imports are written to the folder inbox (created
// when missing; it holds documents, so it must be inside the encrypted
// profile) and queued with pipe; queue is the pipeline's queue.
func New(queue docpipe.Queue, pipe Enqueuer, inbox string) *Source {
	return &Source{queue: queue, pipe: pipe, inbox: inbox, names: map[string]string{}, reviewed: map[string]bool{}}
}

// Import implements appstate.Importer: the document ID is a hash of the
// content, so importing the same file twice queues it once.
func (s *Source) Import(ctx context.Context, f appstate.ImportFile) (appstate.Imported, error) {
	if err := appstate.CheckImport(int64(len(f.Data))); err != nil {
		return appstate.Imported{}, err
	}
	sum := sha256.Sum256(f.Data)
	id := "doc-" + hex.EncodeToString(sum[:12])
	path := filepath.Join(s.inbox, id)
	if _, err := os.Stat(path); err == nil {
		return appstate.Imported{DocumentID: id, Duplicate: true}, nil
	}
	if err := os.MkdirAll(s.inbox, 0o700); err != nil {
		return appstate.Imported{}, fmt.Errorf("creating the inbox: %w", stripPath(err))
	}
	tmp := path + ".part"
	if err := os.WriteFile(tmp, f.Data, 0o600); err != nil {
		return appstate.Imported{}, fmt.Errorf("copying document %s: %w", id, stripPath(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return appstate.Imported{}, fmt.Errorf("copying document %s: %w", id, stripPath(err))
	}
	if err := s.pipe.Enqueue(ctx, docpipe.Job{ID: id, Source: path}); err != nil {
		return appstate.Imported{}, fmt.Errorf("queueing document %s: %w", id, err)
	}
	s.mu.Lock()
	s.names[id] = f.Name
	s.mu.Unlock()
	return appstate.Imported{DocumentID: id}, nil
}

// stripPath keeps a path error's operation and cause, not the path.
func stripPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// Quarantined implements appstate.DocumentSource.
func (s *Source) Quarantined(ctx context.Context) ([]appstate.QuarantinedDoc, error) {
	jobs, err := s.queue.List(ctx, docpipe.StateQuarantined)
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

// Page implements appstate.DocumentSource. The pipeline does not keep
// redacted page images yet: it always fails with appstate.ErrNoPageImage.
func (s *Source) Page(context.Context, string, int) (appstate.PageImage, error) {
	return appstate.PageImage{}, appstate.ErrNoPageImage
}

// EvidencePage implements appstate.DocumentSource; see Page.
func (s *Source) EvidencePage(context.Context, string, string) (string, int, error) {
	return "", 0, appstate.ErrNoPageImage
}

// Sink wraps the pipeline's sink: after next stores a result, the pages
// the extraction flagged join the review list.
func (s *Source) Sink(next docpipe.Sink) docpipe.Sink { return sink{s, next} }

type sink struct {
	s    *Source
	next docpipe.Sink
}

func (k sink) Store(ctx context.Context, r docpipe.Result) error {
	if err := k.next.Store(ctx, r); err != nil {
		return err
	}
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
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
		p := appstate.ReviewPage{DocumentID: r.Job.ID, Name: k.s.names[r.Job.ID], Page: pg.Number, Pages: len(r.Extraction.Pages), Flags: flags}
		// Store runs again for a job after a crash: keep one entry a page.
		if !slices.ContainsFunc(k.s.review, func(q appstate.ReviewPage) bool { return q.DocumentID == p.DocumentID && q.Page == p.Page }) {
			k.s.review = append(k.s.review, p)
		}
	}
	return nil
}

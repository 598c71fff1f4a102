package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"healthprep.dev/desktop/internal/appstate/pipeline"
	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/localdoc"
	"healthprep.dev/desktop/internal/docpipe/queuefile"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
	"healthprep.dev/shared/preset"
)

// DocumentsConfig configures the window's document pipeline, from flags.
type DocumentsConfig struct {
	// Inbox is the watched folder; "" means "inbox" in the profile.
	Inbox string
	// Workers is how many pages are read at once; 0 means the cores.
	Workers int
	// Tesseract is the tesseract executable; "" looks it up on PATH.
	Tesseract string
	// OnStored, when set, is called after each result is stored with its
	// outbox entry (the window nudges the sync agent).
	OnStored func()
}

func (c *DocumentsConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Inbox, "inbox", "", "watched folder for scanned documents (default: inbox in the profile)")
	fs.IntVar(&c.Workers, "ocr-workers", 0, "pages read at once (default: the number of cores)")
	fs.StringVar(&c.Tesseract, "tesseract", "", "the tesseract executable (default: tesseract on PATH)")
}

// documents is the document pipeline of the window's process: imports and
// the watched folder go through docpipe (text layer or Tesseract, patient
// matching, redaction, classification) into the local store and its sync
// outbox. Source is what the Documents tab and the evidence pages read.
type documents struct {
	Source *pipeline.Source
	Store  *localdoc.Store
	Queue  docpipe.Queue

	x      *docpipe.Extractor
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// lateEnqueuer lets the Source (whose Sink the pipeline needs) be made
// before the pipeline it enqueues into.
type lateEnqueuer struct{ p *docpipe.Pipeline }

func (e *lateEnqueuer) Enqueue(ctx context.Context, job docpipe.Job) error {
	return e.p.Enqueue(ctx, job)
}

// storedSink calls fn after next stores a result.
type storedSink struct {
	next docpipe.Sink
	fn   func()
}

func (s storedSink) Store(ctx context.Context, r docpipe.Result) error {
	if err := s.next.Store(ctx, r); err != nil {
		return err
	}
	if s.fn != nil {
		s.fn()
	}
	return nil
}

// restartBackoff bounds the wait before a failed service is restarted.
type restartBackoff struct{ first, max time.Duration }

var defaultBackoff = restartBackoff{time.Second, time.Minute}

// startDocuments starts the pipeline over ls (unlocked with the device key,
// so documents are processed while the window is locked): a queue file and
// the watched folder in the profile dir, one Tesseract process per worker.
// The pipeline and the watched folder are supervised: each restarts after a
// failure until Stop. Logs carry job IDs, counts and durations, never text
// or file names.
// syncedDocumentsEvery is how often the window looks for Epic documents
// that sync delivered.
const syncedDocumentsEvery = 5 * time.Second

func startDocuments(ctx context.Context, dir string, ls *localstore.Store, cfg DocumentsConfig, log *slog.Logger) (*documents, error) {
	return startDocumentsWith(ctx, dir, ls, cfg, log, defaultBackoff)
}

func startDocumentsWith(ctx context.Context, dir string, ls *localstore.Store, cfg DocumentsConfig, log *slog.Logger, b restartBackoff) (*documents, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Inbox == "" {
		cfg.Inbox = filepath.Join(dir, "inbox")
	}
	if err := os.MkdirAll(cfg.Inbox, 0o700); err != nil {
		return nil, fmt.Errorf("creating the watched folder: %w", err)
	}
	lib, err := preset.Default()
	if err != nil {
		return nil, fmt.Errorf("loading the screening library for documents: %w", err)
	}
	q, err := queuefile.Open(filepath.Join(dir, "documents-queue.json"))
	if err != nil {
		return nil, err
	}
	x, err := docpipe.NewExtractor(docpipe.ExtractorConfig{
		Workers:   cfg.Workers,
		NewEngine: func() (ocr.Engine, error) { return tesscmd.New(tesscmd.Config{Path: cfg.Tesseract}) },
	})
	if err != nil {
		return nil, fmt.Errorf("starting OCR (is tesseract installed?): %w", err)
	}
	store := localdoc.New(ls)
	det := phi.NewDetector(phi.Options{})
	enq := &lateEnqueuer{}
	src := pipeline.New(pipeline.Config{Queue: q, Originals: store, Pipeline: enq, Extractor: x, Filing: store})
	p, err := docpipe.New(docpipe.Config{
		Extractor: x, Queue: q, Loader: store, Sink: src.Sink(storedSink{store, cfg.OnStored}),
		Filer:    localdoc.Matcher{Store: store, Detector: det},
		Redactor: docpipe.PHIRedactor{Detector: det, Known: store.KnownFor},
		Analyzer: &docpipe.Analyzer{Classifier: doctype.NewClassifier(), Evidence: doctype.NewFinder(lib)},
		Logger:   log,
	})
	if err != nil {
		x.Close()
		return nil, err
	}
	enq.p = p
	in, err := docpipe.NewInbox(docpipe.InboxConfig{Dir: cfg.Inbox, Originals: store, Pipeline: p, Queue: q, Logger: log})
	if err != nil {
		x.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	d := &documents{Source: src, Store: store, Queue: q, x: x, cancel: cancel}
	// Epic documents arrive through sync (the agent has its own handle on
	// the store) and wait in syncstore's pending list; drain it into the
	// pipeline now and every few seconds.
	drain := func(ctx context.Context) error {
		t := time.NewTicker(syncedDocumentsEvery)
		defer t.Stop()
		for {
			if _, err := store.DrainPending(ctx, p); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
	d.wg.Add(3)
	go func() { defer d.wg.Done(); supervise(ctx, log, "document pipeline", p.Run, b) }()
	go func() { defer d.wg.Done(); supervise(ctx, log, "watched folder", in.Run, b) }()
	go func() { defer d.wg.Done(); supervise(ctx, log, "synced documents", drain, b) }()
	return d, nil
}

// Stop ends the pipeline and the watched folder, waits for them (a
// document in progress goes back to the queue for the next start) and
// stops the OCR engines.
func (d *documents) Stop() {
	d.cancel()
	d.wg.Wait()
	d.x.Close()
}

// supervise runs run until ctx ends, restarting it after an error or a
// panic, waiting b.first, doubling up to b.max (reset after a run that
// lasted longer than b.max). Errors are logged as they are (docpipe's hold
// no PHI); a panic's value is not logged, as it may quote anything.
func supervise(ctx context.Context, log *slog.Logger, name string, run func(context.Context) error, b restartBackoff) {
	wait := b.first
	for {
		start := time.Now()
		err := runGuarded(ctx, run)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > b.max {
			wait = b.first
		}
		if err == nil {
			err = errors.New("stopped")
		}
		log.WarnContext(ctx, "restarting "+name, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, b.max)
	}
}

var errPanicked = errors.New("panicked")

func runGuarded(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if recover() != nil {
			err = errPanicked
		}
	}()
	return run(ctx)
}

// Package docpipe takes documents (PDF with or without a text layer, TIFF,
// PNG, JPEG; told apart by content) from a persistent queue to text with
// word boxes, page by page (text layer first, OCR otherwise), and hands the
// text to a Redactor.
//
// An [Extractor] does one document: bounded by [Limits] and a time limit,
// its workers each own one ocr.Engine and are shared by every document in
// flight. A [Pipeline] drives an Extractor from a [Queue] that survives
// restarts, quarantines documents that cannot be read with a
// [DocumentError] naming why, retries other failures a few times, and
// stores results through a [Sink]. With an [Analyzer] each result also
// carries a [DocumentResult]: the document's type, date of service and
// screening evidence (package shared/doctype) with the redacted text, keyed
// by document, content hash and [PipelineVersion] for the sync outbox
// (package localdoc stores it with its outbox entry in one local
// transaction). An [Inbox] feeds the queue from a watched folder and
// imports; [Extractor.Redact] and [Extractor.RedactedPDF] box the redacted
// words out of the page images.
//
// Document text and file names are PHI. Nothing here logs them or puts
// them in an error: logs carry job IDs, formats, counts and durations.
package docpipe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"healthprep.dev/shared/phi"
)

func defaultWorkers() int { return runtime.NumCPU() }

// State is where a job is in the queue.
type State string

// Job states.
const (
	StatePending     State = "pending"
	StateRunning     State = "running"
	StateDone        State = "done"
	StateQuarantined State = "quarantined"
)

// Job is one document to process.
type Job struct {
	// ID names the job; it is logged, so it must not hold PHI (use a random
	// ID or a content hash, not a file name).
	ID string `json:"id"`
	// Source tells the Loader where the bytes are (a path, a blob ID). It
	// may hold PHI and is never logged.
	Source string `json:"source"`
	// Patient optionally tells the Redactor whose identifiers to look for.
	Patient  string    `json:"patient,omitempty"`
	State    State     `json:"state"`
	Attempts int       `json:"attempts"`
	Added    time.Time `json:"added"`
	// Reason and Message say why a job was quarantined; Message is a
	// DocumentError's PHI-free text.
	Reason  Kind   `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Queue stores jobs durably. Implementations: queuefile (a JSON file);
// the local store can provide another. Each call is atomic.
type Queue interface {
	// Add stores a pending job; a job whose ID is already known is left
	// as it is.
	Add(ctx context.Context, job Job) error
	// Claim marks the oldest pending job running, counts an attempt and
	// returns it; ok is false when none is pending.
	Claim(ctx context.Context) (job Job, ok bool, err error)
	// Complete marks a job done.
	Complete(ctx context.Context, id string) error
	// Quarantine marks a job quarantined with its reason.
	Quarantine(ctx context.Context, id string, reason Kind, message string) error
	// Release puts a running job back to pending.
	Release(ctx context.Context, id string) error
	// Recover puts every running job back to pending: after a crash, jobs
	// that were running were not finished. It returns how many.
	Recover(ctx context.Context) (int, error)
	// List returns the jobs in a state, oldest first.
	List(ctx context.Context, s State) ([]Job, error)
}

// Loader fetches a job's bytes. Its errors must not quote Job.Source
// (the pipeline strips the path from *fs.PathError, the usual culprit).
type Loader interface {
	Load(ctx context.Context, job Job) ([]byte, error)
}

// Redactor turns a document's extracted text into redacted text. The phi
// package's Detector does the work; see PHIRedactor.
type Redactor interface {
	Redact(ctx context.Context, job Job, text string) (phi.Result, error)
}

// Result is one processed document. Extraction holds the unredacted text
// and must stay on the workstation (encrypted store); only
// Redaction.Redacted may leave it.
type Result struct {
	Job        Job
	Extraction Extraction
	Redaction  phi.Result
	// Document is the shareable result (type, date, evidence), keyed by
	// Job.ID, content hash and PipelineVersion; set when Config.Analyzer
	// is.
	Document *DocumentResult
}

// Filer finds the patient of a document that came without one, from its
// extracted text (unredacted: it must stay on the workstation). It runs
// before redaction, so that the patient's own identifiers are redacted
// too. patient is "" when no single patient is confidently named.
type Filer interface {
	File(ctx context.Context, job Job, text string) (patient string, err error)
}

// Sink stores results. Store must be idempotent per job ID: after a crash
// between Store and Complete a job runs again.
type Sink interface {
	Store(ctx context.Context, r Result) error
}

// PHIRedactor adapts a phi.Detector. Known, when set, returns the
// patient's own identifiers for a job (nil for none).
type PHIRedactor struct {
	Detector *phi.Detector
	Known    func(ctx context.Context, job Job) (*phi.Known, error)
}

// Redact implements Redactor.
func (r PHIRedactor) Redact(ctx context.Context, job Job, text string) (phi.Result, error) {
	var k *phi.Known
	if r.Known != nil {
		var err error
		if k, err = r.Known(ctx, job); err != nil {
			return phi.Result{}, fmt.Errorf("looking up the patient's identifiers: %w", err)
		}
	}
	return r.Detector.Redact(text, k), nil
}

// Config wires a Pipeline.
type Config struct {
	Extractor *Extractor
	Queue     Queue
	Loader    Loader
	Redactor  Redactor
	Sink      Sink
	// Filer, when set, files jobs without a Patient before redaction
	// (Result.Job.Patient then names the patient found).
	Filer Filer
	// Analyzer, when set, classifies each redacted document and finds its
	// screening evidence (Result.Document).
	Analyzer *Analyzer
	// Logger gets job IDs, counts and durations, never text; nil discards.
	Logger *slog.Logger
	// MaxAttempts: a job failing this many times for reasons other than a
	// DocumentError is quarantined as KindFailed. 0 means 3.
	MaxAttempts int
	// InFlight is how many documents are processed at once; 0 means the
	// Extractor's worker count (pages of one document already share the
	// workers, so more only helps when documents are single pages).
	InFlight int
}

// Pipeline runs jobs from a Queue through an Extractor and a Redactor into
// a Sink.
type Pipeline struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}
}

// New checks cfg.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Extractor == nil || cfg.Queue == nil || cfg.Loader == nil || cfg.Redactor == nil || cfg.Sink == nil {
		return nil, errors.New("docpipe: Config needs Extractor, Queue, Loader, Redactor and Sink")
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = cfg.Extractor.Workers()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{cfg: cfg, log: log, wake: make(chan struct{}, 1)}, nil
}

// Enqueue adds a job and wakes Run.
func (p *Pipeline) Enqueue(ctx context.Context, job Job) error {
	job.State, job.Attempts, job.Reason, job.Message = StatePending, 0, "", ""
	if job.Added.IsZero() {
		job.Added = time.Now().UTC()
	}
	if err := p.cfg.Queue.Add(ctx, job); err != nil {
		return fmt.Errorf("queueing job %s: %w", job.ID, err)
	}
	p.log.DebugContext(ctx, "docpipe: job queued", "job", job.ID)
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run processes jobs until ctx ends, waiting for Enqueue when the queue is
// empty. It first recovers jobs a crash left running. Only one Run or
// Drain may be active per queue.
func (p *Pipeline) Run(ctx context.Context) error { return p.run(ctx, false) }

// Drain processes jobs until none is pending, then returns.
func (p *Pipeline) Drain(ctx context.Context) error { return p.run(ctx, true) }

func (p *Pipeline) run(ctx context.Context, untilEmpty bool) error {
	n, err := p.cfg.Queue.Recover(ctx)
	if err != nil {
		return fmt.Errorf("recovering interrupted jobs: %w", err)
	}
	if n > 0 {
		p.log.InfoContext(ctx, "docpipe: resuming interrupted jobs", "count", n)
	}
	slots := make(chan struct{}, p.cfg.InFlight)
	finished := make(chan struct{}, p.cfg.InFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		job, ok, err := p.cfg.Queue.Claim(ctx)
		if err != nil {
			<-slots
			return fmt.Errorf("claiming a job: %w", err)
		}
		if !ok {
			<-slots
			if untilEmpty && len(slots) == 0 {
				return nil
			}
			select {
			case <-p.wake:
			case <-finished:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.process(ctx, job)
			<-slots
			select {
			case finished <- struct{}{}:
			default:
			}
		}()
	}
}

func (p *Pipeline) process(ctx context.Context, job Job) {
	start := time.Now()
	log := p.log.With("job", job.ID, "attempt", job.Attempts)
	log.DebugContext(ctx, "docpipe: job started")
	res, err := p.do(ctx, job)
	if err == nil {
		err = p.cfg.Queue.Complete(ctx, job.ID)
	}
	switch de, rejected := Rejection(err); {
	case err == nil:
		ocrPages, layerPages := 0, 0
		for _, pg := range res.Extraction.Pages {
			if pg.Source == SourceOCR {
				ocrPages++
			} else {
				layerPages++
			}
		}
		log.InfoContext(ctx, "docpipe: job done", "format", string(res.Extraction.Format),
			"pages", len(res.Extraction.Pages), "ocr_pages", ocrPages, "text_layer_pages", layerPages,
			"review_pages", len(res.Extraction.Review()), "redactions", len(res.Redaction.Spans),
			"duration", time.Since(start).Round(time.Millisecond))
	case rejected:
		p.quarantine(ctx, log, job, de.Kind, de.Error())
	case ctx.Err() != nil:
		// Shutting down: the job goes back to pending for the next Run.
		if rerr := p.cfg.Queue.Release(context.WithoutCancel(ctx), job.ID); rerr != nil {
			log.WarnContext(ctx, "docpipe: releasing job", "err", rerr)
		}
	case job.Attempts >= p.cfg.MaxAttempts:
		de := &DocumentError{Kind: KindFailed, Limit: int64(job.Attempts)}
		log.WarnContext(ctx, "docpipe: job failed", "err", err)
		p.quarantine(ctx, log, job, de.Kind, de.Error())
	default:
		log.WarnContext(ctx, "docpipe: job failed, will retry", "err", err)
		if rerr := p.cfg.Queue.Release(ctx, job.ID); rerr != nil {
			log.WarnContext(ctx, "docpipe: releasing job", "err", rerr)
		}
	}
}

func (p *Pipeline) quarantine(ctx context.Context, log *slog.Logger, job Job, k Kind, msg string) {
	log.InfoContext(ctx, "docpipe: job quarantined", "reason", string(k))
	if err := p.cfg.Queue.Quarantine(ctx, job.ID, k, msg); err != nil {
		log.WarnContext(ctx, "docpipe: quarantining job", "err", err)
	}
}

func (p *Pipeline) do(ctx context.Context, job Job) (Result, error) {
	data, err := p.cfg.Loader.Load(ctx, job)
	if err != nil {
		return Result{}, fmt.Errorf("loading document: %w", withoutPaths(err))
	}
	ex, err := p.cfg.Extractor.Extract(ctx, data)
	if err != nil {
		return Result{}, err
	}
	if job.Patient == "" && p.cfg.Filer != nil {
		if job.Patient, err = p.cfg.Filer.File(ctx, job, ex.Text()); err != nil {
			return Result{}, fmt.Errorf("finding the document's patient: %w", err)
		}
		if job.Patient != "" {
			p.log.DebugContext(ctx, "docpipe: job filed under a patient", "job", job.ID)
		}
	}
	red, err := p.cfg.Redactor.Redact(ctx, job, ex.Text())
	if err != nil {
		return Result{}, fmt.Errorf("redacting: %w", err)
	}
	r := Result{Job: job, Extraction: ex, Redaction: red}
	if p.cfg.Analyzer != nil {
		d := p.cfg.Analyzer.Analyze(job.ID, data, ex, red)
		r.Document = &d
	}
	if err := p.cfg.Sink.Store(ctx, r); err != nil {
		return Result{}, fmt.Errorf("storing result: %w", err)
	}
	return r, nil
}

// withoutPaths replaces path errors (which quote file names, and file
// names can be PHI) by their operation and cause.
func withoutPaths(err error) error {
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

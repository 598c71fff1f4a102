package docpipe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Originals keeps the files the pipeline reads, encrypted on the
// workstation; they never leave it. Package localdoc keeps them in the
// local store. It is also the pipeline's Loader: a job's bytes come from
// here, never again from the file system.
type Originals interface {
	Loader
	// Keep stores one file's bytes for job (its ID and Patient); name is
	// the file's base name (PHI, stored sealed). Keeping a job ID already
	// kept changes nothing.
	Keep(ctx context.Context, job Job, name string, data []byte) error
	// Forget removes a job's original bytes (whatever was derived from
	// them stays). Forgetting one already forgotten is not an error.
	Forget(ctx context.Context, job Job) error
}

// Enqueuer takes new jobs; *Pipeline is one.
type Enqueuer interface {
	Enqueue(ctx context.Context, job Job) error
}

// InboxConfig configures an Inbox.
type InboxConfig struct {
	// Dir is the watched folder (a scanner's or a fax server's output,
	// often a network share); "" for Import only.
	Dir string
	// Interval is how often Dir is listed; 0 means 2 s. A file is taken
	// once two listings one Interval apart show the same size and
	// modification time, so a file still being written waits.
	Interval  time.Duration
	Originals Originals
	Pipeline  Enqueuer
	// Queue, when set, lets Sweep find old jobs (the Pipeline's queue).
	Queue Queue
	// Retention is how long originals are kept after they were queued;
	// 0 means 90 days. Sweep forgets older ones.
	Retention time.Duration
	// MaxBytes bounds what is read of one file; a longer file is kept cut
	// to MaxBytes+1 bytes, which the Extractor rejects as too large. 0
	// means 256 MiB, the Extractor's default.
	MaxBytes int64
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Inbox brings documents into the pipeline: files dropped into a watched
// folder and files a person imports. Each file is read once, its bytes
// kept encrypted through Originals, and a job queued whose ID is the
// SHA-256 of the content, so the same file twice is one job. A file taken
// from the watched folder is then deleted from it: no plaintext copy stays
// behind and nothing is read twice. An imported file is left where it is.
//
// Why polling and not file-system notifications (inotify, ReadDirectoryChangesW,
// FSEvents): the watched folder is often an SMB or NFS share written by a
// scanner or another machine, where notifications are missing or
// unreliable; notifications also say a file appeared, not that its writer
// finished. Listing one folder every couple of seconds costs nothing,
// works the same on Windows, Linux and macOS, and the stable-size check
// it needs anyway is the one that tells a half-written file.
type Inbox struct {
	cfg  InboxConfig
	log  *slog.Logger
	seen map[string]fileState // Dir's files at the last listing
}

type fileState struct {
	size   int64
	mod    time.Time
	stable int // listings in a row that saw this size and time
}

// emptyListings is how many listings in a row must see a file empty before
// it is taken: writers often create a file and fill it a moment later, and
// taking (and deleting) it in between would lose the document.
const emptyListings = 15

// NewInbox checks cfg.
func NewInbox(cfg InboxConfig) (*Inbox, error) {
	if cfg.Originals == nil || cfg.Pipeline == nil {
		return nil, errors.New("docpipe: InboxConfig needs Originals and Pipeline")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 90 * 24 * time.Hour
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = Limits{}.withDefaults().MaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Inbox{cfg: cfg, log: log, seen: map[string]fileState{}}, nil
}

// Import reads the file at path once and queues it; the file itself is
// left alone. It returns the job's ID.
func (in *Inbox) Import(ctx context.Context, path string) (string, error) {
	return in.take(ctx, path, "")
}

// Run watches Dir until ctx ends, sweeping originals past their retention
// once at the start and then daily. Errors with single files are logged
// (without their names) and the file is tried again at the next listing.
func (in *Inbox) Run(ctx context.Context) error {
	t := time.NewTicker(in.cfg.Interval)
	defer t.Stop()
	lastSweep := time.Time{}
	for {
		if now := in.cfg.Now(); in.cfg.Queue != nil && now.Sub(lastSweep) >= 24*time.Hour {
			if _, err := in.Sweep(ctx); err != nil && ctx.Err() == nil {
				in.log.WarnContext(ctx, "docpipe: sweeping originals", "err", err)
			}
			lastSweep = now
		}
		if in.cfg.Dir != "" {
			if _, err := in.Poll(ctx); err != nil && ctx.Err() == nil {
				in.log.WarnContext(ctx, "docpipe: listing the watched folder", "err", withoutPaths(err))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Poll lists Dir once and takes every file whose size and modification
// time have not changed since the previous Poll (an empty file must stay
// empty for emptyListings listings). It returns the IDs of the
// jobs queued. Hidden files (".name", a scanner's temporary file) and
// folders are ignored.
func (in *Inbox) Poll(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(in.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("listing the watched folder: %w", withoutPaths(err))
	}
	now := map[string]fileState{}
	var ready []string
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "~") {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		st := fileState{size: fi.Size(), mod: fi.ModTime()}
		if prev, ok := in.seen[e.Name()]; ok && prev.size == st.size && prev.mod.Equal(st.mod) {
			st.stable = prev.stable + 1
		}
		now[e.Name()] = st
		if st.stable >= 1 && (st.size > 0 || st.stable >= emptyListings) {
			ready = append(ready, e.Name())
		}
	}
	in.seen = now
	sort.Strings(ready)
	var ids []string
	var errs []error
	for _, name := range ready {
		id, err := in.take(ctx, filepath.Join(in.cfg.Dir, name), name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		delete(in.seen, name)
		ids = append(ids, id)
	}
	return ids, errors.Join(errs...)
}

// take reads path once, keeps it, queues its job and, for a watched file
// (watched is its name in Dir), deletes it.
func (in *Inbox) take(ctx context.Context, path, watched string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening a document: %w", withoutPaths(err))
	}
	data, err := io.ReadAll(io.LimitReader(f, in.cfg.MaxBytes+1))
	f.Close()
	if err != nil {
		return "", fmt.Errorf("reading a document: %w", withoutPaths(err))
	}
	sum := sha256.Sum256(data)
	job := Job{ID: hex.EncodeToString(sum[:16]), Source: "original:" + hex.EncodeToString(sum[:16]), Added: in.cfg.Now().UTC()}
	if err := in.cfg.Originals.Keep(ctx, job, filepath.Base(path), data); err != nil {
		return "", fmt.Errorf("keeping document %s: %w", job.ID, withoutPaths(err))
	}
	if err := in.cfg.Pipeline.Enqueue(ctx, job); err != nil {
		return "", err
	}
	if watched != "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Kept and queued; the next listing finds the same content,
			// which is the same job: nothing is processed twice.
			in.log.WarnContext(ctx, "docpipe: removing a taken file from the watched folder", "job", job.ID, "err", withoutPaths(err))
		}
	}
	in.log.InfoContext(ctx, "docpipe: document taken", "job", job.ID, "bytes", len(data), "watched", watched != "")
	return job.ID, nil
}

// Sweep forgets the originals of finished and quarantined jobs queued
// more than Retention ago, and returns how many. Pending and running jobs
// keep theirs.
func (in *Inbox) Sweep(ctx context.Context) (int, error) {
	if in.cfg.Queue == nil {
		return 0, errors.New("docpipe: sweeping needs InboxConfig.Queue")
	}
	cut := in.cfg.Now().Add(-in.cfg.Retention)
	n := 0
	for _, st := range []State{StateDone, StateQuarantined} {
		jobs, err := in.cfg.Queue.List(ctx, st)
		if err != nil {
			return n, fmt.Errorf("listing %s jobs: %w", st, err)
		}
		for _, j := range jobs {
			if !j.Added.Before(cut) {
				continue
			}
			if err := in.cfg.Originals.Forget(ctx, j); err != nil {
				return n, fmt.Errorf("forgetting the original of job %s: %w", j.ID, err)
			}
			n++
		}
	}
	return n, nil
}

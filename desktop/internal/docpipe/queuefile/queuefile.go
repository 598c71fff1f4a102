// Package queuefile is a docpipe.Queue kept in one JSON file, rewritten
// atomically (temporary file, fsync, rename) on every change, so a crash at
// any instant leaves either the old or the new state. It suits hundreds of
// jobs; the local store can back the queue with SQLite instead.
//
// The file holds job sources (paths, which may name patients): put it in
// the workstation's protected data directory.
package queuefile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"healthprep.dev/desktop/internal/docpipe"
)

// Queue is a file-backed docpipe.Queue, safe for concurrent use within one
// process.
type Queue struct {
	path string
	mu   sync.Mutex
	jobs []docpipe.Job // in insertion order
}

var _ docpipe.Queue = (*Queue)(nil)

// ErrUnknownJob reports an ID the queue does not hold.
var ErrUnknownJob = errors.New("queuefile: unknown job")

// Open loads the queue at path, creating an empty one if the file does not
// exist.
func Open(path string) (*Queue, error) {
	q := &Queue{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return q, nil
	case err != nil:
		return nil, fmt.Errorf("reading queue file: %w", err)
	}
	if err := json.Unmarshal(b, &q.jobs); err != nil {
		return nil, fmt.Errorf("decoding queue file: %w", err)
	}
	return q, nil
}

func (q *Queue) save() error {
	b, err := json.Marshal(q.jobs)
	if err != nil {
		return fmt.Errorf("encoding queue: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(q.path), ".queue-*")
	if err != nil {
		return fmt.Errorf("writing queue: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing queue: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing queue: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing queue: %w", err)
	}
	if err := os.Rename(tmp.Name(), q.path); err != nil {
		return fmt.Errorf("replacing queue file: %w", err)
	}
	return nil
}

// update applies fn to a copy of the jobs and saves; on failure the
// in-memory state is unchanged.
func (q *Queue) update(fn func(jobs []docpipe.Job) ([]docpipe.Job, error)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	old := q.jobs
	next, err := fn(slices.Clone(old))
	if err != nil {
		return err
	}
	q.jobs = next
	if err := q.save(); err != nil {
		q.jobs = old
		return err
	}
	return nil
}

func find(jobs []docpipe.Job, id string) int {
	return slices.IndexFunc(jobs, func(j docpipe.Job) bool { return j.ID == id })
}

// Add implements docpipe.Queue.
func (q *Queue) Add(_ context.Context, job docpipe.Job) error {
	return q.update(func(jobs []docpipe.Job) ([]docpipe.Job, error) {
		if find(jobs, job.ID) >= 0 {
			return jobs, nil
		}
		job.State = docpipe.StatePending
		return append(jobs, job), nil
	})
}

// Claim implements docpipe.Queue.
func (q *Queue) Claim(_ context.Context) (docpipe.Job, bool, error) {
	var got docpipe.Job
	var ok bool
	err := q.update(func(jobs []docpipe.Job) ([]docpipe.Job, error) {
		for i := range jobs {
			if jobs[i].State == docpipe.StatePending {
				jobs[i].State = docpipe.StateRunning
				jobs[i].Attempts++
				got, ok = jobs[i], true
				break
			}
		}
		return jobs, nil
	})
	return got, ok, err
}

func (q *Queue) set(id string, fn func(*docpipe.Job)) error {
	return q.update(func(jobs []docpipe.Job) ([]docpipe.Job, error) {
		i := find(jobs, id)
		if i < 0 {
			return nil, ErrUnknownJob
		}
		fn(&jobs[i])
		return jobs, nil
	})
}

// Complete implements docpipe.Queue.
func (q *Queue) Complete(_ context.Context, id string) error {
	return q.set(id, func(j *docpipe.Job) { j.State = docpipe.StateDone })
}

// Quarantine implements docpipe.Queue.
func (q *Queue) Quarantine(_ context.Context, id string, reason docpipe.Kind, message string) error {
	return q.set(id, func(j *docpipe.Job) {
		j.State, j.Reason, j.Message = docpipe.StateQuarantined, reason, message
	})
}

// Release implements docpipe.Queue.
func (q *Queue) Release(_ context.Context, id string) error {
	return q.set(id, func(j *docpipe.Job) {
		if j.State == docpipe.StateRunning {
			j.State = docpipe.StatePending
		}
	})
}

// Recover implements docpipe.Queue.
func (q *Queue) Recover(_ context.Context) (int, error) {
	n := 0
	err := q.update(func(jobs []docpipe.Job) ([]docpipe.Job, error) {
		for i := range jobs {
			if jobs[i].State == docpipe.StateRunning {
				jobs[i].State = docpipe.StatePending
				n++
			}
		}
		return jobs, nil
	})
	return n, err
}

// List implements docpipe.Queue.
func (q *Queue) List(_ context.Context, s docpipe.State) ([]docpipe.Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []docpipe.Job
	for _, j := range q.jobs {
		if j.State == s {
			out = append(out, j)
		}
	}
	return out, nil
}

// Package localdoc keeps the document pipeline's files and results in the
// workstation's encrypted local store (package localstore): the original
// bytes of each document (docpipe.Originals, also the pipeline's Loader)
// and each result (a docpipe.Sink), which it records together with its
// sync outbox entry in one local transaction.
//
// A document is a localstore.Document with the job's ID: its Content is
// the original file, sealed; its Text the redacted text. Documents whose
// patient is not known yet are filed under the patient ID Unfiled.
//
// Epic documents arrive by sync: syncstore stores each as such a document
// and lists it pending; DrainPending queues the pending ones into the
// pipeline.
package localdoc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncstore"
)

// Unfiled is the patient ID of documents not yet matched to a patient.
const Unfiled = "unfiled"

// ErrForgotten reports an original removed after its retention.
var ErrForgotten = errors.New("the original document is past its retention and was removed")

// markerPrefix names the settings that record which results have been
// stored (and queued for sync): "docpipe-result/<outbox entry id>".
const markerPrefix = "docpipe-result/"

// resultNamespace makes outbox entry IDs from result keys.
var resultNamespace = uuid.MustParse("5b0c1f0e-6d2a-4c55-9f4e-8a1d3c7e2b61")

// Store is docpipe.Originals and docpipe.Sink over a local store.
type Store struct {
	ls *localstore.Store
}

var (
	_ docpipe.Originals = (*Store)(nil)
	_ docpipe.Sink      = (*Store)(nil)
)

// New returns a Store over ls (which must be unlocked when used).
func New(ls *localstore.Store) *Store { return &Store{ls: ls} }

func patientOf(job docpipe.Job) string {
	if job.Patient != "" {
		return job.Patient
	}
	return Unfiled
}

// filedPrefix names the settings that record under which patient a
// document was filed after it was kept: "docpipe-patient/<document id>".
const filedPrefix = "docpipe-patient/"

// document returns the stored document of job, or ok false. It looks under
// job's patient, then where the document was filed since (a job queued
// without a patient keeps none in the queue), then under Unfiled.
func (s *Store) document(ctx context.Context, job docpipe.Job) (localstore.Document, bool, error) {
	where := []string{patientOf(job)}
	if b, err := s.ls.Setting(ctx, filedPrefix+job.ID); err == nil {
		where = append(where, string(b))
	} else if !errors.Is(err, localstore.ErrNotFound) {
		return localstore.Document{}, false, err
	}
	where = append(where, Unfiled)
	for i, p := range where {
		if slices.Contains(where[:i], p) {
			continue
		}
		docs, err := s.ls.Documents(ctx, p)
		if err != nil {
			return localstore.Document{}, false, err
		}
		for _, d := range docs {
			if d.ID == job.ID {
				return d, true, nil
			}
		}
	}
	return localstore.Document{}, false, nil
}

// Keep implements docpipe.Originals.
func (s *Store) Keep(ctx context.Context, job docpipe.Job, name string, data []byte) error {
	if _, ok, err := s.document(ctx, job); err != nil || ok {
		return err
	}
	ct := ""
	if f, err := docpipe.Sniff(data); err == nil {
		ct = string(f)
	}
	return s.ls.Update(ctx, func(tx *localstore.Tx) error {
		return tx.PutDocument(localstore.Document{ID: job.ID, PatientID: patientOf(job), Title: name, ContentType: ct, Content: data})
	})
}

// Load implements docpipe.Loader.
func (s *Store) Load(ctx context.Context, job docpipe.Job) ([]byte, error) {
	b, err := s.ls.DocumentContent(ctx, job.ID)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, ErrForgotten
	}
	return b, nil
}

// Forget implements docpipe.Originals: the document keeps its metadata and
// redacted text, and loses its content.
func (s *Store) Forget(ctx context.Context, job docpipe.Job) error {
	d, ok, err := s.document(ctx, job)
	if err != nil || !ok {
		return err
	}
	return s.ls.Update(ctx, func(tx *localstore.Tx) error {
		d.Content = nil
		return tx.PutDocument(d)
	})
}

// EntryID is the outbox entry ID of a result: the same result (document,
// content, pipeline version) always gets the same ID, which the cloud
// deduplicates on too.
func EntryID(r docpipe.DocumentResult) string {
	id, sum, version := r.Key()
	return uuid.NewSHA1(resultNamespace, []byte(id+"/"+sum+"/"+version)).String()
}

// Store implements docpipe.Sink: the document's record gains the redacted
// text, type and date, and the result's outbox entry is queued, in one
// local transaction. A result already stored (the same document, content
// and pipeline version, after a crash or a second run) changes nothing.
// Results without a Document (no Analyzer) only update the record.
func (s *Store) Store(ctx context.Context, r docpipe.Result) error {
	d, ok, err := s.document(ctx, r.Job)
	if err != nil {
		return fmt.Errorf("reading document %s: %w", r.Job.ID, err)
	}
	if !ok {
		d = localstore.Document{ID: r.Job.ID, PatientID: patientOf(r.Job)}
	} else if d.Content, err = s.ls.DocumentContent(ctx, d.ID); err != nil {
		return fmt.Errorf("reading document %s: %w", r.Job.ID, err)
	}
	if r.Job.Patient != "" {
		d.PatientID = r.Job.Patient // filed by the pipeline (docpipe.Filer)
	}
	d.Text = r.Redaction.Redacted.String() // the local record holds only redacted text too
	var entry syncagent.Entry
	if r.Document != nil {
		id, sum, version := r.Document.Key()
		payload, err := r.Document.Payload()
		if err != nil {
			return err
		}
		cl := r.Document.Classification()
		d.Type, d.Date, d.ContentSHA256, d.PipelineVersion = string(cl.Type), cl.ServiceDate, sum, version
		entry = syncagent.Entry{ID: EntryID(*r.Document), Kind: "document_result", Payload: payload,
			DocumentID: id, ContentSHA256: sum, PipelineVersion: version}
	}
	return s.ls.Update(ctx, func(tx *localstore.Tx) error {
		if entry.ID != "" {
			if _, err := tx.Setting(markerPrefix + entry.ID); err == nil {
				return nil
			} else if !errors.Is(err, localstore.ErrNotFound) {
				return err
			}
		}
		if err := putFiled(tx, d); err != nil {
			return err
		}
		if entry.ID == "" {
			return nil
		}
		if _, err := syncstore.Enqueue(tx, entry); err != nil {
			return err
		}
		sum := sha256.Sum256(entry.Payload)
		return tx.PutSetting(markerPrefix+entry.ID, sum[:])
	})
}

// putFiled stores d and records its patient for later lookups by job.
func putFiled(tx *localstore.Tx, d localstore.Document) error {
	if err := tx.PutDocument(d); err != nil {
		return err
	}
	if d.PatientID == Unfiled {
		return nil
	}
	return tx.PutSetting(filedPrefix+d.ID, []byte(d.PatientID))
}

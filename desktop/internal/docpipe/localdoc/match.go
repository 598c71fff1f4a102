package localdoc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/phi"
)

// Errors of Assign.
var (
	// ErrNotUnfiled: the document is not waiting for a patient (unknown,
	// or filed already).
	ErrNotUnfiled = errors.New("the document is not waiting for a patient")
	// ErrUnknownPatient: the patient is not cached on this workstation.
	ErrUnknownPatient = errors.New("the patient is not on this workstation")
)

// Known returns a patient's identifiers as the redactor and the matcher
// look for them.
func Known(p chart.Patient) *phi.Known {
	k := &phi.Known{BirthDate: p.BirthDate}
	if p.Name != "" {
		k.Names = []string{p.Name}
	}
	if p.MRN != "" {
		k.MRNs = []string{p.MRN}
	}
	if !p.Deceased.IsZero() {
		k.Dates = []chart.Date{p.Deceased}
	}
	return k
}

// KnownFor is docpipe.PHIRedactor's Known: the identifiers of the job's
// patient, or nil for an unfiled job or a patient not cached here.
func (s *Store) KnownFor(ctx context.Context, job docpipe.Job) (*phi.Known, error) {
	if job.Patient == "" || job.Patient == Unfiled {
		return nil, nil
	}
	p, err := s.ls.Patient(ctx, job.Patient)
	if errors.Is(err, localstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Known(p), nil
}

// Patients returns the patients cached on this workstation (those on the
// cached schedule), by ID.
func (s *Store) Patients(ctx context.Context) ([]chart.Patient, error) {
	apps, err := s.ls.Appointments(ctx, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, fmt.Errorf("listing cached patients: %w", err)
	}
	var ids []string
	for _, a := range apps {
		if !slices.Contains(ids, a.PatientID) {
			ids = append(ids, a.PatientID)
		}
	}
	slices.Sort(ids)
	out := make([]chart.Patient, 0, len(ids))
	for _, id := range ids {
		p, err := s.ls.Patient(ctx, id)
		if errors.Is(err, localstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing cached patients: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Matcher is a docpipe.Filer over the patients cached in a Store: a
// document is filed under the one patient its text confidently names
// (phi.Detector.MatchPatient: MRN, or name and birth date).
type Matcher struct {
	Store    *Store
	Detector *phi.Detector
}

var _ docpipe.Filer = Matcher{}

// File implements docpipe.Filer.
func (m Matcher) File(ctx context.Context, _ docpipe.Job, text string) (string, error) {
	ps, err := m.Store.Patients(ctx)
	if err != nil {
		return "", err
	}
	cands := make([]phi.Candidate, len(ps))
	for i, p := range ps {
		cands[i] = phi.Candidate{ID: p.ID, Known: *Known(p)}
	}
	return m.Detector.MatchPatient(text, cands).ID, nil
}

// Unfiled lists the documents waiting for a person to choose their
// patient (metadata and redacted text, no content), by ID.
func (s *Store) Unfiled(ctx context.Context) ([]localstore.Document, error) {
	docs, err := s.ls.Documents(ctx, Unfiled)
	if err != nil {
		return nil, fmt.Errorf("listing unfiled documents: %w", err)
	}
	return docs, nil
}

// Assign files an unfiled document under a cached patient. The document
// keeps its redacted text and result; only where it is filed changes.
func (s *Store) Assign(ctx context.Context, documentID, patientID string) error {
	if _, err := s.ls.Patient(ctx, patientID); errors.Is(err, localstore.ErrNotFound) {
		return ErrUnknownPatient
	} else if err != nil {
		return fmt.Errorf("assigning document %s: %w", documentID, err)
	}
	docs, err := s.ls.Documents(ctx, Unfiled)
	if err != nil {
		return fmt.Errorf("assigning document %s: %w", documentID, err)
	}
	i := slices.IndexFunc(docs, func(d localstore.Document) bool { return d.ID == documentID })
	if i < 0 {
		return ErrNotUnfiled
	}
	d := docs[i]
	if d.Content, err = s.ls.DocumentContent(ctx, d.ID); err != nil {
		return fmt.Errorf("assigning document %s: %w", documentID, err)
	}
	d.PatientID = patientID
	return s.ls.Update(ctx, func(tx *localstore.Tx) error { return putFiled(tx, d) })
}

// AssignMRN files an unfiled document under the cached patient with this
// MRN (ErrUnknownPatient when none).
func (s *Store) AssignMRN(ctx context.Context, documentID, mrn string) error {
	p, err := s.ls.PatientByMRN(ctx, mrn)
	if errors.Is(err, localstore.ErrNotFound) {
		return ErrUnknownPatient
	}
	if err != nil {
		return fmt.Errorf("assigning document %s: %w", documentID, err)
	}
	return s.Assign(ctx, documentID, p.ID)
}

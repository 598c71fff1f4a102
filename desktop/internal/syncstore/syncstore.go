// Package syncstore adapts the workstation's encrypted local store
// (package localstore) to the sync agent's Store interface: it turns the
// cloud's feed payloads into the local store's rows and applies each page
// together with its cursor in one local transaction, and it reads the
// outbox back as the agent's entries.
//
// What each feed kind becomes:
//
//   - patient, appointment, chart_resource: FHIR R4 JSON from ingest, read
//     with shared/fhir into a chart.Patient, a localstore.Appointment, or a
//     chart item and/or a document (a DiagnosticReport with text is both).
//     A resource that cannot be read replaces nothing stale: its earlier
//     rows are removed and it is counted in Unreadable, so one bad resource
//     never blocks the feed.
//   - override: the JSON of a localstore.Override a workstation pushed; the
//     feed seq of each override is kept so a later edit names its base.
//   - document: the JSON of a localstore.Document (redacted text).
//   - document_content (protocol version 3): the original bytes of an Epic
//     document; stored as a localstore.Document of its patient (content
//     sealed, id ContentDocumentID) and recorded pending for the document
//     pipeline under PendingDocumentPrefix, once per content (see
//     content.go). docpipe/localdoc drains the pending list into the
//     pipeline's queue: syncstore cannot reach that queue itself (localdoc
//     imports syncstore), and a setting commits with the page and its
//     cursor, so a received content is never lost nor queued twice.
//   - config, screening_type, override_conflict, document_result and kinds
//     this build does not know: sealed settings under "<kind>/<id>".
//
// A page that changes the organisation's settings or screening library
// calls the OnClinicChange functions once committed (the window follows
// them without a restart), and the agent records each successful sync
// under LastSyncKey (RecordSync), so the last-sync time survives a
// restart.
//
// Outbox entries written by Enqueue carry the agent's metadata (document
// id, content hash and pipeline version of a document result; record id and
// base seq of an override) sealed with the payload. Entries written by
// other packages with only a payload (the window's overrides) get their
// metadata from the payload.
package syncstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
)

// Setting key prefixes.
const (
	// ConfigPrefix holds the organisation's configuration records.
	ConfigPrefix = "config/"
	// ScreeningTypePrefix holds the organisation's screening types.
	ScreeningTypePrefix = "screening_type/"
	// OverrideSeqPrefix holds the feed seq of each override record.
	OverrideSeqPrefix = "override_seq/"
	// ConflictPrefix holds override conflicts to show a person.
	ConflictPrefix = "override_conflict/"
)

// envelopePrefix marks an outbox kind whose payload is an envelope.
const envelopePrefix = "sync1:"

// Store is a localstore.Store seen as a syncagent.Store.
type Store struct {
	ls *localstore.Store
	// loc is the clinic's time zone for FHIR date-times; it follows the
	// synced organisation settings (see ApplyPage).
	loc atomic.Pointer[time.Location]
	// unreadable counts feed resources that could not be read.
	unreadable atomic.Int64

	mu sync.Mutex
	// first is the ingest records (kind/id) a first sync into an empty
	// store has applied so far in this process; nil otherwise.
	first map[string]struct{}
	// onClinic are called after a page that changed the clinic's
	// settings was committed (OnClinicChange).
	onClinic []func()
}

// StartedKey is the setting written with the first page a store applies:
// once it exists, rows of any record may exist locally.
const StartedKey = "sync/started"

var (
	_ syncagent.Store    = (*Store)(nil)
	_ syncagent.Resetter = (*Store)(nil)
)

// New returns the adapter over an unlocked local store. loc is the
// clinic's time zone for FHIR date-times (UTC when nil).
func New(ls *localstore.Store, loc *time.Location) *Store {
	if loc == nil {
		loc = time.UTC
	}
	s := &Store{ls: ls}
	s.loc.Store(loc)
	return s
}

// Local returns the underlying local store.
func (s *Store) Local() *localstore.Store { return s.ls }

// Unreadable returns how many feed resources could not be read so far.
func (s *Store) Unreadable() int64 { return s.unreadable.Load() }

// Cursor implements syncagent.Store.
func (s *Store) Cursor(ctx context.Context) (string, error) {
	c, err := s.ls.Cursor(ctx)
	return string(c), err
}

// ApplyPage implements syncagent.Store.
//
// A page that changes the organisation's settings or its screening library
// (see ChangesClinic) moves the time zone this adapter reads FHIR
// date-times in, and then calls the OnClinicChange functions, after its
// transaction committed.
//
// A first sync into an empty store skips the deletes that clear a
// patient's, appointment's or chart resource's earlier local rows before
// writing its new ones: there are none. It lasts from the first page ever
// applied (no StartedKey yet) until the store has caught up with the
// cloud, within this process (a restarted agent applies the deletes
// again), and a record met twice in it (changed in the cloud during the
// sync) gets its deletes the second time.
func (s *Store) ApplyPage(ctx context.Context, p syncagent.Page) error {
	first, err := s.firstSync(ctx, p.From)
	if err != nil {
		return err
	}
	changes := make([]localstore.Change, 0, len(p.Changes)+1)
	clinic := false
	for i, c := range p.Changes {
		clinic = clinic || ChangesClinic(c)
		cs, err := s.convert(c, first.fresh(c))
		if err != nil {
			return fmt.Errorf("change %d of a page: %w", i, err)
		}
		changes = append(changes, cs...)
	}
	if p.From == "" {
		changes = append(changes, localstore.UpsertSetting(StartedKey, []byte("1")))
	}
	err = s.ls.ApplyPage(ctx, localstore.Page{From: localstore.Cursor(p.From), Changes: changes}, localstore.Cursor(p.Next))
	if errors.Is(err, localstore.ErrCursorMismatch) {
		return fmt.Errorf("%w (%w)", syncagent.ErrCursorMismatch, err)
	}
	if err == nil && first != nil && (len(p.Changes) == 0 || p.Changes[len(p.Changes)-1].Seq >= p.Latest) {
		s.mu.Lock()
		s.first = nil // caught up
		s.mu.Unlock()
	}
	if err == nil && clinic {
		s.clinicChanged(ctx)
	}
	return err
}

// firstSet is the records a first sync has met (nil: not a first sync).
type firstSet map[string]struct{}

// fresh reports whether c is an ingest record met for the first time in a
// first sync (its earlier local rows cannot exist), and remembers it.
func (f firstSet) fresh(c syncagent.Change) bool {
	if f == nil {
		return false
	}
	switch c.Kind {
	case "patient", "appointment", "chart_resource":
	default:
		return false
	}
	k := c.Kind + "/" + c.ID
	if _, ok := f[k]; ok {
		return false
	}
	f[k] = struct{}{}
	return true
}

// firstSync returns the first sync's set for a page pulled from cursor
// from: a page from the start of the feed begins one when the store has
// never applied a page.
func (s *Store) firstSync(ctx context.Context, from string) (firstSet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if from != "" {
		return s.first, nil
	}
	_, err := s.ls.Setting(ctx, StartedKey)
	switch {
	case errors.Is(err, localstore.ErrNotFound):
		s.first = map[string]struct{}{}
	case err != nil:
		return nil, fmt.Errorf("reading the sync state: %w", err)
	default:
		s.first = nil
	}
	return s.first, nil
}

// ResetCursor implements syncagent.Resetter: the cursor goes back to the
// start (only if it is still from), so the next pull is a full resync.
// The outbox and every cached row are kept: the resync overwrites rows,
// and entries the cloud has not acknowledged are pushed again.
func (s *Store) ResetCursor(ctx context.Context, from string) error {
	err := s.ls.ApplyPage(ctx, localstore.Page{From: localstore.Cursor(from)}, "")
	if errors.Is(err, localstore.ErrCursorMismatch) {
		return fmt.Errorf("%w (%w)", syncagent.ErrCursorMismatch, err)
	}
	if err != nil {
		return fmt.Errorf("resetting the sync cursor: %w", err)
	}
	return nil
}

// convert turns one feed change into local changes. fresh: the record has
// no local rows (a first sync), so none are deleted before it is written.
func (s *Store) convert(c syncagent.Change, fresh bool) ([]localstore.Change, error) {
	if c.Kind == "" || c.ID == "" {
		return nil, errors.New("a change without kind or id")
	}
	switch c.Kind {
	case "patient":
		if c.Delete {
			return []localstore.Change{localstore.Delete(localstore.KindPatient, c.ID)}, nil
		}
		rec, ok := s.read(c)
		if !ok {
			return nil, nil // keep the patient's cached rows; nothing to replace them with
		}
		p := rec.Patient
		p.ID = c.ID
		return []localstore.Change{localstore.UpsertPatient(p)}, nil
	case "appointment":
		del := []localstore.Change{localstore.Delete(localstore.KindAppointment, c.ID)}
		if fresh {
			del = nil
		}
		if c.Delete {
			return del, nil
		}
		rec, ok := s.read(c)
		if !ok || len(rec.Appointments) != 1 {
			s.unreadableIf(ok)
			return del, nil
		}
		a := rec.Appointments[0]
		return []localstore.Change{localstore.UpsertAppointment(localstore.Appointment{
			ID: c.ID, PatientID: rec.Patient.ID, Start: a.Start, End: a.End,
			Provider: a.Provider, Location: a.Location, VisitType: a.VisitType, Status: a.Status,
		})}, nil
	case "chart_resource":
		var out []localstore.Change
		if !fresh {
			out = []localstore.Change{localstore.Delete(localstore.KindChartItem, c.ID), localstore.Delete(localstore.KindDocument, c.ID)}
		}
		if c.Delete {
			return out, nil
		}
		rec, ok := s.read(c)
		if !ok {
			return out, nil
		}
		pid := rec.Patient.ID
		for _, it := range rec.Items {
			out = append(out, localstore.UpsertChartItem(localstore.ChartItem{ID: c.ID, PatientID: pid, Item: it}))
		}
		for _, d := range rec.Documents {
			out = append(out, localstore.UpsertDocument(localstore.Document{
				ID: c.ID, PatientID: pid, Title: d.Title, Date: d.Date, Text: d.Text, Type: docType(d.Category),
			}))
		}
		return out, nil
	case "override":
		del := []localstore.Change{localstore.Delete(localstore.KindOverride, c.ID), localstore.DeleteSetting(OverrideSeqPrefix + c.ID)}
		if c.Delete {
			return del, nil
		}
		var o localstore.Override
		if err := json.Unmarshal(c.Payload, &o); err != nil || o.PatientID == "" {
			s.unreadable.Add(1)
			return del, nil
		}
		o.ID = c.ID
		return []localstore.Change{localstore.UpsertOverride(o),
			localstore.UpsertSetting(OverrideSeqPrefix+c.ID, []byte(strconv.FormatInt(c.Seq, 10)))}, nil
	case KindDocumentContent:
		return s.contentChanges(c), nil
	case "document":
		del := localstore.Delete(localstore.KindDocument, c.ID)
		if c.Delete {
			return []localstore.Change{del}, nil
		}
		var d localstore.Document
		if err := json.Unmarshal(c.Payload, &d); err != nil || d.PatientID == "" {
			s.unreadable.Add(1)
			return []localstore.Change{del}, nil
		}
		d.ID = c.ID
		return []localstore.Change{localstore.UpsertDocument(d)}, nil
	}
	key := c.Kind + "/" + c.ID
	if c.Delete {
		return []localstore.Change{localstore.DeleteSetting(key)}, nil
	}
	out := []localstore.Change{localstore.UpsertSetting(key, c.Payload)}
	if c.Kind == "config" && c.ID == RevokedUsersID {
		var r RevokedUsers
		if err := json.Unmarshal(c.Payload, &r); err != nil {
			s.unreadable.Add(1)
			return out, nil
		}
		for _, id := range r.UserIDs {
			out = append(out, localstore.Func(func(t *localstore.Tx) error { return t.RemoveUser(id) }))
		}
	}
	return out, nil
}

func (s *Store) unreadableIf(counted bool) {
	if counted {
		s.unreadable.Add(1)
	}
}

func docType(cs []chart.Code) string {
	for _, c := range cs {
		if c.Code != "" {
			return c.System + "|" + c.Code
		}
	}
	return ""
}

// head is what the adapter reads itself from a FHIR resource: whose it is.
type head struct {
	ResourceType string `json:"resourceType"`
	Subject      *ref   `json:"subject"`
	Patient      *ref   `json:"patient"`
	Participant  []struct {
		Actor *ref `json:"actor"`
	} `json:"participant"`
}

type ref struct {
	Reference string `json:"reference"`
}

// patientOf returns the id in a reference to a Patient ("Patient/x", or an
// absolute URL ending so).
func patientOf(r *ref) string {
	if r == nil {
		return ""
	}
	i := strings.LastIndex(r.Reference, "Patient/")
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(r.Reference[i+len("Patient/"):], "/")
}

// read maps one FHIR resource with shared/fhir. Resources other than a
// Patient are read together with a stub of their patient, so the mapping
// attaches them to it. ok is false (and the resource counted as
// unreadable) when it cannot be read.
func (s *Store) read(c syncagent.Change) (chart.Record, bool) {
	var h head
	if err := json.Unmarshal(c.Payload, &h); err != nil {
		s.unreadable.Add(1)
		return chart.Record{}, false
	}
	l := fhir.NewLoader(fhir.Options{Location: s.loc.Load()})
	if h.ResourceType != "Patient" {
		pid := patientOf(h.Subject)
		if pid == "" {
			pid = patientOf(h.Patient)
		}
		for _, p := range h.Participant {
			if pid == "" {
				pid = patientOf(p.Actor)
			}
		}
		if pid == "" {
			s.unreadable.Add(1)
			return chart.Record{}, false
		}
		stub, _ := json.Marshal(map[string]string{"resourceType": "Patient", "id": pid})
		l.Add("patient", stub)
	}
	if errs := l.Add(c.Kind, c.Payload); len(errs) > 0 {
		s.unreadable.Add(1)
		return chart.Record{}, false
	}
	recs, _ := l.Records()
	if len(recs) != 1 {
		s.unreadable.Add(1)
		return chart.Record{}, false
	}
	return recs[0], true
}

// Outbox implements syncagent.Store.
func (s *Store) Outbox(ctx context.Context, limit int) ([]syncagent.Entry, error) {
	es, err := s.ls.Outbox(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]syncagent.Entry, 0, len(es))
	for _, e := range es {
		out = append(out, fromOutbox(e))
	}
	return out, nil
}

// Ack implements syncagent.Store.
func (s *Store) Ack(ctx context.Context, ids ...string) error { return s.ls.Ack(ctx, ids...) }

// envelope is the sealed payload of an entry written by Enqueue.
type envelope struct {
	Payload         json.RawMessage `json:"payload"`
	DocumentID      string          `json:"document_id,omitempty"`
	ContentSHA256   string          `json:"content_sha256,omitempty"`
	PipelineVersion string          `json:"pipeline_version,omitempty"`
	RecordID        string          `json:"record_id,omitempty"`
	BaseSeq         int64           `json:"base_seq,omitempty"`
}

// Enqueue adds e to the outbox inside tx (with the local result it
// belongs to), keeping its metadata. e.Payload must be JSON (the cloud
// refuses anything else). It returns the entry's id.
func Enqueue(tx *localstore.Tx, e syncagent.Entry) (string, error) {
	if !json.Valid(e.Payload) {
		return "", errors.New("enqueueing: payload is not JSON")
	}
	b, err := json.Marshal(envelope{Payload: e.Payload, DocumentID: e.DocumentID, ContentSHA256: e.ContentSHA256,
		PipelineVersion: e.PipelineVersion, RecordID: e.RecordID, BaseSeq: e.BaseSeq})
	if err != nil {
		return "", fmt.Errorf("enqueueing: %w", err)
	}
	return tx.Enqueue(localstore.OutboxEntry{ID: e.ID, Kind: envelopePrefix + e.Kind, Payload: b})
}

// Enqueue adds e to the outbox in a transaction of its own.
func (s *Store) Enqueue(ctx context.Context, e syncagent.Entry) (string, error) {
	var id string
	err := s.ls.Update(ctx, func(tx *localstore.Tx) error {
		var err error
		id, err = Enqueue(tx, e)
		return err
	})
	return id, err
}

// BaseSeq returns the feed seq of the override record id this workstation
// holds (0 when it has none): the base of an edit made now.
func (s *Store) BaseSeq(ctx context.Context, id string) (int64, error) {
	v, err := s.ls.Setting(ctx, OverrideSeqPrefix+id)
	if errors.Is(err, localstore.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(v), 10, 64)
}

// fromOutbox reads a local outbox entry as the agent's entry.
func fromOutbox(e localstore.OutboxEntry) syncagent.Entry {
	if kind, ok := strings.CutPrefix(e.Kind, envelopePrefix); ok {
		var env envelope
		if err := json.Unmarshal(e.Payload, &env); err == nil {
			return syncagent.Entry{ID: e.ID, Kind: kind, Payload: env.Payload, DocumentID: env.DocumentID,
				ContentSHA256: env.ContentSHA256, PipelineVersion: env.PipelineVersion, RecordID: env.RecordID, BaseSeq: env.BaseSeq}
		}
		// Unreadable envelope: send it as is; the cloud rejects it and
		// the entry leaves the outbox instead of blocking it.
		return syncagent.Entry{ID: e.ID, Kind: kind, Payload: e.Payload}
	}
	out := syncagent.Entry{ID: e.ID, Kind: e.Kind, Payload: e.Payload}
	// A bare payload: take the metadata from it.
	var meta struct {
		ID              string `json:"id"`
		DocumentID      string `json:"document_id"`
		ContentSHA256   string `json:"content_sha256"`
		PipelineVersion string `json:"pipeline_version"`
	}
	_ = json.Unmarshal(e.Payload, &meta)
	switch e.Kind {
	case "override":
		out.RecordID = meta.ID // a new override record each time: base 0
	case "document_result", "ocr_result":
		out.Kind = "document_result"
		out.DocumentID, out.ContentSHA256, out.PipelineVersion = meta.DocumentID, meta.ContentSHA256, meta.PipelineVersion
	}
	return out
}

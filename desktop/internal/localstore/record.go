package localstore

import (
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// Kind names a kind of cached row, for deletes.
type Kind string

// The kinds of cached rows.
const (
	KindPatient     Kind = "patient"
	KindAppointment Kind = "appointment"
	KindChartItem   Kind = "chart_item"
	KindDocument    Kind = "document"
	KindPrepSheet   Kind = "prep_sheet"
	KindOverride    Kind = "override"
)

// table returns the SQL table of k; ok is false for an unknown kind.
func (k Kind) table() (string, bool) {
	switch k {
	case KindPatient:
		return "patients", true
	case KindAppointment:
		return "appointments", true
	case KindChartItem:
		return "chart_items", true
	case KindDocument:
		return "documents", true
	case KindPrepSheet:
		return "prep_sheets", true
	case KindOverride:
		return "overrides", true
	}
	return "", false
}

// Appointment is one scheduled visit.
type Appointment struct {
	ID        string    `json:"id"`
	PatientID string    `json:"patient_id"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end,omitzero"`
	Provider  string    `json:"provider,omitempty"`
	Location  string    `json:"location,omitempty"`
	VisitType string    `json:"visit_type,omitempty"`
	Status    string    `json:"status,omitempty"`
}

// ChartItem is one coded chart entry of a patient, identified by its
// source reference (e.g. "Observation/abc").
type ChartItem struct {
	ID        string     `json:"id"`
	PatientID string     `json:"patient_id"`
	Item      chart.Item `json:"item"`
}

// Document is a patient's document: metadata and redacted text (sealed
// together) plus the content blob (page images or PDF, sealed separately so
// listings do not decrypt it).
type Document struct {
	ID        string     `json:"id"`
	PatientID string     `json:"patient_id"`
	Title     string     `json:"title"`
	Type      string     `json:"type,omitempty"` // classification, e.g. "colonoscopy report"
	Date      chart.Date `json:"date,omitzero"`
	// Text is the redacted text that the screening engine reads.
	Text        string `json:"text,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	// ContentSHA256 and PipelineVersion identify the workstation's
	// immutable OCR/redaction result.
	ContentSHA256   string `json:"content_sha256,omitempty"`
	PipelineVersion string `json:"pipeline_version,omitempty"`
	// Content is the blob; listings leave it nil (see DocumentContent).
	Content []byte `json:"-"`
}

// PrepSheet is the cached sheet of one appointment.
type PrepSheet struct {
	AppointmentID string          `json:"appointment_id"`
	PatientID     string          `json:"patient_id"`
	Sheet         prepsheet.Sheet `json:"sheet"`
}

// Override is a per-patient screening decision by a person.
type Override struct {
	ID        string             `json:"id"`
	PatientID string             `json:"patient_id"`
	Override  screening.Override `json:"override"`
}

// OutboxEntry is one of the workstation's own results waiting for the
// cloud's acknowledgement.
type OutboxEntry struct {
	// ID is the client-generated UUID the cloud deduplicates on; Enqueue
	// generates one when empty.
	ID string
	// Kind says what Payload is ("override", "ocr_result", "print_event",
	// ...). It is stored in the clear and must not carry PHI.
	Kind string
	// Payload is the message, sealed at rest.
	Payload   []byte
	CreatedAt time.Time
	// Attempts counts the pushes tried (MarkAttempted).
	Attempts int
}

// Cursor is the sync position: opaque to the store, issued by the cloud.
// The empty Cursor is the start.
type Cursor string

// Change is one upsert or delete in a Page. Build it with the Upsert*
// functions or Delete.
type Change struct {
	apply func(*Tx) error
}

// UpsertPatient inserts or replaces a patient.
func UpsertPatient(p chart.Patient) Change {
	return Change{func(t *Tx) error { return t.PutPatient(p) }}
}

// UpsertAppointment inserts or replaces an appointment.
func UpsertAppointment(a Appointment) Change {
	return Change{func(t *Tx) error { return t.PutAppointment(a) }}
}

// UpsertChartItem inserts or replaces a chart item.
func UpsertChartItem(c ChartItem) Change {
	return Change{func(t *Tx) error { return t.PutChartItem(c) }}
}

// UpsertDocument inserts or replaces a document.
func UpsertDocument(d Document) Change {
	return Change{func(t *Tx) error { return t.PutDocument(d) }}
}

// UpsertPrepSheet inserts or replaces an appointment's prep sheet.
func UpsertPrepSheet(p PrepSheet) Change {
	return Change{func(t *Tx) error { return t.PutPrepSheet(p) }}
}

// UpsertOverride inserts or replaces an override.
func UpsertOverride(o Override) Change {
	return Change{func(t *Tx) error { return t.PutOverride(o) }}
}

// Delete removes the row of kind with id (a prep sheet's id is its
// appointment's). Deleting a patient deletes everything cached about them.
// Deleting a missing row is not an error.
func Delete(kind Kind, id string) Change {
	return Change{func(t *Tx) error { return t.Delete(kind, id) }}
}

// Page is one page of the cloud's change feed.
type Page struct {
	// From is the cursor the page was pulled from; ApplyPage refuses the
	// page unless it equals the stored cursor.
	From    Cursor
	Changes []Change
}

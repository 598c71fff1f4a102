package prepsheet

import (
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

// Sheet is a prep sheet for one patient and one appointment. It is the
// structured rendering: the desktop UI draws it and sync carries it as JSON.
type Sheet struct {
	// AsOf is the calendar date, in TimeZone, the sheet describes: ages and
	// lookback windows are computed on it.
	AsOf chart.Date `json:"as_of"`
	// GeneratedAt is when the sheet was assembled, in TimeZone.
	GeneratedAt time.Time `json:"generated_at"`
	// TimeZone is the IANA name of the zone dates and times are shown in.
	TimeZone string `json:"time_zone"`

	Header Header `json:"header"`
	// Screenings are ordered by urgency (see StatusRank), then by next-due
	// date (never done first among those needing action, "not due again"
	// last among the others), name and ID. Superseded results are never
	// listed here.
	Screenings []ScreeningItem `json:"screenings"`
	// Superseded lists the variants a more specific one replaced, for a
	// footnote.
	Superseded []SupersededNote `json:"superseded,omitempty"`

	Conditions ConditionSection `json:"conditions"`
	Labs       Section          `json:"labs"`
	Imaging    Section          `json:"imaging"`
	Consults   Section          `json:"consults"`
	Hospital   Section          `json:"hospital"`
	Documents  Section          `json:"documents"`
}

// Sections returns the lookback sections in the order they are printed.
func (s *Sheet) Sections() []*Section {
	return []*Section{&s.Labs, &s.Imaging, &s.Consults, &s.Hospital, &s.Documents}
}

// Header identifies the patient and the visit.
type Header struct {
	PatientID string    `json:"patient_id"`
	Name      string    `json:"name"`
	MRN       string    `json:"mrn"`
	Sex       chart.Sex `json:"sex"`
	Age       Age       `json:"age"`
	// Deceased is set when the chart records a date of death.
	Deceased    chart.Date       `json:"deceased,omitzero"`
	Appointment AppointmentShown `json:"appointment"`
}

// DisplayName is the patient's name, or, for a record without one, its
// patient ID so that the sheet still says whose it is ("No name on file
// (record 123)"), or "-" when there is neither.
func (h Header) DisplayName() string {
	switch {
	case h.Name != "":
		return h.Name
	case h.PatientID != "":
		return "No name on file (record " + h.PatientID + ")"
	}
	return "-"
}

// Age is the patient's completed age on the sheet's as-of date.
type Age struct {
	// Known is false when the birth date is unknown (or after the as-of
	// date).
	Known  bool `json:"known"`
	Years  int  `json:"years"`
	Months int  `json:"months"`
	// Label is how people read it: whole years from 2 years on ("61
	// years"), whole months below ("18 months", "0 months"), or "unknown".
	Label string `json:"label"`
}

// AppointmentShown is the appointment in the sheet's time zone.
type AppointmentShown struct {
	Start     time.Time `json:"start,omitzero"`
	Provider  string    `json:"provider"`
	Location  string    `json:"location,omitempty"`
	VisitType string    `json:"visit_type,omitempty"`
	// Label is the start as people read it, e.g. "Fri 2025-03-14 09:30 CDT",
	// or "" when the appointment has no start time.
	Label string `json:"label"`
}

// NoAppointment is what renderings show for the visit when the sheet has
// no appointment at all (see AppointmentShown.NoneOnFile).
const NoAppointment = "No appointment on file"

// NoneOnFile reports whether the sheet was made without an appointment:
// no start, provider, location or visit type.
func (a AppointmentShown) NoneOnFile() bool {
	return a.Start.IsZero() && a.Provider == "" && a.Location == "" && a.VisitType == ""
}

// ScreeningItem is one line of the screening checklist.
type ScreeningItem struct {
	ID     string           `json:"id"`
	Name   string           `json:"name"`
	Status screening.Status `json:"status"`
	// Label and Symbol show the status without relying on colour
	// ("OVERDUE", "!!").
	Label    string         `json:"label"`
	Symbol   string         `json:"symbol"`
	LastDone chart.Date     `json:"last_done,omitzero"`
	NextDue  chart.Date     `json:"next_due,omitzero"`
	Reason   string         `json:"reason"`
	Missing  string         `json:"missing,omitempty"`
	Evidence []EvidenceLine `json:"evidence,omitempty"`
	// Sources are the cited guidelines, e.g. "USPSTF 2021 (CMS130)".
	Sources []string `json:"sources,omitempty"`
}

// EvidenceLine is one piece of evidence behind a screening status: where
// it is in the chart (Source), its date and a short description for
// people, and the same facts as fields for programs (the desktop's
// drill-down opens a document's page or shows a code from them, never
// from the description).
type EvidenceLine struct {
	Role        screening.Role `json:"role"`
	Source      string         `json:"source"`
	Date        chart.Date     `json:"date,omitzero"`
	Description string         `json:"description"`

	// Kind says what the evidence is: a coded chart item, a phrase in a
	// document or a person's override. It is "" only in sheets made before
	// evidence carried its fields.
	Kind EvidenceKind `json:"kind,omitempty"`
	// Rule is the screening type's evidence rule, exclusion or trigger
	// that matched, or the override's kind ("postponed").
	Rule string `json:"rule,omitempty"`

	// For EvidenceCoded: the item's kind in the chart, its code and code
	// system, its display text, and its numeric result with its unit when
	// it has one (Value is nil otherwise).
	ItemKind chart.Kind `json:"item_kind,omitempty"`
	System   string     `json:"system,omitempty"`
	Code     string     `json:"code,omitempty"`
	Display  string     `json:"display,omitempty"`
	Value    *float64   `json:"value,omitempty"`
	Unit     string     `json:"unit,omitempty"`

	// For EvidenceDocument: the document's ID (Source without its
	// "DocumentReference/" prefix) and title, the phrase that matched (as
	// the screening library spells it) and the page it is on, from 1. Page
	// is 0 when unknown: the document's text was not given to Assemble, or
	// the phrase is only in the document's title.
	DocumentID    string `json:"document_id,omitempty"`
	DocumentTitle string `json:"document_title,omitempty"`
	Phrase        string `json:"phrase,omitempty"`
	Page          int    `json:"page,omitempty"`
}

// EvidenceKind is what an evidence line points at.
type EvidenceKind string

// The evidence kinds.
const (
	// EvidenceCoded: a coded chart item (procedure, observation, ...).
	EvidenceCoded EvidenceKind = "coded"
	// EvidenceDocument: a phrase in a document.
	EvidenceDocument EvidenceKind = "document"
	// EvidenceOverride: a per-patient override recorded by a person.
	EvidenceOverride EvidenceKind = "override"
)

// DocumentRefPrefix is how a document's chart reference begins
// ("DocumentReference/<id>").
const DocumentRefPrefix = "DocumentReference/"

// SupersededNote records a screening variant replaced by a more specific
// one; it is shown as a footnote, never as a checklist item.
type SupersededNote struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	ByID   string `json:"by_id"`
	ByName string `json:"by_name"`
}

// ConditionSection lists the active conditions, newest onset first
// (unknown onsets last). It has no lookback window: a condition that is
// still active matters however old it is.
type ConditionSection struct {
	Title   string          `json:"title"`
	Entries []ConditionLine `json:"entries"`
	// EmptyText is set when there are no entries ("None recorded").
	EmptyText string `json:"empty_text,omitempty"`
}

// ConditionLine is one active condition.
type ConditionLine struct {
	Ref   string      `json:"ref"`
	Name  string      `json:"name"`
	Code  *chart.Code `json:"code,omitempty"`
	Onset chart.Date  `json:"onset,omitzero"`
}

// Section is one lookback section (labs, imaging, consults, hospital/ED
// visits, documents).
type Section struct {
	Category Category `json:"category"`
	Title    string   `json:"title"`
	// Months is the lookback window; Since is its first included day.
	Months int        `json:"months"`
	Since  chart.Date `json:"since"`
	// Entries are newest first (by End when set, else Date), then by title
	// and reference.
	Entries []Entry `json:"entries"`
	// Undated counts entries of this category without a date; they cannot
	// be placed in the window and are not listed.
	Undated int `json:"undated,omitempty"`
	// EmptyText is set when Entries is empty: "None in the last N months".
	EmptyText string `json:"empty_text,omitempty"`
}

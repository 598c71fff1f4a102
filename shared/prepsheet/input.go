package prepsheet

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

// Input is everything a sheet is assembled from. The caller resolves the
// time zone (time.LoadLocation reads the system's zone database, which is
// I/O) and passes the screening results it got from the engine for the same
// as-of date.
type Input struct {
	Patient     chart.Patient
	Appointment Appointment
	// Screenings are the engine's results, in any order.
	Screenings []screening.Result
	// Conditions are condition items from the chart; the active ones are
	// listed. Items of other kinds are ignored.
	Conditions []chart.Item
	// Entries are the labs, imaging studies, consults, hospital/ED visits
	// and documents, in any order; each section keeps those in its window.
	Entries []Entry
	// Lookback is the organisation's window per section; zero fields take
	// the defaults (see DefaultLookback).
	Lookback Lookback
	// Documents are the chart's documents (the record's, in any order),
	// looked up by Ref. Assemble reads them only to find the page of each
	// document evidence line's phrase: the text's pages are separated by
	// form feeds, as the document pipeline writes them. Without them the
	// lines' Page is 0 (unknown).
	Documents []chart.Document
	// AsOf is when the sheet is assembled; its calendar date in Location is
	// the as-of date. It must not be zero.
	AsOf time.Time
	// Location is the clinic's time zone; nil means UTC.
	Location *time.Location
}

// Appointment is the visit the sheet prepares for.
type Appointment struct {
	Start     time.Time
	Provider  string
	Location  string
	VisitType string
}

// Category says which lookback section an Entry belongs to.
type Category string

// The categories, one per lookback section.
const (
	Lab      Category = "lab"
	Imaging  Category = "imaging"
	Consult  Category = "consult"
	Hospital Category = "hospital"
	Document Category = "document"
)

// Entry is one dated chart entry for a lookback section. The chart model
// has no notion of "lab" versus "imaging" or of a document's type, so the
// caller (the FHIR mapping, the document pipeline) classifies entries.
type Entry struct {
	Category Category `json:"category"`
	// Ref is where it came from, e.g. "Observation/abc".
	Ref string `json:"ref"`
	// Date is when it happened (a hospital stay's admission); End is the
	// last day of a span (discharge), zero for a point event.
	Date chart.Date `json:"date,omitzero"`
	End  chart.Date `json:"end,omitzero"`
	// Title is what it is: "Hemoglobin A1c", "CT chest", "Cardiology
	// consult", "Emergency department visit", a document's title.
	Title string `json:"title"`
	// Type is the sub-kind people want to see: a document's type
	// ("Discharge summary"), an encounter's class ("ED", "inpatient"), a
	// consult's specialty. Optional.
	Type string `json:"type,omitempty"`
	// Detail is a result or impression ("9.4 %", "No acute findings").
	// Optional.
	Detail string `json:"detail,omitempty"`
}

// Effective is the date an entry is filtered and sorted by: End when set,
// else Date. A hospital stay that ended inside the window is listed even
// if it began before it.
func (e Entry) Effective() chart.Date {
	if !e.End.IsZero() {
		return e.End
	}
	return e.Date
}

// EntryFromItem makes an Entry of category c from a coded chart item,
// using its display text as the title and its numeric result, if any,
// rounded to 4 decimals, as the detail. It returns false for items recorded as not done (cancelled,
// entered in error), which never belong on a sheet.
func EntryFromItem(c Category, it chart.Item) (Entry, bool) {
	if it.NotDone {
		return Entry{}, false
	}
	e := Entry{Category: c, Ref: it.Ref, Date: it.Start, Title: it.Text}
	if it.End.After(it.Start) {
		e.End = it.End
	}
	if e.Title == "" && len(it.Codes) > 0 {
		e.Title = codeLabel(it.Codes[0])
	}
	if it.HasQuantity {
		// At most 4 decimals: generated data (Synthea) writes 15, and
		// results are never reported more precisely than that.
		e.Detail = strconv.FormatFloat(math.Round(it.Quantity*1e4)/1e4, 'f', -1, 64)
		if it.Unit != "" {
			e.Detail += " " + it.Unit
		}
	}
	return e, true
}

// EntryFromDocument makes a document Entry from a chart document; docType
// is the document's type as the caller knows it ("Discharge summary"), or
// "". The text itself never goes on the sheet.
func EntryFromDocument(d chart.Document, docType string) Entry {
	return Entry{Category: Document, Ref: d.Ref, Date: d.Date, Title: d.Title, Type: docType}
}

// Lookback is the organisation's lookback window per section, in months.
type Lookback struct {
	LabsMonths      int `json:"labs_months"`
	ImagingMonths   int `json:"imaging_months"`
	ConsultsMonths  int `json:"consults_months"`
	HospitalMonths  int `json:"hospital_months"`
	DocumentsMonths int `json:"documents_months"`
}

// DefaultLookback returns the product defaults: labs 12 months, imaging
// 24, consults 12, hospital/ED visits 12, documents 12.
func DefaultLookback() Lookback {
	return Lookback{LabsMonths: 12, ImagingMonths: 24, ConsultsMonths: 12, HospitalMonths: 12, DocumentsMonths: 12}
}

// withDefaults fills zero fields from DefaultLookback and rejects negative
// ones.
func (l Lookback) withDefaults() (Lookback, error) {
	d := DefaultLookback()
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"labs", &l.LabsMonths, d.LabsMonths},
		{"imaging", &l.ImagingMonths, d.ImagingMonths},
		{"consults", &l.ConsultsMonths, d.ConsultsMonths},
		{"hospital", &l.HospitalMonths, d.HospitalMonths},
		{"documents", &l.DocumentsMonths, d.DocumentsMonths},
	} {
		switch {
		case *f.v < 0:
			return l, fmt.Errorf("%w: %s lookback is %d months; want 0 (default) or more", ErrBadInput, f.name, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	return l, nil
}

func codeLabel(c chart.Code) string { return c.System + " " + c.Code }

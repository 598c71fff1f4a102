package ingest

import (
	"bytes"
	"crypto/sha1" // attachment.hash is SHA-1 by the FHIR specification
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/pdf"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// The document type of a written-back prep sheet: LOINC 11506-3 "Progress
// note". A prep sheet is, semantically, closest to 60591-5 "Patient summary
// Document"; we choose 11506-3 because it is one of US Core's common
// clinical note types that every certified EHR accepts and files where
// clinicians read notes (Epic's DocumentReference.Create files it as a
// clinical note), whereas a summary-document code is not among the types
// Epic's note write-back takes and could be refused or filed out of sight.
// type.text and the title say what it really is.
const (
	WritebackLOINC        = "11506-3"
	WritebackLOINCDisplay = "Progress note"
	writebackTypeText     = "HealthPrep pre-visit prep sheet"
	usCoreCategorySystem  = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
)

// visitChart is what one visit's sheet is assembled from: the stored FHIR
// resources of the patient, the appointment, and the patient's chart.
type visitChart struct {
	PatientID   string
	Patient     json.RawMessage
	Appointment json.RawMessage
	Chart       []json.RawMessage
}

// prepDocument is a rendered prep sheet.
type prepDocument struct {
	PDF []byte
	// SheetHash is a SHA-256 of the sheet's content without its generation
	// time: equal hashes mean nothing a reader would see has changed.
	SheetHash [32]byte
	VisitDate chart.Date
	VisitAt   time.Time
}

// defaultEngine compiles the built-in screening library (the default
// presets), the same one the desktop uses.
func defaultEngine() (*screening.Engine, error) {
	lib, err := preset.Default()
	if err != nil {
		return nil, fmt.Errorf("loading the default presets: %w", err)
	}
	e, err := screening.Compile(lib)
	if err != nil {
		return nil, fmt.Errorf("compiling the default presets: %w", err)
	}
	return e, nil
}

// errNoSheet is returned when the stored data cannot make a sheet (the
// patient or the appointment is unreadable); retrying will not help until
// the data changes.
var errNoSheet = errors.New("the visit's data cannot make a prep sheet")

// buildPrepDocument assembles the visit's sheet with the shared screening
// engine and prep-sheet assembly, as of the visit's date in loc, and
// renders it as PDF generated at now. Our own written-back documents are
// left out even if they were stored somehow: a sheet is never evidence.
func buildPrepDocument(engine *screening.Engine, vc visitChart, loc *time.Location, now time.Time) (prepDocument, error) {
	l := fhir.NewLoader(fhir.Options{Location: loc})
	if errs := l.Add("Patient", vc.Patient); len(errs) > 0 {
		return prepDocument{}, fmt.Errorf("%w: the patient is unreadable", errNoSheet)
	}
	if errs := l.Add("Appointment", vc.Appointment); len(errs) > 0 {
		return prepDocument{}, fmt.Errorf("%w: the appointment is unreadable", errNoSheet)
	}
	for _, raw := range vc.Chart {
		if r, err := Parse(raw, ""); err == nil && r.Ours {
			continue
		}
		_ = l.Add("chart", raw) // a resource the mapper skips is simply not on the sheet
	}
	recs, _ := l.Records()
	if len(recs) != 1 || len(recs[0].Appointments) != 1 {
		return prepDocument{}, fmt.Errorf("%w: the appointment does not name the patient", errNoSheet)
	}
	rec := recs[0]
	visit := rec.Appointments[0]
	if visit.Start.IsZero() {
		return prepDocument{}, fmt.Errorf("%w: the appointment has no start", errNoSheet)
	}
	asOf := chart.FromTime(visit.Start.In(loc))
	y, m, d := asOf.YMD()
	in := prepsheet.Input{
		Patient:    rec.Patient,
		Screenings: engine.Evaluate(rec, asOf, nil),
		Conditions: rec.Items,
		Entries:    prepsheet.Entries(rec),
		Documents:  rec.Documents,
		AsOf:       time.Date(y, m, d, 12, 0, 0, 0, loc),
		Location:   loc,
		Appointment: prepsheet.Appointment{Start: visit.Start, Provider: visit.Provider, Location: visit.Location,
			VisitType: visit.VisitType},
	}
	sheet, err := prepsheet.Assemble(in)
	if err != nil {
		return prepDocument{}, fmt.Errorf("assembling the prep sheet: %w", err)
	}
	content, err := json.Marshal(sheet) // GeneratedAt is still zero here
	if err != nil {
		return prepDocument{}, fmt.Errorf("encoding the prep sheet: %w", err)
	}
	sheet.GeneratedAt = now.In(loc)
	var buf bytes.Buffer
	if err := pdf.Write(&buf, &sheet, pdf.Options{}); err != nil {
		return prepDocument{}, fmt.Errorf("rendering the prep sheet: %w", err)
	}
	return prepDocument{PDF: buf.Bytes(), SheetHash: sha256.Sum256(content), VisitDate: asOf, VisitAt: visit.Start}, nil
}

// visitIdentifier is our identifier value for the sheet of a visit.
func visitIdentifier(appointmentID string) string { return "Appointment/" + appointmentID }

// documentReference builds the DocumentReference that carries doc for the
// visit: our tag and identifier (so ingest recognises and skips it), the
// LOINC type, subject = the patient, context = the visit (its period and
// a related reference to the Appointment; encounter is left out because
// R4 allows only Encounter there), and the PDF inline. id is empty for a
// create.
func documentReference(id, patientID, appointmentID string, doc prepDocument, now time.Time) ([]byte, error) {
	type coding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display,omitempty"`
	}
	type ref struct {
		Reference string `json:"reference"`
	}
	title := "HealthPrep prep sheet for the visit on " + doc.VisitDate.String()
	dr := map[string]any{
		"resourceType": "DocumentReference",
		"meta":         map[string]any{"tag": []coding{{System: OwnTagSystem, Code: OwnTagCode, Display: "Written by HealthPrep"}}},
		"identifier":   []map[string]string{{"system": OwnIdentifierSystem, "value": visitIdentifier(appointmentID)}},
		"status":       "current",
		"docStatus":    "final",
		"type": map[string]any{"coding": []coding{{System: "http://loinc.org", Code: WritebackLOINC, Display: WritebackLOINCDisplay}},
			"text": writebackTypeText},
		"category":    []map[string]any{{"coding": []coding{{System: usCoreCategorySystem, Code: "clinical-note", Display: "Clinical Note"}}}},
		"subject":     ref{Reference: "Patient/" + patientID},
		"date":        now.UTC().Format(time.RFC3339),
		"description": title,
		"content": []map[string]any{{"attachment": map[string]any{
			"contentType": "application/pdf", "language": "en-US",
			"data":     base64.StdEncoding.EncodeToString(doc.PDF),
			"size":     len(doc.PDF),
			"hash":     base64.StdEncoding.EncodeToString(sha1Of(doc.PDF)),
			"title":    title,
			"creation": now.UTC().Format(time.RFC3339),
		}}},
		"context": map[string]any{
			"period":  map[string]string{"start": doc.VisitAt.UTC().Format(time.RFC3339)},
			"related": []ref{{Reference: "Appointment/" + appointmentID}},
		},
	}
	if id != "" {
		dr["id"] = id
	}
	b, err := json.Marshal(dr)
	if err != nil {
		return nil, fmt.Errorf("encoding the DocumentReference: %w", err)
	}
	return b, nil
}

func sha1Of(b []byte) []byte {
	h := sha1.Sum(b)
	return h[:]
}

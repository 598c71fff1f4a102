package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
)

// Our own documents written back to Epic carry this identifier system (and
// this meta tag), so ingest recognises them and never stores them as
// chart evidence.
const (
	OwnIdentifierSystem = "https://healthprep.dev/fhir/sid/prep-sheet"
	OwnTagSystem        = "https://healthprep.dev/fhir/tag"
	OwnTagCode          = "healthprep-prep-sheet"
)

// ChartTypes are the per-patient resource types ingest pulls, in order.
var ChartTypes = []string{
	"Encounter", "Condition", "Observation", "Procedure",
	"DiagnosticReport", "DocumentReference", "Immunization",
}

// Resource is one FHIR resource that passed validation, with the columns
// the store keeps in clear and the PHI fields it seals.
type Resource struct {
	Type        string
	ID          string
	VersionID   string
	LastUpdated time.Time // zero when absent
	// PatientID is the patient the resource belongs to (its own id for a
	// Patient).
	PatientID string
	// Date is the clinical date (effective, performed, onset, recorded...),
	// zero when absent.
	Date chart.Date
	// Appointment columns.
	Status     string
	Start, End time.Time
	// Patient PHI (sealed at rest).
	Name, BirthDate, MRN, Address, Phone string
	// Ours marks a document we wrote back ourselves.
	Ours bool
	Raw  json.RawMessage
}

// Invalid is a resource that failed validation: quarantined, never stored.
type Invalid struct {
	Type, ID string // as far as they could be read ("" otherwise)
	Reason   string // words, never a value from the resource
	Raw      json.RawMessage
}

func (e *Invalid) Error() string { return "invalid " + e.Type + ": " + e.Reason }

var (
	idRe   = regexp.MustCompile(`^[A-Za-z0-9.-]{1,64}$`)
	verRe  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	quoted = regexp.MustCompile(`"[^"]*"`)
)

// scrub removes quoted values from a validation message so a reason never
// carries a value from the resource (which may be PHI).
func scrub(s string) string {
	s = quoted.ReplaceAllString(s, "(value)")
	if len(s) > 400 {
		s = s[:400]
	}
	return s
}

// Parse validates raw as a FHIR resource of type want (any type when
// empty) and extracts what the store needs. A resource that cannot be used
// is returned as *Invalid with the reason.
func Parse(raw json.RawMessage, want string) (Resource, error) {
	inv := func(typ, id, format string, args ...any) (Resource, error) {
		return Resource{}, &Invalid{Type: typ, ID: id, Reason: fmt.Sprintf(format, args...), Raw: raw}
	}
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Meta         struct {
			VersionID   string `json:"versionId"`
			LastUpdated string `json:"lastUpdated"`
			Tag         []struct {
				System string `json:"system"`
				Code   string `json:"code"`
			} `json:"tag"`
		} `json:"meta"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&head); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return inv(want, "", "field %s has the wrong JSON type", typeErr.Field)
		}
		return inv(want, "", "not a JSON object")
	}
	if dec.More() {
		return inv(want, "", "data after the JSON object")
	}
	typ, id := head.ResourceType, head.ID
	if !idRe.MatchString(id) {
		id = ""
	}
	switch {
	case typ == "":
		return inv(want, id, "missing resourceType")
	case want != "" && typ != want:
		return inv(want, id, "resourceType is %s; expected %s", safeType(typ), want)
	case head.ID == "":
		return inv(typ, "", "missing id")
	case id == "":
		return inv(typ, "", "id is not a FHIR id (1–64 letters, digits, '-' and '.')")
	}
	r := Resource{Type: typ, ID: id, Raw: raw}
	if v := head.Meta.VersionID; v != "" {
		if !verRe.MatchString(v) {
			return inv(typ, id, "meta.versionId is not a FHIR id")
		}
		r.VersionID = v
	}
	if lu := head.Meta.LastUpdated; lu != "" {
		t, err := time.Parse(time.RFC3339Nano, lu)
		if err != nil {
			return inv(typ, id, "meta.lastUpdated is not an instant")
		}
		r.LastUpdated = t.UTC()
	}
	for _, tg := range head.Meta.Tag {
		if tg.System == OwnTagSystem && tg.Code == OwnTagCode {
			r.Ours = true
		}
	}
	var err error
	switch typ {
	case "Patient":
		err = r.patient()
	case "Appointment":
		err = r.appointment()
	default:
		err = r.chart()
	}
	if err != nil {
		return inv(typ, id, "%s", err.Error())
	}
	return r, nil
}

func safeType(t string) string {
	if len(t) > 64 || !regexp.MustCompile(`^[A-Za-z]+$`).MatchString(t) {
		return "not a resource type"
	}
	return t
}

// loaderProblem turns the shared FHIR mapper's errors into one reason.
func loaderProblem(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var pe *fhir.PathError
	if errors.As(errs[0], &pe) {
		return fmt.Errorf("%s: %s", pe.Path, scrub(pe.Msg))
	}
	return errors.New("unreadable")
}

type humanName struct {
	Use    string   `json:"use"`
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
}

type address struct {
	Use        string   `json:"use"`
	Text       string   `json:"text"`
	Line       []string `json:"line"`
	City       string   `json:"city"`
	State      string   `json:"state"`
	PostalCode string   `json:"postalCode"`
	Country    string   `json:"country"`
}

func (r *Resource) patient() error {
	l := fhir.NewLoader(fhir.Options{})
	if err := loaderProblem(l.Add(r.Type+"/"+r.ID, r.Raw)); err != nil {
		return err
	}
	recs, _ := l.Records()
	if len(recs) != 1 {
		return errors.New("not a readable Patient")
	}
	p := recs[0].Patient
	r.PatientID, r.MRN = r.ID, p.MRN
	if !p.BirthDate.IsZero() {
		r.BirthDate = p.BirthDate.String()
	}
	var body struct {
		Name    []humanName `json:"name"`
		Address []address   `json:"address"`
		Telecom []struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"telecom"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		return errors.New("name, address or telecom has the wrong shape")
	}
	r.Name = p.Name
	for _, n := range body.Name {
		if n.Use == "official" || r.Name == "" {
			r.Name = formatName(n)
		}
	}
	if len(body.Address) > 0 {
		a := body.Address[0]
		r.Address = a.Text
		if r.Address == "" {
			parts := append(append([]string{}, a.Line...), a.City, strings.TrimSpace(a.State+" "+a.PostalCode), a.Country)
			r.Address = joinNonEmpty(parts, ", ")
		}
	}
	for _, t := range body.Telecom {
		if t.System == "phone" && t.Value != "" {
			r.Phone = t.Value
			break
		}
	}
	return nil
}

func formatName(n humanName) string {
	if n.Text != "" {
		return n.Text
	}
	return joinNonEmpty(append(append([]string{}, n.Given...), n.Family), " ")
}

func joinNonEmpty(parts []string, sep string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func (r *Resource) appointment() error {
	var body struct {
		Status      string `json:"status"`
		Start       string `json:"start"`
		End         string `json:"end"`
		Participant []struct {
			Actor struct {
				Reference string `json:"reference"`
			} `json:"actor"`
		} `json:"participant"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		return errors.New("status, start, end or participant has the wrong shape")
	}
	if len(body.Status) > 32 {
		return errors.New("status is not a code")
	}
	r.Status = body.Status
	for name, s := range map[string]string{"start": body.Start, "end": body.End} {
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%s is not an instant", name)
		}
		if name == "start" {
			r.Start = t.UTC()
		} else {
			r.End = t.UTC()
		}
	}
	if !r.End.IsZero() && r.End.Before(r.Start) {
		return errors.New("end is before start")
	}
	for _, p := range body.Participant {
		if id, ok := strings.CutPrefix(p.Actor.Reference, "Patient/"); ok && idRe.MatchString(id) {
			r.PatientID = id
			break
		}
	}
	if r.PatientID == "" {
		return errors.New("no participant is a Patient")
	}
	if r.Start.IsZero() {
		return errors.New("missing start")
	}
	return nil
}

// chart validates a per-patient resource with the shared FHIR mapper (the
// same reading the screening engine does) and takes its date.
func (r *Resource) chart() error {
	var body struct {
		Subject    *struct{ Reference string } `json:"subject"`
		Patient    *struct{ Reference string } `json:"patient"`
		Identifier []struct {
			System string `json:"system"`
		} `json:"identifier"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		return errors.New("subject, patient or identifier has the wrong shape")
	}
	ref := ""
	switch {
	case body.Subject != nil:
		ref = body.Subject.Reference
	case body.Patient != nil:
		ref = body.Patient.Reference
	}
	id, ok := strings.CutPrefix(ref, "Patient/")
	if !ok || !idRe.MatchString(id) {
		return errors.New("subject is not a Patient reference")
	}
	r.PatientID = id
	for _, ident := range body.Identifier {
		if ident.System == OwnIdentifierSystem {
			r.Ours = true
		}
	}
	l := fhir.NewLoader(fhir.Options{})
	l.Add("stub", fmt.Appendf(nil, `{"resourceType":"Patient","id":%q}`, id))
	if err := loaderProblem(l.Add(r.Type+"/"+r.ID, r.Raw)); err != nil {
		return err
	}
	recs, _ := l.Records()
	if len(recs) == 1 {
		for _, it := range recs[0].Items {
			if !it.Start.IsZero() {
				r.Date = it.Start
				break
			}
		}
		for _, d := range recs[0].Documents {
			if r.Date.IsZero() && !d.Date.IsZero() {
				r.Date = d.Date
			}
		}
	}
	return nil
}

package fhir

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"healthprep.dev/shared/chart"
)

func TestLoaderBundle(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	l := NewLoader(Options{})
	errs := l.Add("bundle.json", data)
	if len(errs) != 1 {
		t.Fatalf("got %d errors %v, want 1 (the bad date)", len(errs), errs)
	}
	var pe *PathError
	if !errors.As(errs[0], &pe) || pe.File != "bundle.json" || pe.Path != "$.entry[2].resource.effectiveDateTime" {
		t.Errorf("error = %v, want bundle.json: $.entry[2].resource.effectiveDateTime", errs[0])
	}
	recs, warn := l.Records()
	if len(recs) != 1 || len(warn) != 0 {
		t.Fatalf("got %d records, warnings %v; want 1 record, no warnings", len(recs), warn)
	}
	rec := recs[0]
	if rec.Patient.MRN != "MRN-1" || rec.Patient.Sex != chart.SexFemale || rec.Patient.BirthDate.String() != "1970-02-28" {
		t.Errorf("patient = %+v", rec.Patient)
	}
	if len(rec.Items) != 2 {
		t.Fatalf("got %d items, want 2 (observation and condition; the bad one skipped, the Claim ignored)", len(rec.Items))
	}
	a1c := rec.Items[0]
	if a1c.Start.String() != "2025-03-01" || !a1c.HasQuantity || a1c.Quantity != 7.1 || a1c.Codes[0] != (chart.Code{System: chart.LOINC, Code: "4548-4"}) {
		t.Errorf("A1c item = %+v", a1c)
	}
	if c := rec.Items[1]; !c.Ongoing() || c.Status != "active" {
		t.Errorf("condition = %+v, want ongoing and active", c)
	}
}

func TestLoaderTimeZone(t *testing.T) {
	t.Parallel()
	data, _ := os.ReadFile("testdata/bundle.json")
	l := NewLoader(Options{Location: time.UTC})
	l.Add("bundle.json", data)
	recs, _ := l.Records()
	if got := recs[0].Items[0].Start.String(); got != "2025-03-02" {
		t.Errorf("23:30 at -05:00 read in UTC = %s, want 2025-03-02", got)
	}
}

func TestLoaderRejectsNonJSON(t *testing.T) {
	t.Parallel()
	errs := NewLoader(Options{}).Add("x.json", []byte("{nope"))
	if len(errs) != 1 || errs[0].(*PathError).Path != "$" {
		t.Errorf("errors = %v, want one at $", errs)
	}
}

func TestLoaderReportsUnreadableFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		data     string
		wantPath string
		wantMsg  string
		wantType string
	}{
		{"empty file", "", "$", "empty file", ""},
		{"only whitespace", " \n", "$", "empty file", ""},
		{"truncated", `{"resourceType":"Observation","id":"o1","code":{"cod`, "$", "truncated", ""},
		{"syntax error", `{"resourceType": Observation}`, "$", "at byte 18", ""},
		{"two values", `{"resourceType":"Patient","id":"a"} {}`, "$", "data after the first value", ""},
		{"an array", `[1, 2]`, "$", "not a JSON object", ""},
		{"not FHIR", `{"hello": "world"}`, "$.resourceType", "not a FHIR resource", ""},
		{"resourceType not a string", `{"resourceType": 7}`, "$.resourceType", "not a string", ""},
		{"wrong type at a path", `{"resourceType":"Observation","id":"o1","code":"4548-4","subject":{"reference":"Patient/p1"}}`, "$.code", "not an object", "Observation"},
		{"bad patient", `{"resourceType":"Patient","id":"p1","birthDate":17}`, "$.birthDate", "not a string", "Patient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := NewLoader(Options{}).Add("f.json", []byte(tt.data))
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			var pe *PathError
			if !errors.As(errs[0], &pe) {
				t.Fatalf("error %T %v, want *PathError", errs[0], errs[0])
			}
			if pe.File != "f.json" || pe.Path != tt.wantPath || !strings.Contains(pe.Msg, tt.wantMsg) || pe.Resource != tt.wantType {
				t.Errorf("got %q (resource %q), want f.json: %s: …%s… (resource %q)", pe, pe.Resource, tt.wantPath, tt.wantMsg, tt.wantType)
			}
		})
	}
}

func TestLoaderOrphans(t *testing.T) {
	t.Parallel()
	obs := `{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"subject":{"reference":"Patient/placeholder"},"effectiveDateTime":"2025-03-01"}`
	tests := []struct {
		name       string
		files      []string
		wantRecs   int
		wantItems  int // items of the first record
		wantAttach string
	}{
		{"one patient: placeholder subject attached", []string{`{"resourceType":"Patient","id":"a"}`, obs}, 1, 1, "a"},
		{"two patients: skipped", []string{`{"resourceType":"Patient","id":"a"}`, `{"resourceType":"Patient","id":"b"}`, obs}, 2, 0, ""},
		{"a rejected patient: skipped, never attached to the other", []string{`{"resourceType":"Patient","id":"a"}`, `{"resourceType":"Patient","id":"b","gender":"mail"}`, obs}, 1, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := NewLoader(Options{})
			for i, f := range tt.files {
				l.Add(fmt.Sprintf("f%d.json", i), []byte(f))
			}
			recs, warns := l.Records()
			if len(recs) != tt.wantRecs || len(recs[0].Items) != tt.wantItems {
				t.Fatalf("got %d records (%d items in the first), want %d (%d)", len(recs), len(recs[0].Items), tt.wantRecs, tt.wantItems)
			}
			var oe *OrphanError
			if len(warns) != 1 || !errors.As(warns[0], &oe) || oe.Subject != "Patient/placeholder" || oe.Count != 1 || oe.AttachedTo != tt.wantAttach {
				t.Errorf("warnings = %v, want one OrphanError for Patient/placeholder attached to %q", warns, tt.wantAttach)
			}
		})
	}
}

func TestLoaderReadsRace(t *testing.T) {
	t.Parallel()
	l := NewLoader(Options{})
	errs := l.Add("p.json", []byte(`{"resourceType":"Patient","id":"p","extension":[
	 {"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex","valueCode":"F"},
	 {"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race","extension":[
	  {"url":"ombCategory","valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2028-9","display":"Asian"}},
	  {"url":"detailed","valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2039-6","display":"Japanese"}},
	  {"url":"text","valueString":"Asian"}]}]}`))
	recs, _ := l.Records()
	if len(errs) != 0 || len(recs) != 1 {
		t.Fatalf("errors %v, %d records; want none and 1", errs, len(recs))
	}
	want := []chart.Code{{System: chart.CDCREC, Code: "2028-9"}, {System: chart.CDCREC, Code: "2039-6"}}
	if got := recs[0].Patient.Races; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("races = %v, want %v", got, want)
	}
}

func TestLoaderReadsCategories(t *testing.T) {
	t.Parallel()
	const bundle = `{"resourceType":"Bundle","type":"transaction","entry":[
 {"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"p"}},
 {"resource":{"resourceType":"Observation","id":"o","status":"final","subject":{"reference":"urn:uuid:p"},
   "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
   "code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"effectiveDateTime":"2025-01-10"}},
 {"resource":{"resourceType":"DiagnosticReport","id":"dr","status":"final","subject":{"reference":"urn:uuid:p"},
   "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"RAD"}]}],
   "code":{"coding":[{"system":"http://loinc.org","code":"36643-5"}]},"effectiveDateTime":"2025-01-10","conclusion":"Clear lungs."}},
 {"resource":{"resourceType":"Encounter","id":"e","status":"finished","subject":{"reference":"urn:uuid:p"},
   "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"EMER"},
   "serviceType":{"coding":[{"system":"http://snomed.info/sct","code":"773568002"}]},"period":{"start":"2025-01-02"}}},
 {"resource":{"resourceType":"ImagingStudy","id":"is","status":"available","subject":{"reference":"urn:uuid:p"},"started":"2025-01-10T00:00:00Z",
   "modality":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"CT"}],
   "series":[{"modality":{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"CT"},"description":"CT chest without contrast"}]}},
 {"resource":{"resourceType":"DocumentReference","id":"d","status":"current","subject":{"reference":"urn:uuid:p"},
   "type":{"coding":[{"system":"http://loinc.org","code":"18842-5","display":"Discharge summary"}]},
   "category":[{"coding":[{"system":"http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category","code":"clinical-note"}]}],
   "context":{"practiceSetting":{"coding":[{"system":"http://snomed.info/sct","code":"394579002"}]}},
   "date":"2025-01-05T00:00:00Z","content":[{"attachment":{"contentType":"text/plain","data":"U3RhYmxlLg=="}}]}}
]}`
	l := NewLoader(Options{})
	if errs := l.Add("b.json", []byte(bundle)); len(errs) > 0 {
		t.Fatalf("errors %v", errs)
	}
	recs, _ := l.Records()
	rec := recs[0]
	c := func(system, code string) chart.Code { return chart.Code{System: system, Code: code} }
	wantItems := map[string][]chart.Code{
		"Observation/o":       {c(chart.ObservationCategory, "laboratory")},
		"DiagnosticReport/dr": {c(chart.DiagnosticService, "RAD")},
		"Encounter/e":         {c(chart.ActCode, "EMER"), c(chart.SNOMED, "773568002")},
		"ImagingStudy/is":     {c(chart.DICOM, "CT")},
	}
	for _, it := range rec.Items {
		if got, want := fmt.Sprint(it.Category), fmt.Sprint(wantItems[it.Ref]); got != want {
			t.Errorf("%s: category %s, want %s", it.Ref, got, want)
		}
		delete(wantItems, it.Ref)
	}
	if len(wantItems) > 0 {
		t.Errorf("items not read: %v (an encounter with a class but no type, an imaging study without a procedure code are kept)", wantItems)
	}
	wantDocs := map[string][]chart.Code{
		"DocumentReference/d": {c(chart.LOINC, "18842-5"), c(chart.DocumentCategory, "clinical-note"), c(chart.SNOMED, "394579002")},
		"DiagnosticReport/dr": {c(chart.DiagnosticService, "RAD")},
	}
	for _, d := range rec.Documents {
		if got, want := fmt.Sprint(d.Category), fmt.Sprint(wantDocs[d.Ref]); got != want {
			t.Errorf("document %s: category %s, want %s", d.Ref, got, want)
		}
	}
	for _, it := range rec.Items {
		if it.Ref == "ImagingStudy/is" && (it.Text != "CT chest without contrast" || len(it.Codes) != 0 || it.Start != chart.D(2025, 1, 10)) {
			t.Errorf("imaging study = %+v, want its series description as text, no codes a rule could match, started 2025-01-10", it)
		}
	}
}

func TestLoaderReadsAppointments(t *testing.T) {
	t.Parallel()
	// The Appointment comes before its Patient and names the patient
	// among practitioners and locations.
	appt := `{"resourceType":"Appointment","id":"a1","status":"booked","start":"2025-03-14T09:30:00-05:00","end":"2025-03-14T09:50:00-05:00",
 "appointmentType":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0276","code":"ROUTINE"}],"text":"Annual wellness visit"},
 "participant":[
  {"actor":{"reference":"Practitioner/dr-lee","display":"Dr. Ana Lee"},"status":"accepted"},
  {"actor":{"reference":"Location/main","display":"Main Street Clinic"},"status":"accepted"},
  {"actor":{"reference":"Patient/p"},"status":"accepted"}]}`
	tests := []struct {
		name      string
		files     []string
		wantAppts int
		wantErr   string
	}{
		{"read with the patient", []string{appt, `{"resourceType":"Patient","id":"p"}`}, 1, ""},
		{"without a start there is no visit to prepare", []string{strings.Replace(appt, `"start":"2025-03-14T09:30:00-05:00",`, "", 1), `{"resourceType":"Patient","id":"p"}`}, 0, ""},
		{"a start without an offset is reported", []string{strings.Replace(appt, "09:30:00-05:00", "09:30:00", 1), `{"resourceType":"Patient","id":"p"}`}, 0,
			`a.json: $.start: bad instant "2025-03-14T09:30:00": want a date and time with an offset`},
		{"another patient's appointment is an orphan", []string{strings.Replace(appt, "Patient/p", "Patient/q", 1), `{"resourceType":"Patient","id":"p"}`, `{"resourceType":"Patient","id":"r"}`}, 0,
			`1 resources refer to subject "Patient/q", which is not a loaded Patient: skipped`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := NewLoader(Options{})
			var errs []error
			errs = append(errs, l.Add("a.json", []byte(tt.files[0]))...)
			for i, f := range tt.files[1:] {
				errs = append(errs, l.Add(fmt.Sprintf("p%d.json", i), []byte(f))...)
			}
			recs, warn := l.Records()
			errs = append(errs, warn...)
			got := 0
			for _, r := range recs {
				got += len(r.Appointments)
			}
			if got != tt.wantAppts {
				t.Errorf("got %d appointments, want %d", got, tt.wantAppts)
			}
			if msg := fmt.Sprint(errs); tt.wantErr == "" && len(errs) > 0 || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("errors %s, want %q", msg, tt.wantErr)
			}
			if tt.wantAppts == 1 {
				a := recs[0].Appointments[0]
				want := chart.Appointment{Ref: "Appointment/a1", Status: "booked", Provider: "Dr. Ana Lee", Location: "Main Street Clinic", VisitType: "Annual wellness visit"}
				start := time.Date(2025, 3, 14, 14, 30, 0, 0, time.UTC)
				if !a.Start.Equal(start) || !a.End.Equal(start.Add(20*time.Minute)) {
					t.Errorf("start %v, end %v; want %v and 20 minutes later", a.Start, a.End, start)
				}
				a.Start, a.End = time.Time{}, time.Time{}
				if a != want {
					t.Errorf("appointment = %+v, want %+v", a, want)
				}
			}
		})
	}
}

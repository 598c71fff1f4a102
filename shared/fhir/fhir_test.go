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

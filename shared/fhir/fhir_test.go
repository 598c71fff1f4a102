package fhir

import (
	"errors"
	"os"
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

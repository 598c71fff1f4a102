package demodata

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

var start = time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC) // a Monday

func TestGenerateCountsAndSchedule(t *testing.T) {
	t.Parallel()
	ds, err := Generate(Config{Seed: 7, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Patients) != 200 || ds.Counts["Patient"] != 200 {
		t.Errorf("%d patient files, %d Patients; want 200", len(ds.Patients), ds.Counts["Patient"])
	}
	// 14 days from a Monday: 10 weekdays × 14 appointments.
	if got := ds.Counts["Appointment"]; got != 140 {
		t.Errorf("%d appointments, want 140", got)
	}
	for _, typ := range []string{"Encounter", "Observation", "Procedure", "DiagnosticReport", "Condition", "Immunization"} {
		if ds.Counts[typ] < 30 {
			t.Errorf("only %d %s resources", ds.Counts[typ], typ)
		}
	}
	if !bytes.Contains(ds.Schedule.Data, []byte(`"start": "2025-06-13T`)) || bytes.Contains(ds.Schedule.Data, []byte(`"start": "2025-06-14T`)) {
		t.Error("schedule should run weekdays through Friday 13 June and skip the weekend")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a, _ := Generate(Config{Seed: 42, Patients: 30, Start: start})
	b, _ := Generate(Config{Seed: 42, Patients: 30, Start: start})
	c, _ := Generate(Config{Seed: 43, Patients: 30, Start: start})
	same := func(x, y *Dataset) bool {
		return slices.EqualFunc(x.Patients, y.Patients, func(p, q File) bool { return p.Name == q.Name && bytes.Equal(p.Data, q.Data) }) &&
			bytes.Equal(x.Schedule.Data, y.Schedule.Data)
	}
	if !same(a, b) {
		t.Error("the same seed gave different data")
	}
	if same(a, c) {
		t.Error("different seeds gave the same data")
	}
}

func TestGenerateRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{}, {Start: start, Patients: -1}} {
		if _, err := Generate(cfg); err == nil {
			t.Errorf("Generate(%+v) accepted", cfg)
		}
	}
}

func TestCodesAreInThePresetCodeSets(t *testing.T) {
	t.Parallel()
	lib, err := preset.Default()
	if err != nil {
		t.Fatal(err)
	}
	for set, c := range presetCodes {
		cs, ok := lib.CodeSets[set]
		if !ok {
			t.Errorf("code set %q is not in the default presets", set)
			continue
		}
		if !slices.Contains(cs.Codes[fhir.System(c.system)], c.code) {
			t.Errorf("%s|%s (%s) is not in code set %q", c.system, c.code, c.display, set)
		}
	}
}

// TestDataLoadsAndScreens loads every file with shared/fhir (no errors
// allowed) and checks the engine finds a mix of statuses on the first day.
func TestDataLoadsAndScreens(t *testing.T) {
	t.Parallel()
	ds, err := Generate(Config{Seed: 1, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	l := fhir.NewLoader(fhir.Options{})
	for _, f := range append(ds.Patients, ds.Schedule) {
		if errs := l.Add(f.Name, f.Data); len(errs) > 0 {
			t.Fatalf("%s: %v", f.Name, errs)
		}
	}
	recs, errs := l.Records()
	if len(errs) > 0 {
		t.Fatalf("records: %v", errs)
	}
	if len(recs) != 200 {
		t.Fatalf("%d records, want 200", len(recs))
	}
	lib, err := preset.Default()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := screening.Compile(lib)
	if err != nil {
		t.Fatal(err)
	}
	asOf := chart.FromTime(start)
	byType := map[string]map[screening.Status]int{}
	total := map[screening.Status]int{}
	for _, r := range recs {
		for _, res := range eng.Evaluate(r, asOf, nil) {
			if byType[res.ID] == nil {
				byType[res.ID] = map[screening.Status]int{}
			}
			byType[res.ID][res.Status]++
			total[res.Status]++
		}
	}
	t.Logf("statuses over 200 patients: %v", total)
	for _, s := range []screening.Status{screening.Complete, screening.DueSoon, screening.Due, screening.Overdue, screening.Excluded, screening.NotEligible} {
		if total[s] < 10 {
			t.Errorf("only %d %s results; want a mix", total[s], s)
		}
	}
	for _, id := range []string{"breast_cancer", "cervical_cancer", "colorectal_cancer", "diabetes_a1c", "influenza_vaccine"} {
		m := byType[id]
		if m[screening.Complete] == 0 || m[screening.Due]+m[screening.Overdue] == 0 {
			t.Errorf("%s: %v; want some complete and some due or overdue", id, m)
		}
	}
	for _, id := range []string{"breast_cancer", "cervical_cancer"} {
		if byType[id][screening.Excluded] == 0 {
			t.Errorf("%s: no exclusions (mastectomy / hysterectomy) in %v", id, byType[id])
		}
	}
}

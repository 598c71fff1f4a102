package preset

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

// syntheticRecord builds a patient with n coded items drawn from the
// default library's own code sets (so matching does real work) plus noise,
// and docs documents of a few hundred words.
func syntheticRecord(lib screening.Library, n, docs int, seed uint64) chart.Record {
	r := rand.New(rand.NewPCG(seed, seed))
	var pool []chart.Code
	for _, name := range []string{"colonoscopy", "fobt", "mammography", "hba1c", "diabetes", "egfr", "uacr", "retinal_exam", "influenza_vaccine", "lipid_panel"} {
		for sys, codes := range lib.CodeSets[name].Codes {
			for _, c := range codes[:min(3, len(codes))] {
				pool = append(pool, chart.Code{System: sys, Code: c})
			}
		}
	}
	kinds := []chart.Kind{chart.Observation, chart.Procedure, chart.Condition, chart.Encounter, chart.Immunization}
	rec := chart.Record{Patient: chart.Patient{ID: "bench", BirthDate: chart.D(1962, 5, 17), Sex: chart.SexFemale}}
	asOf := chart.D(2025, 12, 31)
	for i := range n {
		code := chart.Code{System: chart.LOINC, Code: fmt.Sprintf("noise-%d", r.IntN(2000))}
		if r.IntN(4) == 0 {
			code = pool[r.IntN(len(pool))]
		}
		on := asOf.AddDays(-r.IntN(365 * 15))
		rec.Items = append(rec.Items, chart.Item{Kind: kinds[r.IntN(len(kinds))], Ref: fmt.Sprintf("Observation/%d", i),
			Codes: []chart.Code{code}, Start: on, End: on, Status: "final", HasValue: true})
	}
	text := "Patient seen for follow up. No colonoscopy on file; mammogram declined. Blood pressure reviewed, " +
		"diet and exercise discussed. Labs ordered. Return in three months. "
	for i := range docs {
		body := ""
		for range 8 {
			body += text
		}
		rec.Documents = append(rec.Documents, chart.Document{Ref: fmt.Sprintf("DocumentReference/%d", i), Title: "Progress note",
			Date: asOf.AddDays(-r.IntN(900)), Text: body})
	}
	return rec
}

func benchEngine(b *testing.B) (*screening.Engine, screening.Library) {
	b.Helper()
	lib, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	e, err := screening.Compile(lib)
	if err != nil {
		b.Fatal(err)
	}
	return e, lib
}

// BenchmarkTypicalPatient: the default library (29 types), 300 coded
// items, 40 documents. Target ≤ 5 ms per sheet on one core.
func BenchmarkTypicalPatient(b *testing.B) {
	e, lib := benchEngine(b)
	rec := syntheticRecord(lib, 300, 40, 1)
	asOf := chart.D(2025, 12, 31)
	b.ReportAllocs()
	for b.Loop() {
		e.Evaluate(rec, asOf, nil)
	}
}

// BenchmarkClinicDay: 500 typical patients, evaluated in parallel (run
// with -cpu 2). Target ≤ 2 s per op.
func BenchmarkClinicDay(b *testing.B) {
	e, lib := benchEngine(b)
	recs := make([]chart.Record, 500)
	for i := range recs {
		recs[i] = syntheticRecord(lib, 300, 40, uint64(i))
	}
	asOf := chart.D(2025, 12, 31)
	b.ReportAllocs()
	for b.Loop() {
		next := make(chan int, len(recs))
		for i := range recs {
			next <- i
		}
		close(next)
		done := make(chan struct{})
		workers := max(1, testingCPU())
		for range workers {
			go func() {
				for i := range next {
					e.Evaluate(recs[i], asOf, nil)
				}
				done <- struct{}{}
			}()
		}
		for range workers {
			<-done
		}
	}
}

// BenchmarkLargeChart: one patient with 20,000 items. Target ≤ 50 ms.
func BenchmarkLargeChart(b *testing.B) {
	e, lib := benchEngine(b)
	rec := syntheticRecord(lib, 20000, 40, 7)
	asOf := chart.D(2025, 12, 31)
	b.ReportAllocs()
	for b.Loop() {
		e.Evaluate(rec, asOf, nil)
	}
}

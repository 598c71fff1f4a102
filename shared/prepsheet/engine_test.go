package prepsheet_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/prepsheettest"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// engineInput evaluates the default library for a diabetic 63-year-old
// woman with a chart of n coded items and docs documents, and returns the
// sheet input built from the engine's real results.
func engineInput(t testing.TB, n, docs int) (prepsheet.Input, chart.Record) {
	t.Helper()
	lib, err := preset.Default()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := screening.Compile(lib)
	if err != nil {
		t.Fatal(err)
	}
	in := prepsheettest.Typical(chicago(t))
	asOf := chart.FromTime(in.AsOf.In(in.Location))
	rec := chart.Record{Patient: in.Patient, Items: append([]chart.Item(nil), in.Conditions...)}
	for i := range n {
		day := asOf.AddDays(-7 * i)
		rec.Items = append(rec.Items, chart.Item{Kind: chart.Observation, Ref: fmt.Sprintf("Observation/a1c-%d", i),
			Codes: []chart.Code{{System: chart.LOINC, Code: "4548-4"}}, Text: "Hemoglobin A1c", Start: day, End: day,
			Quantity: 7 + float64(i%20)/10, Unit: "%", HasQuantity: true, HasValue: true, Status: "final"})
	}
	for i := range docs {
		rec.Documents = append(rec.Documents, chart.Document{Ref: fmt.Sprintf("DocumentReference/d%d", i),
			Title: "Clinic note", Date: asOf.AddDays(-30 * i),
			Text: "Patient seen for follow-up. Mammogram declined. Colonoscopy 2019 normal per patient; no report on file."})
	}
	in.Screenings = eng.Evaluate(rec, asOf, nil)
	in.Entries = nil
	for _, it := range rec.Items {
		if it.Kind == chart.Observation {
			if e, ok := prepsheet.EntryFromItem(prepsheet.Lab, it); ok {
				in.Entries = append(in.Entries, e)
			}
		}
	}
	for _, d := range rec.Documents {
		in.Entries = append(in.Entries, prepsheet.EntryFromDocument(d, "Progress note"))
	}
	return in, rec
}

// TestEngineResultsMakeASheet checks the sheet against the real engine's
// results: every result is shown exactly once, as an item or, when
// superseded, in the footnote.
func TestEngineResultsMakeASheet(t *testing.T) {
	t.Parallel()
	in, _ := engineInput(t, 40, 5)
	s := assemble(t, in)
	shown := map[string]int{}
	for _, it := range s.Screenings {
		shown[it.ID]++
		if it.Status == screening.Superseded {
			t.Errorf("%s is shown as an item though superseded", it.ID)
		}
	}
	for _, n := range s.Superseded {
		shown[n.ID]++
	}
	for _, r := range in.Screenings {
		if shown[r.ID] != 1 {
			t.Errorf("result %s (%s) shown %d times, want once", r.ID, r.Status, shown[r.ID])
		}
	}
	var b strings.Builder
	if err := prepsheet.WriteText(&b, &s); err != nil {
		t.Fatal(err)
	}
	for _, it := range s.Screenings {
		if !strings.Contains(b.String(), it.Name) {
			t.Errorf("text lacks %q", it.Name)
		}
	}
}

// BenchmarkEvaluateAssembleText is the whole per-patient path: the engine
// on the default library (300 coded items, 40 documents), then assembly and
// the text rendering.
func BenchmarkEvaluateAssembleText(b *testing.B) {
	lib, err := preset.Default()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := screening.Compile(lib)
	if err != nil {
		b.Fatal(err)
	}
	in, rec := engineInput(b, 300, 40)
	asOf := chart.FromTime(in.AsOf.In(in.Location))
	b.ReportAllocs()
	for b.Loop() {
		in.Screenings = eng.Evaluate(rec, asOf, nil)
		s, err := prepsheet.Assemble(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := prepsheet.WriteText(io.Discard, &s); err != nil {
			b.Fatal(err)
		}
	}
}

package prepsheet_test

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/prepsheettest"
	"healthprep.dev/shared/screening"
)

// BenchmarkAssembleText assembles and renders as text a typical patient's
// sheet: 25 screening results, 40 conditions, 60 entries per lookback
// section (300 in all, of which about a third fall outside the windows).
func BenchmarkAssembleText(b *testing.B) {
	in := prepsheettest.Large(chicago(b), 25, 60)
	b.ReportAllocs()
	for b.Loop() {
		s, err := prepsheet.Assemble(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := prepsheet.WriteText(io.Discard, &s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssembleWithDocuments is BenchmarkAssembleText with 40
// documents' texts, so that the page of each document evidence line is
// found: one document of 20 pages (about 60 KB) cited by 5 screenings,
// 39 others uncited.
func BenchmarkAssembleWithDocuments(b *testing.B) {
	in := prepsheettest.Large(chicago(b), 25, 60)
	page := strings.Repeat("Patient seen in clinic today for follow up of chronic conditions. Vitals stable. ", 36)
	cited := strings.Repeat(page+"\f", 19) + "PHQ-9 completed, score 4.\n" + page
	in.Documents = append(in.Documents, chart.Document{Ref: "DocumentReference/note-2024-11", Title: "Clinic note", Text: cited})
	for i := range 39 {
		in.Documents = append(in.Documents, chart.Document{Ref: fmt.Sprintf("DocumentReference/other-%d", i), Text: page})
	}
	for i := 0; i < len(in.Screenings); i += 5 {
		r := &in.Screenings[i]
		r.Evidence = append(slices.Clone(r.Evidence), screening.Evidence{Role: screening.RoleCompletion,
			Source: "DocumentReference/note-2024-11", Document: "Clinic note", Phrase: "PHQ-9", Date: chart.D(2024, 11, 20)})
	}
	s, err := prepsheet.Assemble(in)
	if err != nil {
		b.Fatal(err)
	}
	pages := 0
	for _, it := range s.Screenings {
		for _, ev := range it.Evidence {
			if ev.Kind == prepsheet.EvidenceDocument {
				if ev.Page != 20 {
					b.Fatalf("%s: page %d, want 20", ev.Description, ev.Page)
				}
				pages++
			}
		}
	}
	if pages == 0 {
		b.Fatal("no document evidence line")
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := prepsheet.Assemble(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := prepsheet.WriteText(io.Discard, &s); err != nil {
			b.Fatal(err)
		}
	}
}

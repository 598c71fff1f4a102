package screening_test

import (
	"fmt"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

func Example() {
	lib := screening.Library{
		Version: "example",
		Types: []screening.Type{{
			ID: "crc", Name: "Colorectal cancer screening", MinAge: "45y", MaxAge: "75y",
			Sources: []screening.Source{{Label: "USPSTF 2021", CMS: "CMS130"}},
			Evidence: []screening.EvidenceRule{
				{ID: "colonoscopy", Name: "Colonoscopy", Interval: chart.Period{N: 10, Unit: chart.Years},
					Criterion: screening.Criterion{Codes: []chart.Code{{System: chart.CPT, Code: "45378"}}, Phrases: []string{"colonoscopy"}}},
			},
		}},
	}
	engine, err := screening.Compile(lib)
	if err != nil {
		panic(err)
	}
	rec := chart.Record{
		Patient:   chart.Patient{ID: "p1", BirthDate: chart.D(1960, 4, 2), Sex: chart.SexMale},
		Documents: []chart.Document{{Ref: "DocumentReference/7", Title: "GI letter", Date: chart.D(2016, 1, 20), Text: "Screening colonoscopy: no polyps."}},
	}
	for _, r := range engine.Evaluate(rec, chart.D(2025, 12, 31), nil) {
		fmt.Println(r.Status, r.NextDue)
		fmt.Println(r.Reason)
	}
	// Output:
	// due_soon 2026-01-20
	// Colonoscopy on 2016-01-20 (document DocumentReference/7); due 2026-01-20, within 20 days.
}

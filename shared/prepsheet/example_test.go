package prepsheet_test

import (
	"fmt"
	"os"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

func ExampleWriteText() {
	in := prepsheet.Input{
		Patient: chart.Patient{ID: "p1", Name: "Jane Example", MRN: "0001",
			BirthDate: chart.D(1970, time.May, 2), Sex: chart.SexFemale},
		Appointment: prepsheet.Appointment{Start: time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC),
			Provider: "Dr. Lee", VisitType: "Follow-up"},
		Screenings: []screening.Result{
			{ID: "breast", Name: "Breast cancer screening", Status: screening.Due,
				Reason: "No mammogram on file; due now.", Sources: []screening.Source{{Label: "USPSTF 2024", CMS: "CMS125"}}},
			{ID: "colorectal", Name: "Colorectal cancer screening", Status: screening.Complete,
				LastDone: chart.D(2020, 6, 1), NextDue: chart.D(2030, 6, 1), Reason: "Colonoscopy 2020-06-01; next due 2030-06-01.",
				Evidence: []screening.Evidence{{Role: screening.RoleCompletion, Source: "Procedure/7",
					Date: chart.D(2020, 6, 1), Text: "Colonoscopy"}}},
		},
		Entries: []prepsheet.Entry{
			{Category: prepsheet.Lab, Ref: "Observation/9", Date: chart.D(2025, 1, 10), Title: "Hemoglobin A1c", Detail: "6.1 %"},
			{Category: prepsheet.Lab, Ref: "Observation/3", Date: chart.D(2023, 1, 10), Title: "Hemoglobin A1c", Detail: "5.9 %"},
		},
		AsOf: time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC),
	}
	sheet, err := prepsheet.Assemble(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := prepsheet.WriteText(os.Stdout, &sheet); err != nil {
		fmt.Println(err)
	}
	// Output:
	// PREP SHEET                                                As of 2025-03-14 (UTC)
	// ================================================================================
	// Patient:   Jane Example
	// MRN:       0001
	// Age, sex:  54 years, female
	// Visit:     Fri 2025-03-14 09:30 UTC, Follow-up
	// Provider:  Dr. Lee
	//
	// SCREENINGS (2)
	// --------------------------------------------------------------------------------
	// !  DUE             Breast cancer screening
	//                    Never done
	//                    No mammogram on file; due now.
	//                    Source: USPSTF 2024 (CMS125)
	//
	// +  COMPLETE        Colorectal cancer screening
	//                    Last done 2020-06-01 | Next due 2030-06-01
	//                    Colonoscopy 2020-06-01; next due 2030-06-01.
	//                    * 2020-06-01 Colonoscopy [Procedure/7]
	//
	// ACTIVE CONDITIONS (0)
	// --------------------------------------------------------------------------------
	// None recorded.
	//
	// RECENT LABS (1) - last 12 months, since 2024-03-14
	// --------------------------------------------------------------------------------
	// 2025-01-10  Hemoglobin A1c: 6.1 %
	//
	// IMAGING (0) - last 24 months, since 2023-03-14
	// --------------------------------------------------------------------------------
	// None in the last 24 months.
	//
	// CONSULTS (0) - last 12 months, since 2024-03-14
	// --------------------------------------------------------------------------------
	// None in the last 12 months.
	//
	// HOSPITAL AND ED VISITS (0) - last 12 months, since 2024-03-14
	// --------------------------------------------------------------------------------
	// None in the last 12 months.
	//
	// DOCUMENTS (0) - last 12 months, since 2024-03-14
	// --------------------------------------------------------------------------------
	// None in the last 12 months.
	//
	// ================================================================================
	// Generated 2025-03-14 08:00 UTC. Marks: !! overdue, ! due, ~ due soon, ? cannot
	// evaluate, + complete, x excluded, - not eligible.
}

// Entries places a record's items and documents in the lookback sections
// by the codings that classify them.
func ExampleEntries() {
	day := chart.D(2025, 6, 3)
	rec := chart.Record{
		Items: []chart.Item{
			{Kind: chart.Encounter, Ref: "Encounter/ed", Text: "Emergency room admission", Start: day, End: day,
				Category: []chart.Code{{System: chart.ActCode, Code: "EMER"}}},
			{Kind: chart.Observation, Ref: "Observation/a1c", Text: "Hemoglobin A1c", Start: day, End: day,
				Quantity: 6.1, Unit: "%", HasQuantity: true,
				Category: []chart.Code{{System: chart.ObservationCategory, Code: "laboratory"}}},
			{Kind: chart.Observation, Ref: "Observation/bp", Text: "Blood pressure", Start: day, End: day,
				Category: []chart.Code{{System: chart.ObservationCategory, Code: "vital-signs"}}},
		},
		Documents: []chart.Document{
			{Ref: "DocumentReference/ds", Title: "Discharge summary", Date: day.AddDays(3),
				Category: []chart.Code{{System: chart.LOINC, Code: "18842-5"}}},
		},
	}
	for _, e := range prepsheet.Entries(rec) {
		fmt.Printf("%-9s %s\n", e.Category, prepsheet.EntryText(e))
	}
	// Output:
	// hospital  Emergency room admission (ED visit)
	// lab       Hemoglobin A1c: 6.1 %
	// document  Discharge summary
	// hospital  Discharge summary
}

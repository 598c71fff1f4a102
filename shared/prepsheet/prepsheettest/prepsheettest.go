// Package prepsheettest provides synthetic prep-sheet inputs for tests and
// benchmarks of the prepsheet package and its renderers: a typical patient
// that exercises every section and boundary, and generated large ones.
// Every person, date and identifier here is made up.
package prepsheettest

import (
	"fmt"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// AsOf returns the instant the typical sheet is assembled at:
// 2025-03-14 12:05 UTC (07:05 in Chicago).
func AsOf() time.Time { return time.Date(2025, time.March, 14, 12, 5, 0, 0, time.UTC) }

func d(y int, m time.Month, day int) chart.Date { return chart.D(y, m, day) }

// Typical returns a typical patient's input, assembled at AsOf in loc. The
// patient turns 63 on the as-of date; lab and imaging entries sit exactly on
// and one day outside their windows; a hospital stay began before the
// window and ended inside it; one document is undated.
func Typical(loc *time.Location) prepsheet.Input {
	a1c := func(ref string, day chart.Date, v float64) screening.Evidence {
		return screening.Evidence{Role: screening.RoleCompletion, Source: ref, Kind: chart.Observation,
			Code: &chart.Code{System: chart.LOINC, Code: "4548-4"}, Date: day, Text: "Hemoglobin A1c", Quantity: &v, Unit: "%"}
	}
	uspstf := func(label, cms string) []screening.Source {
		return []screening.Source{{Label: label, CMS: cms}}
	}
	results := []screening.Result{
		{ID: "aaa", Name: "Abdominal aortic aneurysm screening", Status: screening.NotEligible,
			Reason: "Not eligible: for men aged 65 to 75 who have ever smoked.", Sources: uspstf("USPSTF 2019", "")},
		{ID: "breast", Name: "Breast cancer screening", Status: screening.Due,
			Reason: "No mammogram on file; due now.", Sources: uspstf("USPSTF 2024", "CMS125")},
		{ID: "cervical", Name: "Cervical cancer screening", Status: screening.Excluded,
			Reason: "Excluded: total hysterectomy with no residual cervix (Procedure/hyst-2015, 2015-06-02).",
			Evidence: []screening.Evidence{{Role: screening.RoleExclusion, Source: "Procedure/hyst-2015", Kind: chart.Procedure,
				Code: &chart.Code{System: chart.SNOMED, Code: "116140006"}, Date: d(2015, 6, 2), Text: "Total hysterectomy"}},
			Sources: uspstf("USPSTF 2018", "CMS124")},
		{ID: "colorectal", Name: "Colorectal cancer screening", Status: screening.Overdue,
			LastDone: d(2013, 2, 1), NextDue: d(2023, 2, 1),
			Reason: "Last colonoscopy 2013-02-01; due again 2023-02-01, now overdue.",
			Evidence: []screening.Evidence{{Role: screening.RoleCompletion, Source: "Procedure/colo-2013", Kind: chart.Procedure,
				Code: &chart.Code{System: chart.CPT, Code: "45378"}, Date: d(2013, 2, 1), Text: "Colonoscopy"}},
			Sources: uspstf("USPSTF 2021", "CMS130")},
		{ID: "depression", Name: "Depression screening", Status: screening.Complete,
			LastDone: d(2024, 11, 20), NextDue: d(2025, 11, 20),
			Reason: "PHQ-9 documented 2024-11-20; next due 2025-11-20.",
			Evidence: []screening.Evidence{{Role: screening.RoleCompletion, Source: "DocumentReference/note-2024-11",
				Document: "Clinic note", Phrase: "PHQ-9", Date: d(2024, 11, 20)}},
			Sources: uspstf("USPSTF 2016", "CMS2")},
		{ID: "diabetes-screen", Name: "Diabetes screening", Group: "diabetes", Status: screening.Superseded,
			SupersededBy: "a1c-diabetic", Reason: "Superseded by Diabetes: HbA1c control.", Sources: uspstf("USPSTF 2021", "")},
		{ID: "a1c-diabetic", Name: "Diabetes: HbA1c control", Group: "diabetes", Status: screening.Due,
			LastDone: d(2024, 12, 1), NextDue: d(2025, 3, 1),
			Reason: "Last HbA1c 2024-12-01 (9.4 %); due every 3 months for patients with diabetes.",
			Evidence: []screening.Evidence{
				a1c("Observation/a1c-2024-06", d(2024, 6, 1), 8.1),
				a1c("Observation/a1c-2024-12", d(2024, 12, 1), 9.4),
				a1c("Observation/a1c-2024-03", d(2024, 3, 14), 7.9),
				a1c("Observation/a1c-2024-09", d(2024, 9, 1), 8.8),
				{Role: screening.RoleTrigger, Source: "Condition/t2dm", Kind: chart.Condition,
					Code: &chart.Code{System: chart.SNOMED, Code: "44054006"}, Date: d(2018, 5, 10), Text: "Type 2 diabetes mellitus"},
			},
			Sources: uspstf("ADA Standards of Care 2025", "CMS122")},
		{ID: "hepc", Name: "Hepatitis C screening", Status: screening.Complete, LastDone: d(2019, 6, 1),
			Reason: "Hepatitis C antibody test 2019-06-01; once in a lifetime.", Sources: uspstf("USPSTF 2020", "")},
		{ID: "lipids", Name: "Lipid panel", Status: screening.DueSoon, LastDone: d(2020, 4, 1), NextDue: d(2025, 4, 1),
			Reason: "Last lipid panel 2020-04-01; due 2025-04-01.",
			Evidence: []screening.Evidence{{Role: screening.RoleCompletion, Source: "Observation/lipid-2020", Kind: chart.Observation,
				Code: &chart.Code{System: chart.LOINC, Code: "57698-3"}, Date: d(2020, 4, 1), Text: "Lipid panel"}},
			Sources: uspstf("USPSTF 2022", "")},
		{ID: "lung", Name: "Lung cancer screening (LDCT)", Status: screening.NotEligible,
			Reason: "Not eligible: no smoking history of 20 pack-years recorded.", Sources: uspstf("USPSTF 2021", "")},
		{ID: "tobacco", Name: "Tobacco use screening", Status: screening.DueSoon, NextDue: d(2025, 4, 10),
			Reason: "Postponed until 2025-04-10 by Dr. Priya Patel: patient request.",
			Evidence: []screening.Evidence{{Role: screening.RoleOverride, Rule: "postponed", Source: "override",
				Date: d(2025, 4, 10), Text: "Dr. Priya Patel: patient request"}},
			Sources: uspstf("USPSTF 2021", "CMS138")},
	}
	conds := []chart.Item{
		{Kind: chart.Condition, Ref: "Condition/htn", Text: "Essential hypertension", Status: "active",
			Codes: []chart.Code{{System: chart.SNOMED, Code: "59621000"}}, Start: d(2015, 1, 20)},
		{Kind: chart.Condition, Ref: "Condition/t2dm", Text: "Type 2 diabetes mellitus", Status: "active",
			Codes: []chart.Code{{System: chart.SNOMED, Code: "44054006"}}, Start: d(2018, 5, 10)},
		{Kind: chart.Condition, Ref: "Condition/hld", Text: "Hyperlipidemia", Status: "active",
			Codes: []chart.Code{{System: chart.ICD10CM, Code: "E78.5"}}},
		{Kind: chart.Condition, Ref: "Condition/bronchitis", Text: "Acute bronchitis", Status: "resolved",
			Codes: []chart.Code{{System: chart.SNOMED, Code: "10509002"}}, Start: d(2024, 12, 1), End: d(2024, 12, 20)},
		{Kind: chart.Condition, Ref: "Condition/refuted", Text: "Asthma", NotDone: true,
			Codes: []chart.Code{{System: chart.SNOMED, Code: "195967001"}}, Start: d(2020, 1, 1)},
	}
	entries := []prepsheet.Entry{
		{Category: prepsheet.Lab, Ref: "Observation/a1c-2024-12", Date: d(2024, 12, 1), Title: "Hemoglobin A1c", Detail: "9.4 %"},
		{Category: prepsheet.Lab, Ref: "Observation/a1c-2024-09", Date: d(2024, 9, 1), Title: "Hemoglobin A1c", Detail: "8.8 %"},
		{Category: prepsheet.Lab, Ref: "Observation/a1c-2024-06", Date: d(2024, 6, 1), Title: "Hemoglobin A1c", Detail: "8.1 %"},
		{Category: prepsheet.Lab, Ref: "Observation/a1c-2024-03", Date: d(2024, 3, 14), Title: "Hemoglobin A1c", Detail: "7.9 %"},
		{Category: prepsheet.Lab, Ref: "Observation/egfr-2024-03", Date: d(2024, 3, 13), Title: "eGFR", Detail: "58 mL/min/1.73m2"},
		{Category: prepsheet.Lab, Ref: "Observation/creat-2025-01", Date: d(2025, 1, 15), Title: "Creatinine", Detail: "1.1 mg/dL"},
		{Category: prepsheet.Imaging, Ref: "DiagnosticReport/cxr-2024-12", Date: d(2024, 12, 2), Title: "Chest X-ray, 2 views",
			Detail: "No acute cardiopulmonary process."},
		{Category: prepsheet.Imaging, Ref: "DiagnosticReport/dexa-2023-03", Date: d(2023, 3, 13), Title: "DEXA scan", Detail: "Osteopenia."},
		{Category: prepsheet.Consult, Ref: "DocumentReference/ophtho-2024-10", Date: d(2024, 10, 5), Title: "Ophthalmology consult",
			Type: "Ophthalmology", Detail: "Mild nonproliferative diabetic retinopathy, both eyes; follow up in 12 months."},
		{Category: prepsheet.Hospital, Ref: "Encounter/ed-2024-12", Date: d(2024, 12, 1), Title: "Emergency department visit",
			Type: "ED", Detail: "Acute bronchitis"},
		{Category: prepsheet.Hospital, Ref: "Encounter/adm-2024-03", Date: d(2024, 3, 10), End: d(2024, 3, 15), Title: "Hospital admission",
			Type: "inpatient", Detail: "Diabetic ketoacidosis"},
		{Category: prepsheet.Document, Ref: "DocumentReference/dc-2024-03", Date: d(2024, 3, 15), Title: "Discharge summary, St. Olaf Hospital",
			Type: "Discharge summary"},
		{Category: prepsheet.Document, Ref: "DocumentReference/note-2024-11", Date: d(2024, 11, 20), Title: "Clinic note", Type: "Progress note"},
		{Category: prepsheet.Document, Ref: "DocumentReference/colo-2013", Date: d(2013, 2, 1), Title: "Colonoscopy report", Type: "Procedure report"},
		{Category: prepsheet.Document, Ref: "DocumentReference/scan-17", Title: "Scanned letter", Type: "Correspondence"},
	}
	return prepsheet.Input{
		Patient: chart.Patient{ID: "pat-0001", Name: "Ana María Núñez-Øverby", MRN: "MRN-004211",
			BirthDate: d(1962, 3, 14), Sex: chart.SexFemale},
		Appointment: prepsheet.Appointment{Start: time.Date(2025, time.March, 14, 15, 30, 0, 0, time.UTC),
			Provider: "Dr. Priya Patel, MD", Location: "Lakeside Family Medicine", VisitType: "Annual wellness visit"},
		Screenings: results,
		Conditions: conds,
		Entries:    entries,
		AsOf:       AsOf(),
		Location:   loc,
	}
}

// Large returns a generated input with n screening results (cycling
// through every status), 40 conditions, and entries spread over the two
// years before AsOf: perSection in each lookback section. It is
// deterministic, and large enough to span several printed pages.
func Large(loc *time.Location, n, perSection int) prepsheet.Input {
	in := Typical(loc)
	in.Patient.Name = "Zoë Łukasiewicz-Þórsdóttir"
	statuses := []screening.Status{screening.Overdue, screening.Due, screening.DueSoon, screening.CannotEvaluate,
		screening.Complete, screening.Excluded, screening.NotEligible}
	asOf := chart.FromTime(AsOf())
	in.Screenings = nil
	for i := range n {
		st := statuses[i%len(statuses)]
		r := screening.Result{ID: fmt.Sprintf("type-%02d", i), Name: fmt.Sprintf("Screening type %02d", i), Status: st,
			Reason:  fmt.Sprintf("Generated result %d with status %s; this sentence is long enough to wrap onto a second line in every rendering of the sheet.", i, st),
			Sources: []screening.Source{{Label: "Generated guideline", CMS: fmt.Sprintf("CMS%d", 100+i)}}}
		next := map[screening.Status]int{screening.Overdue: -200 - i, screening.Due: -10 - i, screening.DueSoon: 5 + i, screening.Complete: 100 + i}
		if off, ok := next[st]; ok {
			r.NextDue = asOf.AddDays(off)
			r.LastDone = r.NextDue.AddYears(-1)
			for j := range 5 {
				v := 5.0 + float64(j)/10
				r.Evidence = append(r.Evidence, screening.Evidence{Role: screening.RoleCompletion,
					Source: fmt.Sprintf("Observation/gen-%d-%d", i, j), Kind: chart.Observation,
					Code: &chart.Code{System: chart.LOINC, Code: "4548-4"}, Date: r.LastDone.AddDays(-90 * j),
					Text: "Generated observation", Quantity: &v, Unit: "%"})
			}
		}
		if st == screening.CannotEvaluate {
			r.Missing = "birth date"
		}
		in.Screenings = append(in.Screenings, r)
	}
	in.Conditions = nil
	for i := range 40 {
		in.Conditions = append(in.Conditions, chart.Item{Kind: chart.Condition, Ref: fmt.Sprintf("Condition/gen-%d", i),
			Text: fmt.Sprintf("Generated condition %d", i), Status: "active", Start: asOf.AddDays(-30 * i),
			Codes: []chart.Code{{System: chart.SNOMED, Code: fmt.Sprint(100000 + i)}}})
	}
	in.Entries = nil
	for _, c := range []prepsheet.Category{prepsheet.Lab, prepsheet.Imaging, prepsheet.Consult, prepsheet.Hospital, prepsheet.Document} {
		for i := range perSection {
			in.Entries = append(in.Entries, prepsheet.Entry{Category: c, Ref: fmt.Sprintf("%s/gen-%d", c, i),
				Date: asOf.AddDays(-(i * 300 / perSection)), Title: fmt.Sprintf("Generated %s %d", c, i),
				Type: "generated", Detail: "A generated detail line that is long enough to be wrapped at the right margin of the page."})
		}
	}
	return in
}

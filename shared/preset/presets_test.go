package preset

import (
	"slices"
	"strings"
	"testing"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

func date(s string) chart.Date {
	d, err := chart.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

var asian = []chart.Code{{System: chart.CDCREC, Code: "2028-9"}}

func bmi(value float64, on string) chart.Item {
	return chart.Item{Kind: chart.Observation, Ref: "Observation/bmi-" + on, Codes: []chart.Code{{System: chart.LOINC, Code: "39156-5"}},
		Start: date(on), End: date(on), Status: "final", HasValue: true, HasQuantity: true, Quantity: value, Unit: "kg/m2"}
}

func condition(system, code, onset string) chart.Item {
	return chart.Item{Kind: chart.Condition, Ref: "Condition/" + code, Codes: []chart.Code{{System: system, Code: code}}, Start: date(onset), Status: "active"}
}

func immunization(cvx, on string) chart.Item {
	return chart.Item{Kind: chart.Immunization, Ref: "Immunization/" + cvx + "-" + on, Codes: []chart.Code{{System: chart.CVX, Code: cvx}},
		Start: date(on), End: date(on), Status: "completed"}
}

type presetCase struct {
	name     string
	birth    string
	sex      chart.Sex
	races    []chart.Code
	items    []chart.Item
	asOf     string
	want     screening.Status
	wantNext string // checked when set
	inReason string // checked when set
}

func checkPreset(t *testing.T, typeID string, tests []presetCase) {
	t.Helper()
	lib, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	engine, err := screening.Compile(lib)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sex := tt.sex
			if sex == "" {
				sex = chart.SexFemale
			}
			asOf := tt.asOf
			if asOf == "" {
				asOf = "2025-12-31"
			}
			rec := chart.Record{Patient: chart.Patient{ID: "p", BirthDate: date(tt.birth), Sex: sex, Races: tt.races}, Items: tt.items}
			results := engine.Evaluate(rec, date(asOf), nil)
			i := slices.IndexFunc(results, func(r screening.Result) bool { return r.ID == typeID })
			if i < 0 {
				t.Fatalf("no result for %s", typeID)
			}
			r := results[i]
			if r.Status != tt.want {
				t.Errorf("%s = %s, want %s (reason: %s)", typeID, r.Status, tt.want, r.Reason)
			}
			if tt.wantNext != "" && r.NextDue.String() != tt.wantNext {
				t.Errorf("next due = %s, want %s (reason: %s)", r.NextDue, tt.wantNext, r.Reason)
			}
			if tt.inReason != "" && !strings.Contains(r.Reason, tt.inReason) {
				t.Errorf("reason %q does not contain %q", r.Reason, tt.inReason)
			}
		})
	}
}

// USPSTF 2021: screen adults 35–70 with overweight (BMI ≥ 25, ≥ 23 for
// Asian American adults) or obesity.
func TestDiabetesScreeningNeedsOverweightOrObesity(t *testing.T) {
	t.Parallel()
	checkPreset(t, "diabetes_screening", []presetCase{
		{name: "BMI exactly 25", birth: "1970-06-01", items: []chart.Item{bmi(25.0, "2025-06-01")}, want: screening.Due},
		{name: "BMI 24.9", birth: "1970-06-01", items: []chart.Item{bmi(24.9, "2025-06-01")}, want: screening.NotEligible, inReason: "latest body mass index: 24.9 kg/m2"},
		{name: "Asian American, BMI exactly 23", birth: "1970-06-01", races: asian, items: []chart.Item{bmi(23.0, "2025-06-01")}, want: screening.Due},
		{name: "Asian American, BMI 22.9", birth: "1970-06-01", races: asian, items: []chart.Item{bmi(22.9, "2025-06-01")}, want: screening.NotEligible},
		{name: "BMI 23 without recorded race", birth: "1970-06-01", items: []chart.Item{bmi(23.0, "2025-06-01")}, want: screening.NotEligible},
		{name: "only the latest BMI counts", birth: "1970-06-01", items: []chart.Item{bmi(31, "2024-06-01"), bmi(24, "2025-06-01")}, want: screening.NotEligible},
		{name: "latest BMI 30 after a lower one", birth: "1970-06-01", items: []chart.Item{bmi(24, "2024-06-01"), bmi(30, "2025-06-01")}, want: screening.Due},
		{name: "obesity diagnosis without a BMI", birth: "1970-06-01", items: []chart.Item{condition(chart.ICD10CM, "E66.9", "2019-01-01")}, want: screening.Due},
		{name: "BMI Z code 23 for an Asian American adult", birth: "1970-06-01", races: asian, items: []chart.Item{condition(chart.ICD10CM, "Z68.23", "2025-03-01")}, want: screening.Due},
		{name: "no BMI at all", birth: "1970-06-01", want: screening.CannotEvaluate, inReason: "no body mass index on file"},
		{name: "BMI 2 years and a day old", birth: "1970-06-01", items: []chart.Item{bmi(32, "2023-12-31")}, want: screening.CannotEvaluate},
		{name: "BMI exactly 2 years old still counts", birth: "1970-06-01", items: []chart.Item{bmi(32, "2024-01-01")}, want: screening.Due},
		{name: "screened 3 years ago, due on the day", birth: "1970-06-01", items: []chart.Item{bmi(27, "2025-06-01"), {Kind: chart.Observation, Ref: "Observation/a1c", Codes: []chart.Code{{System: chart.LOINC, Code: "4548-4"}}, Start: date("2022-12-31"), End: date("2022-12-31"), HasValue: true}}, want: screening.Due, wantNext: "2025-12-31"},
		{name: "35th birthday on the as-of date", birth: "1990-12-31", items: []chart.Item{bmi(27, "2025-06-01")}, want: screening.Due},
		{name: "a day short of 35", birth: "1991-01-01", items: []chart.Item{bmi(27, "2025-06-01")}, want: screening.NotEligible},
		{name: "70y11m", birth: "1955-01-01", items: []chart.Item{bmi(27, "2025-06-01")}, want: screening.Due},
		{name: "71st birthday", birth: "1954-12-31", items: []chart.Item{bmi(27, "2025-06-01")}, want: screening.NotEligible},
		{name: "diabetic: the A1c variant applies", birth: "1970-06-01", items: []chart.Item{bmi(27, "2025-06-01"), condition(chart.ICD10CM, "E11.9", "2020-01-01")}, want: screening.Superseded},
	})
}

func TestDiabeticRetinopathyEyeExamNeedsDiabetes(t *testing.T) {
	t.Parallel()
	retinopathy := condition(chart.SNOMED, "193349004", "2025-02-01") // not in the Diabetes value set
	diabetes := condition(chart.ICD10CM, "E11.9", "2020-01-01")
	checkPreset(t, "diabetes_eye_retinopathy", []presetCase{
		{name: "retinopathy and diabetes", birth: "1970-06-01", items: []chart.Item{retinopathy, diabetes}, want: screening.Due},
		{name: "retinopathy without diabetes", birth: "1970-06-01", items: []chart.Item{retinopathy}, want: screening.NotEligible, inReason: "Requires diabetes on file"},
		{name: "diabetes diagnosis 13 months old", birth: "1970-06-01", items: []chart.Item{retinopathy, {Kind: chart.Condition, Ref: "Condition/old", Codes: diabetes.Codes, Start: date("2020-01-01"), End: date("2024-11-30"), Status: "resolved"}}, want: screening.NotEligible},
	})
	checkPreset(t, "diabetes_eye", []presetCase{
		{name: "retinopathy and diabetes: superseded by the yearly variant", birth: "1970-06-01", items: []chart.Item{retinopathy, diabetes}, want: screening.Superseded},
		{name: "diabetes alone", birth: "1970-06-01", items: []chart.Item{diabetes}, want: screening.Due},
	})
}

// RZV: two doses at least 8 weeks (56 days) apart, from age 50.
func TestZosterTwoDoses(t *testing.T) {
	t.Parallel()
	checkPreset(t, "zoster_vaccine", []presetCase{
		{name: "no dose", birth: "1970-06-01", want: screening.Due, inReason: "No record"},
		{name: "two doses 56 days apart", birth: "1970-06-01", items: []chart.Item{immunization("187", "2025-01-01"), immunization("187", "2025-02-26")}, want: screening.Complete, inReason: "not repeated"},
		{name: "two doses 55 days apart: second invalid", birth: "1970-06-01", items: []chart.Item{immunization("187", "2025-10-01"), immunization("187", "2025-11-25")}, want: screening.DueSoon, wantNext: "2026-01-20", inReason: "1 of 2 doses"},
		{name: "third dose completes after an early second", birth: "1970-06-01", items: []chart.Item{immunization("187", "2025-01-01"), immunization("187", "2025-01-15"), immunization("187", "2025-02-26")}, want: screening.Complete},
		{name: "same dose recorded twice", birth: "1970-06-01", items: []chart.Item{immunization("187", "2025-11-15"), immunization("187", "2025-11-15")}, want: screening.DueSoon, wantNext: "2026-01-10"},
		{name: "one dose, second due the day after as-of", birth: "1970-06-01", items: []chart.Item{immunization("187", "2025-11-06")}, want: screening.DueSoon, wantNext: "2026-01-01"},
		{name: "one dose, second due on the as-of date", birth: "1970-06-01", items: []chart.Item{immunization("187", "2025-11-05")}, want: screening.Due, wantNext: "2025-12-31"},
		{name: "one dose long ago", birth: "1970-06-01", items: []chart.Item{immunization("187", "2024-01-01")}, want: screening.Overdue, wantNext: "2024-02-26", inReason: "overdue since 2024-05-26"},
		{name: "age 49: not eligible", birth: "1976-06-01", want: screening.NotEligible},
	})
}

// Influenza: one dose per season, 1 August – 31 July.
func TestInfluenzaSeason(t *testing.T) {
	t.Parallel()
	flu := func(on string) []chart.Item { return []chart.Item{immunization("150", on)} }
	checkPreset(t, "influenza_vaccine", []presetCase{
		{name: "dose on 31 July counts for the season ending that day", birth: "1970-06-01", items: flu("2025-07-31"), asOf: "2025-07-31", want: screening.DueSoon, wantNext: "2025-08-01"},
		{name: "due again on 1 August", birth: "1970-06-01", items: flu("2025-07-31"), asOf: "2025-08-01", want: screening.Due, wantNext: "2025-08-01"},
		{name: "dose on 1 August covers the whole season", birth: "1970-06-01", items: flu("2025-08-01"), asOf: "2026-07-01", want: screening.Complete, wantNext: "2026-08-01"},
		{name: "due soon 30 days before the season", birth: "1970-06-01", items: flu("2025-08-01"), asOf: "2026-07-02", want: screening.DueSoon, wantNext: "2026-08-01"},
		{name: "October dose, as of 31 December", birth: "1970-06-01", items: flu("2025-10-01"), want: screening.Complete, wantNext: "2026-08-01"},
		{name: "last season's dose: due until 31 October", birth: "1970-06-01", items: flu("2024-10-01"), asOf: "2025-10-31", want: screening.Due, wantNext: "2025-08-01"},
		{name: "last season's dose: overdue from 1 November", birth: "1970-06-01", items: flu("2024-10-01"), asOf: "2025-11-01", want: screening.Overdue},
		{name: "leap day dose", birth: "1970-06-01", items: flu("2024-02-29"), asOf: "2024-03-01", want: screening.Complete, wantNext: "2024-08-01"},
		{name: "July dose, as of 31 December", birth: "1970-06-01", items: flu("2025-07-20"), want: screening.Overdue, wantNext: "2025-08-01"},
	})
}

package doctype_test

import (
	"testing"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       doctype.Type
		wantDate   chart.Date
	}{
		{"lab", "CHEMISTRY\nPatient: Ann Hale\nCollected: 03/02/2024 08:15  Received: 03/03/2024\nSodium 139 mmol/L\nGlucose 112 mg/dL", doctype.Lab, chart.D(2024, time.March, 2)},
		{"pathology", "SURGICAL PATHOLOGY REPORT\nAccession: S22-00411\nProcedure date: 01/05/2024\nDIAGNOSIS: tubular adenoma.\nPathologist: Dr. Lee", doctype.Lab, chart.D(2024, time.January, 5)},
		{"imaging", "RADIOLOGY REPORT\nExam: SCREENING MAMMOGRAM BILATERAL\nExam date: 04/09/2024\nComparison: 04/01/2023\nFINDINGS: no mass.\nIMPRESSION: BI-RADS 1.", doctype.Imaging, chart.D(2024, time.April, 9)},
		{"consult", "CONSULTATION REPORT\nReferring physician: Dr. Moss\nDate of consultation: 02/14/2024\nREASON FOR CONSULTATION: palpitations.", doctype.Consult, chart.D(2024, time.February, 14)},
		{"discharge", "DISCHARGE SUMMARY\nAdmission date: 05/01/2024   Discharge date: 05/04/2024\nHOSPITAL COURSE: uneventful.\nDISPOSITION: home.", doctype.Hospital, chart.D(2024, time.May, 4)},
		{"procedure", "Endoscopy unit\nDate of procedure: 06/11/2024\nIndication: screening. Sedation: MAC.\nWithdrawal time 9 minutes. Complications: none.", doctype.Procedure, chart.D(2024, time.June, 11)},
		{"office note", "Office Visit\nDate of service: 07/01/2024\nSUBJECTIVE: feels well. ASSESSMENT AND PLAN: continue metformin.", doctype.Other, chart.D(2024, time.July, 1)},
		{"empty", "", doctype.Other, chart.Date{}},
		{"ocr errors", "RADI0LOGY REP0RT\nStudy date: 04/09/2024\nC0mparison: none. F1NDINGS: normal.", doctype.Imaging, chart.D(2024, time.April, 9)},
	}
	d := phi.NewDetector(phi.Options{})
	c := doctype.NewClassifier()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := d.Redact(tc.text, nil)
			got := c.Classify(res.Redacted, res.ServiceDates)
			if got.Type != tc.want || got.ServiceDate != tc.wantDate {
				t.Errorf("Classify = %s (confidence %.2f) dated %v, want %s dated %v", got.Type, got.Confidence, got.ServiceDate, tc.want, tc.wantDate)
			}
			if got.Confidence <= 0 || got.Confidence > 1 || got.DateConfidence < 0 || got.DateConfidence > 1 {
				t.Errorf("confidences %.2f and %.2f, want them in (0, 1] and [0, 1]", got.Confidence, got.DateConfidence)
			}
			if got.ServiceDate.IsZero() != (got.DateConfidence == 0) {
				t.Errorf("date %v with confidence %.2f: a date needs a confidence and none needs 0", got.ServiceDate, got.DateConfidence)
			}
		})
	}
}

func TestDisagreeingDatesLowerTheConfidence(t *testing.T) {
	t.Parallel()
	c := doctype.NewClassifier()
	one := c.Classify(phi.Redacted{}, []phi.ServiceDate{{Label: "date of service", Date: chart.D(2024, 1, 2)}})
	two := c.Classify(phi.Redacted{}, []phi.ServiceDate{{Label: "date of service", Date: chart.D(2024, 1, 2)}, {Label: "dos", Date: chart.D(2024, 3, 2)}})
	if one.ServiceDate != two.ServiceDate || two.DateConfidence >= one.DateConfidence {
		t.Errorf("one date: %v (%.2f); two disagreeing: %v (%.2f); want the first date kept with lower confidence",
			one.ServiceDate, one.DateConfidence, two.ServiceDate, two.DateConfidence)
	}
}

func TestFindEvidence(t *testing.T) {
	t.Parallel()
	lib, err := preset.Default()
	if err != nil {
		t.Fatal(err)
	}
	f := doctype.NewFinder(lib)
	d := phi.NewDetector(phi.Options{})
	text := "Colonoscopy 2021: normal. No colonoscopy since.\fPatient refuses mammography. Due for Pap smear.\fColonoscopy: normal."
	date := chart.D(2024, 2, 1)
	got := f.Find("doc-9", d.Redact(text, nil).Redacted, date)
	want := []doctype.Evidence{
		{DocumentID: "doc-9", Page: 1, ScreeningType: "colorectal_cancer", Rule: "colonoscopy", Phrase: "colonoscopy", Polarity: screening.Affirmed, Date: date},
		{DocumentID: "doc-9", Page: 1, ScreeningType: "colorectal_cancer", Rule: "colonoscopy", Phrase: "colonoscopy", Polarity: screening.Negated, Date: date},
		{DocumentID: "doc-9", Page: 2, ScreeningType: "breast_cancer", Rule: "mammogram", Phrase: "mammography", Polarity: screening.Refused, Date: date},
		{DocumentID: "doc-9", Page: 2, ScreeningType: "cervical_cancer", Rule: "cytology", Phrase: "pap smear", Polarity: screening.Pending, Date: date},
		{DocumentID: "doc-9", Page: 3, ScreeningType: "colorectal_cancer", Rule: "colonoscopy", Phrase: "colonoscopy", Polarity: screening.Affirmed, Date: date},
	}
	if len(got) != len(want) {
		t.Fatalf("Find returned %d items, want %d:\n got %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

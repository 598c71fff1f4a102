package doctype_test

import (
	"fmt"

	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
	"healthprep.dev/shared/preset"
)

func Example() {
	text := "COLONOSCOPY PROCEDURE REPORT\nPatient: Maria Lopez  MRN: 00482913\n" +
		"Procedure date: 02/10/2024   Endoscopist: Dr. Alan Whitfield\n" +
		"Indication: screening. Sedation: propofol. The cecum was reached.\n" +
		"Screening colonoscopy: two polyps removed. Complications: none.\f" +
		"Page 2. Patient declined a mammogram today."
	res := phi.NewDetector(phi.Options{}).Redact(text, nil)
	c := doctype.NewClassifier().Classify(res.Redacted, res.ServiceDates)
	fmt.Println(c.Type, c.Confidence, c.ServiceDate, c.DateLabel, c.DateConfidence)

	lib, _ := preset.Default()
	for _, ev := range doctype.NewFinder(lib).Find("doc-1", res.Redacted, c.ServiceDate) {
		fmt.Println(ev.Page, ev.ScreeningType, ev.Rule, ev.Polarity, ev.Date)
	}
	// Output:
	// procedure 0.98 2024-02-10 procedure date 0.95
	// 1 colorectal_cancer colonoscopy affirmed 2024-02-10
	// 2 breast_cancer mammogram refused 2024-02-10
}

package phi_test

import (
	"fmt"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/phi"
)

func ExampleDetector_Redact() {
	d := phi.NewDetector(phi.Options{})
	text := "Patient: Maria Lopez  DOB: 03/04/1961  MRN: 00482913\n" +
		"Date of service: 02/10/2024. Colonoscopy, no polyps. Call (217) 555-0143."
	res := d.Redact(text, nil)
	fmt.Println(res.Redacted)
	for _, s := range res.ServiceDates {
		fmt.Println(s.Label, s.Date)
	}
	// Output:
	// Patient: [NAME]  DOB: [DATE]  MRN: [MRN]
	// Date of service: [DATE]. Colonoscopy, no polyps. Call [PHONE].
	// date of service 2024-02-10
}

func ExampleKnown() {
	d := phi.NewDetector(phi.Options{})
	k := &phi.Known{Names: []string{"Zofia Wrzesniewska"}, BirthDate: chart.D(1961, time.March, 4)}
	// OCR read "l" for "i", and the birth date has no separators.
	fmt.Println(d.Redact("Wrzesnlewska, born 030461, seen today.", k).Redacted)
	// Output:
	// [NAME], born [DATE], seen today.
}

func ExampleRedacted_Truncate() {
	r := phi.NewDetector(phi.Options{}).Redact("Seen by Dr. Alvarez on 03/14/2024.", nil).Redacted
	short, cut := r.Truncate(18)
	fmt.Printf("%q %v\n", short, cut)
	same, cut := r.Truncate(1000)
	fmt.Println(same == r, cut)
	// Output:
	// "Seen by Dr. [NAME]" true
	// true false
}

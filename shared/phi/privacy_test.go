package phi

import (
	"strings"
	"testing"
	"time"

	"healthprep.dev/shared/chart"
)

// TestNoInjectedIdentifierSurvives feeds a document full of PHI through
// detection and redaction and searches the result for every identifier.
func TestNoInjectedIdentifierSurvives(t *testing.T) {
	t.Parallel()
	d := setup(t)
	identifiers := []string{
		"Theodora", "Vasquez-Whitfield", "Teddy", "03/14/1948", "3-14-48", "March 14th, 1948", "14 Mar 1948", "19480314",
		"00731954", "A-22871", "4471 Wrenfield Court", "Unit 12", "Harlow Springs", "60614",
		"(312) 555-0198", "312.555.0107", "tvw1948@example.com", "219-09-9999", "XHP 993 418 226",
		"1EG4-TE5-MK73", "8812034455", "D-7741203", "BJ6125341", "1245319599", "1M8GDM9AXKP042788",
		"ZX-4471", "SN PJN448812Q", "https://records.example-clinic.org/p/7731", "10.20.30.40",
		"fe80::1ff:fe23:4567:890a", "FP-88231-X", "Gregory Okafor", "Lucille", "Okafor", "96-year-old",
		"S21-1234567", "January 9, 2024", "June 2023",
	}
	doc := `HOSPITAL DISCHARGE SUMMARY
Patient: VASQUEZ-WHITFIELD, THEODORA ("Teddy")     DOB: 03/14/1948     MRN: 00731954
Legacy MR# A-22871. SSN: 219-09-9999. Member ID: XHP 993 418 226. Medicare MBI 1EG4-TE5-MK73.
Address: 4471 Wrenfield Court, Unit 12, Harlow Springs, IL 60614
Home phone (312) 555-0198, fax 312.555.0107, e-mail tvw1948@example.com
Account No. 8812034455. Driver's license D-7741203. Prescriber DEA BJ6125341, NPI 1245319599.
Vehicle VIN 1M8GDM9AXKP042788, plate ZX-4471. ICD generator serial SN PJN448812Q.
Portal: https://records.example-clinic.org/p/7731 (last login from 10.20.30.40 and fe80::1ff:fe23:4567:890a).
Fingerprint ID: FP-88231-X. Accession S21-1234567.

Mrs. Vasquez-Whitfield is a 96-year-old woman (born 3-14-48, also written March 14th, 1948,
14 Mar 1948 and 19480314 on outside records) admitted January 9, 2024. Her son Gregory Okafor
and his wife Lucille visited. Mr. Okafor will drive her home. Last colonoscopy June 2023.
Attending: Gregory Okafor`
	k := &Known{Names: []string{"Theodora Vasquez-Whitfield", "Teddy"}, BirthDate: chart.D(1948, time.March, 14), MRNs: []string{"00731954"}}
	res := d.Redact(doc, k)
	out := res.Redacted.String()
	for _, id := range identifiers {
		if strings.Contains(out, id) {
			t.Errorf("redacted text still contains %q", id)
		}
		// and no word of it
		for _, w := range strings.FieldsFunc(id, func(r rune) bool { return r == ' ' || r == ',' || r == '(' || r == ')' }) {
			if len(w) >= 4 && strings.Contains(out, w) && strings.ContainsAny(w, "0123456789") {
				t.Errorf("redacted text still contains %q (from %q)", w, id)
			}
		}
	}
	if t.Failed() {
		t.Logf("redacted:\n%s", out)
	}
}

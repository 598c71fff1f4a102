package phi

import (
	"strings"
	"testing"
	"time"

	"healthprep.dev/shared/chart"
)

// setup returns a detector shared by the tests (building one loads the
// dictionaries).
func setup(t *testing.T) *Detector {
	t.Helper()
	return testDetector
}

var testDetector = NewDetector(Options{})

func TestRedactCategories(t *testing.T) {
	t.Parallel()
	d := setup(t)
	tests := []struct {
		name, in, want string
	}{
		{"title and name", "Seen by Dr. Maria Gonzalez today.", "Seen by Dr. [NAME] today."},
		{"patient label", "Patient: John Q. Smith", "Patient: [NAME]"},
		{"label last, first", "Name: SMITH, JOHN", "Name: [NAME], [NAME]"},
		{"unknown name after a label", "Patient Name: Velkaran Oshiro-Tamm", "Patient Name: [NAME]"},
		{"credential", "Electronically signed: Ana P. Ruiz, MD", "Electronically signed: [NAME], MD"},
		{"dictionary pair", "She lives with Margaret Hughes.", "She lives with [NAME]."},
		{"relative", "Her daughter Brenda will drive.", "Her daughter [NAME] will drive."},
		{"date slash", "DOB: 03/04/1961", "DOB: [DATE]"},
		{"date two-digit year", "born 3-4-61", "born [DATE]"},
		{"date iso", "on 1961-03-04 at noon", "on [DATE] at noon"},
		{"date words", "March 4, 1961 and 4 Mar 1961 and Mar. 4th", "[DATE] and [DATE] and [DATE]"},
		{"date compact", "DOB 19610304", "DOB [DATE]"},
		{"month and year", "colonoscopy in May 2021", "colonoscopy in [DATE]"},
		{"short date in context", "seen on 3/4 for follow-up", "seen on [DATE] for follow-up"},
		{"age over 89", "A 93-year-old woman, aged 101.", "A [AGE] woman, aged [AGE]."},
		{"phone and fax", "Phone (217) 555-0143, fax: 217.555.0199", "Phone [PHONE], fax: [FAX]"},
		{"phone international", "call +44 20 7946 0958", "call [PHONE]"},
		{"email", "write to j.smith+notes@mail.example.com please", "write to [EMAIL] please"},
		{"ssn", "SSN 123-45-6789; SS# 123456789; xxx-xx-6789", "SSN [SSN]; SS# [SSN]; xxx-xx-[SSN]"},
		{"ssn misread by OCR", "SSN 219-0@9-9999 Phone", "SSN [SSN] Phone"},
		{"mrn", "MRN: 00482913 and MR# A-55120", "MRN: [MRN] and MR# [MRN]"},
		{"health plan", "Member ID: XHP 4471 2290, Medicare 1EG4-TE5-MK73", "Member ID: [HEALTH_PLAN], Medicare [HEALTH_PLAN]"},
		{"account", "Account #: 99120034", "Account #: [ACCOUNT]"},
		{"licence", "DEA AB1234563, NPI 1234567893, license no. D-449120", "DEA [LICENSE], NPI [LICENSE], license no. [LICENSE]"},
		{"vehicle", "VIN 1HGCM82633A004352; plate 7ABC123", "VIN [VEHICLE]; plate [VEHICLE]"},
		{"device", "Pacemaker serial number PJN448812Q", "Pacemaker serial number [DEVICE]"},
		{"url", "see https://portal.example.org/a?b=1.", "see [URL]."},
		{"ip", "from 192.168.1.20 and 2001:db8::8a2e:370:7334", "from [IP] and [IP]"},
		{"biometric", "Fingerprint template ID: FP-88231-X", "Fingerprint template ID: [BIOMETRIC]"},
		{"street address", "lives at 1234 Oak Street, Apt 5B", "lives at [ADDRESS]"},
		{"city state zip", "Springfield, IL 62704", "[ADDRESS], IL [ZIP]"},
		{"other long number", "Accession S21-1234567 received", "Accession [ID] received"},
		{"nothing in clinical text", "Metformin 500 mg BID. HbA1c 7.2%. ICD-10 Z12.31. CPT 45378. BP 120/80. Pain 5/10.", ""},
		{"years and young ages stay", "Colonoscopy in 2019; a 67-year-old man.", ""},
		{"eponyms stay", "History of Hodgkin lymphoma, Parkinson disease and Graves disease; Foley catheter; Murphy's sign.", ""},
		{"may the verb stays", "The patient may need a colonoscopy. Will follow up.", ""},
		{"Dr visit stays", "Next dr. visit in two weeks.", ""},
		{"lab values stay", "Platelets 250,000; WBC 7.1; LDL 130 mg/dL; LOINC 2345-7; NDC 0002-1433-80.", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := tc.want
			if want == "" {
				want = tc.in
			}
			got := d.Redact(tc.in, nil).Redacted.String()
			if got != want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, want)
			}
		})
	}
}

func TestSpansCountCodePoints(t *testing.T) {
	t.Parallel()
	d := setup(t)
	in := "Café 😀 note — Patient: Renée Dubois, DOB 03/04/1961."
	spans := d.Detect(in, nil)
	runes := []rune(in)
	var got []string
	for _, s := range spans {
		got = append(got, string(s.Type)+"="+string(runes[s.Start:s.End]))
	}
	want := "NAME=Renée Dubois DATE=03/04/1961"
	if strings.Join(got, " ") != want {
		t.Errorf("spans read %q, want %q", strings.Join(got, " "), want)
	}
}

func TestInvalidUTF8BecomesReplacementCharacter(t *testing.T) {
	t.Parallel()
	d := setup(t)
	in := "bad \xff byte, DOB 03/04/1961"
	res := d.Redact(in, nil)
	if got, want := res.Redacted.String(), "bad \uFFFD byte, DOB [DATE]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// the bad byte counts as one code point: "bad ? byte, DOB " is 16
	if len(res.Spans) != 1 || res.Spans[0].Start != 16 {
		t.Errorf("spans = %+v, want one starting at code point 16", res.Spans)
	}
}

func TestEmptyInput(t *testing.T) {
	t.Parallel()
	res := setup(t).Redact("", nil)
	if res.Redacted.String() != "" || len(res.Spans) != 0 || len(res.ServiceDates) != 0 {
		t.Errorf("Redact(\"\") = %+v, want empty", res)
	}
}

func TestKnownIdentifiersTolerateOCRErrors(t *testing.T) {
	t.Parallel()
	d := setup(t)
	k := &Known{
		Names:     []string{"Zofia Wrzesniewska", "Zosia"},
		BirthDate: chart.D(1961, time.March, 4),
		MRNs:      []string{"00482913"},
		Addresses: []string{"17 Birch Hollow Road", "Quenby"},
		Phones:    []string{"(217) 555-0143"},
		Emails:    []string{"zw61@example.net"},
	}
	tests := []struct{ in, want string }{
		{"pt Wrzesniewska seen", "pt [NAME] seen"},
		{"pt Wrzesnlewska seen", "pt [NAME] seen"},        // l for i
		{"pt Wrzesniewsko seen", "pt [NAME] seen"},        // one letter wrong
		{"pt Wrzesniewskas seen", "pt [NAME] seen"},       // one letter extra
		{"zosia called", "[NAME] called"},                 // nickname, lowercase
		{"initials Z.W. noted", "initials [NAME]. noted"}, // initials
		{"ref 0O482913", "ref [MRN]"},                     // O for 0
		{"ref OO4829l3", "ref [MRN]"},
		{"born 030461", "born [DATE]"},
		{"born O3/O4/1961", "born [DATE]"},
		{"born 4th March 1961", "born [DATE]"},
		{"at 17 Birch Hollow Rd", "at [ADDRESS]"},
		{"moved to quenby", "moved to [ADDRESS]"},
		{"tel 217 555 0143", "tel [PHONE]"},
		{"ZW61@EXAMPLE.NET", "[EMAIL]"},
		{"Wrzesniewska is not Wrzesniowskiego", "[NAME] is not Wrzesniowskiego"},
	}
	for _, tc := range tests {
		if got := d.Redact(tc.in, k).Redacted.String(); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestServiceDatesAreExtractedBeforeRedaction(t *testing.T) {
	t.Parallel()
	d := setup(t)
	in := "Patient: John Smith DOB 03/04/1961\nDate of service: 02/10/2024\nSpecimen collected on Feb 11, 2024\nExam date - 2024-02-12\nReceived in 2023."
	res := d.Redact(in, nil)
	var got []string
	for _, s := range res.ServiceDates {
		got = append(got, s.Label+"="+s.Date.String())
	}
	want := "date of service=2024-02-10|specimen collected=2024-02-11|exam date=2024-02-12"
	if strings.Join(got, "|") != want {
		t.Errorf("service dates = %q, want %q", strings.Join(got, "|"), want)
	}
	if strings.Contains(res.Redacted.String(), "2024-02") {
		t.Errorf("service dates must still be redacted in the text: %q", res.Redacted)
	}
}

func TestKeepZIP3(t *testing.T) {
	t.Parallel()
	d := NewDetector(Options{KeepZIP3: true})
	in := "Boston, MA 02139 and Acworth, NH 03601 and Mammoth, WY 82190"
	want := "[ADDRESS], MA [ZIP:021] and [ADDRESS], NH [ZIP] and [ADDRESS], WY [ZIP]"
	if got := d.Redact(in, nil).Redacted.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestChecksums(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func(string) bool
		ok   []string
		bad  []string
	}{
		{"ssn", validSSN, []string{"123456789", "078051120"}, []string{"000123456", "666123456", "900123456", "123006789", "123450000"}},
		{"npi", validNPI, []string{"1234567893", "1245319599"}, []string{"1234567890", "3234567893"}},
		{"dea", validDEA, []string{"AB1234563", "BJ6125341"}, []string{"AB1234567", "QB1234563"}},
		{"vin", validVIN, []string{"1HGCM82633A004352", "11111111111111111"[:0] + "1M8GDM9AXKP042788"}, []string{"1HGCM82633A004353", "12345678901234567"}},
		{"mbi", validMBI, []string{"1EG4TE5MK73"}, []string{"1EG4TE5MK7", "0EG4TE5MK73", "1SG4TE5MK73"}},
	}
	for _, tc := range tests {
		for _, s := range tc.ok {
			if !tc.f(s) {
				t.Errorf("%s(%q) = false, want true", tc.name, s)
			}
		}
		for _, s := range tc.bad {
			if tc.f(s) {
				t.Errorf("%s(%q) = true, want false", tc.name, s)
			}
		}
	}
}

package phi

import (
	"strings"
	"testing"
)

// page is a ~3,000-character clinical page with a realistic load of PHI.
func page() string {
	p := `OUTPATIENT CONSULTATION
Patient: Smith, John Q.    DOB: 03/04/1961    MRN: 00482913    Date of service: 02/10/2024
Referring physician: Maria Gonzalez, MD     Phone (217) 555-0143   Fax (217) 555-0199
Address: 1234 Oak Street, Apt 5B, Springfield, IL 62704

HISTORY OF PRESENT ILLNESS: Mr. Smith is a 62-year-old man with type 2 diabetes, hypertension and
hyperlipidemia who presents for evaluation of intermittent rectal bleeding for three months. He had a
screening colonoscopy in 2014 with two tubular adenomas removed. His daughter Ann accompanies him.
He denies weight loss, fevers or night sweats. No family history of colon cancer; his mother had
breast cancer at 71.

MEDICATIONS: metformin 1000 mg twice daily, lisinopril 20 mg daily, atorvastatin 40 mg nightly,
aspirin 81 mg daily. ALLERGIES: penicillin (rash).

EXAM: BP 132/84, HR 72, BMI 31.2. Abdomen soft, non-tender. Rectal exam: no masses, guaiac positive.
LABS (collected 02/01/2024): Hgb 12.9 g/dL, MCV 84, platelets 250,000, HbA1c 7.4%, LDL 96 mg/dL,
creatinine 1.1 mg/dL, eGFR 72. CPT 45378, ICD-10 K62.5, Z86.010.

ASSESSMENT AND PLAN: Rectal bleeding with history of adenomas: colonoscopy scheduled for March 12,
2024 with Dr. Okafor. Hold aspirin 7 days before. Continue current diabetes regimen; repeat HbA1c in
3 months. Discussed with patient and daughter, who agree. Insurance: Member ID XHP 4471 2290.
Contact: jsmith61@example.com. Follow up in 6 weeks.

Electronically signed by Maria Gonzalez, MD on 02/10/2024 14:32.
`
	for len(p) < 3000 {
		p += "Continue current management; call with any questions about the preparation or the results. "
	}
	return p[:3000]
}

// BenchmarkRedactPage measures redaction throughput on ~3,000-character
// pages: pages/s is 1e9 / (ns/op).
func BenchmarkRedactPage(b *testing.B) {
	d := NewDetector(Options{})
	p := page()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		d.Redact(p, nil)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

// BenchmarkRedactPageKnown adds the patient's own identifiers.
func BenchmarkRedactPageKnown(b *testing.B) {
	d := NewDetector(Options{})
	p := page()
	k := &Known{Names: []string{"John Quincy Smith", "Jack"}, MRNs: []string{"00482913"}, Phones: []string{"2175550143"}, Addresses: []string{"1234 Oak Street", "Springfield", "62704"}}
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		d.Redact(p, k)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}

// BenchmarkNewDetector measures loading the dictionaries.
func BenchmarkNewDetector(b *testing.B) {
	for b.Loop() {
		NewDetector(Options{})
	}
}

func TestBenchPageHasPHI(t *testing.T) {
	t.Parallel()
	p := page()
	if n := len(p); n != 3000 {
		t.Fatalf("page is %d bytes, want 3000", n)
	}
	out := setup(t).Redact(p, nil).Redacted.String()
	for _, id := range []string{"Smith", "00482913", "555-0143", "Oak Street", "Gonzalez", "XHP 4471"} {
		if strings.Contains(out, id) {
			t.Errorf("benchmark page redaction left %q", id)
		}
	}
}

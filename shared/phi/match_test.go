package phi

import (
	"slices"
	"strings"
	"testing"
	"time"

	"healthprep.dev/shared/chart"
)

func mustDate(t *testing.T, s string) chart.Date {
	t.Helper()
	d, err := chart.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMatchPatient(t *testing.T) {
	t.Parallel()
	d := setup(t)
	cands := []Candidate{
		{ID: "p-smithfield", Known: Known{Names: []string{"Johnathan Smithfield"}, MRNs: []string{"88421973"}, BirthDate: mustDate(t, "1961-03-04")}},
		{ID: "p-lopez", Known: Known{Names: []string{"Maria Elena Lopez"}, MRNs: []string{"55100442"}, BirthDate: mustDate(t, "1975-11-20")}},
		{ID: "p-lopez-2", Known: Known{Names: []string{"Maria Lopez"}, MRNs: []string{"77001234"}, BirthDate: mustDate(t, "1975-11-20")}},
	}
	tests := []struct {
		name, text    string
		want          string
		wantConfident []string
	}{
		{"MRN", "COLONOSCOPY REPORT\nPatient MRN: 88421973\nTwo polyps removed.", "p-smithfield", []string{"p-smithfield"}},
		{"MRN read with OCR errors", "Patient: J. Smith MRN 8842l9T3 B84219?3 884Z1973", "p-smithfield", []string{"p-smithfield"}},
		{"name and birth date", "Re: Johnathan Smithfield, DOB March 4, 1961", "p-smithfield", []string{"p-smithfield"}},
		{"name with an OCR error and birth date", "Re: Johnathon Smithfeld DOB 03/04/61", "p-smithfield", []string{"p-smithfield"}},
		{"name alone is not enough", "Dear Johnathan Smithfield, your results are normal.", "", nil},
		{"birth date alone is not enough", "DOB: 03/04/1961", "", nil},
		{"MRN inside a longer number is not a match", "Account 1884219730", "", nil},
		{"two patients by name and birth date: ambiguous", "Maria Lopez, born 11/20/1975", "", []string{"p-lopez", "p-lopez-2"}},
		{"an MRN settles it", "Maria Lopez, born 11/20/1975, MRN 55100442", "p-lopez", []string{"p-lopez", "p-lopez-2"}},
		{"two MRNs: ambiguous", "MRN 88421973 and MRN 55100442", "", []string{"p-smithfield", "p-lopez"}},
		{"nobody", "Mammogram: no evidence of malignancy.", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := d.MatchPatient(tt.text, cands)
			if got.ID != tt.want || !slices.Equal(got.Confident, tt.wantConfident) {
				t.Errorf("MatchPatient = %q (confident %v), want %q (confident %v)", got.ID, got.Confident, tt.want, tt.wantConfident)
			}
		})
	}
}

// BenchmarkMatchPatient2000 files one letter among 2,000 cached patients,
// what the pipeline does for each document that arrives without one.
func BenchmarkMatchPatient2000(b *testing.B) {
	d := NewDetector(Options{})
	cands := make([]Candidate, 2000)
	for i := range cands {
		cands[i] = Candidate{ID: sprintf("p%d", i), Known: Known{
			Names:     []string{sprintf("Given%c Family%c%c", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26)},
			MRNs:      []string{sprintf("%d", 10000000+i*7919)},
			BirthDate: chart.D(1940+i%60, time.Month(1+i%12), 1+i%28),
		}}
	}
	text := strings.Repeat("Colonoscopy performed; two small polyps were removed without complication. ", 40) +
		"Patient MRN: " + cands[1234].Known.MRNs[0]
	b.ResetTimer()
	for b.Loop() {
		if m := d.MatchPatient(text, cands); m.ID != "p1234" {
			b.Fatalf("matched %q", m.ID)
		}
	}
}

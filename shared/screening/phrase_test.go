package screening

import "testing"

func TestPhraseMatcherPolarity(t *testing.T) {
	t.Parallel()
	m := NewPhraseMatcher("mammogram", "colonoscopy", "pap smear")
	tests := []struct {
		text string
		want []Polarity // one per mention, in order
	}{
		{"Screening mammogram 3/2024: BI-RADS 1.", []Polarity{Affirmed}},
		{"Mammogram declined.", []Polarity{Refused}},
		{"Patient refuses colonoscopy", []Polarity{Refused}},
		{"No colonoscopy on file.", []Polarity{Negated}},
		{"Colonoscopy not done; will schedule", []Polarity{Negated}},
		{"Due for mammogram", []Polarity{Pending}},
		{"Colonoscopy scheduled for May", []Polarity{Pending}},
		{"No polyps. Colonoscopy 2021 normal.", []Polarity{Affirmed}},
		{"Denies chest pain and colonoscopy 2019 was normal", []Polarity{Affirmed}},
		{"PAP-SMEAR normal", []Polarity{Affirmed}},      // hyphen, case
		{"rnammogram done", nil},                        // two-letter OCR slip is too far
		{"rnamrnogram", nil},                            //
		{"mamm0gram 2023 normal", []Polarity{Affirmed}}, // OCR 0 for o
		{"mammogarm done 2023", []Polarity{Affirmed}},   // transposition
		{"colonoscopies", nil},                          // different word
		{"mammograms reviewed", []Polarity{Affirmed}},   // plural is one letter away
		{"Preop colonoscopyx", []Polarity{Affirmed}},    // one extra letter
		{"The mammo gram", nil},                         // split word is not the word
		{"", nil},
	}
	for _, tt := range tests {
		got := m.Find(tt.text)
		if len(got) != len(tt.want) {
			t.Errorf("Find(%q) = %d mentions %v, want %d", tt.text, len(got), got, len(tt.want))
			continue
		}
		for i := range got {
			if got[i].Polarity != tt.want[i] {
				t.Errorf("Find(%q)[%d] polarity = %s, want %s", tt.text, i, got[i].Polarity, tt.want[i])
			}
		}
	}
}

func TestPhraseMatcherOffsets(t *testing.T) {
	t.Parallel()
	text := "Hx: screening colonoscopy done."
	got := NewPhraseMatcher("screening colonoscopy").Find(text)
	if len(got) != 1 {
		t.Fatalf("got %d mentions, want 1", len(got))
	}
	if s := text[got[0].Start:got[0].End]; s != "screening colonoscopy" {
		t.Errorf("matched text = %q, want %q", s, "screening colonoscopy")
	}
}

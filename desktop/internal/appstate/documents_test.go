package appstate_test

import (
	"context"
	"errors"
	"image"
	"slices"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

func TestHighlight(t *testing.T) {
	t.Parallel()
	w := func(text string, x, line int) appstate.PageWord {
		return appstate.PageWord{Text: text, Box: image.Rect(x, line*20, x+40, line*20+14), Line: line}
	}
	page := []appstate.PageWord{
		w("Screening", 0, 1), w("colonoscopy,", 50, 1), w("done", 100, 1),
		w("fecal", 0, 2), w("occult", 50, 2), w("blood", 0, 3), w("test", 50, 3),
		w("[NAME]", 0, 4),
	}
	tests := []struct {
		phrase string
		want   []image.Rectangle
	}{
		{"colonoscopy", []image.Rectangle{image.Rect(50, 20, 90, 34)}},
		{"Screening Colonoscopy", []image.Rectangle{image.Rect(0, 20, 90, 34)}},
		{"fecal occult blood test", []image.Rectangle{image.Rect(0, 40, 90, 54), image.Rect(0, 60, 90, 74)}},
		{"mammogram", nil},
		{"", nil},
		{"colonoscopy fecal", nil}, // not adjacent
	}
	for _, tt := range tests {
		if got := appstate.Highlight(page, tt.phrase); !slices.Equal(got, tt.want) {
			t.Errorf("Highlight(%q) = %v, want %v", tt.phrase, got, tt.want)
		}
	}
}

// pagesSource is a DocumentSource over documents given as page texts; it
// counts the phrase lookups it was asked for.
type pagesSource struct {
	appstate.DocumentSource // the lists are not used here
	docs                    map[string][]string
	lookups                 int
}

func (s *pagesSource) EvidencePage(_ context.Context, source, phrase string) (string, int, error) {
	s.lookups++
	id := strings.TrimPrefix(source, "DocumentReference/")
	pages, ok := s.docs[id]
	if !ok {
		return "", 0, appstate.ErrNoPageImage
	}
	for i, p := range pages {
		if strings.Contains(strings.ToLower(p), strings.ToLower(phrase)) {
			return id, i + 1, nil
		}
	}
	return id, 1, nil
}

func (s *pagesSource) Page(_ context.Context, id string, page int) (appstate.PageImage, error) {
	pages, ok := s.docs[id]
	if !ok || page < 1 || page > len(pages) {
		return appstate.PageImage{}, appstate.ErrNoPageImage
	}
	return appstate.PageImage{DocumentID: id, Page: page, Words: []appstate.PageWord{{Text: pages[page-1], Line: 1}}}, nil
}

func TestEvidencePageImage(t *testing.T) {
	t.Parallel()
	doc := func(id, phrase string, page int, description string) prepsheet.EvidenceLine {
		return prepsheet.EvidenceLine{Kind: prepsheet.EvidenceDocument, Source: "DocumentReference/" + id, DocumentID: id,
			Phrase: phrase, Page: page, Description: description}
	}
	tests := []struct {
		name        string
		ev          prepsheet.EvidenceLine
		wantPage    int
		wantLookups int
		wantErr     error
	}{
		{"the line's page", doc("fax", "mammogram", 3, `"mammogram" in Fax`), 3, 0, nil},
		// The description names another page and quotes another phrase:
		// only the fields count.
		{"misleading description", doc("fax", "mammogram", 2, `"colonoscopy" in Fax "see page 3", page 1 of 3`), 2, 0, nil},
		{"page unknown: looked up by phrase", doc("fax", "colonoscopy", 0, `"mammogram" on page 3`), 1, 1, nil},
		{"document not here", doc("other", "mammogram", 1, `"mammogram" in Other`), 0, 0, appstate.ErrNoPageImage},
		{"page out of range", doc("fax", "mammogram", 9, `"mammogram" in Fax`), 0, 0, appstate.ErrNoPageImage},
		{"coded evidence has no page", prepsheet.EvidenceLine{Kind: prepsheet.EvidenceCoded, Source: "Procedure/p1",
			Description: `"fax" page 2`}, 0, 0, appstate.ErrNoPageImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := &pagesSource{docs: map[string][]string{"fax": {"Colonoscopy 2019 normal", "Mammogram 2024 BI-RADS 1", "Mammogram 2022"}}}
			got, err := appstate.EvidencePageImage(context.Background(), src, tt.ev)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if got.Page != tt.wantPage || src.lookups != tt.wantLookups {
				t.Errorf("page %d after %d lookups, want page %d after %d", got.Page, src.lookups, tt.wantPage, tt.wantLookups)
			}
		})
	}
}

func TestEvidenceDetails(t *testing.T) {
	t.Parallel()
	a1c := 9.4
	tests := []struct {
		name string
		ev   prepsheet.EvidenceLine
		want []appstate.EvidenceDetail
	}{
		{"coded result", prepsheet.EvidenceLine{Role: screening.RoleCompletion, Source: "Observation/a1c", Date: chart.D(2024, 12, 1),
			Description: "Hemoglobin A1c (LOINC 4548-4): 9.4 %", Kind: prepsheet.EvidenceCoded, System: chart.LOINC, Code: "4548-4",
			Display: "Hemoglobin A1c", Value: &a1c, Unit: "%"},
			[]appstate.EvidenceDetail{{"Evidence", "Hemoglobin A1c"}, {"Code", "LOINC 4548-4"}, {"Result", "9.4 %"},
				{"Counts as", "completion"}, {"Date", "2024-12-01"}, {"Source", "Observation/a1c"}}},
		{"override", prepsheet.EvidenceLine{Role: screening.RoleOverride, Source: "override", Kind: prepsheet.EvidenceOverride,
			Description: "override (refused): Dr. A: patient declined"},
			[]appstate.EvidenceDetail{{"Evidence", "override (refused): Dr. A: patient declined"},
				{"Counts as", "override"}, {"Date", "undated"}, {"Source", "override"}}},
	}
	for _, tt := range tests {
		if got := appstate.EvidenceDetails(tt.ev); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCheckImport(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		size int64
		want error
	}{{0, appstate.ErrEmptyFile}, {1, nil}, {appstate.MaxImportBytes, nil}, {appstate.MaxImportBytes + 1, appstate.ErrFileTooLarge}} {
		if got := appstate.CheckImport(tt.size); got != tt.want {
			t.Errorf("CheckImport(%d) = %v, want %v", tt.size, got, tt.want)
		}
	}
}

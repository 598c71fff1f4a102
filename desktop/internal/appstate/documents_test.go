package appstate_test

import (
	"image"
	"slices"
	"testing"

	"healthprep.dev/desktop/internal/appstate"
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

func TestDocumentEvidence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ev         prepsheet.EvidenceLine
		wantPhrase string
		wantOK     bool
	}{
		{prepsheet.EvidenceLine{Source: "DocumentReference/letter-1", Description: `"colonoscopy" in Outside consult letter`}, "colonoscopy", true},
		{prepsheet.EvidenceLine{Role: screening.RoleExclusion, Source: "DocumentReference/x", Description: `exclusion: "total colectomy" in Op note`}, "total colectomy", true},
		{prepsheet.EvidenceLine{Source: "Procedure/p1", Description: "Colonoscopy (SNOMED 73761001)"}, "", false},
		{prepsheet.EvidenceLine{Source: "DocumentReference/x", Description: "Outside letter"}, "", false},
	}
	for _, tt := range tests {
		p, ok := appstate.DocumentEvidence(tt.ev)
		if p != tt.wantPhrase || ok != tt.wantOK {
			t.Errorf("DocumentEvidence(%q) = %q, %v; want %q, %v", tt.ev.Description, p, ok, tt.wantPhrase, tt.wantOK)
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

package docgen

import (
	"reflect"
	"strings"
	"testing"

	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
)

func TestScoreExtractedOnUnchangedTextIsScore(t *testing.T) {
	t.Parallel()
	docs := GenerateAll(3, 40)
	d := phi.NewDetector(phi.Options{})
	texts := make([]string, len(docs))
	spans := make([][]phi.Span, len(docs))
	for i, doc := range docs {
		texts[i] = doc.Text
		spans[i] = d.Detect(doc.Text, &doc.Patient)
	}
	got, dropped := ScoreExtracted(docs, texts, spans)
	want := Score(docs, func(doc Doc) []phi.Span { return d.Detect(doc.Text, &doc.Patient) })
	if dropped != 0 || !reflect.DeepEqual(got.PerCategory, want.PerCategory) || got.Detected != want.Detected || got.TruePos != want.TruePos {
		t.Errorf("ScoreExtracted on the generated text: %+v, %d dropped\nwant Score's %+v", got.PerCategory, dropped, want.PerCategory)
	}
}

func TestScoreExtractedFollowsLabelsThroughOCRChanges(t *testing.T) {
	t.Parallel()
	doc := Doc{Text: "Patient: Ann Hale seen.", Labels: []Label{{Start: 9, End: 17, Type: phi.Name, Text: "Ann Hale"}}}
	// OCR split the line, misread "Hale" and lost "Ann"; the detector
	// covered "Ha1e" and, wrongly, "seen".
	text := "Patient:\nHa1e\nseen."
	spans := []phi.Span{{Start: 9, End: 13, Type: phi.Name}, {Start: 14, End: 18, Type: phi.Name}}
	rep, dropped := ScoreExtracted([]Doc{doc}, []string{text}, [][]phi.Span{spans})
	if c := rep.PerCategory[phi.Name]; c.Tokens != 1 || c.Found != 1 || dropped != 1 || rep.Detected != 2 || rep.TruePos != 1 {
		t.Errorf("NAME %+v, dropped %d, detected %d, true positives %d; want 1 of 1 found, 1 dropped, 2 detected, 1 true",
			c, dropped, rep.Detected, rep.TruePos)
	}
}

func TestErrorRates(t *testing.T) {
	t.Parallel()
	var e ErrorRates
	e.Add("Screening  colonoscopy\nnormal", "Screening co1onoscopy normal")
	if e.CharEdits != 1 || e.Chars != 28 || e.WordEdits != 1 || e.Words != 3 {
		t.Errorf("got %+v, want 1 of 28 characters and 1 of 3 words", e)
	}
}

func TestGenerateAllCoversEveryType(t *testing.T) {
	t.Parallel()
	seen := map[doctype.Type]bool{}
	for _, d := range GenerateAll(1, 200) {
		seen[d.Type] = true
	}
	for _, ty := range doctype.Types() {
		if !seen[ty] {
			t.Errorf("no %s document in 200", ty)
		}
	}
}

func TestRenderPDFKeepsTheText(t *testing.T) {
	t.Parallel()
	d := GenerateAll(5, 1)[0]
	b, err := RenderPDF(d)
	if err != nil || !strings.HasPrefix(string(b), "%PDF-") {
		t.Fatalf("RenderPDF: %v, %q…", err, b[:min(8, len(b))])
	}
}

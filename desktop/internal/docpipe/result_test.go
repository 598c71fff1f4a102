package docpipe_test

import (
	"encoding/json"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
	"healthprep.dev/shared/preset"
)

func newAnalyzer(t testing.TB) *docpipe.Analyzer {
	t.Helper()
	lib, err := preset.Default()
	if err != nil {
		t.Fatalf("loading the default screening library: %v", err)
	}
	return &docpipe.Analyzer{Classifier: doctype.NewClassifier(), Evidence: doctype.NewFinder(lib)}
}

// extraction makes an Extraction whose pages hold lines of text, one word
// box per word.
func extraction(pages ...[]string) docpipe.Extraction {
	var ex docpipe.Extraction
	for i, lines := range pages {
		var words []ocr.Word
		for l, line := range lines {
			for _, w := range strings.Fields(line) {
				words = append(words, ocr.Word{Text: w, Line: l + 1, Block: 1, Confidence: 95})
			}
		}
		ex.Pages = append(ex.Pages, docpipe.PageResult{Number: i + 1, Source: docpipe.SourceOCR, Page: ocr.Page{Words: words, MeanConfidence: 95}})
	}
	return ex
}

func TestAnalyzeMakesAnImmutableKeyedResult(t *testing.T) {
	t.Parallel()
	a := newAnalyzer(t)
	ex := extraction(
		[]string{"RADIOLOGY REPORT", "Patient: Johnathan Smithfield MRN: 88421973", "Exam: SCREENING MAMMOGRAM BILATERAL", "Exam date: 04/09/2024"},
		[]string{"IMPRESSION: BI-RADS 1. No colonoscopy on file."},
	)
	red := phi.NewDetector(phi.Options{}).Redact(ex.Text(), nil)
	content := []byte("the original file")
	r := a.Analyze("doc-42", content, ex, red)

	id, sum, version := r.Key()
	if id != "doc-42" || len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" || version != docpipe.PipelineVersion {
		t.Errorf("Key() = %q, %q, %q; want doc-42, 64 hex digits, %q", id, sum, version, docpipe.PipelineVersion)
	}
	if r2 := a.Analyze("doc-42", content, ex, red); func() bool { _, s2, _ := r2.Key(); return s2 != sum }() {
		t.Errorf("the same content hashed differently")
	}
	if _, other, _ := a.Analyze("doc-42", []byte("another file"), ex, red).Key(); other == sum {
		t.Errorf("different content, same hash %s", sum)
	}
	cl := r.Classification()
	if cl.Type != doctype.Imaging || cl.ServiceDate.String() != "2024-04-09" {
		t.Errorf("classification %s dated %v, want imaging dated 2024-04-09", cl.Type, cl.ServiceDate)
	}
	ev := r.Evidence()
	var got []string
	for _, e := range ev {
		got = append(got, e.ScreeningType+"/"+string(e.Polarity)+"/p"+string(rune('0'+e.Page))+"/"+e.Date.String())
	}
	want := "breast_cancer/affirmed/p1/2024-04-09 colorectal_cancer/negated/p2/2024-04-09"
	if strings.Join(got, " ") != want {
		t.Errorf("evidence %q, want %q", strings.Join(got, " "), want)
	}
	ev[0].Phrase = "changed"
	if r.Evidence()[0].Phrase == "changed" {
		t.Errorf("changing the returned evidence changed the result")
	}

	payload, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"Johnathan", "Smithfield", "88421973", "04/09/2024"} {
		if strings.Contains(string(payload), id) {
			t.Errorf("payload holds %q: %s", id, payload)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(payload, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"document_id", "content_sha256", "pipeline_version", "pages", "review_pages", "classification", "evidence", "redacted_text"} {
		if _, ok := back[k]; !ok {
			t.Errorf("payload lacks %q: %s", k, payload)
		}
	}
}

// A result whose redacted text would pass the cloud's 1 MiB limit is cut
// to fit, and says so.
func TestPayloadCapsTheRedactedTextWithANote(t *testing.T) {
	t.Parallel()
	a := newAnalyzer(t)
	tests := []struct {
		name     string
		line     string
		repeat   int
		wantCut  bool
		wantSize int // lower bound of the payload, bytes
	}{
		{"small", "Colonoscopy normal.", 3, false, 0},
		// 210 kB of text that JSON escapes to about 1.1 MB.
		{"over once escaped", "<<<<&&&&>>>>\t", 15_000, true, docpipe.MaxPayload - 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ex := extraction(strings.Split(strings.Repeat(tc.line+"\n", tc.repeat), "\n"))
			red := phi.NewDetector(phi.Options{}).Redact(ex.Text(), nil)
			b, err := a.Analyze("doc-1", []byte("x"), ex, red).Payload()
			if err != nil {
				t.Fatalf("Payload: %v", err)
			}
			if len(b) > docpipe.MaxPayload || len(b) < tc.wantSize {
				t.Errorf("payload is %d bytes, want between %d and %d", len(b), tc.wantSize, docpipe.MaxPayload)
			}
			var got struct {
				Text      string `json:"redacted_text"`
				Truncated bool   `json:"redacted_text_truncated"`
				Bytes     int    `json:"redacted_text_bytes"`
				Note      string `json:"note"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Truncated != tc.wantCut {
				t.Errorf("redacted_text_truncated = %v, want %v", got.Truncated, tc.wantCut)
			}
			if tc.wantCut && (got.Note != docpipe.TruncatedNote || got.Bytes != red.Redacted.Len() || !strings.HasPrefix(red.Redacted.String(), got.Text)) {
				t.Errorf("cut payload: note %q, bytes %d (want %d), text a prefix: %v", got.Note, got.Bytes, red.Redacted.Len(), strings.HasPrefix(red.Redacted.String(), got.Text))
			}
			if !tc.wantCut && got.Text != red.Redacted.String() {
				t.Errorf("uncut payload text differs from the redacted text")
			}
		})
	}
}

package docpipe_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
	"healthprep.dev/shared/phi"
)

func TestWordRangesMirrorText(t *testing.T) {
	t.Parallel()
	words := func(ws ...ocr.Word) ocr.Page { return ocr.Page{Words: ws} }
	ex := docpipe.Extraction{Pages: []docpipe.PageResult{
		{Number: 1, Page: words(
			ocr.Word{Text: "Dr.", Line: 1, Block: 1}, ocr.Word{Text: "Zoë", Line: 1, Block: 1},
			ocr.Word{Text: "Ångström", Line: 2, Block: 1}, ocr.Word{Text: "MRN", Line: 3, Block: 2})},
		{Number: 2, Page: words()},
		{Number: 3, Page: words(ocr.Word{Text: "née", Line: 1, Block: 1})},
	}}
	text := []rune(ex.Text())
	for _, r := range ex.WordRanges() {
		if got, want := string(text[r.Start:r.End]), ex.Pages[r.Page].Words[r.Word].Text; got != want {
			t.Errorf("page %d word %d: text[%d:%d] = %q, want %q", r.Page, r.Word, r.Start, r.End, got, want)
		}
	}
	// "Zoë Ångström" spans two lines of page 1; "née" is on page 3.
	start := strings.Index(ex.Text(), "Zoë")
	got := ex.RedactedWords([]phi.Span{
		{Start: len([]rune(ex.Text()[:start])), End: len([]rune(ex.Text()[:start])) + len([]rune("Zoë\nÅngström")), Type: phi.Name},
		{Start: len(text) - 3, End: len(text), Type: phi.Name},
	})
	if got, want := fmt.Sprint(got), "[[[1 2]] [] [[0]]]"; got != want {
		t.Errorf("RedactedWords = %s, want %s", got, want)
	}
}

// A scan (PNG), and a PDF with a scanned page and a text-layer page, are
// redacted; OCR of the redacted images finds none of the injected
// identifiers but still reads the clinical text.
func TestRedactedImagesAndPDFHideIdentifiers(t *testing.T) {
	t.Parallel()
	lines := []string{
		"Patient: Johnathan Quincy Smithfield",
		"DOB: 03/14/1961 MRN: 88421973",
		"SSN 219-09-9999 Phone (617) 555-0142",
		"Screening colonoscopy was performed today.",
	}
	injected := []string{"Johnathan", "Quincy", "Smithfield", "03/14/1961", "88421973", "219-09-9999", "555-0142"}
	scan := render(t, lines)
	docs := []struct {
		name  string
		data  []byte
		pages int
	}{
		{"png scan", pngBytes(t, scan.Image.Pix), 1},
		{"pdf scan and text layer", makePDF(t, []pdfPage{{scan: scan.Image.Pix}, {text: lines}}, pdfOptions{}), 2},
	}
	x := newExtractor(t, docpipe.ExtractorConfig{Workers: 2})
	det := phi.NewDetector(phi.Options{})
	engine, err := tesscmd.New(tesscmd.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	ctx := context.Background()
	for _, d := range docs {
		ex, err := x.Extract(ctx, d.data)
		if err != nil {
			t.Fatalf("%s: Extract: %v", d.name, err)
		}
		if !strings.Contains(ex.Text(), "Smithfield") {
			t.Fatalf("%s: extracted text lacks the injected name; the test would prove nothing", d.name)
		}
		red := det.Redact(ex.Text(), nil)

		// Page images: OCR each again.
		var pages int
		err = x.Redact(ctx, d.data, ex, red.Spans, func(p docpipe.RedactedPage) error {
			pages++
			if p.Boxes == 0 {
				t.Errorf("%s page %d: no boxes drawn", d.name, p.Number)
			}
			got, err := ocr.Recognize(ctx, engine, ocr.Image{Pix: p.Image, DPI: p.DPI}, ocr.Options{Orientation: ocr.OrientationNever})
			if err != nil {
				return err
			}
			checkRedactedText(t, d.name+" page image", got.Text(), injected)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: Redact: %v", d.name, err)
		}
		if pages != d.pages {
			t.Errorf("%s: Redact gave %d pages, want %d", d.name, pages, d.pages)
		}

		// The PDF: pdfinfo opens it, it has no text layer, and its
		// rasterised pages read without identifiers.
		var pdf bytes.Buffer
		if _, err := x.RedactedPDF(ctx, &pdf, d.data, ex, red.Spans); err != nil {
			t.Fatalf("%s: RedactedPDF: %v", d.name, err)
		}
		path := filepath.Join(t.TempDir(), "redacted.pdf")
		if err := os.WriteFile(path, pdf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		info, err := exec.Command("pdfinfo", path).Output()
		if err != nil {
			t.Fatalf("%s: pdfinfo on the redacted PDF: %v", d.name, err)
		}
		if want := "Pages:"; !strings.Contains(string(info), want) {
			t.Errorf("%s: pdfinfo output lacks %q:\n%s", d.name, want, info)
		}
		layer, err := exec.Command("pdftotext", path, "-").Output()
		if err != nil {
			t.Fatalf("%s: pdftotext: %v", d.name, err)
		}
		if s := strings.TrimSpace(string(layer)); s != "" {
			t.Errorf("%s: redacted PDF has a text layer: %q", d.name, s)
		}
		again, err := x.Extract(ctx, pdf.Bytes())
		if err != nil {
			t.Fatalf("%s: extracting the redacted PDF: %v", d.name, err)
		}
		if len(again.Pages) != d.pages {
			t.Errorf("%s: redacted PDF has %d pages, want %d", d.name, len(again.Pages), d.pages)
		}
		for _, p := range again.Pages {
			if p.Source != docpipe.SourceOCR {
				t.Errorf("%s: redacted PDF page %d read from %s, want OCR", d.name, p.Number, p.Source)
			}
		}
		checkRedactedText(t, d.name+" PDF", again.Text(), injected)
	}
}

func checkRedactedText(t *testing.T, what, text string, injected []string) {
	t.Helper()
	if !strings.Contains(text, "colonoscopy") {
		t.Errorf("%s: OCR lost the clinical text; got %q", what, text)
	}
	for _, id := range injected {
		if strings.Contains(text, id) {
			t.Errorf("%s: identifier %q readable after redaction", what, id)
		}
	}
}

package docpipe_test

import (
	"context"
	"errors"
	"image"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/ocrtest"
)

func TestExtractReadsEveryFormat(t *testing.T) {
	t.Parallel()
	a, b := render(t, linesA), render(t, linesB)
	textA, textB := strings.Join(linesA, "\n"), strings.Join(linesB, "\n")
	x := newExtractor(t, docpipe.ExtractorConfig{Workers: 2})

	tests := []struct {
		name    string
		data    []byte
		format  docpipe.Format
		sources []docpipe.Source
		texts   []string
	}{
		{"PDF with a text layer needs no OCR", makePDF(t, []pdfPage{{text: linesA}}, pdfOptions{}),
			docpipe.PDF, []docpipe.Source{docpipe.SourceTextLayer}, []string{textA}},
		{"scanned PDF is rendered and OCR'd", makePDF(t, []pdfPage{{scan: a.Image.Pix}}, pdfOptions{}),
			docpipe.PDF, []docpipe.Source{docpipe.SourceOCR}, []string{textA}},
		{"mixed PDF: text layer where there is one, OCR elsewhere", makePDF(t, []pdfPage{{text: linesB}, {scan: a.Image.Pix}}, pdfOptions{}),
			docpipe.PDF, []docpipe.Source{docpipe.SourceTextLayer, docpipe.SourceOCR}, []string{textB, textA}},
		{"multi-page TIFF", makeTIFF(t, []*image.Gray{a.Image.Pix, b.Image.Pix}, 300),
			docpipe.TIFF, []docpipe.Source{docpipe.SourceOCR, docpipe.SourceOCR}, []string{textA, textB}},
		{"PNG", pngBytes(t, b.Image.Pix), docpipe.PNG, []docpipe.Source{docpipe.SourceOCR}, []string{textB}},
		{"JPEG", jpegBytes(t, a.Image.Pix), docpipe.JPEG, []docpipe.Source{docpipe.SourceOCR}, []string{textA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ex, err := x.Extract(context.Background(), tt.data)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if ex.Format != tt.format || len(ex.Pages) != len(tt.sources) {
				t.Fatalf("got %s with %d pages, want %s with %d", ex.Format, len(ex.Pages), tt.format, len(tt.sources))
			}
			for i, p := range ex.Pages {
				if p.Number != i+1 || p.Source != tt.sources[i] {
					t.Errorf("page %d: number %d source %s, want %d %s", i+1, p.Number, p.Source, i+1, tt.sources[i])
				}
				if cer := ocrtest.CER(p.Text(), tt.texts[i]); cer > ocrtest.MaxCER {
					t.Errorf("page %d: CER %.4f, want ≤ %.2f; got %q", i+1, cer, ocrtest.MaxCER, p.Text())
				}
				bounds := image.Rect(0, 0, p.Width, p.Height)
				if p.Width < 1700 || p.Width > 1900 || p.DPI != 300 {
					t.Errorf("page %d: %d px wide at %d dpi, want ≈ 1800 at 300", i+1, p.Width, p.DPI)
				}
				for _, w := range p.Words {
					if w.Box.Empty() || !w.Box.In(bounds) {
						t.Errorf("page %d: word box %v outside %v", i+1, w.Box, bounds)
					}
				}
				if len(p.Words) == 0 || p.Flags&(ocr.FlagLowConfidence|ocr.FlagNoText) != 0 {
					t.Errorf("page %d: %d words, flags %q; want words and no review flags", i+1, len(p.Words), p.Flags)
				}
			}
			if got := ex.Review(); len(got) != 0 {
				t.Errorf("Review() = %v, want none", got)
			}
		})
	}
}

// Text-layer word boxes and OCR word boxes of the same page agree: both are
// pixels at 300 dpi, so redaction boxes line up whatever the source.
func TestTextLayerBoxesMatchOCRBoxes(t *testing.T) {
	t.Parallel()
	x := newExtractor(t, docpipe.ExtractorConfig{Workers: 1})
	doc := makePDF(t, []pdfPage{{text: linesA}}, pdfOptions{})
	layer, err := x.Extract(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	forced := newExtractor(t, docpipe.ExtractorConfig{Workers: 1, MinLayerChars: 1 << 30})
	ocrd, err := forced.Extract(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	if ocrd.Pages[0].Source != docpipe.SourceOCR {
		t.Fatalf("forced extraction used %s, want ocr", ocrd.Pages[0].Source)
	}
	lw, ow := layer.Pages[0].Words, ocrd.Pages[0].Words
	matched := 0
	for _, l := range lw {
		for _, o := range ow {
			in := l.Box.Intersect(o.Box)
			if l.Text == o.Text && !in.Empty() && in.Dx()*in.Dy()*2 >= min(l.Box.Dx()*l.Box.Dy(), o.Box.Dx()*o.Box.Dy()) {
				matched++
				break
			}
		}
	}
	if matched < len(lw)*9/10 {
		t.Errorf("%d of %d text-layer words overlap the same OCR word, want ≥ 90%%", matched, len(lw))
	}
}

func TestExtractRejectsBadInput(t *testing.T) {
	t.Parallel()
	a := render(t, linesA)
	good := makePDF(t, []pdfPage{{text: linesA}}, pdfOptions{})
	goodPNG := pngBytes(t, a.Image.Pix)
	pages1000 := make([]pdfPage, 1000)
	for i := range pages1000 {
		pages1000[i] = pdfPage{text: []string{"page"}}
	}
	cyclic := makeTIFF(t, []*image.Gray{a.Image.Pix}, 300)
	// Point the single IFD's "next" at itself.
	copy(cyclic[len(cyclic)-4:], cyclic[4:8])
	tiny := make([]*image.Gray, 501)
	for i := range tiny {
		tiny[i] = image.NewGray(image.Rect(0, 0, 40, 40))
	}
	x := newExtractor(t, docpipe.ExtractorConfig{Workers: 1, Limits: docpipe.Limits{MaxPages: 500}})

	tests := []struct {
		name     string
		data     []byte
		want     error
		wantText string // the message a person sees
	}{
		{"zero bytes", nil, docpipe.ErrEmpty, "document rejected: the file is empty (0 bytes)"},
		{"not a document", []byte("Dear Dr. Smith, please find enclosed ..."), docpipe.ErrUnknownFormat,
			"document rejected: the file is not a PDF, TIFF, PNG or JPEG (whatever its extension says)"},
		{"truncated PDF", good[:len(good)/2], docpipe.ErrTruncated, "PDF document rejected: the file is cut short (incomplete download or copy?)"},
		{"password-protected PDF", makePDF(t, []pdfPage{{text: linesA}}, pdfOptions{userPassword: "s3cret"}), docpipe.ErrPasswordProtected,
			"PDF document rejected: the PDF is password-protected; save an unprotected copy and import that"},
		{"PDF header, garbage body", []byte("%PDF-1.7\n" + strings.Repeat("garbage ", 100) + "\n%%EOF\n"), docpipe.ErrCorrupt,
			"PDF document rejected: the file is damaged and cannot be read"},
		{"1,000 pages over a 500-page limit", makePDF(t, pages1000, pdfOptions{}), docpipe.ErrTooManyPages,
			"PDF document rejected: 1000 pages is more than the 500-page limit; split the file"},
		{"501-page TIFF over a 500-page limit", makeTIFF(t, tiny, 300), docpipe.ErrTooManyPages,
			"TIFF document rejected: 501 pages is more than the 500-page limit; split the file"},
		{"1×1 PNG", pngBytes(t, image.NewGray(image.Rect(0, 0, 1, 1))), docpipe.ErrImageTooSmall,
			"PNG document rejected: the page image is smaller than 32 pixels on a side"},
		{"truncated PNG", goodPNG[:len(goodPNG)*2/3], docpipe.ErrTruncated, "PNG document rejected: the file is cut short (incomplete download or copy?)"},
		{"truncated TIFF", makeTIFF(t, []*image.Gray{a.Image.Pix}, 300)[:100], docpipe.ErrTruncated, "TIFF document rejected: the file is cut short (incomplete download or copy?)"},
		{"TIFF whose pages loop", cyclic, docpipe.ErrCorrupt, "TIFF document rejected: the file is damaged and cannot be read"},
		{"PNG claiming 100,000 × 100,000 pixels", hugePNGHeader(), docpipe.ErrImageTooLarge,
			"PNG document rejected: the page image has more than 150000000 pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := x.Extract(context.Background(), tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			de, ok := docpipe.Rejection(err)
			if !ok {
				t.Fatalf("err = %v is not a *DocumentError", err)
			}
			if got := de.Error(); got != tt.wantText {
				t.Errorf("message = %q, want %q", got, tt.wantText)
			}
		})
	}
}

// hugePNGHeader is a PNG signature and IHDR announcing 100,000 × 100,000
// pixels, with no image data: the size check must come before decoding.
func hugePNGHeader() []byte {
	ihdr := []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 0, 0, 0, 0}
	b := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	return append(b, pngChunk("IEND", nil)...)
}

func TestExtractTimesOut(t *testing.T) {
	t.Parallel()
	a := render(t, linesA)
	x := newExtractor(t, docpipe.ExtractorConfig{Workers: 1, Timeout: 20 * time.Millisecond})
	start := time.Now()
	_, err := x.Extract(context.Background(), pngBytes(t, a.Image.Pix))
	if !errors.Is(err, docpipe.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to give up, want about the 20 ms limit", d)
	}
}

func TestSniffIgnoresExtensionAndLeadingJunk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want docpipe.Format
	}{
		{"\x89PNG\r\n\x1a\nrest", docpipe.PNG},
		{"\xff\xd8\xff\xe0rest", docpipe.JPEG},
		{"II*\x00rest", docpipe.TIFF},
		{"MM\x00*rest", docpipe.TIFF},
		{"%PDF-1.4 rest", docpipe.PDF},
		{"junk from a mail gateway\r\n%PDF-1.4 rest", docpipe.PDF},
	}
	for _, tt := range tests {
		got, err := docpipe.Sniff([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("Sniff(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// panickyPDF is a PDFReader whose renderer panics, as a decoder might on a
// hostile file.
type panickyPDF struct{ docpipe.Poppler }

func (panickyPDF) Render(context.Context, []byte, int, int) (*image.Gray, error) {
	panic("decoder bug")
}

func TestExtractSurvivesDecoderPanic(t *testing.T) {
	t.Parallel()
	x := newExtractor(t, docpipe.ExtractorConfig{Workers: 1, PDF: panickyPDF{}})
	a := render(t, linesA)
	_, err := x.Extract(context.Background(), makePDF(t, []pdfPage{{scan: a.Image.Pix}}, pdfOptions{}))
	if !errors.Is(err, docpipe.ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if got, want := err.Error(), "PDF document rejected: page 1: the file is damaged and cannot be read"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

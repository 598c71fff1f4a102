package docpipe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"

	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/shared/phi"
)

// WordRange is where one word of an Extraction lies in Extraction.Text():
// code points [Start, End), the unit phi.Span counts in.
type WordRange struct {
	Page  int // index into Extraction.Pages
	Word  int // index into that page's Words
	Start int
	End   int
}

// WordRanges returns every word's code-point range in Text(), in text
// order. It mirrors Text and ocr.Page.Text exactly: pages joined by one
// form feed, words by one space, lines by one newline, blocks by two.
func (x Extraction) WordRanges() []WordRange {
	var out []WordRange
	off := 0
	for pi, p := range x.Pages {
		if pi > 0 {
			off++ // "\f"
		}
		for wi, w := range p.Words {
			if wi > 0 {
				if w.Block != p.Words[wi-1].Block {
					off += 2
				} else {
					off++
				}
			}
			n := utf8.RuneCountInString(w.Text)
			out = append(out, WordRange{Page: pi, Word: wi, Start: off, End: off + n})
			off += n
		}
	}
	return out
}

// RedactedWords returns, per page (same indices as Pages), the groups of
// words touched by spans (sorted, as phi.Result.Spans are): each group is
// the words one span touches on that page, in reading order. A word
// touched by any part of a span is covered whole.
func (x Extraction) RedactedWords(spans []phi.Span) [][][]int {
	out := make([][][]int, len(x.Pages))
	ranges := x.WordRanges()
	first := 0
	for _, s := range spans {
		for first < len(ranges) && ranges[first].End <= s.Start {
			first++
		}
		group, page := []int(nil), -1
		for _, r := range ranges[first:] {
			if r.Start >= s.End {
				break
			}
			if r.End <= s.Start || r.End == r.Start {
				continue
			}
			if r.Page != page && group != nil {
				out[page] = append(out[page], group)
				group = nil
			}
			page = r.Page
			group = append(group, r.Word)
		}
		if group != nil {
			out[page] = append(out[page], group)
		}
	}
	return out
}

// CoverWords paints opaque black boxes over the words of each group on g
// (boxes in g's pixels, as ocr.Word.Box), padded by pad pixels. Adjacent
// words of one group on one line are covered by one box, so the gaps
// between the words of a name do not show its word lengths. It returns
// how many boxes it drew.
func CoverWords(g *image.Gray, words []ocr.Word, groups [][]int, pad int) int {
	n := 0
	black := image.NewUniform(color.Gray{Y: 0})
	paint := func(r image.Rectangle) {
		r = image.Rect(r.Min.X-pad, r.Min.Y-pad, r.Max.X+pad, r.Max.Y+pad).Intersect(g.Rect)
		if !r.Empty() {
			draw.Draw(g, r, black, image.Point{}, draw.Src)
			n++
		}
	}
	for _, grp := range groups {
		var cur image.Rectangle
		line, block := -1, -1
		for _, i := range grp {
			if i < 0 || i >= len(words) {
				continue
			}
			w := words[i]
			if w.Line == line && w.Block == block && !cur.Empty() {
				cur = cur.Union(w.Box)
				continue
			}
			if !cur.Empty() {
				paint(cur)
			}
			cur, line, block = w.Box, w.Line, w.Block
		}
		if !cur.Empty() {
			paint(cur)
		}
	}
	return n
}

// RedactedPage is one page image with the PHI boxed out.
type RedactedPage struct {
	Number int // from 1
	Image  *image.Gray
	DPI    int
	Boxes  int // boxes drawn
}

// Redact redraws each page of a document that ex was extracted from (data
// is the same file) and covers the words that spans (from redacting
// ex.Text()) touch, calling fn with each page in order; pages are made one
// at a time, so memory holds one page image. OCR'd pages are decoded or
// rendered again exactly as they were recognised, so the word boxes fit;
// text-layer PDF pages are rendered (pdftoppm) at the extraction's
// resolution, where their -bbox-layout boxes lie.
//
// Only words the text holds can be covered: text drawn as a picture on a
// text-layer page, handwriting, or a page OCR could not read (flagged for
// review) keep whatever they show. The redacted PDF is therefore for
// viewing on the workstation; only the redacted text leaves it.
func (x *Extractor) Redact(ctx context.Context, data []byte, ex Extraction, spans []phi.Span, fn func(RedactedPage) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &DocumentError{Kind: KindCorrupt, Format: ex.Format}
		}
	}()
	groups := ex.RedactedWords(spans)
	var t *tiffFile
	if ex.Format == TIFF {
		if t, err = openTIFF(data); err != nil {
			return err
		}
	}
	for i, p := range ex.Pages {
		if err := ctx.Err(); err != nil {
			return err
		}
		var img ocr.Image
		switch ex.Format {
		case PDF:
			g, err := x.cfg.PDF.Render(ctx, data, p.Number, x.cfg.DPI)
			if err != nil {
				return pageErr(err, p.Number)
			}
			img = ocr.Image{Pix: g, DPI: x.cfg.DPI}
		case TIFF:
			if p.Number < 1 || p.Number > t.pages() {
				return &DocumentError{Kind: KindCorrupt, Format: TIFF, Page: p.Number}
			}
			img, err = t.page(p.Number-1, x.cfg.Limits)
		case PNG, JPEG:
			img, err = decodeRaster(ex.Format, data, x.cfg.Limits)
		default:
			return reject(KindUnknownFormat, ex.Format)
		}
		if err != nil {
			return err
		}
		g := ocr.Gray(img.Pix) // freshly decoded or rendered: ours to paint on
		if p.Width > 0 && (g.Rect.Dx() != p.Width || g.Rect.Dy() != p.Height) {
			return fmt.Errorf("page %d: redrawn page is %dx%d, extracted %dx%d", p.Number, g.Rect.Dx(), g.Rect.Dy(), p.Width, p.Height)
		}
		dpi := img.DPI
		if dpi <= 0 {
			dpi = p.DPI
		}
		n := CoverWords(g, p.Words, groups[i], max(2, dpi/75))
		if err := fn(RedactedPage{Number: p.Number, Image: g, DPI: dpi, Boxes: n}); err != nil {
			return err
		}
	}
	return nil
}

// RedactedPDF writes the redacted pages of a document (see Redact) as a
// PDF of page images: no text layer, each page sized from its pixels and
// resolution. It returns the number of boxes drawn.
func (x *Extractor) RedactedPDF(ctx context.Context, w io.Writer, data []byte, ex Extraction, spans []phi.Span) (int, error) {
	if len(ex.Pages) == 0 {
		return 0, errors.New("redacted PDF: no pages")
	}
	doc := fpdf.NewCustom(&fpdf.InitType{UnitStr: "pt", Size: fpdf.SizeType{Wd: 612, Ht: 792}})
	doc.SetCompression(true)
	doc.SetAutoPageBreak(false, 0)
	doc.SetMargins(0, 0, 0)
	doc.SetCreator("HealthPrep", true)
	boxes := 0
	var buf bytes.Buffer
	err := x.Redact(ctx, data, ex, spans, func(p RedactedPage) error {
		boxes += p.Boxes
		buf.Reset()
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, p.Image); err != nil {
			return fmt.Errorf("encoding page %d: %w", p.Number, err)
		}
		wd := float64(p.Image.Rect.Dx()) * 72 / float64(p.DPI)
		ht := float64(p.Image.Rect.Dy()) * 72 / float64(p.DPI)
		// "P" takes the size as given; "L" would swap it.
		doc.AddPageFormat("P", fpdf.SizeType{Wd: wd, Ht: ht})
		name := "page" + strconv.Itoa(p.Number)
		opt := fpdf.ImageOptions{ImageType: "PNG"}
		doc.RegisterImageOptionsReader(name, opt, bytes.NewReader(buf.Bytes()))
		doc.ImageOptions(name, 0, 0, wd, ht, false, opt, 0, "")
		if doc.Err() {
			return fmt.Errorf("adding page %d to the redacted PDF: %w", p.Number, doc.Error())
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := doc.Output(w); err != nil {
		return 0, fmt.Errorf("writing the redacted PDF: %w", err)
	}
	return boxes, nil
}

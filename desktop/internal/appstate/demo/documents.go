package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/chart"
)

// Documents is an in-memory document source and importer for the demo and
// the widget tests: a made-up quarantine, a scanned letter with a page to
// review, and the demo records' documents as redacted page images drawn on
// the fly. Imports of PDF, TIFF, PNG or JPEG content are accepted, anything
// else is quarantined as the pipeline would. It is safe for concurrent use.
type Documents struct {
	now  func() time.Time
	docs map[string]demoDoc // by document ID

	mu          sync.Mutex
	quarantined []appstate.QuarantinedDoc
	review      []appstate.ReviewPage
	reviewed    []string // "id/page"
	imported    map[string]string
}

// demoDoc is a document whose pages are drawn from text; words between
// square brackets are drawn as redaction bars.
type demoDoc struct {
	name  string
	pages []string
}

// ReviewDocumentID is the demo's scanned letter with a page to review.
const ReviewDocumentID = "doc-scan-0001"

// NewDocuments returns the demo documents over recs' documents.
func NewDocuments(recs []chart.Record, now func() time.Time) *Documents {
	t := now()
	d := &Documents{now: now, docs: map[string]demoDoc{}, imported: map[string]string{}}
	for _, r := range recs {
		for _, doc := range r.Documents {
			id := strings.TrimPrefix(doc.Ref, "DocumentReference/")
			d.docs[id] = demoDoc{name: doc.Title, pages: []string{
				"[REDACTED-NAME] [REDACTED-DATE]\n" + doc.Title + "\n\n" + wrapText(doc.Text, 60),
			}}
		}
	}
	d.docs[ReviewDocumentID] = demoDoc{name: "scan-outside-records.pdf", pages: []string{
		"Referral letter\n\nRe: [REDACTED-NAME]\nThank you for seeing this patient.",
		"Faxed page, poor copy\n\nMammogram 2024 BI-RADS 1\nno follow up needed",
	}}
	d.review = []appstate.ReviewPage{{DocumentID: ReviewDocumentID, Name: "scan-outside-records.pdf", Page: 2, Pages: 2, Flags: []string{appstate.ReviewLowConfidence}}}
	d.quarantined = []appstate.QuarantinedDoc{
		{DocumentID: "doc-q-0001", Name: "lab-results-locked.pdf", Added: t.Add(-26 * time.Hour), Reason: "password-protected",
			Message: "PDF document rejected: the PDF is password-protected; save an unprotected copy and import that"},
		{DocumentID: "doc-q-0002", Name: "fax-0312.tif", Added: t.Add(-3 * time.Hour), Reason: "truncated",
			Message: "TIFF document rejected: the file is cut short (incomplete download or copy?)"},
	}
	return d
}

func wrapText(s string, width int) string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return strings.Join(lines, "\n")
}

// Import implements appstate.Importer.
func (d *Documents) Import(_ context.Context, f appstate.ImportFile) (appstate.Imported, error) {
	if err := appstate.CheckImport(int64(len(f.Data))); err != nil {
		return appstate.Imported{}, err
	}
	sum := sha256.Sum256(f.Data)
	id := "doc-" + hex.EncodeToString(sum[:8])
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.imported[id]; ok {
		return appstate.Imported{DocumentID: id, Duplicate: true}, nil
	}
	d.imported[id] = f.Name
	if !knownFormat(f.Data) {
		d.quarantined = append(d.quarantined, appstate.QuarantinedDoc{DocumentID: id, Name: f.Name, Added: d.now(), Reason: "unknown-format",
			Message: "document rejected: the file is not a PDF, TIFF, PNG or JPEG (whatever its extension says)"})
	}
	return appstate.Imported{DocumentID: id}, nil
}

// Imported returns the names of the files imported so far (for tests).
func (d *Documents) Imported() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, n := range d.imported {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func knownFormat(b []byte) bool {
	for _, magic := range [][]byte{[]byte("%PDF-"), []byte("II*\x00"), []byte("MM\x00*"), []byte("\x89PNG"), []byte("\xff\xd8\xff")} {
		if bytes.HasPrefix(b, magic) {
			return true
		}
	}
	return false
}

// Quarantined implements appstate.DocumentSource.
func (d *Documents) Quarantined(context.Context) ([]appstate.QuarantinedDoc, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.quarantined), nil
}

// ForReview implements appstate.DocumentSource.
func (d *Documents) ForReview(context.Context) ([]appstate.ReviewPage, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []appstate.ReviewPage
	for _, p := range d.review {
		if !slices.Contains(d.reviewed, fmt.Sprintf("%s/%d", p.DocumentID, p.Page)) {
			out = append(out, p)
		}
	}
	return out, nil
}

// MarkReviewed implements appstate.DocumentSource.
func (d *Documents) MarkReviewed(_ context.Context, id string, page int, _ appstate.User) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reviewed = append(d.reviewed, fmt.Sprintf("%s/%d", id, page))
	return nil
}

// EvidencePage implements appstate.DocumentSource: the page of the demo
// document source whose text holds phrase.
func (d *Documents) EvidencePage(_ context.Context, source, phrase string) (string, int, error) {
	id := strings.TrimPrefix(source, "DocumentReference/")
	doc, ok := d.docs[id]
	if !ok {
		return "", 0, appstate.ErrNoPageImage
	}
	for i, p := range doc.pages {
		if strings.Contains(strings.ToLower(p), strings.ToLower(phrase)) {
			return id, i + 1, nil
		}
	}
	return id, 1, nil
}

// Page implements appstate.DocumentSource: the page drawn in black on
// white, redactions as black bars.
func (d *Documents) Page(_ context.Context, id string, page int) (appstate.PageImage, error) {
	doc, ok := d.docs[id]
	if !ok || page < 1 || page > len(doc.pages) {
		return appstate.PageImage{}, appstate.ErrNoPageImage
	}
	img, words := drawPage(doc.pages[page-1])
	return appstate.PageImage{DocumentID: id, Page: page, Image: img, Words: words}, nil
}

// drawPage draws text on a small letter-shaped page with the basic 7×13
// font, scaled by 2, and returns the words' boxes.
func drawPage(text string) (image.Image, []appstate.PageWord) {
	const scale, margin, lineH, w, h = 2, 24, 18, 425, 550
	small := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(small, small.Bounds(), image.White, image.Point{}, draw.Src)
	dr := font.Drawer{Dst: small, Src: image.Black, Face: basicfont.Face7x13}
	var words []appstate.PageWord
	for li, line := range strings.Split(text, "\n") {
		x := margin
		y := margin + (li+1)*lineH
		for _, word := range strings.Fields(line) {
			adv := dr.MeasureString(word).Ceil()
			box := image.Rect(x, y-11, x+adv, y+3)
			if strings.HasPrefix(word, "[REDACTED") {
				draw.Draw(small, box, image.Black, image.Point{}, draw.Src)
			} else {
				dr.Dot = fixed.P(x, y)
				dr.DrawString(word)
			}
			words = append(words, appstate.PageWord{Text: word, Box: image.Rect(box.Min.X*scale, box.Min.Y*scale, box.Max.X*scale, box.Max.Y*scale), Line: li + 1})
			x += adv + dr.MeasureString(" ").Ceil()
		}
	}
	big := image.NewGray(image.Rect(0, 0, w*scale, h*scale))
	for y := range h * scale {
		for x := range w * scale {
			big.SetGray(x, y, color.Gray{small.GrayAt(x/scale, y/scale).Y})
		}
	}
	return big, words
}

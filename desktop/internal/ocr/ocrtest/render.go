// Package ocrtest is the conformance suite every ocr.Engine passes, and the
// page renderer it (and the document pipeline's tests and benchmarks) use to
// make pages whose text and word positions are known.
package ocrtest

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"healthprep.dev/desktop/internal/ocr"
)

// PlacedWord is a word drawn on a rendered page and the box its glyphs
// occupy (ascent to descent of the font, pen start to pen end).
type PlacedWord struct {
	Text string
	Box  image.Rectangle
}

// Sample is a rendered page with the truth about it.
type Sample struct {
	Image ocr.Image
	// Text is the drawn text: words separated by one space, lines by "\n".
	Text  string
	Words []PlacedWord
}

// Layout is how RenderPage sets text. The zero value is a US-letter page at
// 300 dpi, 12-point Go Regular, one-inch margins.
type Layout struct {
	DPI            int
	WidthInches    float64
	HeightInches   float64
	PointSize      float64
	MarginInches   float64
	LineSpacingPct float64
}

func (l Layout) withDefaults() Layout {
	if l.DPI == 0 {
		l.DPI = 300
	}
	if l.WidthInches == 0 {
		l.WidthInches = 8.5
	}
	if l.HeightInches == 0 {
		l.HeightInches = 11
	}
	if l.PointSize == 0 {
		l.PointSize = 12
	}
	if l.MarginInches == 0 {
		l.MarginInches = 1
	}
	if l.LineSpacingPct == 0 {
		l.LineSpacingPct = 150
	}
	return l
}

// RenderPage draws lines of black text on a white page. Lines that do not
// fit the width are an error, as are more lines than the page holds.
func RenderPage(lines []string, l Layout) (Sample, error) {
	l = l.withDefaults()
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return Sample{}, fmt.Errorf("parsing font: %w", err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: l.PointSize, DPI: float64(l.DPI), Hinting: font.HintingFull})
	if err != nil {
		return Sample{}, fmt.Errorf("making font face: %w", err)
	}
	defer face.Close()

	w, h := int(l.WidthInches*float64(l.DPI)), int(l.HeightInches*float64(l.DPI))
	g := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(g, g.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
	m := face.Metrics()
	margin := int(l.MarginInches * float64(l.DPI))
	step := fixed.Int26_6(float64(m.Height) * l.LineSpacingPct / 100)
	d := &font.Drawer{Dst: g, Src: image.NewUniform(color.Black), Face: face}
	space := d.MeasureString(" ")

	s := Sample{Image: ocr.Image{Pix: g, DPI: l.DPI}}
	baseline := fixed.I(margin) + m.Ascent
	for i, line := range lines {
		if i > 0 {
			baseline += step
		}
		if (baseline + m.Descent).Ceil() > h-margin {
			return Sample{}, fmt.Errorf("line %d does not fit the page", i+1)
		}
		x := fixed.I(margin)
		for j, word := range strings.Fields(line) {
			if j > 0 {
				x += space
			}
			adv := d.MeasureString(word)
			if (x + adv).Ceil() > w-margin {
				return Sample{}, fmt.Errorf("line %d is too wide", i+1)
			}
			d.Dot = fixed.Point26_6{X: x, Y: baseline}
			d.DrawString(word)
			s.Words = append(s.Words, PlacedWord{Text: word, Box: image.Rect(
				x.Floor(), (baseline - m.Ascent).Floor(), (x + adv).Ceil(), (baseline + m.Descent).Ceil())})
			x += adv
		}
	}
	s.Text = strings.Join(normaliseLines(lines), "\n")
	return s, nil
}

func normaliseLines(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.Join(strings.Fields(l), " ")
	}
	return out
}

// Prose is a page of plain English, numbers and punctuation, free of PHI,
// long enough for Tesseract's orientation detection.
var Prose = []string{
	"Screening colonoscopy was performed under moderate sedation.",
	"The preparation was good and the caecum was reached at 9:42.",
	"Two small sessile polyps were removed from the sigmoid colon",
	"with a cold snare and sent to pathology in separate jars.",
	"No bleeding followed. Withdrawal time was 11 minutes in total.",
	"Recommendation: repeat the examination in 5 years, sooner if",
	"pathology shows an advanced adenoma or new symptoms develop.",
	"Mammography of both breasts shows scattered fibroglandular",
	"density without a suspicious mass, calcification or distortion.",
	"BI-RADS category 1, negative. Routine annual screening advised.",
	"Haemoglobin A1c measured 6.8 percent, down from 7.4 percent.",
	"Lipid panel: total cholesterol 182, LDL 104, HDL 51 (mg/dL).",
	"Follow-up with the primary care clinic within three months.",
	"Influenza and pneumococcal vaccines were given in the left arm.",
}

// Page renders lines with the default layout and fails tb on error.
func Page(tb interface {
	Helper()
	Fatalf(string, ...any)
}, lines []string) Sample {
	tb.Helper()
	s, err := RenderPage(lines, Layout{})
	if err != nil {
		tb.Fatalf("rendering page: %v", err)
	}
	return s
}

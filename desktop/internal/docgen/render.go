package docgen

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/go-pdf/fpdf"
)

// RenderPDF sets a document's text on US-letter pages in 10-point
// Helvetica with a text layer, wrapping long lines, as a clinic's system
// would print it to PDF.
func RenderPDF(d Doc) ([]byte, error) {
	pdf := fpdf.New("P", "pt", "Letter", "")
	pdf.SetCompression(true)
	pdf.SetMargins(54, 54, 54)
	pdf.SetAutoPageBreak(true, 54)
	pdf.SetFont("Helvetica", "", 10)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.AddPage()
	width, _ := pdf.GetPageSize()
	width -= 108
	for _, line := range strings.Split(strings.ReplaceAll(d.Text, "\t", "    "), "\n") {
		if strings.TrimSpace(line) == "" {
			pdf.Ln(13)
			continue
		}
		pdf.MultiCell(width, 13, tr(line), "", "L", false)
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, fmt.Errorf("rendering PDF: %w", err)
	}
	return b.Bytes(), nil
}

// Noise says how a page is degraded to look scanned.
type Noise struct {
	// SkewDegrees turns the page (positive is clockwise).
	SkewDegrees float64
	// Sigma is the standard deviation of Gaussian grey noise (0–255).
	Sigma float64
	// Speckle is the share of pixels flipped to black or white dust.
	Speckle float64
	// JPEGQuality encodes the page; 0 keeps it lossless (no JPEG).
	JPEGQuality int
}

// RandomNoise draws a scanner's degradation: skew within ±2°, light to
// moderate noise and dust, JPEG quality 35–80.
func RandomNoise(r *rand.Rand) Noise {
	return Noise{
		SkewDegrees: (r.Float64()*2 - 1) * 2,
		Sigma:       4 + r.Float64()*14,
		Speckle:     r.Float64() * 0.002,
		JPEGQuality: 35 + r.IntN(46),
	}
}

// Degrade returns a scanned-looking copy of a page: turned, noisy and
// dusty. JPEG artefacts come from EncodeJPEG.
func Degrade(g *image.Gray, n Noise, r *rand.Rand) *image.Gray {
	out := rotate(g, n.SkewDegrees)
	for i, p := range out.Pix {
		v := float64(p) + r.NormFloat64()*n.Sigma
		if n.Speckle > 0 && r.Float64() < n.Speckle {
			v = float64(r.IntN(2) * 255)
		}
		out.Pix[i] = uint8(math.Max(0, math.Min(255, math.Round(v))))
	}
	return out
}

// rotate turns g by deg degrees about its centre (bilinear, white
// outside), keeping its size.
func rotate(g *image.Gray, deg float64) *image.Gray {
	b := g.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	if deg == 0 {
		copy(out.Pix, g.Pix)
		if g.Stride != out.Stride {
			for y := 0; y < b.Dy(); y++ {
				copy(out.Pix[y*out.Stride:(y+1)*out.Stride], g.Pix[y*g.Stride:])
			}
		}
		return out
	}
	sin, cos := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= b.Dx() || y >= b.Dy() {
			return 255
		}
		return float64(g.Pix[y*g.Stride+x])
	}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			// The source point that lands on (x, y).
			dx, dy := float64(x)-cx, float64(y)-cy
			sx, sy := cos*dx+sin*dy+cx, -sin*dx+cos*dy+cy
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			v := at(x0, y0)*(1-fx)*(1-fy) + at(x0+1, y0)*fx*(1-fy) + at(x0, y0+1)*(1-fx)*fy + at(x0+1, y0+1)*fx*fy
			out.Pix[y*out.Stride+x] = uint8(math.Round(v))
		}
	}
	return out
}

// EncodeJPEG writes g as a JPEG whose JFIF header records dpi (Go's
// encoder writes none).
func EncodeJPEG(g image.Image, dpi, quality int) ([]byte, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, g, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encoding JPEG: %w", err)
	}
	app0 := []byte{0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 1, byte(dpi >> 8), byte(dpi), byte(dpi >> 8), byte(dpi), 0, 0}
	out := append([]byte{0xff, 0xd8}, app0...)
	return append(out, b.Bytes()[2:]...), nil
}

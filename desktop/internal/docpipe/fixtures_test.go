package docpipe_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/ocrtest"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
)

// Small pages keep OCR in tests quick: 6 × 2.5 inches at 300 dpi.
var smallPage = ocrtest.Layout{WidthInches: 6, HeightInches: 2.5, MarginInches: 0.5}

var (
	linesA = []string{"Screening colonoscopy was performed today.", "Two small polyps were removed with a snare.", "Repeat the examination in five years."}
	linesB = []string{"Mammography of both breasts is negative.", "BI-RADS category 1. Routine annual screening."}
)

func render(t testing.TB, lines []string) ocrtest.Sample {
	t.Helper()
	s, err := ocrtest.RenderPage(lines, smallPage)
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	return s
}

// pngBytes encodes g with a pHYs chunk saying 300 dpi (Go's encoder
// writes none).
func pngBytes(t testing.TB, g image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, g); err != nil {
		t.Fatal(err)
	}
	const ppm = 11811 // 300 dpi in pixels per metre
	phys := binary.BigEndian.AppendUint32(nil, ppm)
	phys = binary.BigEndian.AppendUint32(phys, ppm)
	phys = append(phys, 1)
	out := append([]byte{}, b.Bytes()[:33]...) // signature and IHDR
	out = append(out, pngChunk("pHYs", phys)...)
	return append(out, b.Bytes()[33:]...)
}

func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(append([]byte(typ), data...)))
}

// jpegBytes encodes g with a JFIF header saying 300 dpi.
func jpegBytes(t testing.TB, g image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, g, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	app0 := []byte{0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 1, 0x01, 0x2c, 0x01, 0x2c, 0, 0}
	out := append([]byte{0xff, 0xd8}, app0...)
	return append(out, b.Bytes()[2:]...)
}

// pdfPage is one page of a test PDF: text set in Helvetica (a text layer)
// or a scanned image (no text layer).
type pdfPage struct {
	text []string
	scan image.Image
}

type pdfOptions struct {
	userPassword string
}

func makePDF(t testing.TB, pages []pdfPage, opt pdfOptions) []byte {
	t.Helper()
	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "in", Size: fpdf.SizeType{Wd: 6, Ht: 2.5}})
	pdf.SetCompression(true)
	if opt.userPassword != "" {
		pdf.SetProtection(fpdf.CnProtectPrint, opt.userPassword, "owner-"+opt.userPassword)
	}
	pdf.SetFont("Helvetica", "", 12)
	pdf.SetMargins(0.5, 0.5, 0.5)
	pdf.SetAutoPageBreak(false, 0)
	for i, p := range pages {
		pdf.AddPage()
		if p.scan != nil {
			name := "scan" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
			pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(pngBytes(t, p.scan)))
			pdf.ImageOptions(name, 0, 0, 6, 2.5, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
			continue
		}
		y := 0.7
		for _, l := range p.text {
			pdf.Text(0.5, y, l)
			y += 0.25
		}
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		t.Fatalf("making PDF: %v", err)
	}
	return b.Bytes()
}

// makeTIFF writes an uncompressed 8-bit grey multi-page TIFF (Go's tiff
// package writes single pages only).
func makeTIFF(t testing.TB, pages []*image.Gray, dpi uint32) []byte {
	t.Helper()
	le := binary.LittleEndian
	var b bytes.Buffer
	b.WriteString("II*\x00")
	binary.Write(&b, le, uint32(0)) // patched below
	prevNext := 4
	for _, g := range pages {
		w, h := g.Rect.Dx(), g.Rect.Dy()
		pixOff := b.Len()
		b.Write(ocr.PGM(g)[len(ocr.PGM(g))-w*h:])
		resOff := b.Len()
		binary.Write(&b, le, [2]uint32{dpi, 1})
		if b.Len()%2 == 1 {
			b.WriteByte(0)
		}
		ifd := b.Len()
		le.PutUint32(b.Bytes()[prevNext:], uint32(ifd))
		type entry struct {
			tag, typ uint16
			n, v     uint32
		}
		entries := []entry{
			{256, 4, 1, uint32(w)}, {257, 4, 1, uint32(h)}, {258, 3, 1, 8}, {259, 3, 1, 1},
			{262, 3, 1, 1}, {273, 4, 1, uint32(pixOff)}, {277, 3, 1, 1}, {278, 4, 1, uint32(h)},
			{279, 4, 1, uint32(w * h)}, {282, 5, 1, uint32(resOff)}, {296, 3, 1, 2},
		}
		binary.Write(&b, le, uint16(len(entries)))
		for _, e := range entries {
			binary.Write(&b, le, e.tag)
			binary.Write(&b, le, e.typ)
			binary.Write(&b, le, e.n)
			binary.Write(&b, le, e.v)
		}
		prevNext = b.Len()
		binary.Write(&b, le, uint32(0))
	}
	return b.Bytes()
}

func newExtractor(t testing.TB, cfg docpipe.ExtractorConfig) *docpipe.Extractor {
	t.Helper()
	if cfg.NewEngine == nil {
		cfg.NewEngine = func() (ocr.Engine, error) { return tesscmd.New(tesscmd.Config{}) }
	}
	x, err := docpipe.NewExtractor(cfg)
	if err != nil {
		t.Fatalf("NewExtractor: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

package docpipe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/tiff"

	"healthprep.dev/desktop/internal/ocr"
)

// Format is a document's file type, told from its first bytes.
type Format string

// The formats the pipeline reads.
const (
	PDF  Format = "PDF"
	TIFF Format = "TIFF"
	PNG  Format = "PNG"
	JPEG Format = "JPEG"
)

// Sniff tells the format from the content, never from a file name. PDF
// headers may follow up to 1024 bytes of junk, as readers allow.
func Sniff(data []byte) (Format, error) {
	switch {
	case len(data) == 0:
		return "", reject(KindEmpty, "")
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return JPEG, nil
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return TIFF, nil
	case bytes.Contains(data[:min(len(data), 1024)], []byte("%PDF-")):
		return PDF, nil
	}
	return "", reject(KindUnknownFormat, "")
}

// imageInfo checks a raster's size before it is decoded (a 100,000 ×
// 100,000 PNG is a few kilobytes) and returns its resolution.
func (l Limits) checkSize(f Format, page, w, h int) error {
	if w < l.MinSide || h < l.MinSide {
		return &DocumentError{Kind: KindImageTooSmall, Format: f, Page: page, Limit: int64(l.MinSide)}
	}
	if int64(w)*int64(h) > l.MaxPixels {
		return &DocumentError{Kind: KindImageTooLarge, Format: f, Page: page, Limit: l.MaxPixels}
	}
	return nil
}

// decodeRaster decodes a PNG or JPEG page.
func decodeRaster(f Format, data []byte, l Limits) (ocr.Image, error) {
	cfg, err := decodeConfig(f, data)
	if err != nil {
		return ocr.Image{}, rasterError(f, data, err)
	}
	if err := l.checkSize(f, 0, cfg.Width, cfg.Height); err != nil {
		return ocr.Image{}, err
	}
	var img image.Image
	switch f {
	case PNG:
		img, err = png.Decode(bytes.NewReader(data))
	case JPEG:
		img, err = jpeg.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return ocr.Image{}, rasterError(f, data, err)
	}
	dpi := 0
	switch f {
	case PNG:
		dpi = pngDPI(data)
	case JPEG:
		dpi = jfifDPI(data)
	}
	// Tesseract gets the file as it came: no re-encoding.
	return ocr.Image{Pix: ocr.Gray(img), DPI: plausibleDPI(dpi, cfg.Width), Encoded: data}, nil
}

func decodeConfig(f Format, data []byte) (image.Config, error) {
	switch f {
	case PNG:
		return png.DecodeConfig(bytes.NewReader(data))
	case JPEG:
		return jpeg.DecodeConfig(bytes.NewReader(data))
	}
	return tiff.DecodeConfig(bytes.NewReader(data))
}

// rasterError tells a cut-short PNG or JPEG (no end marker: IEND chunk,
// EOI) from a damaged one.
func rasterError(f Format, data []byte, err error) error {
	tail := data[max(0, len(data)-64):]
	switch {
	case f == PNG && !bytes.Contains(tail, []byte("IEND")),
		f == JPEG && !bytes.Contains(tail, []byte{0xff, 0xd9}):
		return reject(KindTruncated, f)
	}
	return decodeError(f, err)
}

func decodeError(f Format, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return reject(KindTruncated, f)
	}
	return reject(KindCorrupt, f)
}

// plausibleDPI keeps a recorded resolution between 70 and 1200; otherwise it
// guesses from the width, taking the page for US letter / A4 portrait.
func plausibleDPI(dpi, width int) int {
	if dpi >= 70 && dpi <= 1200 {
		return dpi
	}
	guess := int(math.Round(float64(width) / 8.5))
	return min(max(guess, 70), 600)
}

// pngDPI reads the pHYs chunk (pixels per metre), 0 when absent.
func pngDPI(data []byte) int {
	p := 8
	for p+8 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[p:]))
		typ := string(data[p+4 : p+8])
		if typ == "IDAT" || n < 0 || p+12+n > len(data) {
			return 0
		}
		if typ == "pHYs" && n >= 9 && data[p+8+8] == 1 {
			return int(math.Round(float64(binary.BigEndian.Uint32(data[p+8:])) * 0.0254))
		}
		p += 12 + n
	}
	return 0
}

// jfifDPI reads the JFIF APP0 density, 0 when absent.
func jfifDPI(data []byte) int {
	if len(data) < 18 || data[2] != 0xff || data[3] != 0xe0 || string(data[6:11]) != "JFIF\x00" {
		return 0
	}
	d := int(binary.BigEndian.Uint16(data[14:]))
	switch data[13] {
	case 1:
		return d
	case 2:
		return int(math.Round(float64(d) * 2.54))
	}
	return 0
}

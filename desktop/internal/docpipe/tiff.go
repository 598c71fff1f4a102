package docpipe

import (
	"bytes"
	"encoding/binary"
	"math"

	"golang.org/x/image/tiff"

	"healthprep.dev/desktop/internal/ocr"
)

// tiffFile indexes the pages (IFDs) of a TIFF. golang.org/x/image/tiff
// decodes only the first page, so a page is decoded from a copy whose
// header points at that page's IFD and whose IFD has no successor.
type tiffFile struct {
	data  []byte
	order binary.ByteOrder
	ifds  []uint32
}

// maxTIFFPages bounds the IFD walk whatever Limits say: a crafted chain
// cannot make it run long.
const maxTIFFPages = 100_000

func openTIFF(data []byte) (*tiffFile, error) {
	if len(data) < 8 {
		return nil, reject(KindTruncated, TIFF)
	}
	t := &tiffFile{data: data, order: binary.LittleEndian}
	if data[0] == 'M' {
		t.order = binary.BigEndian
	}
	seen := map[uint32]bool{}
	off := t.order.Uint32(data[4:])
	for off != 0 {
		if seen[off] || len(t.ifds) >= maxTIFFPages {
			return nil, reject(KindCorrupt, TIFF)
		}
		seen[off] = true
		if int64(off)+2 > int64(len(data)) {
			return nil, reject(KindTruncated, TIFF)
		}
		n := int64(t.order.Uint16(data[off:]))
		end := int64(off) + 2 + 12*n + 4
		if end > int64(len(data)) {
			return nil, reject(KindTruncated, TIFF)
		}
		t.ifds = append(t.ifds, off)
		off = t.order.Uint32(data[end-4:])
	}
	if len(t.ifds) == 0 {
		return nil, reject(KindNoPages, TIFF)
	}
	return t, nil
}

func (t *tiffFile) pages() int { return len(t.ifds) }

// page decodes page i (from 0).
func (t *tiffFile) page(i int, l Limits) (ocr.Image, error) {
	one := make([]byte, len(t.data))
	copy(one, t.data)
	off := t.ifds[i]
	t.order.PutUint32(one[4:], off)
	n := int(t.order.Uint16(one[off:]))
	t.order.PutUint32(one[int(off)+2+12*n:], 0)
	cfg, err := tiff.DecodeConfig(bytes.NewReader(one))
	if err != nil {
		return ocr.Image{}, pageErr(decodeError(TIFF, err), i+1)
	}
	if err := l.checkSize(TIFF, i+1, cfg.Width, cfg.Height); err != nil {
		return ocr.Image{}, err
	}
	img, err := tiff.Decode(bytes.NewReader(one))
	if err != nil {
		return ocr.Image{}, pageErr(decodeError(TIFF, err), i+1)
	}
	out := ocr.Image{Pix: ocr.Gray(img), DPI: plausibleDPI(t.dpi(off, n), cfg.Width)}
	if len(t.ifds) == 1 {
		out.Encoded = t.data // a single page goes to Tesseract as it came
	}
	return out, nil
}

func pageErr(err error, page int) error {
	if de, ok := err.(*DocumentError); ok {
		de.Page = page
	}
	return err
}

// dpi reads XResolution and ResolutionUnit from the IFD at off; 0 if absent.
func (t *tiffFile) dpi(off uint32, n int) int {
	var xres float64
	unit := uint16(2)
	for k := 0; k < n; k++ {
		e := t.data[int(off)+2+12*k:]
		tag, typ := t.order.Uint16(e), t.order.Uint16(e[2:])
		switch {
		case tag == 282 && typ == 5: // XResolution, RATIONAL
			p := int64(t.order.Uint32(e[8:]))
			if p+8 <= int64(len(t.data)) {
				num, den := t.order.Uint32(t.data[p:]), t.order.Uint32(t.data[p+4:])
				if den != 0 {
					xres = float64(num) / float64(den)
				}
			}
		case tag == 296 && typ == 3: // ResolutionUnit, SHORT
			unit = t.order.Uint16(e[8:])
		}
	}
	if unit == 3 {
		xres *= 2.54
	}
	return int(math.Round(xres))
}

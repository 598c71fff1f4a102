package docpipe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"healthprep.dev/desktop/internal/ocr"
)

// PDFReader is what the pipeline needs from a PDF library. Errors about the
// document itself are *DocumentError; others are retried.
type PDFReader interface {
	// PageCount opens pdf and counts its pages.
	PageCount(ctx context.Context, pdf []byte) (int, error)
	// TextLayer returns the text-layer words of every page (index i is
	// page i+1), boxes in pixels at dpi.
	TextLayer(ctx context.Context, pdf []byte, dpi int) ([]TextPage, error)
	// Render draws one page (from 1) at dpi in grey.
	Render(ctx context.Context, pdf []byte, page, dpi int) (*image.Gray, error)
}

// TextPage is one page's text layer.
type TextPage struct {
	Width, Height int // pixels at the requested dpi
	Words         []ocr.Word
}

// Poppler reads PDFs with poppler-utils run as processes (pdfinfo,
// pdftotext, pdftoppm; Debian package poppler-utils). The PDF goes in on
// stdin and nothing is written to disk, so no plaintext copy of a document
// is left behind; a crash or hang in a damaged file takes down only the
// child, which is killed when ctx ends.
//
// Why these and not pdfcpu or go-pdfium: pdfcpu (pure Go) cannot rasterise
// and its content extraction yields raw content streams, not text (no
// font-encoding or ToUnicode mapping, no positions); pdftotext maps glyphs
// to Unicode and reports each word's box, which redaction needs. go-pdfium
// in WebAssembly renders far faster per page but takes ≈ 6 s to start,
// embeds a large module, and runs in-process; pdftoppm keeps a malicious
// PDF in a separate, killable process. Windows can bundle poppler's tools
// or supply another PDFReader.
type Poppler struct {
	// Dir holds the executables; "" uses PATH.
	Dir string
}

func (p Poppler) cmd(ctx context.Context, name string, pdf []byte, args ...string) *exec.Cmd {
	path := name
	if p.Dir != "" {
		path = filepath.Join(p.Dir, name) // exec adds ".exe" on Windows
	}
	c := exec.CommandContext(ctx, path, args...)
	c.Stdin = bytes.NewReader(pdf)
	c.WaitDelay = 2 * time.Second
	return c
}

// run runs a poppler tool and classifies failure. stderr is examined for the
// password message but never returned.
func (p Poppler) run(ctx context.Context, name string, pdf []byte, args ...string) ([]byte, error) {
	c := p.cmd(ctx, name, pdf, args...)
	var out, stderr bytes.Buffer
	c.Stdout, c.Stderr = &out, &limitedWriter{w: &stderr, n: 4096}
	err := c.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return nil, fmt.Errorf("running %s: %w", name, err)
		}
		if strings.Contains(stderr.String(), "Incorrect password") || exit.ExitCode() == 3 && name != "pdftoppm" {
			return nil, reject(KindPasswordProtected, PDF)
		}
		if exit.ExitCode() == 1 {
			return nil, reject(KindCorrupt, PDF)
		}
		return nil, fmt.Errorf("%s exited with status %d", name, exit.ExitCode())
	}
	return out.Bytes(), nil
}

// PageCount runs pdfinfo.
func (p Poppler) PageCount(ctx context.Context, pdf []byte) (int, error) {
	out, err := p.run(ctx, "pdfinfo", pdf, "fd://0")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pages:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0, reject(KindCorrupt, PDF)
			}
			return n, nil
		}
	}
	return 0, reject(KindCorrupt, PDF)
}

// TextLayer runs pdftotext -bbox-layout once for the whole document.
func (p Poppler) TextLayer(ctx context.Context, pdf []byte, dpi int) ([]TextPage, error) {
	out, err := p.run(ctx, "pdftotext", pdf, "-q", "-enc", "UTF-8", "-bbox-layout", "fd://0", "-")
	if err != nil {
		return nil, err
	}
	pages, err := parseBBoxLayout(out, float64(dpi)/72)
	if err != nil {
		return nil, reject(KindCorrupt, PDF)
	}
	return pages, nil
}

func parseBBoxLayout(out []byte, scale float64) ([]TextPage, error) {
	d := xml.NewDecoder(bytes.NewReader(out))
	d.Strict = false
	d.Entity = xml.HTMLEntity
	var pages []TextPage
	var cur *TextPage
	block, line := 0, 0
	attr := func(se xml.StartElement, name string) float64 {
		for _, a := range se.Attr {
			if a.Name.Local == name {
				f, err := strconv.ParseFloat(a.Value, 64)
				if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
					return f
				}
			}
		}
		return 0
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "page":
			pages = append(pages, TextPage{
				Width:  int(math.Round(attr(se, "width") * scale)),
				Height: int(math.Round(attr(se, "height") * scale)),
			})
			cur = &pages[len(pages)-1]
		case "block":
			block++
		case "line":
			line++
		case "word":
			if cur == nil {
				continue
			}
			var text string
			if err := d.DecodeElement(&text, &se); err != nil {
				return nil, err
			}
			text = strings.TrimSpace(text)
			if text == "" {
				continue
			}
			box := image.Rect(
				int(math.Floor(attr(se, "xMin")*scale)), int(math.Floor(attr(se, "yMin")*scale)),
				int(math.Ceil(attr(se, "xMax")*scale)), int(math.Ceil(attr(se, "yMax")*scale)),
			).Intersect(image.Rect(0, 0, cur.Width, cur.Height))
			cur.Words = append(cur.Words, ocr.Word{Text: text, Box: box, Confidence: 100, Line: line, Block: block})
		}
	}
	// Number lines and blocks from 1 within each page.
	for i := range pages {
		renumber(pages[i].Words)
	}
	return pages, nil
}

func renumber(words []ocr.Word) {
	lines, blocks := map[int]int{}, map[int]int{}
	for i, w := range words {
		if _, ok := lines[w.Line]; !ok {
			lines[w.Line] = len(lines) + 1
		}
		if _, ok := blocks[w.Block]; !ok {
			blocks[w.Block] = len(blocks) + 1
		}
		words[i].Line, words[i].Block = lines[w.Line], blocks[w.Block]
	}
}

// Render runs pdftoppm -gray for one page and reads the PGM it writes to
// stdout.
func (p Poppler) Render(ctx context.Context, pdf []byte, page, dpi int) (*image.Gray, error) {
	n := strconv.Itoa(page)
	out, err := p.run(ctx, "pdftoppm", pdf, "-q", "-gray", "-r", strconv.Itoa(dpi), "-f", n, "-l", n, "fd://0")
	if err != nil {
		return nil, err
	}
	g, err := readPGM(out)
	if err != nil {
		return nil, reject(KindCorrupt, PDF)
	}
	return g, nil
}

// readPGM decodes a binary 8-bit PGM (P5), as pdftoppm -gray writes.
func readPGM(b []byte) (*image.Gray, error) {
	fields := make([]int, 0, 3)
	p := 2
	if !bytes.HasPrefix(b, []byte("P5")) {
		return nil, errors.New("not a PGM")
	}
	for len(fields) < 3 {
		for p < len(b) && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t') {
			p++
		}
		if p < len(b) && b[p] == '#' {
			for p < len(b) && b[p] != '\n' {
				p++
			}
			continue
		}
		s := p
		for p < len(b) && b[p] >= '0' && b[p] <= '9' {
			p++
		}
		v, err := strconv.Atoi(string(b[s:p]))
		if err != nil {
			return nil, errors.New("bad PGM header")
		}
		fields = append(fields, v)
	}
	p++ // the single whitespace after maxval
	w, h, maxv := fields[0], fields[1], fields[2]
	if w <= 0 || h <= 0 || maxv != 255 || int64(w)*int64(h) > int64(len(b)-p) {
		return nil, errors.New("bad PGM size")
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	copy(g.Pix, b[p:p+w*h])
	return g, nil
}

// limitedWriter keeps the first n bytes.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		l.w.Write(b[:k]) //nolint:errcheck // a bytes.Buffer
		l.n -= k
	}
	return len(b), nil
}

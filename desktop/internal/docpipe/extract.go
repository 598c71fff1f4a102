package docpipe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"healthprep.dev/desktop/internal/ocr"
)

// Limits bound what one document may cost. Zero fields take the defaults.
type Limits struct {
	MaxBytes  int64 // default 256 MiB
	MaxPages  int   // default 500
	MinSide   int   // smallest page image side in pixels; default 32
	MaxPixels int64 // largest page image; default 150 megapixels
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 256 << 20
	}
	if l.MaxPages <= 0 {
		l.MaxPages = 500
	}
	if l.MinSide <= 0 {
		l.MinSide = 32
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = 150_000_000
	}
	return l
}

// Source says where a page's text came from.
type Source string

// Page text sources.
const (
	SourceTextLayer Source = "text-layer"
	SourceOCR       Source = "ocr"
)

// PageResult is one page of a document. Text-layer words have confidence
// 100 and boxes in pixels at ExtractorConfig.DPI.
type PageResult struct {
	Number int // from 1
	Source Source
	ocr.Page
}

// Extraction is a document's text with word boxes, page by page.
type Extraction struct {
	Format Format
	Pages  []PageResult
}

// Text joins the pages' text with form feeds.
func (x Extraction) Text() string {
	parts := make([]string, len(x.Pages))
	for i, p := range x.Pages {
		parts[i] = p.Text()
	}
	return strings.Join(parts, "\f")
}

// Review lists the pages (from 1) flagged for a person to check.
func (x Extraction) Review() []int {
	var out []int
	for _, p := range x.Pages {
		if p.Flags&(ocr.FlagLowConfidence|ocr.FlagNoText) != 0 {
			out = append(out, p.Number)
		}
	}
	return out
}

// ExtractorConfig configures an Extractor.
type ExtractorConfig struct {
	// Workers is how many pages are rendered and recognised at once, each
	// with its own engine. 0 means runtime.NumCPU().
	Workers int
	// NewEngine makes one OCR engine per worker.
	NewEngine func() (ocr.Engine, error)
	// PDF reads PDFs; nil means Poppler{}.
	PDF    PDFReader
	Limits Limits
	// DPI is the resolution PDF pages are rendered at; 0 means 300, the
	// resolution Tesseract's models are best at.
	DPI int
	// OCR tunes recognition and review flags.
	OCR ocr.Options
	// MinLayerChars: a PDF page whose text layer has at least this many
	// letters and digits is taken as is, without OCR. 0 means 16.
	MinLayerChars int
	// Timeout bounds one document; 0 means 10 minutes.
	Timeout time.Duration
}

// Extractor turns document bytes into an Extraction: the text layer where
// a PDF page has one, OCR otherwise. It is safe for concurrent use; the
// workers (engines) are shared by all documents in flight.
type Extractor struct {
	cfg     ExtractorConfig
	engines chan ocr.Engine
	all     []ocr.Engine
}

// NewExtractor starts cfg.Workers engines.
func NewExtractor(cfg ExtractorConfig) (*Extractor, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = defaultWorkers()
	}
	if cfg.NewEngine == nil {
		return nil, errors.New("docpipe: ExtractorConfig.NewEngine is required")
	}
	if cfg.PDF == nil {
		cfg.PDF = Poppler{}
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.DPI <= 0 {
		cfg.DPI = 300
	}
	if cfg.MinLayerChars <= 0 {
		cfg.MinLayerChars = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	x := &Extractor{cfg: cfg, engines: make(chan ocr.Engine, cfg.Workers)}
	for i := 0; i < cfg.Workers; i++ {
		e, err := cfg.NewEngine()
		if err != nil {
			x.Close()
			return nil, fmt.Errorf("starting OCR engine %d: %w", i+1, err)
		}
		x.all = append(x.all, e)
		x.engines <- e
	}
	return x, nil
}

// Workers is the number of engines.
func (x *Extractor) Workers() int { return len(x.all) }

// Close closes the engines. No Extract may be running.
func (x *Extractor) Close() error {
	var errs []error
	for _, e := range x.all {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// Extract reads one document. Problems with the document itself are
// *DocumentError (see Rejection); a document over the time limit is
// ErrTimeout.
func (x *Extractor) Extract(ctx context.Context, data []byte) (Extraction, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, x.cfg.Timeout, ErrTimeout)
	defer cancel()
	ex, err := x.extract(ctx, data)
	if err != nil && errors.Is(context.Cause(ctx), ErrTimeout) {
		return Extraction{}, &DocumentError{Kind: KindTimeout, Format: ex.Format}
	}
	if de, ok := Rejection(err); ok && de.Format == "" {
		de.Format = ex.Format
	}
	return ex, err
}

func (x *Extractor) extract(ctx context.Context, data []byte) (ex Extraction, err error) {
	defer recoverCorrupt(&ex, &err)
	lim := x.cfg.Limits
	if int64(len(data)) > lim.MaxBytes {
		return Extraction{}, &DocumentError{Kind: KindTooLarge, Limit: lim.MaxBytes}
	}
	f, err := Sniff(data)
	if err != nil {
		return Extraction{}, err
	}
	ex = Extraction{Format: f}
	switch f {
	case PDF:
		ex.Pages, err = x.pdf(ctx, data)
	case TIFF:
		ex.Pages, err = x.tiff(ctx, data)
	default:
		ex.Pages = make([]PageResult, 1)
		err = x.ocrPages(ctx, ex.Pages, []int{1}, func(int) (ocr.Image, error) { return decodeRaster(f, data, lim) })
	}
	if err != nil {
		return ex, err
	}
	return ex, nil
}

func (x *Extractor) pdf(ctx context.Context, data []byte) ([]PageResult, error) {
	if !bytes.Contains(data[max(0, len(data)-1024):], []byte("%%EOF")) {
		return nil, reject(KindTruncated, PDF)
	}
	n, err := x.cfg.PDF.PageCount(ctx, data)
	if err != nil {
		return nil, err
	}
	if err := x.checkPages(PDF, n); err != nil {
		return nil, err
	}
	layer, err := x.cfg.PDF.TextLayer(ctx, data, x.cfg.DPI)
	if err != nil {
		return nil, err
	}
	pages := make([]PageResult, n)
	var todo []int
	for i := range pages {
		if i < len(layer) && countAlnum(layer[i].Words) >= x.cfg.MinLayerChars {
			lp := layer[i]
			pages[i] = PageResult{Number: i + 1, Source: SourceTextLayer, Page: ocr.Page{
				Width: lp.Width, Height: lp.Height, DPI: x.cfg.DPI, Words: lp.Words,
				MeanConfidence: ocr.MeanConfidence(lp.Words),
			}}
			continue
		}
		todo = append(todo, i+1)
	}
	err = x.ocrPages(ctx, pages, todo, func(page int) (ocr.Image, error) {
		g, err := x.cfg.PDF.Render(ctx, data, page, x.cfg.DPI)
		if err != nil {
			return ocr.Image{}, pageErr(err, page)
		}
		if err := x.cfg.Limits.checkSize(PDF, page, g.Rect.Dx(), g.Rect.Dy()); err != nil {
			return ocr.Image{}, err
		}
		return ocr.Image{Pix: g, DPI: x.cfg.DPI}, nil
	})
	return pages, err
}

func (x *Extractor) tiff(ctx context.Context, data []byte) ([]PageResult, error) {
	t, err := openTIFF(data)
	if err != nil {
		return nil, err
	}
	if err := x.checkPages(TIFF, t.pages()); err != nil {
		return nil, err
	}
	pages := make([]PageResult, t.pages())
	todo := make([]int, len(pages))
	for i := range todo {
		todo[i] = i + 1
	}
	return pages, x.ocrPages(ctx, pages, todo, func(page int) (ocr.Image, error) { return t.page(page-1, x.cfg.Limits) })
}

func (x *Extractor) checkPages(f Format, n int) error {
	if n <= 0 {
		return reject(KindNoPages, f)
	}
	if n > x.cfg.Limits.MaxPages {
		return &DocumentError{Kind: KindTooManyPages, Format: f, Pages: n, Limit: int64(x.cfg.Limits.MaxPages)}
	}
	return nil
}

// ocrPages recognises the listed pages (from 1), each on an engine taken
// from the shared pool; the page image is made (decoded or rendered) only
// once an engine is free, so at most Workers page images are in memory and
// rendering counts against the same cores. The first error stops the rest.
func (x *Extractor) ocrPages(ctx context.Context, pages []PageResult, todo []int, image func(page int) (ocr.Image, error)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	for _, n := range todo {
		var e ocr.Engine
		select {
		case e = <-x.engines:
		case <-ctx.Done():
		}
		if e == nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { x.engines <- e }()
			defer func() {
				if r := recover(); r != nil {
					fail(&DocumentError{Kind: KindCorrupt, Page: n})
				}
			}()
			img, err := image(n)
			if err != nil {
				fail(err)
				return
			}
			p, err := ocr.Recognize(ctx, e, img, x.cfg.OCR)
			if err != nil {
				fail(fmt.Errorf("page %d: %w", n, err))
				return
			}
			pages[n-1] = PageResult{Number: n, Source: SourceOCR, Page: p}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func countAlnum(words []ocr.Word) int {
	n := 0
	for _, w := range words {
		for _, r := range w.Text {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				n++
			}
		}
	}
	return n
}

// recoverCorrupt turns a panic while reading a document (a decoder tripping
// over a hostile file) into a KindCorrupt rejection: one bad file must not
// take the workstation's pipeline down. The panic value is dropped, as it
// may quote the file.
func recoverCorrupt(ex *Extraction, err *error) {
	if r := recover(); r != nil {
		*err = &DocumentError{Kind: KindCorrupt, Format: ex.Format}
	}
}

// Package doceval evaluates the whole document pipeline on generated
// documents (package docgen): each document is set as a text PDF and
// rasterised twice — a clean 300-dpi scan and a noisy one (150–300 dpi,
// skewed within ±2°, grey noise and dust, JPEG artefacts) — and every
// version goes through the workstation's Extractor, PHI redaction (with
// the patient's own identifiers, as the workstation has them) and
// classification. It reports OCR character and word error rates, PHI
// token recall per category, precision and F2 on text and on scans,
// classification accuracy, and the pipeline's pages per second next to
// the plain `tesseract` command's on the same pages and cores.
//
// It runs Poppler and Tesseract as processes and keeps every document in
// memory; nothing is written but the page files plain tesseract reads, in
// a temporary directory removed at the end.
package doceval

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"healthprep.dev/desktop/internal/docgen"
	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
	"healthprep.dev/shared/preset"
)

// Config says what to evaluate.
type Config struct {
	Docs int
	Seed uint64
	// Workers is the number of OCR engines and of plain tesseract
	// processes at once; 0 means runtime.NumCPU().
	Workers int
	// Tesseract is the executable for the plain-tesseract comparison; ""
	// means "tesseract" on PATH.
	Tesseract string
}

// Condition is one rendering of the documents.
type Condition struct {
	Name  string
	Pages int
	PHI   docgen.Report
	// Dropped counts PHI tokens the extraction lost (not in the text).
	Dropped int
	// OCR is the error tally against the generated text (scans only).
	OCR        docgen.ErrorRates
	Classified int // documents whose type was right
	Dated      int // documents whose date of service was right, of DateTruth
	DateTruth  int
	Evidence   int // evidence items found
	// Seconds is the wall time of the pipeline over the condition's
	// documents (extraction, redaction, classification, evidence).
	Seconds float64
}

// Accuracy is the share of documents classified right.
func (c Condition) Accuracy() float64 { return float64(c.Classified) / float64(max(1, c.PHI.Docs)) }

// Report is the evaluation's outcome.
type Report struct {
	Docs, Workers int
	Text          Condition
	Clean         Condition
	Noisy         Condition
	// TesseractSeconds is the wall time of plain `tesseract FILE stdout`
	// over the clean and noisy pages with Workers processes at once.
	TesseractSeconds float64
}

// PipelinePagesPerSecond is the scanned pages over the pipeline's time.
func (r Report) PipelinePagesPerSecond() float64 {
	return float64(r.Clean.Pages+r.Noisy.Pages) / (r.Clean.Seconds + r.Noisy.Seconds)
}

// TesseractPagesPerSecond is the same pages over plain tesseract's time.
func (r Report) TesseractPagesPerSecond() float64 {
	return float64(r.Clean.Pages+r.Noisy.Pages) / r.TesseractSeconds
}

// doc is one generated document in all its renderings.
type doc struct {
	docgen.Doc
	pdf          []byte
	clean, noisy [][]byte // page files
}

// Run generates, renders and evaluates.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	lib, err := preset.Default()
	if err != nil {
		return Report{}, fmt.Errorf("loading the screening library: %w", err)
	}
	an := docpipe.Analyzer{Classifier: doctype.NewClassifier(), Evidence: doctype.NewFinder(lib)}
	x, err := docpipe.NewExtractor(docpipe.ExtractorConfig{
		Workers:   cfg.Workers,
		NewEngine: func() (ocr.Engine, error) { return tesscmd.New(tesscmd.Config{Path: cfg.Tesseract}) },
	})
	if err != nil {
		return Report{}, err
	}
	defer x.Close()

	docs, err := prepare(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Docs: len(docs), Workers: cfg.Workers}
	det := phi.NewDetector(phi.Options{})
	conds := []struct {
		c     *Condition
		name  string
		files func(d doc) [][]byte
	}{
		{&rep.Text, "text PDF", func(d doc) [][]byte { return [][]byte{d.pdf} }},
		{&rep.Clean, "clean scan, 300 dpi", func(d doc) [][]byte { return d.clean }},
		{&rep.Noisy, "noisy scan, 150-300 dpi", func(d doc) [][]byte { return d.noisy }},
	}
	for _, cd := range conds {
		c, err := evaluate(ctx, x, det, an, docs, cd.files, cfg.Workers)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", cd.name, err)
		}
		c.Name = cd.name
		*cd.c = c
	}
	rep.TesseractSeconds, err = plainTesseract(ctx, cfg, docs)
	return rep, err
}

// prepare generates the documents and renders them.
func prepare(ctx context.Context, cfg Config) ([]doc, error) {
	gen := docgen.GenerateAll(cfg.Seed, cfg.Docs)
	docs := make([]doc, len(gen))
	errs := make([]error, len(gen))
	sem := make(chan struct{}, cfg.Workers)
	var wg sync.WaitGroup
	for i, g := range gen {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			docs[i], errs[i] = render(ctx, g, r)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func render(ctx context.Context, g docgen.Doc, r *rand.Rand) (doc, error) {
	d := doc{Doc: g}
	var err error
	if d.pdf, err = docgen.RenderPDF(g); err != nil {
		return d, err
	}
	var pop docpipe.Poppler
	n, err := pop.PageCount(ctx, d.pdf)
	if err != nil {
		return d, fmt.Errorf("counting pages: %w", err)
	}
	for p := 1; p <= n; p++ {
		clean, err := pop.Render(ctx, d.pdf, p, 300)
		if err != nil {
			return d, fmt.Errorf("rendering page %d: %w", p, err)
		}
		d.clean = append(d.clean, pngWithDPI(clean, 300))
		dpi := []int{150, 200, 240, 300}[r.IntN(4)]
		raw, err := pop.Render(ctx, d.pdf, p, dpi)
		if err != nil {
			return d, fmt.Errorf("rendering page %d: %w", p, err)
		}
		n := docgen.RandomNoise(r)
		jpg, err := docgen.EncodeJPEG(docgen.Degrade(raw, n, r), dpi, n.JPEGQuality)
		if err != nil {
			return d, err
		}
		d.noisy = append(d.noisy, jpg)
	}
	return d, nil
}

// evaluate runs every document's files through the pipeline, Workers
// documents at once, and scores the results.
func evaluate(ctx context.Context, x *docpipe.Extractor, det *phi.Detector, an docpipe.Analyzer, docs []doc, files func(doc) [][]byte, workers int) (Condition, error) {
	texts := make([]string, len(docs))
	spans := make([][]phi.Span, len(docs))
	results := make([]docpipe.DocumentResult, len(docs))
	errs := make([]error, len(docs))
	pages := 0
	for _, d := range docs {
		pages += len(files(d))
	}
	start := time.Now()
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, d := range docs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// A multi-page scan is one file per page, as a sheet feeder
			// delivers it; their texts join with form feeds like a PDF's.
			var ex docpipe.Extraction
			for _, f := range files(d) {
				e, err := x.Extract(ctx, f)
				if err != nil {
					errs[i] = err
					return
				}
				ex.Format = e.Format
				ex.Pages = append(ex.Pages, e.Pages...)
			}
			texts[i] = ex.Text()
			red := det.Redact(texts[i], &d.Patient)
			spans[i] = red.Spans
			results[i] = an.Analyze(fmt.Sprintf("doc-%d", i), files(d)[0], ex, red)
		}()
	}
	wg.Wait()
	c := Condition{Pages: pages, Seconds: time.Since(start).Seconds()}
	for _, err := range errs {
		if err != nil {
			return c, err
		}
	}
	gen := make([]docgen.Doc, len(docs))
	for i, d := range docs {
		gen[i] = d.Doc
		c.OCR.Add(d.Text, texts[i])
		cl := results[i].Classification()
		if cl.Type == d.Type {
			c.Classified++
		}
		if !d.ServiceDate.IsZero() {
			c.DateTruth++
			if cl.ServiceDate == d.ServiceDate {
				c.Dated++
			}
		}
		c.Evidence += len(results[i].Evidence())
	}
	c.PHI, c.Dropped = docgen.ScoreExtracted(gen, texts, spans)
	return c, nil
}

// plainTesseract times `tesseract FILE stdout` over the scanned pages,
// workers processes at once, each single-threaded as the pipeline's are.
func plainTesseract(ctx context.Context, cfg Config, docs []doc) (float64, error) {
	dir, err := os.MkdirTemp("", "healthprep-evaldocs-")
	if err != nil {
		return 0, fmt.Errorf("making a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	var files []string
	for i, d := range docs {
		for p, b := range append(append([][]byte{}, d.clean...), d.noisy...) {
			ext := ".png"
			if p >= len(d.clean) {
				ext = ".jpg"
			}
			f := filepath.Join(dir, fmt.Sprintf("%d-%d%s", i, p, ext))
			if err := os.WriteFile(f, b, 0o600); err != nil {
				return 0, fmt.Errorf("writing a page: %w", err)
			}
			files = append(files, f)
		}
	}
	bin := cfg.Tesseract
	if bin == "" {
		bin = "tesseract"
	}
	start := time.Now()
	sem := make(chan struct{}, cfg.Workers)
	errs := make(chan error, len(files))
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := exec.CommandContext(ctx, bin, f, "stdout")
			c.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
			c.Stdout, c.Stderr = io.Discard, io.Discard
			if err := c.Run(); err != nil {
				errs <- fmt.Errorf("running tesseract: %w", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

// pngWithDPI encodes g with a pHYs chunk (Go's encoder writes none).
func pngWithDPI(g image.Image, dpi int) []byte {
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, g); err != nil {
		panic(err) // encoding to memory fails only on a programmer error
	}
	ppm := uint32(float64(dpi)/0.0254 + 0.5)
	data := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, ppm), ppm)
	data = append(data, 1)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(append(chunk, "pHYs"...), data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(append([]byte("pHYs"), data...)))
	out := append([]byte{}, b.Bytes()[:33]...)
	return append(append(out, chunk...), b.Bytes()[33:]...)
}

// Print writes the report.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "Document pipeline evaluation: %d generated documents, %d workers\n\n", r.Docs, r.Workers)
	fmt.Fprintf(w, "OCR error rates against the generated text (whitespace normalised)\n")
	for _, c := range []Condition{r.Clean, r.Noisy} {
		fmt.Fprintf(w, "  %-26s %3d pages  CER %6.2f %%  WER %6.2f %%\n", c.Name, c.Pages, 100*c.OCR.CER(), 100*c.OCR.WER())
	}
	for _, c := range []Condition{r.Text, r.Clean, r.Noisy} {
		fmt.Fprintln(w)
		c.PHI.Print(w, "PHI detection on "+c.Name+", with the patient's identifiers")
		if c.Dropped > 0 {
			fmt.Fprintf(w, "  (%d PHI tokens lost by OCR are absent from the text and not counted)\n", c.Dropped)
		}
	}
	fmt.Fprintf(w, "\nClassification\n")
	for _, c := range []Condition{r.Text, r.Clean, r.Noisy} {
		fmt.Fprintf(w, "  %-26s type %5.1f %% (%d/%d)   date of service %5.1f %% (%d/%d)   evidence items %d\n", c.Name,
			100*c.Accuracy(), c.Classified, c.PHI.Docs, 100*float64(c.Dated)/float64(max(1, c.DateTruth)), c.Dated, c.DateTruth, c.Evidence)
	}
	fmt.Fprintf(w, "\nThroughput on the %d scanned pages, %d at once\n", r.Clean.Pages+r.Noisy.Pages, r.Workers)
	fmt.Fprintf(w, "  pipeline (extract, OCR, redact, classify, evidence)  %.2f pages/s\n", r.PipelinePagesPerSecond())
	fmt.Fprintf(w, "  plain tesseract FILE stdout                          %.2f pages/s\n", r.TesseractPagesPerSecond())
	fmt.Fprintf(w, "  ratio %.2f\n", r.PipelinePagesPerSecond()/r.TesseractPagesPerSecond())
}

// Targets returns the targets r misses.
func (r Report) Targets() []string {
	var missed []string
	for _, c := range []Condition{r.Text, r.Clean, r.Noisy} {
		for _, m := range docgen.Targets(c.PHI) {
			missed = append(missed, c.Name+": "+m)
		}
		if a := c.Accuracy(); a < 0.95 {
			missed = append(missed, fmt.Sprintf("%s: classification %.3f < 0.95", c.Name, a))
		}
	}
	if cer := r.Clean.OCR.CER(); cer > 0.02 {
		missed = append(missed, fmt.Sprintf("clean CER %.4f > 0.02", cer))
	}
	if cer := r.Noisy.OCR.CER(); cer > 0.05 {
		missed = append(missed, fmt.Sprintf("noisy CER %.4f > 0.05", cer))
	}
	if ratio := r.PipelinePagesPerSecond() / r.TesseractPagesPerSecond(); ratio < 0.9 {
		missed = append(missed, fmt.Sprintf("throughput ratio %.2f < 0.9", ratio))
	}
	return missed
}

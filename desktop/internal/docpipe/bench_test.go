package docpipe_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/queuefile"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/ocrtest"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
	"healthprep.dev/shared/phi"
)

// benchPages is how many full letter pages at 300 dpi each benchmark
// iteration reads.
const benchPages = 8

// Throughput benchmarks: the whole pipeline (file queue, PNG decode, OCR,
// redaction, sink) against the plain `tesseract` command on the same PNG
// pages with the same number of workers (one per core, OMP_THREAD_LIMIT=1
// each). Compare the pages/s metrics; the target is pipeline ≥ 0.9× plain.
//
//	go test -run '^$' -bench . -benchtime 2x ./internal/docpipe/
func benchFiles(b *testing.B) []string {
	b.Helper()
	dir := b.TempDir()
	var files []string
	for i := 0; i < benchPages; i++ {
		lines := append(append([]string{}, ocrtest.Prose[i%len(ocrtest.Prose):]...), ocrtest.Prose[:i%len(ocrtest.Prose)]...)
		lines = append(lines, lines...)
		s, err := ocrtest.RenderPage(lines[:24], ocrtest.Layout{})
		if err != nil {
			b.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("page%02d.png", i))
		if err := os.WriteFile(f, pngBytes(b, s.Image.Pix), 0o600); err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// reportPagesPerSecond reports wall-clock pages/s and CPU seconds per
// page. On a machine shared with other work the second is the steadier
// measure of what a dedicated core would do.
func reportPagesPerSecond(b *testing.B, pages int, d, cpu time.Duration) {
	b.ReportMetric(float64(pages)/d.Seconds(), "pages/s")
	b.ReportMetric(cpu.Seconds()/float64(pages), "cpu-s/page")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkTesseractCommand(b *testing.B) {
	files := benchFiles(b)
	workers := runtime.NumCPU()
	env := append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var total time.Duration
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		work := make(chan string)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for f := range work {
					cmd := exec.Command("tesseract", f, "stdout")
					cmd.Env = env
					if err := cmd.Run(); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for _, f := range files {
			work <- f
		}
		close(work)
		wg.Wait()
		total += time.Since(start)
	}
	reportPagesPerSecond(b, b.N*len(files), total, cpuTime()-cpu0)
}

type fileLoader struct{}

func (fileLoader) Load(_ context.Context, job docpipe.Job) ([]byte, error) {
	return os.ReadFile(job.Source)
}

type discardSink struct{}

func (discardSink) Store(context.Context, docpipe.Result) error { return nil }

func benchPipeline(b *testing.B, newEngine func() (ocr.Engine, error)) {
	files := benchFiles(b)
	x, err := docpipe.NewExtractor(docpipe.ExtractorConfig{NewEngine: newEngine})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	var total, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		q, err := queuefile.Open(filepath.Join(b.TempDir(), "queue.json"))
		if err != nil {
			b.Fatal(err)
		}
		p, err := docpipe.New(docpipe.Config{Extractor: x, Queue: q, Loader: fileLoader{}, Sink: discardSink{},
			Redactor: docpipe.PHIRedactor{Detector: phi.NewDetector(phi.Options{})}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		for j, f := range files {
			if err := p.Enqueue(context.Background(), docpipe.Job{ID: fmt.Sprint(j), Source: f}); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Drain(context.Background()); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		cpu += cpuTime() - cpu0
		b.StopTimer()
		if done, _ := q.List(context.Background(), docpipe.StateDone); len(done) != len(files) {
			b.Fatalf("%d of %d pages done", len(done), len(files))
		}
		b.StartTimer()
	}
	reportPagesPerSecond(b, b.N*len(files), total, cpu)
}

func BenchmarkPipelineTesscmd(b *testing.B) {
	benchPipeline(b, func() (ocr.Engine, error) { return tesscmd.New(tesscmd.Config{}) })
}

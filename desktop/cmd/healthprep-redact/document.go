package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/tesscmd"
)

// MaxDocument is the largest --ocr document accepted, in bytes: the
// pipeline's own default limit.
const MaxDocument = 256 << 20

// extractDocument runs the file through the workstation's document
// pipeline (text layer where a PDF page has one, Tesseract otherwise) and
// returns the extracted text. A document the pipeline refuses comes back as
// a *docpipe.DocumentError, whose message names the reason and nothing of
// the content.
func extractDocument(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening --ocr document: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxDocument+1))
	if err != nil {
		return "", fmt.Errorf("reading --ocr document: %w", err)
	}
	x, err := docpipe.NewExtractor(docpipe.ExtractorConfig{
		NewEngine: func() (ocr.Engine, error) { return tesscmd.New(tesscmd.Config{}) },
		Limits:    docpipe.Limits{MaxBytes: MaxDocument},
	})
	if err != nil {
		return "", fmt.Errorf("starting OCR (is tesseract installed?): %w", err)
	}
	defer x.Close()
	ex, err := x.Extract(ctx, data)
	if err != nil {
		return "", err
	}
	return ex.Text(), nil
}

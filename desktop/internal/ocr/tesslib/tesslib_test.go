//go:build cgo

package tesslib_test

import (
	"testing"

	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/ocrtest"
	"healthprep.dev/desktop/internal/ocr/tesslib"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	ocrtest.Run(t, func(t *testing.T) ocr.Engine {
		e, err := tesslib.New(tesslib.Config{})
		if err != nil {
			t.Fatalf("tesslib.New: %v (install libtesseract-dev tesseract-ocr-eng tesseract-ocr-osd)", err)
		}
		return e
	})
}

func TestNewMissingLanguage(t *testing.T) {
	t.Parallel()
	if _, err := tesslib.New(tesslib.Config{Languages: []string{"xx-none"}}); err == nil {
		t.Errorf("New with a missing language succeeded, want ErrInit")
	}
}

//go:build cgo

package docpipe_test

import (
	"testing"

	"healthprep.dev/desktop/internal/ocr"
	"healthprep.dev/desktop/internal/ocr/tesslib"
)

func BenchmarkPipelineTesslib(b *testing.B) {
	benchPipeline(b, func() (ocr.Engine, error) { return tesslib.New(tesslib.Config{}) })
}

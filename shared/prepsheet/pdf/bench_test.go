package pdf_test

import (
	"io"
	"testing"

	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/pdf"
	"healthprep.dev/shared/prepsheet/prepsheettest"
)

// BenchmarkWrite renders a typical patient's sheet (25 screening results,
// 40 conditions, 300 entries: 17 pages) as a PDF.
func BenchmarkWrite(b *testing.B) {
	s, err := prepsheet.Assemble(prepsheettest.Large(chicago(b), 25, 60))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := pdf.Write(io.Discard, &s, pdf.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteTypical renders the two-page typical sheet.
func BenchmarkWriteTypical(b *testing.B) {
	s, err := prepsheet.Assemble(prepsheettest.Typical(chicago(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := pdf.Write(io.Discard, &s, pdf.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

package prepsheet_test

import (
	"io"
	"testing"

	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/prepsheettest"
)

// BenchmarkAssembleText assembles and renders as text a typical patient's
// sheet: 25 screening results, 40 conditions, 60 entries per lookback
// section (300 in all, of which about a third fall outside the windows).
func BenchmarkAssembleText(b *testing.B) {
	in := prepsheettest.Large(chicago(b), 25, 60)
	b.ReportAllocs()
	for b.Loop() {
		s, err := prepsheet.Assemble(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := prepsheet.WriteText(io.Discard, &s); err != nil {
			b.Fatal(err)
		}
	}
}

package doceval_test

import (
	"bytes"
	"context"
	"testing"

	"healthprep.dev/desktop/internal/docgen/doceval"
)

// TestSmallEvaluationHoldsTheTargets runs the evaluation on a few
// documents (a few pages per condition) and holds what this machine
// reaches on them. Throughput is measured and printed but not asserted:
// timing belongs in benchmarks (see docpipe's), not in a pass/fail test on
// shared cores.
func TestSmallEvaluationHoldsTheTargets(t *testing.T) {
	t.Parallel()
	rep, err := doceval.Run(context.Background(), doceval.Config{Docs: 3, Seed: 11})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())

	checks := []struct {
		what      string
		got, want float64
		atLeast   bool
	}{
		{"text PDF PHI recall", rep.Text.PHI.Overall.Recall(), 0.99, true},
		{"text PDF PHI precision", rep.Text.PHI.Precision(), 0.95, true},
		{"clean scan PHI recall", rep.Clean.PHI.Overall.Recall(), 0.95, true},
		{"clean scan PHI precision", rep.Clean.PHI.Precision(), 0.95, true},
		{"noisy scan PHI recall", rep.Noisy.PHI.Overall.Recall(), 0.90, true},
		{"clean scan CER", rep.Clean.OCR.CER(), 0.02, false},
		{"noisy scan CER", rep.Noisy.OCR.CER(), 0.05, false},
		{"text PDF classification", rep.Text.Accuracy(), 0.95, true},
		{"noisy scan classification", rep.Noisy.Accuracy(), 0.95, true},
	}
	for _, c := range checks {
		if c.atLeast && c.got < c.want || !c.atLeast && c.got > c.want {
			op := "≥"
			if !c.atLeast {
				op = "≤"
			}
			t.Errorf("%s = %.4f, want %s %.4f", c.what, c.got, op, c.want)
		}
	}
	if rep.Clean.Pages < 3 || rep.Noisy.Pages != rep.Clean.Pages {
		t.Errorf("scanned %d clean and %d noisy pages, want the same ≥ 3", rep.Clean.Pages, rep.Noisy.Pages)
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ecqmDev is where the public eCQM test patients live when they are
// checked out beside the repository (see ../shared/data/README.md).
var ecqmDev = filepath.Join("..", "..", "..", "..", "shared", "data", "ecqm-dev")

// TestAgreementWithECQMTestCases is `make eval-screening` as a test: the
// engine with the default presets must agree with the official eCQM test
// cases on at least 98 % of patients and never show an excluded patient
// as due.
func TestAgreementWithECQMTestCases(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(ecqmDev); err != nil {
		t.Skipf("the public eCQM test-patient data set is not beside the repository (%s: %v), so the agreement test was not run", ecqmDev, err)
	}
	var table, skipped bytes.Buffer
	sum, err := run(ecqmDev, &table, &skipped)
	if err != nil {
		t.Fatalf("run(%s) = %v", ecqmDev, err)
	}
	t.Logf("\n%s", table.String())
	if sum.Cases < 100 {
		t.Errorf("evaluated %d cases, want the whole data set (at least 100)", sum.Cases)
	}
	if got := sum.Percent(); got < 98 {
		t.Errorf("agreement %.1f%% (%d/%d), want at least 98%%:\n%s", got, sum.Agreed, sum.Cases, strings.Join(sum.Disagreements, "\n"))
	}
	if sum.ExcludedAsDue != 0 {
		t.Errorf("%d excluded patients shown as due, want 0", sum.ExcludedAsDue)
	}
	if skipped.Len() > 0 {
		t.Errorf("resources were skipped while loading the test patients:\n%s", skipped.String())
	}
}

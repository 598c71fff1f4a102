package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintsBothEvaluations(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run([]string{"-n", "30", "-seed", "5"}, &out, &errb)
	if code != 0 && code != 1 {
		t.Fatalf("exit %d, want 0 or 1 (targets met or missed); stderr %q", code, errb.String())
	}
	for _, want := range []string{"Detector alone (30 documents)", "With the patient's own identifiers (30 documents)", "BIRTH_DATE", "OVERALL", "precision", "F2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-n", "0"}, {"-bogus"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || out.Len() != 0 {
			t.Errorf("run(%q) = exit %d, stdout %q; want 2 and nothing", args, code, out.String())
		}
	}
}

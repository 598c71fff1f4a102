package docgen

import (
	"reflect"
	"strings"
	"testing"

	"healthprep.dev/shared/phi"
)

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b := Generate(7, 20), Generate(7, 20)
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs with seed 7 differ")
	}
	if reflect.DeepEqual(a, Generate(8, 20)) {
		t.Error("seeds 7 and 8 give the same documents")
	}
}

func TestLabelsPointAtTheirText(t *testing.T) {
	t.Parallel()
	for i, d := range Generate(1, 300) {
		runes := []rune(d.Text)
		for _, l := range d.Labels {
			if got := string(runes[l.Start:l.End]); got != l.Text {
				t.Fatalf("doc %d (%s): label %s [%d,%d) reads %q, want %q", i, d.Kind, l.Type, l.Start, l.End, got, l.Text)
			}
		}
	}
}

func TestEveryCategoryIsGenerated(t *testing.T) {
	t.Parallel()
	seen := map[phi.Type]int{}
	kinds := map[string]bool{}
	for _, d := range Generate(2, 400) {
		kinds[d.Kind] = true
		for _, l := range d.Labels {
			seen[l.Type]++
		}
	}
	for _, ty := range phi.Types() {
		if seen[ty] == 0 {
			t.Errorf("no %s label in 400 documents", ty)
		}
	}
	if len(kinds) < 9 {
		t.Errorf("only %d document kinds: %v", len(kinds), kinds)
	}
}

func TestHardNegativesArePresent(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for _, d := range Generate(3, 100) {
		all.WriteString(d.Text)
	}
	for _, s := range []string{" mg", "ICD-10", "CPT", "LOINC", "NDC", "-year-old", " may ", "disease", "mg/dL"} {
		if !strings.Contains(all.String(), s) {
			t.Errorf("no %q in 100 documents", s)
		}
	}
}

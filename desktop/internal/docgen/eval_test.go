package docgen

import (
	"strings"
	"testing"

	"healthprep.dev/shared/phi"
)

// TestDetectionMeetsTargets is the evaluation held in make test: 200
// documents from a seed not used while the detector was written. make
// eval-phi runs a larger one.
func TestDetectionMeetsTargets(t *testing.T) {
	t.Parallel()
	docs := Generate(20260101, 200)
	d := phi.NewDetector(phi.Options{})
	rep := Score(docs, func(doc Doc) []phi.Span { return d.Detect(doc.Text, &doc.Patient) })
	if missed := Targets(rep); len(missed) > 0 {
		var b strings.Builder
		rep.Print(&b, "with the patient's identifiers")
		t.Errorf("targets missed: %s\n%s\nmisses: %q\nfalse positives: %q", strings.Join(missed, "; "), b.String(), rep.Misses, rep.FalsePositives)
	}
}

// TestRedactedDocumentsKeepNoInjectedIdentifier is the privacy check on
// generated documents: after redaction, no labelled identifier of four
// characters or more appears anywhere in the text.
func TestRedactedDocumentsKeepNoInjectedIdentifier(t *testing.T) {
	t.Parallel()
	d := phi.NewDetector(phi.Options{})
	for i, doc := range Generate(777, 150) {
		out := d.Redact(doc.Text, &doc.Patient).Redacted.String()
		for _, l := range doc.Labels {
			if len([]rune(l.Text)) >= 4 && strings.Contains(out, l.Text) {
				t.Errorf("doc %d (%s): %s %q survived redaction", i, doc.Kind, l.Type, l.Text)
			}
		}
	}
}

func TestScoreCountsTokens(t *testing.T) {
	t.Parallel()
	doc := Doc{Text: "Call Ann Lee at 555-0143 today", Labels: []Label{
		{Start: 5, End: 12, Type: phi.Name, Text: "Ann Lee"},
		{Start: 16, End: 24, Type: phi.Phone, Text: "555-0143"},
	}}
	rep := Score([]Doc{doc}, func(Doc) []phi.Span {
		return []phi.Span{{Start: 5, End: 8, Type: phi.Name}, {Start: 25, End: 30, Type: phi.Date}}
	})
	if got := rep.PerCategory[phi.Name]; got.Tokens != 2 || got.Found != 1 {
		t.Errorf("NAME count = %+v, want 2 tokens, 1 found", got)
	}
	if got := rep.PerCategory[phi.Phone]; got.Tokens != 2 || got.Found != 0 {
		t.Errorf("PHONE count = %+v, want 2 tokens (555, 0143), 0 found", got)
	}
	if rep.Detected != 2 || rep.TruePos != 1 {
		t.Errorf("detected %d, true positives %d; want 2 and 1", rep.Detected, rep.TruePos)
	}
	if p := rep.Precision(); p != 0.5 {
		t.Errorf("precision = %v, want 0.5", p)
	}
}

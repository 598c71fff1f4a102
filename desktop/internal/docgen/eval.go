package docgen

import (
	"fmt"
	"io"
	"unicode"

	"healthprep.dev/shared/phi"
)

// BirthDate is the evaluation category of the patient's birth date (a
// subset of DATE).
const BirthDate phi.Type = "BIRTH_DATE"

// Count is a token tally for one category.
type Count struct {
	Tokens, Found int
}

// Recall is Found/Tokens (1 when there are no tokens).
func (c Count) Recall() float64 {
	if c.Tokens == 0 {
		return 1
	}
	return float64(c.Found) / float64(c.Tokens)
}

// Report is the token-level score of a detector over documents. A token is
// a run of letters or digits; a PHI token is found when any detected span
// covers part of it, whatever the type; a detected token is a true positive
// when any label covers part of it.
type Report struct {
	Docs        int
	PerCategory map[phi.Type]Count
	Overall     Count
	Detected    int // tokens inside detected spans
	TruePos     int // of those, tokens inside labels
	// Misses are up to 20 examples of missed PHI tokens, for reading.
	Misses []string
	// FalsePositives are up to 20 examples of redacted non-PHI tokens.
	FalsePositives []string
}

// Precision is TruePos/Detected.
func (r Report) Precision() float64 {
	if r.Detected == 0 {
		return 1
	}
	return float64(r.TruePos) / float64(r.Detected)
}

// F2 weighs recall twice as much as precision.
func (r Report) F2() float64 {
	p, rc := r.Precision(), r.Overall.Recall()
	if p+rc == 0 {
		return 0
	}
	return 5 * p * rc / (4*p + rc)
}

// Score runs detect over docs and scores it.
func Score(docs []Doc, detect func(Doc) []phi.Span) Report {
	rep := Report{Docs: len(docs), PerCategory: map[phi.Type]Count{}}
	for _, d := range docs {
		runes := []rune(d.Text)
		label := make([]phi.Type, len(runes))
		birth := make([]bool, len(runes))
		for _, l := range d.Labels {
			for i := l.Start; i < l.End; i++ {
				label[i] = l.Type
				birth[i] = l.Birth
			}
		}
		found := make([]bool, len(runes))
		for _, s := range detect(d) {
			for i := s.Start; i < s.End && i < len(runes); i++ {
				found[i] = true
			}
		}
		for i := 0; i < len(runes); {
			if !isTokenRune(runes[i]) {
				i++
				continue
			}
			j := i
			var ty phi.Type
			isBirth, hit := false, false
			for j < len(runes) && isTokenRune(runes[j]) {
				if label[j] != "" {
					ty, isBirth = label[j], isBirth || birth[j]
				}
				hit = hit || found[j]
				j++
			}
			tok := string(runes[i:j])
			if ty != "" {
				for _, cat := range []phi.Type{ty, BirthDate} {
					if cat == BirthDate && !isBirth {
						continue
					}
					c := rep.PerCategory[cat]
					c.Tokens++
					if hit {
						c.Found++
					}
					rep.PerCategory[cat] = c
				}
				rep.Overall.Tokens++
				if hit {
					rep.Overall.Found++
				} else if len(rep.Misses) < 20 {
					rep.Misses = append(rep.Misses, fmt.Sprintf("%s %q in %q", ty, tok, context(runes, i, j)))
				}
			}
			if hit {
				rep.Detected++
				if ty != "" {
					rep.TruePos++
				} else if len(rep.FalsePositives) < 20 {
					rep.FalsePositives = append(rep.FalsePositives, fmt.Sprintf("%q in %q", tok, context(runes, i, j)))
				}
			}
			i = j
		}
	}
	return rep
}

func isTokenRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func context(runes []rune, i, j int) string {
	return string(runes[max(0, i-25):min(len(runes), j+25)])
}

// Print writes the report as a table.
func (r Report) Print(w io.Writer, title string) {
	fmt.Fprintf(w, "%s (%d documents)\n", title, r.Docs)
	fmt.Fprintf(w, "  %-12s %7s %7s %8s\n", "category", "tokens", "found", "recall")
	for _, t := range append(phi.Types(), BirthDate) {
		c, ok := r.PerCategory[t]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  %-12s %7d %7d %8.4f\n", t, c.Tokens, c.Found, c.Recall())
	}
	fmt.Fprintf(w, "  %-12s %7d %7d %8.4f\n", "OVERALL", r.Overall.Tokens, r.Overall.Found, r.Overall.Recall())
	fmt.Fprintf(w, "  precision %.4f (%d of %d redacted tokens are PHI)   F2 %.4f\n", r.Precision(), r.TruePos, r.Detected, r.F2())
}

// Targets returns the targets r misses: token recall ≥ 0.99 overall and
// ≥ 0.995 for names, SSN, MRN and birth dates; precision ≥ 0.95.
func Targets(r Report) []string {
	var missed []string
	if rc := r.Overall.Recall(); rc < 0.99 {
		missed = append(missed, fmt.Sprintf("overall recall %.4f < 0.99", rc))
	}
	for _, t := range []phi.Type{phi.Name, phi.SSN, phi.MRN, BirthDate} {
		if rc := r.PerCategory[t].Recall(); rc < 0.995 {
			missed = append(missed, fmt.Sprintf("%s recall %.4f < 0.995", t, rc))
		}
	}
	if p := r.Precision(); p < 0.95 {
		missed = append(missed, fmt.Sprintf("precision %.4f < 0.95", p))
	}
	return missed
}

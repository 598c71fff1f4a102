package doctype

import (
	"slices"
	"strings"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/phi"
	"healthprep.dev/shared/screening"
)

// Evidence is one mention of a screening in a document: which screening
// and evidence rule its phrase belongs to, where it is and how it was said.
// Only mentions with Polarity screening.Affirmed count as completions; the
// others are kept so a person can see "colonoscopy declined".
type Evidence struct {
	DocumentID string `json:"document_id"`
	// Page is the page (from 1) the mention is on.
	Page int `json:"page"`
	// ScreeningType and Rule are the IDs of the library's type and
	// evidence rule whose phrase matched.
	ScreeningType string `json:"screening_type"`
	Rule          string `json:"rule"`
	// Phrase is the phrase as configured in the library (not the text of
	// the document).
	Phrase   string             `json:"phrase"`
	Polarity screening.Polarity `json:"polarity"`
	// Date is the document's date of service; zero when unknown.
	Date chart.Date `json:"date,omitzero"`
}

// Finder finds the screening library's document phrases in redacted text.
type Finder struct {
	rules []rule
}

type rule struct {
	typeID, ruleID string
	m              screening.PhraseMatcher
}

// NewFinder compiles the phrases of every evidence rule of lib.
func NewFinder(lib screening.Library) *Finder {
	f := &Finder{}
	for _, t := range lib.Types {
		for _, ev := range t.Evidence {
			if len(ev.Phrases) == 0 {
				continue
			}
			f.rules = append(f.rules, rule{typeID: t.ID, ruleID: ev.ID, m: screening.NewPhraseMatcher(ev.Phrases...)})
		}
	}
	return f
}

// Find returns the evidence in one document's redacted text, whose pages
// are separated by form feeds, in text order (then library order), dated
// date. A rule's phrase mentioned twice on a page with the same polarity
// is reported once.
func (f *Finder) Find(documentID string, text phi.Redacted, date chart.Date) []Evidence {
	s := text.String()
	type key struct {
		page           int
		typeID, ruleID string
		pol            screening.Polarity
	}
	seen := map[key]bool{}
	type found struct {
		ev Evidence
		at int
	}
	var all []found
	for _, r := range f.rules {
		for _, m := range r.m.Find(s) {
			page := 1 + strings.Count(s[:m.Start], "\f")
			k := key{page, r.typeID, r.ruleID, m.Polarity}
			if seen[k] {
				continue
			}
			seen[k] = true
			all = append(all, found{Evidence{DocumentID: documentID, Page: page, ScreeningType: r.typeID, Rule: r.ruleID,
				Phrase: m.Phrase, Polarity: m.Polarity, Date: date}, m.Start})
		}
	}
	slices.SortStableFunc(all, func(a, b found) int { return a.at - b.at })
	out := make([]Evidence, len(all))
	for i, f := range all {
		out[i] = f.ev
	}
	return out
}

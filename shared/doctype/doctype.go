// Package doctype classifies a redacted clinical document — lab, imaging,
// consult, hospital/discharge, procedure report or other — picks its date
// of service, each with a confidence, and finds the screening evidence it
// holds.
//
// It reads only what may leave the workstation: the redacted text
// (phi.Redacted) and the structured dates of service that package phi
// extracts before redaction. Cue phrases are found with the screening
// engine's PhraseMatcher, so they are matched as whole words, tolerantly of
// case, punctuation, hyphenation and common OCR confusions; evidence is
// found with the very phrases (and negation, refusal and "pending" cues)
// the screening library uses for documents.
//
// The package is pure and deterministic; a Classifier and a Finder are
// immutable and safe for concurrent use.
package doctype

import (
	"math"
	"slices"
	"strings"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/phi"
	"healthprep.dev/shared/screening"
)

// Type is a document type as the prep sheet groups documents.
type Type string

// The document types.
const (
	Lab       Type = "lab"       // laboratory and pathology results
	Imaging   Type = "imaging"   // radiology reports
	Consult   Type = "consult"   // consultation reports and specialist letters
	Hospital  Type = "hospital"  // discharge summaries, admissions, ED visits
	Procedure Type = "procedure" // procedure and operative reports (endoscopy, ...)
	Other     Type = "other"     // anything else: office notes, e-mails, forms
)

// Types lists every type in a stable order.
func Types() []Type { return []Type{Lab, Imaging, Consult, Hospital, Procedure, Other} }

// Classification is what Classify decides about one document.
type Classification struct {
	Type Type `json:"type"`
	// Confidence is how sure the type is, from 0 to 1; below 0.5 a person
	// should check it.
	Confidence float64 `json:"confidence"`
	// ServiceDate is the date the document's service took place; zero when
	// no labelled date of service was found.
	ServiceDate chart.Date `json:"service_date,omitzero"`
	// DateLabel is the label that introduced ServiceDate ("collected").
	DateLabel string `json:"date_label,omitempty"`
	// DateConfidence is how sure ServiceDate is, from 0 to 1 (0 when there
	// is none).
	DateConfidence float64 `json:"date_confidence"`
}

// cue is a phrase that points at a type with a weight.
type cue struct {
	t      Type
	weight float64
	phrase string
}

// cues are the phrases that point at each type. Strong ones are titles and
// section headings that belong to one kind of report.
var defaultCues = []cue{
	{Lab, 4, "laboratory report"}, {Lab, 3, "lab results"}, {Lab, 3, "laboratory"}, {Lab, 2, "chemistry"},
	{Lab, 2, "hematology"}, {Lab, 2, "specimen"}, {Lab, 2, "collected"}, {Lab, 1, "reference range"},
	{Lab, 1, "mmol/l"}, {Lab, 1, "mg/dl"}, {Lab, 1, "ng/ml"}, {Lab, 1, "miu/l"}, {Lab, 4, "pathology report"},
	{Lab, 3, "surgical pathology"}, {Lab, 2, "accession"}, {Lab, 2, "pathologist"}, {Lab, 1, "diagnosis"},
	{Lab, 1, "ordering provider"},

	{Imaging, 4, "radiology report"}, {Imaging, 4, "diagnostic imaging"}, {Imaging, 3, "radiology"},
	{Imaging, 2, "exam date"}, {Imaging, 2, "study date"}, {Imaging, 2, "date of exam"}, {Imaging, 2, "comparison"},
	{Imaging, 2, "interpreted by"}, {Imaging, 2, "bi-rads"}, {Imaging, 1, "mammogram"}, {Imaging, 1, "ultrasound"},
	{Imaging, 1, "ct"}, {Imaging, 1, "mri"}, {Imaging, 1, "x-ray"}, {Imaging, 1, "radiograph"}, {Imaging, 1, "dxa"},
	{Imaging, 1, "with contrast"}, {Imaging, 1, "findings"},

	{Consult, 4, "consultation report"}, {Consult, 3, "consultation"}, {Consult, 3, "reason for consultation"},
	{Consult, 2, "referring physician"}, {Consult, 2, "thank you for"}, {Consult, 2, "dear dr"}, {Consult, 2, "dear"},
	{Consult, 1, "referred"}, {Consult, 1, "for evaluation"}, {Consult, 1, "sincerely"}, {Consult, 1, "consult"},

	{Hospital, 4, "discharge summary"}, {Hospital, 3, "hospital course"}, {Hospital, 3, "admission date"},
	{Hospital, 3, "discharge date"}, {Hospital, 2, "date of admission"}, {Hospital, 2, "date of discharge"},
	{Hospital, 2, "disposition"}, {Hospital, 2, "admitted"}, {Hospital, 2, "emergency department"},
	{Hospital, 2, "inpatient"}, {Hospital, 1, "attending"}, {Hospital, 1, "discharged"},

	{Procedure, 4, "procedure report"}, {Procedure, 4, "operative report"}, {Procedure, 3, "procedure note"},
	{Procedure, 2, "endoscopist"}, {Procedure, 2, "sedation"}, {Procedure, 2, "indication"},
	{Procedure, 2, "complications"}, {Procedure, 2, "estimated blood loss"}, {Procedure, 2, "withdrawal time"},
	{Procedure, 1, "procedure date"}, {Procedure, 1, "date of procedure"}, {Procedure, 2, "postoperative diagnosis"},
	{Procedure, 1, "scope"}, {Procedure, 1, "cecum"}, {Procedure, 1, "caecum"}, {Procedure, 1, "polypectomy"},
	{Procedure, 1, "biopsy"}, {Procedure, 2, "recommendations"},
}

// Classifier decides document types. Its zero value is not usable; make
// one with NewClassifier.
type Classifier struct {
	m       screening.PhraseMatcher
	byText  map[string]cue
	minimum float64
}

// NewClassifier returns a Classifier with the built-in cues.
func NewClassifier() *Classifier {
	c := &Classifier{byText: map[string]cue{}, minimum: 3}
	phrases := make([]string, len(defaultCues))
	for i, q := range defaultCues {
		phrases[i] = q.phrase
		c.byText[q.phrase] = q
	}
	c.m = screening.NewPhraseMatcher(phrases...)
	return c
}

// titleChars is how much of the start of a document counts as its title:
// cues found there weigh three times as much.
const titleChars = 120

// Classify decides the type and date of service of one document from its
// redacted text and the dates of service phi found before redaction.
func (c *Classifier) Classify(text phi.Redacted, dates []phi.ServiceDate) Classification {
	s := text.String()
	title := titleEnd(s)
	scores := map[Type]float64{}
	seen := map[string]int{}
	for _, m := range c.m.Find(s) {
		q := c.byText[m.Phrase]
		w := q.weight
		if m.Start < title {
			w *= 3
		}
		// A cue repeated counts less each time: one report quoting
		// "findings" ten times is not ten times an imaging report.
		seen[m.Phrase]++
		scores[q.t] += w / float64(seen[m.Phrase])
	}
	cl := Classification{Type: Other}
	best, second := 0.0, 0.0
	for _, t := range Types() {
		switch v := scores[t]; {
		case v > best:
			best, second, cl.Type = v, best, t
		case v > second:
			second = v
		}
	}
	if best < c.minimum {
		// Nothing points clearly anywhere: an office note, an e-mail, a
		// form. The weaker the cues, the surer "other" is.
		cl.Type = Other
		cl.Confidence = round2(0.9 - 0.1*best)
	} else {
		// The margin over the runner-up, damped while the evidence is thin.
		cl.Confidence = round2((best - second) / best * math.Min(1, best/8))
		cl.Confidence = round2(0.5 + 0.5*cl.Confidence)
	}
	cl.ServiceDate, cl.DateLabel, cl.DateConfidence = serviceDate(cl.Type, dates)
	return cl
}

// titleEnd returns the byte offset where a document's title region ends:
// its first non-empty line, and at most titleChars bytes.
func titleEnd(s string) int {
	start := len(s) - len(strings.TrimLeft(s, " \t\r\n\f"))
	end := len(s)
	if nl := strings.IndexByte(s[start:], '\n'); nl >= 0 {
		end = start + nl
	}
	return min(end, start+titleChars)
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// labelRank says how well a date-of-service label fits a type: 3 is the
// type's own label (a lab's collection date), 2 a general date of service,
// 1 a weak one (report or receipt dates), 0 unknown.
func labelRank(t Type, label string) int {
	own := map[Type][]string{
		Lab:       {"collected", "collected on", "date collected", "specimen collected", "collection date", "date of collection", "procedure date", "date of procedure"},
		Imaging:   {"exam date", "examination date", "date of exam", "date of examination", "study date", "date of study"},
		Procedure: {"procedure date", "date of procedure", "performed", "performed on", "date of surgery", "surgery date"},
		Hospital:  {"discharge date", "date of discharge"},
		Consult:   {"date of consultation", "date of visit", "visit date"},
	}
	if slices.Contains(own[t], label) {
		return 3
	}
	switch label {
	case "date of service", "service date", "dos", "visit date", "date of visit", "encounter date",
		"admission date", "date of admission", "date of consultation", "exam date", "study date",
		"procedure date", "date of procedure", "collected", "performed":
		return 2
	}
	return 1
}

// serviceDate picks the date of service that fits the type best; the
// first one wins among equals. Confidence drops when dates of the same
// rank disagree.
func serviceDate(t Type, dates []phi.ServiceDate) (chart.Date, string, float64) {
	bestRank, pick := 0, -1
	for i, d := range dates {
		if r := labelRank(t, d.Label); r > bestRank {
			bestRank, pick = r, i
		}
	}
	if pick < 0 {
		return chart.Date{}, "", 0
	}
	conf := map[int]float64{3: 0.95, 2: 0.85, 1: 0.6}[bestRank]
	for _, d := range dates {
		if labelRank(t, d.Label) == bestRank && d.Date != dates[pick].Date {
			conf -= 0.25
			break
		}
	}
	return dates[pick].Date, dates[pick].Label, conf
}

package prepsheet

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

// ErrBadInput is returned (wrapped) when an Input cannot make a sheet: no
// as-of time, a negative lookback, an entry of unknown category. The
// message names the problem, never the patient.
var ErrBadInput = errors.New("bad prep sheet input")

// Assemble builds the sheet for in. It is pure and deterministic: the
// result depends only on in, not on the order of its slices.
func Assemble(in Input) (Sheet, error) {
	if in.AsOf.IsZero() {
		return Sheet{}, fmt.Errorf("%w: as-of time is zero", ErrBadInput)
	}
	lb, err := in.Lookback.withDefaults()
	if err != nil {
		return Sheet{}, err
	}
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	now := in.AsOf.In(loc)
	asOf := chart.FromTime(now)

	s := Sheet{AsOf: asOf, GeneratedAt: now, TimeZone: loc.String()}
	s.Header = header(in.Patient, in.Appointment, asOf, loc)
	s.Screenings, s.Superseded = checklist(in.Screenings)
	evidencePages(s.Screenings, in.Documents)
	s.Conditions = conditions(in.Conditions, asOf)

	s.Labs = Section{Category: Lab, Title: "Recent labs", Months: lb.LabsMonths}
	s.Imaging = Section{Category: Imaging, Title: "Imaging", Months: lb.ImagingMonths}
	s.Consults = Section{Category: Consult, Title: "Consults", Months: lb.ConsultsMonths}
	s.Hospital = Section{Category: Hospital, Title: "Hospital and ED visits", Months: lb.HospitalMonths}
	s.Documents = Section{Category: Document, Title: "Documents", Months: lb.DocumentsMonths}
	byCat := map[Category]*Section{}
	for _, sec := range s.Sections() {
		sec.Since = asOf.AddMonths(-sec.Months)
		sec.Entries = []Entry{}
		byCat[sec.Category] = sec
	}
	for i, e := range in.Entries {
		sec, ok := byCat[e.Category]
		if !ok {
			return Sheet{}, fmt.Errorf("%w: entry %d has unknown category %q", ErrBadInput, i, e.Category)
		}
		d := e.Effective()
		switch {
		case d.IsZero():
			sec.Undated++
		case sec.Since.After(d) || d.After(asOf):
			// outside the window
		default:
			sec.Entries = append(sec.Entries, e)
		}
	}
	for _, sec := range s.Sections() {
		slices.SortFunc(sec.Entries, compareEntries)
		if len(sec.Entries) == 0 {
			sec.EmptyText = "None in the last " + months(sec.Months) + "."
		}
	}
	return s, nil
}

func compareEntries(a, b Entry) int {
	if c := b.Effective().Compare(a.Effective()); c != 0 {
		return c
	}
	return cmp.Or(
		b.Date.Compare(a.Date),
		cmp.Compare(a.Title, b.Title),
		cmp.Compare(a.Ref, b.Ref),
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.Detail, b.Detail),
	)
}

func months(n int) string {
	if n == 1 {
		return "month"
	}
	return strconv.Itoa(n) + " months"
}

func header(p chart.Patient, a Appointment, asOf chart.Date, loc *time.Location) Header {
	h := Header{
		PatientID: p.ID,
		Name:      p.Name,
		MRN:       p.MRN,
		Sex:       p.Sex,
		Age:       ageOn(p.BirthDate, asOf),
		Deceased:  p.Deceased,
		Appointment: AppointmentShown{
			Provider:  a.Provider,
			Location:  a.Location,
			VisitType: a.VisitType,
		},
	}
	if h.Sex == "" {
		h.Sex = chart.SexUnknown
	}
	if !a.Start.IsZero() {
		st := a.Start.In(loc)
		h.Appointment.Start = st
		h.Appointment.Label = st.Format("Mon 2006-01-02 15:04 MST")
	}
	return h
}

// ageOn is the completed age on asOf: years from the second birthday on,
// months before it.
func ageOn(birth, asOf chart.Date) Age {
	a, ok := chart.AgeAt(birth, asOf)
	if !ok {
		return Age{Label: "unknown"}
	}
	out := Age{Known: true, Years: a.Years, Months: a.Months}
	switch m := a.InMonths(); {
	case a.Years >= 2:
		out.Label = strconv.Itoa(a.Years) + " years"
	case m == 1:
		out.Label = "1 month"
	default:
		out.Label = strconv.Itoa(m) + " months"
	}
	return out
}

// StatusRank orders statuses by urgency for the checklist: overdue, due,
// due soon, cannot evaluate, complete, excluded, not eligible, then any
// status this package does not know.
func StatusRank(s screening.Status) int {
	switch s {
	case screening.Overdue:
		return 0
	case screening.Due:
		return 1
	case screening.DueSoon:
		return 2
	case screening.CannotEvaluate:
		return 3
	case screening.Complete:
		return 4
	case screening.Excluded:
		return 5
	case screening.NotEligible:
		return 6
	case screening.Superseded:
		return 8
	}
	return 7
}

// StatusLabel and StatusSymbol show a status in words and in an ASCII
// mark, so that it reads without colour (and in black-and-white print).
func StatusLabel(s screening.Status) string {
	switch s {
	case screening.Overdue:
		return "OVERDUE"
	case screening.Due:
		return "DUE"
	case screening.DueSoon:
		return "DUE SOON"
	case screening.CannotEvaluate:
		return "CANNOT EVALUATE"
	case screening.Complete:
		return "COMPLETE"
	case screening.Excluded:
		return "EXCLUDED"
	case screening.NotEligible:
		return "NOT ELIGIBLE"
	case screening.Superseded:
		return "SUPERSEDED"
	}
	return strings.ToUpper(strings.ReplaceAll(string(s), "_", " "))
}

// StatusSymbol is the ASCII mark for s (see StatusLabel).
func StatusSymbol(s screening.Status) string {
	switch s {
	case screening.Overdue:
		return "!!"
	case screening.Due:
		return "!"
	case screening.DueSoon:
		return "~"
	case screening.CannotEvaluate:
		return "?"
	case screening.Complete:
		return "+"
	case screening.Excluded:
		return "x"
	case screening.NotEligible:
		return "-"
	}
	return "*"
}

func checklist(results []screening.Result) ([]ScreeningItem, []SupersededNote) {
	names := make(map[string]string, len(results))
	for _, r := range results {
		names[r.ID] = r.Name
	}
	items := []ScreeningItem{}
	var notes []SupersededNote
	for _, r := range results {
		if r.Status == screening.Superseded {
			by := names[r.SupersededBy]
			if by == "" {
				by = r.SupersededBy
			}
			notes = append(notes, SupersededNote{ID: r.ID, Name: r.Name, ByID: r.SupersededBy, ByName: by})
			continue
		}
		it := ScreeningItem{
			ID: r.ID, Name: r.Name, Status: r.Status,
			Label: StatusLabel(r.Status), Symbol: StatusSymbol(r.Status),
			LastDone: r.LastDone, NextDue: r.NextDue,
			Reason: r.Reason, Missing: r.Missing,
		}
		for _, ev := range r.Evidence {
			it.Evidence = append(it.Evidence, evidenceLine(ev))
		}
		slices.SortStableFunc(it.Evidence, func(a, b EvidenceLine) int {
			return cmp.Or(b.Date.Compare(a.Date), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Description, b.Description))
		})
		for _, src := range r.Sources {
			it.Sources = append(it.Sources, sourceLabel(src))
		}
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b ScreeningItem) int {
		if c := cmp.Compare(StatusRank(a.Status), StatusRank(b.Status)); c != 0 {
			return c
		}
		// Earliest next-due first. A zero next-due means "never done" for
		// the statuses that ask for action (most urgent: first) and "not
		// due again" for the others (least urgent: last).
		if a.NextDue.IsZero() != b.NextDue.IsZero() {
			first := -1
			if StatusRank(a.Status) > StatusRank(screening.DueSoon) {
				first = 1
			}
			if a.NextDue.IsZero() {
				return first
			}
			return -first
		}
		return cmp.Or(a.NextDue.Compare(b.NextDue), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(notes, func(a, b SupersededNote) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return items, notes
}

func sourceLabel(s screening.Source) string {
	switch {
	case s.Label == "":
		return s.CMS
	case s.CMS == "" || strings.Contains(s.Label, s.CMS):
		return s.Label
	}
	return s.Label + " (" + s.CMS + ")"
}

// evidenceLine describes one evidence item in a short phrase: what it is
// (display text, code or document phrase) with its numeric result; for
// anything but completion evidence, the role leads ("exclusion: ...").
func evidenceLine(ev screening.Evidence) EvidenceLine {
	var what string
	switch {
	case ev.Phrase != "":
		doc := ev.Document
		if doc == "" {
			doc = "document"
		}
		what = fmt.Sprintf("%q in %s", ev.Phrase, doc)
	case ev.Text != "":
		what = ev.Text
		if ev.Code != nil {
			what += " (" + codeLabel(*ev.Code) + ")"
		}
	case ev.Code != nil:
		what = codeLabel(*ev.Code)
	default:
		what = string(ev.Kind)
	}
	if ev.Quantity != nil {
		what += ": " + strings.TrimSpace(strconv.FormatFloat(*ev.Quantity, 'f', -1, 64)+" "+ev.Unit)
	}
	if ev.Role != screening.RoleCompletion && ev.Role != "" {
		role := strings.ReplaceAll(string(ev.Role), "_", " ")
		if ev.Role == screening.RoleOverride && ev.Rule != "" {
			role += " (" + strings.ReplaceAll(ev.Rule, "_", " ") + ")"
		}
		what = role + ": " + what
	}
	line := EvidenceLine{Role: ev.Role, Source: ev.Source, Date: ev.Date, Description: strings.TrimSpace(what), Rule: ev.Rule}
	switch {
	case ev.Phrase != "":
		line.Kind = EvidenceDocument
		line.DocumentID = strings.TrimPrefix(ev.Source, DocumentRefPrefix)
		line.DocumentTitle, line.Phrase = ev.Document, ev.Phrase
	case ev.Role == screening.RoleOverride:
		line.Kind = EvidenceOverride
	default:
		line.Kind = EvidenceCoded
		line.ItemKind, line.Display = ev.Kind, ev.Text
		if ev.Code != nil {
			line.System, line.Code = ev.Code.System, ev.Code.Code
		}
		if ev.Quantity != nil {
			q := *ev.Quantity
			line.Value, line.Unit = &q, ev.Unit
		}
	}
	return line
}

// evidencePages sets the Page of the document evidence lines of items:
// the page (pages are separated by form feeds) of the first mention of
// the line's phrase in its document's text, with the polarity its role
// implies (affirmed, or refused for a refusal) or, failing that, any.
// Lines whose document is not in docs, or whose phrase is not in its text
// (only in its title), keep Page 0. Each document is read once.
func evidencePages(items []ScreeningItem, docs []chart.Document) {
	if len(docs) == 0 {
		return
	}
	byDoc := map[string][]*EvidenceLine{}
	for i := range items {
		for j := range items[i].Evidence {
			if ev := &items[i].Evidence[j]; ev.Kind == EvidenceDocument && ev.Phrase != "" {
				byDoc[ev.Source] = append(byDoc[ev.Source], ev)
			}
		}
	}
	for _, d := range docs {
		lines, ok := byDoc[d.Ref]
		if !ok {
			continue
		}
		delete(byDoc, d.Ref) // a record's references are unique; the first wins
		var phrases []string
		for _, ev := range lines {
			if !slices.Contains(phrases, ev.Phrase) {
				phrases = append(phrases, ev.Phrase)
			}
		}
		ms := screening.NewPhraseMatcher(phrases...).Find(d.Text)
		for _, ev := range lines {
			want := screening.Affirmed
			if ev.Role == screening.RoleRefusal {
				want = screening.Refused
			}
			at := -1
			for _, m := range ms {
				if m.Phrase != ev.Phrase {
					continue
				}
				if m.Polarity == want {
					at = m.Start
					break
				}
				if at < 0 {
					at = m.Start
				}
			}
			if at >= 0 {
				ev.Page = 1 + strings.Count(d.Text[:at], "\f")
			}
		}
	}
}

// conditions lists the conditions active on asOf: not recorded in error or
// refuted, a clinical status that is empty, active, recurrence or relapse,
// begun on or before asOf, and with no end on or before it.
func conditions(items []chart.Item, asOf chart.Date) ConditionSection {
	sec := ConditionSection{Title: "Active conditions", Entries: []ConditionLine{}}
	for _, it := range items {
		if it.Kind != chart.Condition || it.NotDone {
			continue
		}
		switch it.Status {
		case "", "active", "recurrence", "relapse":
		default:
			continue
		}
		if it.Start.After(asOf) || (!it.End.IsZero() && !it.End.After(asOf)) {
			continue
		}
		c := ConditionLine{Ref: it.Ref, Name: it.Text, Onset: it.Start}
		if len(it.Codes) > 0 {
			code := it.Codes[0]
			c.Code = &code
			if c.Name == "" {
				c.Name = codeLabel(code)
			}
		}
		sec.Entries = append(sec.Entries, c)
	}
	slices.SortFunc(sec.Entries, func(a, b ConditionLine) int {
		if a.Onset.IsZero() != b.Onset.IsZero() {
			if a.Onset.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(b.Onset.Compare(a.Onset), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Ref, b.Ref))
	})
	if len(sec.Entries) == 0 {
		sec.EmptyText = "None recorded."
	}
	return sec
}

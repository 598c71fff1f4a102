package prepsheet

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"healthprep.dev/shared/screening"
)

// TextWidth is the line width of WriteText, in characters.
const TextWidth = 80

// MaxEvidence is how many evidence lines a rendering shows per screening;
// the rest are summarised ("and 4 more"). The Sheet keeps them all.
const MaxEvidence = 3

// WriteText renders s as fixed-width plain text, TextWidth characters per
// line (counted in runes), for a terminal, an e-mail-free printout or a
// test's golden file.
func WriteText(w io.Writer, s *Sheet) error {
	b := bufio.NewWriter(w)
	t := &textWriter{w: b}
	t.header(s)
	t.screenings(s)
	t.conditions(&s.Conditions)
	for _, sec := range s.Sections() {
		t.section(sec)
	}
	t.footer(s)
	if err := b.Flush(); err != nil {
		return fmt.Errorf("writing prep sheet text: %w", err)
	}
	return nil
}

type textWriter struct {
	w *bufio.Writer
}

func (t *textWriter) line(s string) {
	t.w.WriteString(strings.TrimRight(s, " "))
	t.w.WriteByte('\n')
}

// wrapped writes text wrapped to TextWidth: the first line after first, the
// others after an indent of the same width.
func (t *textWriter) wrapped(first, text string) {
	indent := strings.Repeat(" ", utf8.RuneCountInString(first))
	for i, l := range Wrap(text, TextWidth-utf8.RuneCountInString(first)) {
		if i == 0 {
			t.line(first + l)
		} else {
			t.line(indent + l)
		}
	}
}

func (t *textWriter) heading(title, note string) {
	t.line("")
	t.line(strings.ToUpper(title) + note)
	t.line(strings.Repeat("-", TextWidth))
}

func (t *textWriter) header(s *Sheet) {
	h := &s.Header
	title := "PREP SHEET"
	right := "As of " + s.AsOf.String() + " (" + s.TimeZone + ")"
	t.line(title + pad(TextWidth-len(title)-utf8.RuneCountInString(right)) + right)
	t.line(strings.Repeat("=", TextWidth))
	t.wrapped("Patient:   ", h.DisplayName())
	t.wrapped("MRN:       ", orDash(h.MRN))
	age := h.Age.Label
	if !h.Deceased.IsZero() {
		age += ", deceased " + h.Deceased.String()
	}
	t.wrapped("Age, sex:  ", age+", "+string(h.Sex))
	a := &h.Appointment
	visit := joinNonEmpty(", ", orDash(a.Label), a.VisitType, a.Location)
	if a.NoneOnFile() {
		visit = NoAppointment
	}
	t.wrapped("Visit:     ", visit)
	t.wrapped("Provider:  ", orDash(a.Provider))
}

func (t *textWriter) screenings(s *Sheet) {
	t.heading("Screenings", fmt.Sprintf(" (%d)", len(s.Screenings)))
	if len(s.Screenings) == 0 {
		t.line("None configured.")
		return
	}
	const col = 19 // "!! CANNOT EVALUATE "
	indent := pad(col)
	for i, it := range s.Screenings {
		if i > 0 {
			t.line("")
		}
		mark := fmt.Sprintf("%-2s %-15s ", it.Symbol, it.Label)
		t.wrapped(mark, it.Name)
		var dates []string
		if !it.LastDone.IsZero() {
			dates = append(dates, "Last done "+it.LastDone.String())
		} else if it.Status != screening.NotEligible && it.Status != screening.Excluded {
			dates = append(dates, "Never done")
		}
		if !it.NextDue.IsZero() {
			dates = append(dates, "Next due "+it.NextDue.String())
		}
		if len(dates) > 0 {
			t.wrapped(indent, strings.Join(dates, " | "))
		}
		if it.Reason != "" {
			t.wrapped(indent, it.Reason)
		}
		for j, ev := range it.Evidence {
			if j == MaxEvidence {
				t.wrapped(indent, fmt.Sprintf("... and %d more", len(it.Evidence)-MaxEvidence))
				break
			}
			t.wrapped(indent+"* ", EvidenceText(ev))
		}
		if len(it.Sources) > 0 {
			t.wrapped(indent, "Source: "+strings.Join(it.Sources, "; "))
		}
	}
}

// EvidenceText is an evidence line as one string:
// "2025-01-02 Colonoscopy (CPT 45378) [Procedure/1]".
func EvidenceText(ev EvidenceLine) string {
	d := ev.Date.String()
	if d == "" {
		d = "undated"
	}
	s := d + " " + ev.Description
	if ev.Source != "" {
		s += " [" + ev.Source + "]"
	}
	return s
}

func (t *textWriter) conditions(c *ConditionSection) {
	t.heading(c.Title, fmt.Sprintf(" (%d)", len(c.Entries)))
	if len(c.Entries) == 0 {
		t.line(c.EmptyText)
		return
	}
	for _, e := range c.Entries {
		t.wrapped(dateCol(e.Onset, "onset ?"), ConditionText(e))
	}
}

// ConditionText is a condition line without its onset date:
// "Type 2 diabetes mellitus (SNOMED 44054006)".
func ConditionText(c ConditionLine) string {
	if c.Code != nil && !strings.Contains(c.Name, c.Code.Code) {
		return c.Name + " (" + codeLabel(*c.Code) + ")"
	}
	return c.Name
}

func (t *textWriter) section(s *Section) {
	t.heading(s.Title, SectionNote(s))
	if len(s.Entries) == 0 {
		t.line(s.EmptyText)
	}
	for _, e := range s.Entries {
		t.wrapped(dateCol(e.Date, "undated"), EntryText(e))
	}
	if s.Undated > 0 {
		t.line(fmt.Sprintf("(%d undated, not listed)", s.Undated))
	}
}

// SectionNote is what follows a lookback section's title:
// " (5) - last 12 months, since 2024-03-14".
func SectionNote(s *Section) string {
	return fmt.Sprintf(" (%d) - last %s, since %s", len(s.Entries), months(s.Months), s.Since)
}

// EntryText is an entry line without its date:
// "Hemoglobin A1c: 9.4 %", "Inpatient stay (inpatient), until 2025-01-04".
func EntryText(e Entry) string {
	s := e.Title
	if e.Type != "" && !strings.EqualFold(e.Type, e.Title) {
		s += " (" + e.Type + ")"
	}
	if !e.End.IsZero() && e.End != e.Date {
		s += ", until " + e.End.String()
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (t *textWriter) footer(s *Sheet) {
	t.line("")
	t.line(strings.Repeat("=", TextWidth))
	if len(s.Superseded) > 0 {
		t.wrapped("", SupersededText(s.Superseded))
	}
	t.wrapped("", "Generated "+s.GeneratedAt.Format("2006-01-02 15:04 MST")+". Marks: !! overdue, ! due, ~ due soon, ? cannot evaluate, + complete, x excluded, - not eligible.")
}

// SupersededText is the footnote listing superseded variants.
func SupersededText(notes []SupersededNote) string {
	parts := make([]string, len(notes))
	for i, n := range notes {
		parts[i] = n.Name + " (superseded by " + n.ByName + ")"
	}
	return "Not shown: " + strings.Join(parts, "; ") + "."
}

func dateCol(d interface{ String() string }, unknown string) string {
	s := d.String()
	if s == "" {
		s = unknown
	}
	return s + pad(12-utf8.RuneCountInString(s))
}

func pad(n int) string {
	if n < 1 {
		n = 1
	}
	return strings.Repeat(" ", n)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// Wrap splits text into lines of at most width runes, breaking at spaces;
// a word longer than width is cut. Newlines in text start new lines. It
// always returns at least one line.
func Wrap(text string, width int) []string {
	if width < 1 {
		width = 1
	}
	if utf8.RuneCountInString(text) <= width && isSimple(text) {
		return []string{text} // the common case: one short line
	}
	var lines []string
	var cur strings.Builder
	for para := range strings.SplitSeq(text, "\n") {
		n := 0 // runes in cur
		for word := range strings.FieldsSeq(para) {
			wl := utf8.RuneCountInString(word)
			for wl > width {
				if n > 0 {
					lines = append(lines, cur.String())
					cur.Reset()
					n = 0
				}
				cut := 0
				for range width {
					_, size := utf8.DecodeRuneInString(word[cut:])
					cut += size
				}
				lines = append(lines, word[:cut])
				word, wl = word[cut:], wl-width
			}
			switch {
			case n == 0:
			case n+1+wl <= width:
				cur.WriteByte(' ')
				n++
			default:
				lines = append(lines, cur.String())
				cur.Reset()
				n = 0
			}
			cur.WriteString(word)
			n += wl
		}
		lines = append(lines, cur.String())
		cur.Reset()
	}
	return lines
}

// isSimple reports whether s is already one wrapped line: no newline, no
// leading, trailing or doubled space, no other white space.
func isSimple(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		case c < ' ' || c == 0x7f:
			return false
		case c >= utf8.RuneSelf:
			return false // leave Unicode white space to strings.Fields
		default:
			prevSpace = false
		}
	}
	return !prevSpace || s == ""
}

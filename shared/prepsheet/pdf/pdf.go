package pdf

import (
	_ "embed"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

//go:embed font/DejaVuSans.ttf
var regularTTF []byte

//go:embed font/DejaVuSans-Bold.ttf
var boldTTF []byte

// Options tune one rendering.
type Options struct {
	// Generated is the time printed in every footer; zero means the
	// sheet's GeneratedAt. It is shown in the sheet's time zone.
	Generated time.Time
}

// Page geometry, in millimetres (US Letter portrait).
const (
	marginX      = 15.0
	marginTop    = 22.0 // below the running header
	marginBottom = 18.0 // above the running footer
	badgeW       = 34.0
	gap          = 3.0
	lineH        = 4.2
	family       = "DejaVu"
)

// Write renders s as a PDF to w. The output depends only on s and opts:
// the same sheet renders to the same bytes.
func Write(w io.Writer, s *prepsheet.Sheet, opts Options) error {
	gen := opts.Generated
	if gen.IsZero() {
		gen = s.GeneratedAt
	}
	gen = gen.In(s.GeneratedAt.Location())

	f := fpdf.New("P", "mm", "Letter", "")
	f.AliasNbPages("{nb}") // before the fonts: it changes how they are subset
	f.AddUTF8FontFromBytes(family, "", regularTTF)
	f.AddUTF8FontFromBytes(family, "B", boldTTF)
	f.SetCreationDate(gen)
	f.SetModificationDate(gen)
	f.SetCatalogSort(true)
	f.SetTitle("Prep sheet", true)
	f.SetCreator("HealthPrep", true)
	f.SetMargins(marginX, marginTop, marginX)
	f.SetCellMargin(0)
	// Page breaks are placed by the layout (need); this is only a backstop.
	f.SetAutoPageBreak(true, marginBottom)

	r := &renderer{f: f, s: s, gen: gen}
	pw, ph := f.GetPageSize()
	r.width, r.bottom = pw-2*marginX, ph-marginBottom
	f.SetHeaderFuncMode(r.pageHeader, true)
	f.SetFooterFunc(r.pageFooter)

	f.AddPage()
	r.patient()
	r.screenings()
	r.conditions()
	for _, sec := range s.Sections() {
		r.section(sec)
	}
	r.notes()
	if err := f.Output(w); err != nil {
		return fmt.Errorf("rendering prep sheet pdf: %w", err)
	}
	return nil
}

type renderer struct {
	f      *fpdf.Fpdf
	s      *prepsheet.Sheet
	gen    time.Time
	width  float64
	bottom float64
	// current is the title of the section being drawn, repeated with
	// "(continued)" after a page break.
	current string
}

func (r *renderer) font(style string, size float64) { r.f.SetFont(family, style, size) }

// text makes s printable in the embedded font: characters outside the
// Basic Multilingual Plane, which the PDF writer cannot measure, and
// control characters become "?".
func text(s string) string {
	return strings.Map(func(c rune) rune {
		if c > 0xFFFF || (c < ' ' && c != '\n') || c == 0x7F {
			return '?'
		}
		return c
	}, s)
}

// lines wraps s to width w in the given font.
func (r *renderer) lines(style string, size float64, s string, w float64) []string {
	r.font(style, size)
	ls := r.f.SplitText(text(s), w)
	if len(ls) == 0 {
		ls = []string{""}
	}
	return ls
}

func (r *renderer) pageHeader() {
	f := r.f
	h := &r.s.Header
	f.SetY(10)
	f.SetX(marginX)
	r.font("B", 11)
	name := text(h.Name)
	if strings.TrimSpace(name) == "" {
		name = "(no name)"
	}
	right := "MRN " + orDash(h.MRN)
	if h.Appointment.Label != "" {
		right += "   Visit " + h.Appointment.Label
	}
	r.font("", 8.5)
	rw := f.GetStringWidth(text(right))
	r.font("B", 11)
	f.CellFormat(r.width-rw-gap, 6, fit(f, "Prep sheet: "+name, r.width-rw-gap), "", 0, "L", false, 0, "")
	r.font("", 8.5)
	f.CellFormat(rw+gap, 6, text(right), "", 1, "R", false, 0, "")
	f.SetDrawColor(0, 0, 0)
	f.SetLineWidth(0.3)
	f.Line(marginX, 17, marginX+r.width, 17)
	f.SetY(marginTop)
}

func (r *renderer) pageFooter() {
	f := r.f
	_, ph := f.GetPageSize()
	y := ph - 12
	f.SetDrawColor(120, 120, 120)
	f.SetLineWidth(0.2)
	f.Line(marginX, y-1.5, marginX+r.width, y-1.5)
	f.SetY(y)
	f.SetX(marginX)
	r.font("", 8)
	f.SetTextColor(0, 0, 0)
	left := "Generated " + r.gen.Format("2006-01-02 15:04 MST") + "   Confidential: contains patient health information"
	f.CellFormat(r.width*0.75, 5, left, "", 0, "L", false, 0, "")
	f.CellFormat(r.width*0.25, 5, fmt.Sprintf("Page %d of {nb}", f.PageNo()), "", 0, "R", false, 0, "")
}

// need starts a new page unless h millimetres fit above the bottom margin,
// repeating the current section's title on the new page.
func (r *renderer) need(h float64) {
	if r.f.GetY()+h <= r.bottom {
		return
	}
	r.f.AddPage()
	if r.current != "" {
		r.heading(r.current+" (continued)", "")
	}
}

func (r *renderer) heading(title, note string) {
	f := r.f
	f.SetX(marginX)
	r.font("B", 11)
	tw := f.GetStringWidth(text(title))
	f.CellFormat(tw, 6, text(title), "", 0, "L", false, 0, "")
	r.font("", 8.5)
	f.CellFormat(r.width-tw, 6, text(note), "", 1, "L", false, 0, "")
	f.SetDrawColor(150, 150, 150)
	f.SetLineWidth(0.2)
	f.Line(marginX, f.GetY(), marginX+r.width, f.GetY())
	f.Ln(1.5)
}

// startSection draws a section title, keeping it on the same page as the
// first firstH millimetres of its content.
func (r *renderer) startSection(title, note string, firstH float64) {
	r.current = ""
	r.f.Ln(3)
	r.need(8 + firstH)
	r.heading(title, note)
	r.current = title
}

func (r *renderer) patient() {
	f := r.f
	h := &r.s.Header
	age := h.Age.Label
	if !h.Deceased.IsZero() {
		age += ", deceased " + h.Deceased.String()
	}
	visit := orDash(join(", ", h.Appointment.Label, h.Appointment.VisitType))
	if h.Appointment.NoneOnFile() {
		visit = prepsheet.NoAppointment
	}
	rows := [][2]string{
		{"Patient", h.DisplayName()},
		{"MRN", orDash(h.MRN)},
		{"Age, sex", age + ", " + string(h.Sex)},
		{"Visit", visit},
		{"Location", orDash(h.Appointment.Location)},
		{"Provider", orDash(h.Appointment.Provider)},
		{"As of", r.s.AsOf.String() + " (" + r.s.TimeZone + ")"},
	}
	const labelW = 24.0
	for _, row := range rows {
		ls := r.lines("", 10, row[1], r.width-labelW)
		f.SetX(marginX)
		r.font("B", 9)
		f.CellFormat(labelW, 5, row[0], "", 0, "L", false, 0, "")
		r.font("", 10)
		for i, l := range ls {
			if i > 0 {
				f.SetX(marginX + labelW)
			}
			f.CellFormat(r.width-labelW, 5, l, "", 1, "L", false, 0, "")
		}
	}
}

// colours are the badge colours per status (fill, then text); the badge's
// words carry the meaning, the colour is a second cue.
func colours(st screening.Status) (fill, ink [3]int) {
	white, black := [3]int{255, 255, 255}, [3]int{0, 0, 0}
	switch st {
	case screening.Overdue:
		return [3]int{190, 30, 30}, white
	case screening.Due:
		return [3]int{225, 110, 0}, white
	case screening.DueSoon:
		return [3]int{250, 210, 70}, black
	case screening.CannotEvaluate:
		return [3]int{120, 80, 160}, white
	case screening.Complete:
		return [3]int{40, 130, 70}, white
	case screening.Excluded:
		return [3]int{110, 110, 110}, white
	}
	return [3]int{220, 220, 220}, black
}

type block struct {
	style string
	size  float64
	lines []string
}

func (r *renderer) screenings() {
	items := r.s.Screenings
	cw := r.width - badgeW - gap
	// Lay out each item first, so that an item is never split across pages.
	layouts := make([][]block, len(items))
	heights := make([]float64, len(items))
	for i, it := range items {
		var bs []block
		bs = append(bs, block{"B", 10, r.lines("B", 10, it.Name, cw)})
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
			bs = append(bs, block{"B", 8.5, r.lines("B", 8.5, strings.Join(dates, "   "), cw)})
		}
		if it.Reason != "" {
			bs = append(bs, block{"", 8.5, r.lines("", 8.5, it.Reason, cw)})
		}
		for j, ev := range it.Evidence {
			if j == prepsheet.MaxEvidence {
				bs = append(bs, block{"", 8, r.lines("", 8, fmt.Sprintf("… and %d more", len(it.Evidence)-j), cw)})
				break
			}
			bs = append(bs, block{"", 8, r.lines("", 8, "• "+prepsheet.EvidenceText(ev), cw)})
		}
		if len(it.Sources) > 0 {
			bs = append(bs, block{"", 7.5, r.lines("", 7.5, "Source: "+strings.Join(it.Sources, "; "), cw)})
		}
		layouts[i] = bs
		for _, b := range bs {
			heights[i] += float64(len(b.lines)) * lh(b.size)
		}
		heights[i] = max(heights[i], 5.5) + 2.5
	}
	first := 8.0
	if len(items) > 0 {
		first = heights[0]
	}
	r.startSection("Screenings", fmt.Sprintf(" (%d)", len(items)), first)
	if len(items) == 0 {
		r.plain("None configured.")
	}
	f := r.f
	for i, it := range items {
		r.need(heights[i])
		y := f.GetY()
		fill, ink := colours(it.Status)
		f.SetFillColor(fill[0], fill[1], fill[2])
		f.SetTextColor(ink[0], ink[1], ink[2])
		r.font("B", 8.5)
		f.SetXY(marginX, y)
		f.CellFormat(badgeW, 5.5, it.Symbol+" "+it.Label, "", 0, "C", true, 0, "")
		f.SetTextColor(0, 0, 0)
		f.SetXY(marginX+badgeW+gap, y)
		for _, b := range layouts[i] {
			r.font(b.style, b.size)
			for _, l := range b.lines {
				f.SetX(marginX + badgeW + gap)
				f.CellFormat(cw, lh(b.size), l, "", 1, "L", false, 0, "")
			}
		}
		f.SetY(max(f.GetY(), y+5.5) + 2.5)
	}
	r.current = ""
}

// lh is the line height for a font size in points.
func lh(size float64) float64 { return size * 0.3528 * 1.25 }

func (r *renderer) plain(s string) {
	for _, l := range r.lines("", 9, s, r.width) {
		r.need(lh(9))
		r.f.SetX(marginX)
		r.f.CellFormat(r.width, lh(9), l, "", 1, "L", false, 0, "")
	}
}

// dated draws rows of a date column and wrapped text, each row kept whole.
func (r *renderer) dated(rows [][2]string) {
	const dateW = 22.0
	f := r.f
	for _, row := range rows {
		ls := r.lines("", 9, row[1], r.width-dateW)
		r.need(float64(len(ls))*lh(9) + 0.8)
		r.font("B", 9)
		f.SetX(marginX)
		f.CellFormat(dateW, lh(9), row[0], "", 0, "L", false, 0, "")
		r.font("", 9)
		for i, l := range ls {
			if i > 0 {
				f.SetX(marginX + dateW)
			}
			f.CellFormat(r.width-dateW, lh(9), l, "", 1, "L", false, 0, "")
		}
		f.Ln(0.8)
	}
}

func (r *renderer) conditions() {
	c := &r.s.Conditions
	r.startSection(c.Title, fmt.Sprintf(" (%d)", len(c.Entries)), lh(9)*2)
	if len(c.Entries) == 0 {
		r.plain(c.EmptyText)
	}
	rows := make([][2]string, len(c.Entries))
	for i, e := range c.Entries {
		d := e.Onset.String()
		if d == "" {
			d = "onset ?"
		}
		rows[i] = [2]string{d, prepsheet.ConditionText(e)}
	}
	r.dated(rows)
	r.current = ""
}

func (r *renderer) section(s *prepsheet.Section) {
	r.startSection(s.Title, prepsheet.SectionNote(s), lh(9)*2)
	if len(s.Entries) == 0 {
		r.plain(s.EmptyText)
	}
	rows := make([][2]string, len(s.Entries))
	for i, e := range s.Entries {
		d := e.Date.String()
		if d == "" {
			d = "undated"
		}
		rows[i] = [2]string{d, prepsheet.EntryText(e)}
	}
	r.dated(rows)
	if s.Undated > 0 {
		r.plain(fmt.Sprintf("(%d undated, not listed)", s.Undated))
	}
	r.current = ""
}

func (r *renderer) notes() {
	var ns []string
	if len(r.s.Superseded) > 0 {
		ns = append(ns, prepsheet.SupersededText(r.s.Superseded))
	}
	ns = append(ns, "Marks: !! overdue, ! due, ~ due soon, ? cannot evaluate, + complete, x excluded, - not eligible.")
	r.f.Ln(3)
	for _, n := range ns {
		for _, l := range r.lines("", 8, n, r.width) {
			r.need(lh(8))
			r.f.SetX(marginX)
			r.f.CellFormat(r.width, lh(8), l, "", 1, "L", false, 0, "")
		}
	}
}

// fit shortens s with an ellipsis until it fits w in the current font.
func fit(f *fpdf.Fpdf, s string, w float64) string {
	if f.GetStringWidth(s) <= w {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && f.GetStringWidth(string(rs)+"…") > w {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func join(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

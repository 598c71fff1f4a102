package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// sheetView shows one prep sheet: header, screening checklist (status
// badge, last done / next due, reason, evidence, override), conditions and
// the lookback sections.
type sheetView struct {
	a *App
	m *mainScreen

	title    *widget.Label
	subtitle *widget.Label
	origin   *widget.Label
	print    *widget.Button
	body     *fyne.Container
	scroll   *container.Scroll
	root     fyne.CanvasObject

	openID   string
	current  *appstate.Sheet
	checks   map[string]*checkRow // by screening ID
	openForm *overrideForm        // the last override dialog opened
}

func newSheetView(a *App, m *mainScreen) *sheetView {
	v := &sheetView{a: a, m: m, title: widget.NewLabel(""), subtitle: widget.NewLabel(""), origin: widget.NewLabel("")}
	v.title.TextStyle = fyne.TextStyle{Bold: true}
	v.title.SizeName = theme.SizeNameHeadingText
	v.title.Truncation = fyne.TextTruncateEllipsis
	v.subtitle.Wrapping = fyne.TextWrapWord
	v.origin.TextStyle = fyne.TextStyle{Italic: true}
	v.origin.Wrapping = fyne.TextWrapWord
	v.print = widget.NewButtonWithIcon("Print sheet", theme.DocumentPrintIcon(), v.printSheet)
	v.print.Hide()
	v.body = container.NewVBox()
	v.scroll = container.NewVScroll(v.body)
	header := container.NewBorder(nil, nil, nil, v.print, container.NewVBox(v.title, v.subtitle, v.origin))
	v.root = container.NewBorder(container.NewVBox(header, widget.NewSeparator()), nil, nil, nil, v.scroll)
	v.placeholder("Select a patient on the schedule (click, or arrows and Enter) to see their prep sheet.")
	return v
}

func (v *sheetView) placeholder(text string) {
	v.current = nil
	v.checks = nil
	v.title.SetText("")
	v.subtitle.SetText("")
	v.origin.SetText("")
	v.print.Hide()
	msg := widget.NewLabel(text)
	msg.Wrapping = fyne.TextWrapWord
	v.body.Objects = []fyne.CanvasObject{msg}
	v.body.Refresh()
}

// open loads the sheet of row in the background.
func (v *sheetView) open(row appstate.Row) {
	v.openID = row.AppointmentID
	id := row.AppointmentID
	v.title.SetText(row.Name)
	v.subtitle.SetText("Loading the prep sheet...")
	v.a.d.Go(func() {
		s, err := v.a.d.Sheets.Sheet(v.a.ctx, id)
		fyne.Do(func() {
			if v.openID != id {
				return // another sheet was opened meanwhile
			}
			if err != nil {
				v.placeholder("This prep sheet could not be made on this workstation. It will appear after the next sync.")
				v.title.SetText(row.Name)
				return
			}
			v.show(&s)
		})
	})
}

// show renders s.
func (v *sheetView) show(s *appstate.Sheet) {
	v.current = s
	h := s.Header
	v.title.SetText(h.DisplayName())
	sub := []string{"MRN " + h.MRN, string(h.Sex), h.Age.Label}
	if !h.Deceased.IsZero() {
		sub = append(sub, "deceased "+h.Deceased.String())
	}
	appt := prepsheet.NoAppointment
	if !h.Appointment.NoneOnFile() {
		appt = strings.Join(nonEmpty(h.Appointment.Label, h.Appointment.Provider, h.Appointment.Location, h.Appointment.VisitType), " · ")
	}
	v.subtitle.SetText(strings.Join(nonEmpty(sub...), " · ") + "\nVisit: " + appt)
	v.origin.SetText(s.OriginText())
	v.print.Show()

	v.checks = map[string]*checkRow{}
	objs := []fyne.CanvasObject{heading("Screenings")}
	if len(s.Screenings) == 0 {
		objs = append(objs, widget.NewLabel("No screening applies."))
	}
	for _, it := range s.Screenings {
		c := newCheckRow(v, it)
		v.checks[it.ID] = c
		objs = append(objs, c.root)
	}
	if len(s.Superseded) > 0 {
		note := widget.NewLabel(prepsheet.SupersededText(s.Superseded))
		note.Wrapping = fyne.TextWrapWord
		note.Importance = widget.LowImportance
		objs = append(objs, note)
	}
	objs = append(objs, widget.NewSeparator(), heading(s.Conditions.Title))
	if len(s.Conditions.Entries) == 0 {
		objs = append(objs, widget.NewLabel(s.Conditions.EmptyText))
	}
	for _, c := range s.Conditions.Entries {
		line := prepsheet.ConditionText(c)
		if !c.Onset.IsZero() {
			line = c.Onset.String() + "  " + line
		}
		objs = append(objs, wrapped(line))
	}
	for _, sec := range s.Sections() {
		objs = append(objs, widget.NewSeparator(), heading(sec.Title+prepsheet.SectionNote(sec)))
		if len(sec.Entries) == 0 && sec.EmptyText != "" {
			objs = append(objs, widget.NewLabel(sec.EmptyText))
		}
		for _, e := range sec.Entries {
			objs = append(objs, wrapped(e.Date.String()+"  "+prepsheet.EntryText(e)))
		}
	}
	v.body.Objects = objs
	v.body.Refresh()
	v.scroll.ScrollToTop()
}

func heading(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	l.Wrapping = fyne.TextWrapWord
	return l
}

func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// checkRow is one screening of the checklist.
type checkRow struct {
	item     prepsheet.ScreeningItem
	badge    *badge
	evidence *fyne.Container
	showEv   *widget.Button
	// evButtons open each evidence item (page or details), in order.
	evButtons []*widget.Button
	override  *widget.Button
	root      fyne.CanvasObject
}

func newCheckRow(v *sheetView, it prepsheet.ScreeningItem) *checkRow {
	c := &checkRow{item: it, badge: newBadge()}
	fill, fg := statusColors(it.Status)
	c.badge.set(it.Symbol+" "+it.Label, fill, fg)
	name := widget.NewLabelWithStyle(it.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.Wrapping = fyne.TextWrapWord
	dates := widget.NewLabelWithStyle(dateLine(it), fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
	reason := wrapped(it.Reason)

	c.evidence = container.NewVBox()
	for _, ev := range it.Evidence {
		row, b := v.a.evidenceRow(ev)
		c.evidence.Add(row)
		c.evButtons = append(c.evButtons, b)
	}
	for _, src := range it.Sources {
		l := wrapped("Guideline: " + src)
		l.Importance = widget.LowImportance
		c.evidence.Add(l)
	}
	c.evidence.Hide()
	c.showEv = widget.NewButtonWithIcon(fmt.Sprintf("Evidence (%d)", len(it.Evidence)), theme.MenuExpandIcon(), func() {
		v.a.touch()
		if c.evidence.Visible() {
			c.evidence.Hide()
			c.showEv.SetIcon(theme.MenuExpandIcon())
		} else {
			c.evidence.Show()
			c.showEv.SetIcon(theme.MenuDropUpIcon())
		}
	})
	if len(it.Evidence) == 0 && len(it.Sources) == 0 {
		c.showEv.Disable()
	}
	c.override = widget.NewButtonWithIcon("Override...", theme.DocumentCreateIcon(), func() { v.openOverride(it) })
	buttons := container.NewVBox(c.showEv, c.override)
	text := container.NewVBox(name, dates, reason, c.evidence)
	c.root = container.NewBorder(nil, nil, container.NewVBox(c.badge), buttons, text)
	return c
}

// dateLine is "Last done 2024-03-01 · Next due 2025-03-01".
func dateLine(it prepsheet.ScreeningItem) string {
	last, next := "never", "now"
	if !it.LastDone.IsZero() {
		last = it.LastDone.String()
	}
	if !it.NextDue.IsZero() {
		next = it.NextDue.String()
	}
	switch it.Status {
	case screening.NotEligible, screening.Excluded, screening.Superseded:
		next = "-"
	case screening.CannotEvaluate:
		next = "unknown: " + it.Missing + " not on file"
	}
	return "Last done " + last + " · Next due " + next
}

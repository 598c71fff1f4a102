package ui

import (
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/chart"
)

// mainScreen is the signed-in window: offline banner, day toolbar, the
// schedule beside the open prep sheet, and the status bar.
type mainScreen struct {
	a *App

	banner     *fyne.Container
	bannerText *widget.Label

	dateButton *widget.Button
	prev, next *widget.Button
	todayBtn   *widget.Button
	provider   *widget.Select
	location   *widget.Select
	search     *searchEntry
	printDay   *widget.Button
	count      *widget.Label
	list       *scheduleList

	sheet  *sheetView
	status *statusBar
	root   fyne.CanvasObject

	// center shows the schedule, or tabs with the administration for
	// admins.
	center   *fyne.Container
	schedule fyne.CanvasObject
	tabs     *container.AppTabs
	admin    *adminScreen
	adminTab *container.TabItem
	docs     *documentsScreen
	docsTab  *container.TabItem

	day chart.Date
	// stale is set when the organisation's settings changed and the day
	// and open sheet must be read again (refresh).
	stale   bool
	all     appstate.Day
	rows    []appstate.Row // after the filter
	loadSeq int
	loading bool
}

func newMainScreen(a *App) *mainScreen {
	m := &mainScreen{a: a}
	m.bannerText = widget.NewLabel("")
	m.bannerText.Wrapping = fyne.TextWrapWord
	m.bannerText.TextStyle = fyne.TextStyle{Bold: true}
	m.bannerText.Importance = widget.DangerImportance
	bannerBg := canvas.NewRectangle(withAlpha(colOffline, 0x38))
	bannerBg.StrokeColor, bannerBg.StrokeWidth = colOffline, 2
	m.banner = container.NewStack(bannerBg, container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, m.bannerText))
	m.banner.Hide()

	m.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { m.load(m.day.AddDays(-1)) })
	m.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { m.load(m.day.AddDays(1)) })
	m.todayBtn = widget.NewButton("Today", func() { m.load(a.today()) })
	m.dateButton = widget.NewButtonWithIcon("", theme.CalendarIcon(), m.pickDate)
	m.provider = widget.NewSelect([]string{appstate.AllProviders}, nil)
	m.provider.SetSelected(appstate.AllProviders)
	m.location = widget.NewSelect([]string{appstate.AllLocations}, nil)
	m.location.SetSelected(appstate.AllLocations)
	m.search = newSearchEntry(m)
	m.printDay = widget.NewButtonWithIcon("Print day", theme.DocumentPrintIcon(), m.printWholeDay)
	m.count = widget.NewLabel("")
	m.list = newScheduleList(m)

	m.provider.OnChanged = func(string) { m.applyFilter() }
	m.location.OnChanged = func(string) { m.applyFilter() }
	m.sheet = newSheetView(a, m)
	m.status = newStatusBar(a)

	toolbar := container.NewBorder(nil, nil,
		container.NewHBox(m.prev, m.dateButton, m.next, m.todayBtn),
		container.NewHBox(m.provider, m.location, m.printDay),
		m.search)
	left := container.NewBorder(m.count, nil, nil, nil, m.list)
	split := container.NewHSplit(left, m.sheet.root)
	split.Offset = 0.36
	m.schedule = container.NewBorder(container.NewVBox(toolbar, widget.NewSeparator()), nil, nil, nil, split)
	m.center = container.NewStack(m.schedule)
	m.root = container.NewBorder(m.banner, m.status.root, nil, nil, m.center)
	m.load(a.today())
	return m
}

func withAlpha(c color.NRGBA, a uint8) color.NRGBA {
	c.A = a
	return c
}

// load shows day's schedule, read in the background: the person asked
// for it, so it counts as activity for the idle lock.
func (m *mainScreen) load(day chart.Date) {
	m.a.touch()
	m.read(day)
}

// followClinic marks the schedule for a refresh with the organisation's
// new settings: a person looking at today (in the clinic's old time zone)
// then sees today in the new one, any other day stays.
func (m *mainScreen) followClinic(oldToday chart.Date) {
	if m.day == oldToday {
		m.day = m.a.today()
	}
	m.stale = true
}

// refresh reads the day and the open sheet again after the settings
// changed. It is not the person's activity: it does not hold off the idle
// lock. The override dialog, when one is open, stays as it is.
func (m *mainScreen) refresh() {
	m.stale = false
	m.read(m.day)
	if v := m.sheet; v.current != nil && v.openID == v.current.AppointmentID {
		v.open(appstate.Row{AppointmentID: v.openID, Name: v.current.Header.DisplayName()})
	}
}

// read shows day's schedule, read in the background.
func (m *mainScreen) read(day chart.Date) {
	m.day = day
	m.loadSeq++
	seq := m.loadSeq
	m.loading = true
	m.dateButton.SetText(dayLabel(day, m.a.today()))
	m.count.SetText("Loading the schedule...")
	m.a.d.Go(func() {
		d, err := m.a.d.Schedule.Day(m.a.ctx, day)
		fyne.Do(func() {
			if seq != m.loadSeq {
				return // another day was asked for meanwhile
			}
			m.loading = false
			if err != nil {
				m.all = appstate.Day{Date: day}
				m.applyFilter()
				m.count.SetText("The schedule could not be read from this workstation's copy. Try again; if it persists, contact support.")
				return
			}
			m.all = d
			m.setChoices(m.provider, d.Providers(), appstate.AllProviders)
			m.setChoices(m.location, d.Locations(), appstate.AllLocations)
			m.applyFilter()
		})
	})
}

// reload reads the day again (new counts) without closing the
// open sheet.
func (m *mainScreen) reload() { m.load(m.day) }

func (m *mainScreen) setChoices(sel *widget.Select, opts []string, all string) {
	cur := sel.Selected
	sel.Options = opts
	found := false
	for _, o := range opts {
		found = found || o == cur
	}
	if !found {
		cur = all
	}
	sel.Selected = cur
	sel.Refresh()
}

// dayLabel is the toolbar's date: "Today, Fri 14 Mar 2025".
func dayLabel(d, today chart.Date) string {
	s := d.Time().Format("Mon 2 Jan 2006")
	switch d.Compare(today) {
	case 0:
		return "Today, " + s
	}
	if d == today.AddDays(1) {
		return "Tomorrow, " + s
	}
	return s
}

func (m *mainScreen) applyFilter() {
	f := appstate.Filter{Provider: m.provider.Selected, Location: m.location.Selected, Query: m.search.Text}
	m.rows = f.Apply(m.all.Rows)
	m.list.UnselectAll()
	m.list.cursor = 0
	m.list.Refresh()
	if m.loading {
		return
	}
	switch {
	case len(m.all.Rows) == 0:
		m.count.SetText("No appointments on this day.")
	case len(m.rows) == len(m.all.Rows):
		m.count.SetText(fmt.Sprintf("%d appointments", len(m.rows)))
	default:
		m.count.SetText(fmt.Sprintf("%d of %d appointments match", len(m.rows), len(m.all.Rows)))
	}
	m.printDay.Enable()
	if len(m.rows) == 0 {
		m.printDay.Disable()
	}
}

// open shows the sheet of the i-th visible row.
func (m *mainScreen) open(i int) {
	if i < 0 || i >= len(m.rows) {
		return
	}
	m.a.touch()
	m.sheet.open(m.rows[i])
}

func (m *mainScreen) focusSchedule() { m.a.win.Canvas().Focus(m.list) }

// typeToSearch starts a search with r when the person types while no entry
// has the focus.
func (m *mainScreen) typeToSearch(r rune) {
	m.search.SetText(m.search.Text + string(r))
	m.search.CursorColumn = len([]rune(m.search.Text))
	m.a.win.Canvas().Focus(m.search)
}

func (m *mainScreen) pickDate() {
	var pop *widget.PopUp
	cal := widget.NewCalendar(m.day.Time(), func(t time.Time) {
		pop.Hide()
		m.load(chart.D(t.Year(), t.Month(), t.Day()))
	})
	pop = widget.NewPopUp(cal, m.a.win.Canvas())
	pop.ShowAtRelativePosition(fyne.NewPos(0, m.dateButton.Size().Height), m.dateButton)
}

// searchEntry is the name/MRN search: typing filters, Down moves to the
// list, Enter opens the first match.
type searchEntry struct {
	widget.Entry
	m *mainScreen
}

func newSearchEntry(m *mainScreen) *searchEntry {
	e := &searchEntry{m: m}
	e.ExtendBaseWidget(e)
	e.SetPlaceHolder("Search by name or MRN (just start typing)")
	e.OnChanged = func(string) { m.a.touch(); m.applyFilter() }
	e.OnSubmitted = func(string) { m.open(0) }
	return e
}

func (e *searchEntry) TypedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyDown:
		e.m.focusSchedule()
		e.m.list.move(0)
	case fyne.KeyEscape:
		e.SetText("")
	default:
		e.Entry.TypedKey(ev)
	}
}

// scheduleList is the day's appointments. Arrows move the selection,
// Enter (or a click) opens the sheet, typing starts a search.
type scheduleList struct {
	widget.List
	m      *mainScreen
	cursor int
	moving bool
}

func newScheduleList(m *mainScreen) *scheduleList {
	l := &scheduleList{m: m}
	l.Length = func() int { return len(m.rows) }
	l.CreateItem = func() fyne.CanvasObject { return newRowWidget() }
	l.UpdateItem = func(i widget.ListItemID, o fyne.CanvasObject) { o.(*rowWidget).set(m.rows[i]) }
	l.OnSelected = func(i widget.ListItemID) {
		l.cursor = i
		if !l.moving {
			m.open(i)
		}
	}
	l.ExtendBaseWidget(l)
	return l
}

// move moves the selection by d rows (0 selects the current one) without
// opening it.
func (l *scheduleList) move(d int) {
	n := len(l.m.rows)
	if n == 0 {
		return
	}
	l.m.a.touch()
	l.cursor = min(max(l.cursor+d, 0), n-1)
	l.moving = true
	l.Select(l.cursor)
	l.moving = false
	l.ScrollTo(l.cursor)
}

func (l *scheduleList) TypedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyDown:
		l.move(1)
	case fyne.KeyUp:
		l.move(-1)
	case fyne.KeyReturn, fyne.KeyEnter:
		l.m.open(l.cursor)
	default:
		l.List.TypedKey(ev)
	}
}

func (l *scheduleList) TypedRune(r rune) {
	if r == ' ' {
		l.m.open(l.cursor)
		return
	}
	l.m.typeToSearch(r)
}

// rowWidget is one appointment: time, name, MRN, visit, and the counts of
// due and overdue screenings as text on colour.
type rowWidget struct {
	widget.BaseWidget
	time    *widget.Label
	name    *widget.Label
	detail  *widget.Label
	overdue *badge
	due     *badge
}

func newRowWidget() *rowWidget {
	r := &rowWidget{time: widget.NewLabel("00:00"), name: widget.NewLabel(""), detail: widget.NewLabel(""), overdue: newBadge(), due: newBadge()}
	r.time.TextStyle = fyne.TextStyle{Bold: true, Monospace: true}
	r.name.TextStyle = fyne.TextStyle{Bold: true}
	r.name.Truncation = fyne.TextTruncateEllipsis
	r.detail.Truncation = fyne.TextTruncateEllipsis
	r.ExtendBaseWidget(r)
	return r
}

func (r *rowWidget) set(row appstate.Row) {
	r.time.SetText(row.Start.Format("15:04"))
	r.name.SetText(row.Name)
	parts := row.MRN
	for _, p := range []string{row.Provider, row.VisitType} {
		if p != "" {
			parts += " · " + p
		}
	}
	r.detail.SetText(parts)
	r.overdue.Hide()
	r.due.Hide()
	switch {
	case row.Cancelled():
		r.due.set("x CANCELLED", colNeutral, black)
		r.due.Show()
	case !row.Counted:
		r.due.set("? no sheet yet", colCannot, black)
		r.due.Show()
	case row.Overdue == 0 && row.Due == 0:
		r.due.set("+ nothing due", colComplete, black)
		r.due.Show()
	default:
		if row.Overdue > 0 {
			r.overdue.set(fmt.Sprintf("!! %d overdue", row.Overdue), colOverdue, white)
			r.overdue.Show()
		}
		if row.Due > 0 {
			r.due.set(fmt.Sprintf("! %d due", row.Due), colDue, black)
			r.due.Show()
		}
	}
}

func (r *rowWidget) CreateRenderer() fyne.WidgetRenderer {
	badges := container.NewVBox(container.NewHBox(r.overdue, r.due))
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, r.time, container.NewCenter(badges), container.NewVBox(r.name, r.detail)))
}

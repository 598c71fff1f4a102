package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// The admin screens, by name in the navigation.
const (
	pageChecklist  = "Setup checklist"
	pageUsers      = "Users"
	pageDevices    = "Workstations"
	pageEpic       = "Epic"
	pageScreenings = "Screening types"
	pageAudit      = "Audit log"
)

// Admin pages ShowAdmin opens.
const (
	AdminChecklist  = pageChecklist
	AdminUsers      = pageUsers
	AdminDevices    = pageDevices
	AdminEpic       = pageEpic
	AdminScreenings = pageScreenings
	AdminAudit      = pageAudit
)

// ShowAdmin opens the Administration tab on page (one of the Admin
// constants) and reports whether it could: the signed-in person must be an
// admin and the page's source configured.
func (a *App) ShowAdmin(page string) bool {
	if a.main == nil || a.main.adminTab == nil || a.shown != a.main.root {
		return false
	}
	a.main.tabs.Select(a.main.adminTab)
	a.main.admin.open(page)
	return a.main.admin.shown == page
}

// adminScreen is the Administration tab: a navigation list on the left
// and the chosen page on the right. Pages load from the cloud when shown.
type adminScreen struct {
	a     *App
	nav   *widget.List
	pages []string
	body  *fyne.Container
	root  fyne.CanvasObject
	shown string

	checklist  *checklistView
	users      *usersView
	devices    *devicesView
	epic       *epicView
	screenings *screeningsView
	audit      *auditView
}

func newAdminScreen(a *App) *adminScreen {
	s := &adminScreen{a: a, body: container.NewStack()}
	s.checklist = newChecklistView(s)
	s.pages = append(s.pages, pageChecklist)
	if a.d.Users != nil {
		s.users = newUsersView(a)
		s.pages = append(s.pages, pageUsers)
	}
	if a.d.Devices != nil {
		s.devices = newDevicesView(a)
		s.pages = append(s.pages, pageDevices)
	}
	if a.d.Epic != nil {
		s.epic = newEpicView(a)
		s.pages = append(s.pages, pageEpic)
	}
	if a.d.Screenings != nil {
		s.screenings = newScreeningsView(a)
		s.pages = append(s.pages, pageScreenings)
	}
	if a.d.Audit != nil {
		s.audit = newAuditView(a)
		s.pages = append(s.pages, pageAudit)
	}
	s.nav = widget.NewList(func() int { return len(s.pages) },
		func() fyne.CanvasObject { return widget.NewLabel("Screening types xx") },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(s.pages[i]) })
	s.nav.OnSelected = func(i widget.ListItemID) { s.show(s.pages[i]) }
	split := container.NewHSplit(s.nav, s.body)
	split.Offset = 0.16
	s.root = split
	return s
}

// open shows a page (and selects it in the navigation).
func (s *adminScreen) open(page string) {
	for i, p := range s.pages {
		if p == page {
			s.nav.Select(i) // calls show
			return
		}
	}
}

func (s *adminScreen) show(page string) {
	s.a.touch()
	s.shown = page
	var v interface {
		content() fyne.CanvasObject
		load()
	}
	switch page {
	case pageChecklist:
		v = s.checklist
	case pageUsers:
		v = s.users
	case pageDevices:
		v = s.devices
	case pageEpic:
		v = s.epic
	case pageScreenings:
		v = s.screenings
	case pageAudit:
		v = s.audit
	default:
		return
	}
	s.body.Objects = []fyne.CanvasObject{v.content()}
	s.body.Refresh()
	v.load()
}

// background runs work off the UI goroutine and hands its result to done
// on it.
func background[T any](a *App, work func(context.Context) (T, error), done func(T, error)) {
	a.d.Go(func() {
		v, err := work(a.ctx)
		fyne.Do(func() { done(v, err) })
	})
}

// page lays out an admin page: a title, a message line, and the body
// scrolling under them.
func page(title string, msg *widget.Label, body fyne.CanvasObject, actions ...fyne.CanvasObject) fyne.CanvasObject {
	h := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.SizeName = theme.SizeNameHeadingText
	top := container.NewBorder(nil, nil, nil, container.NewHBox(actions...), h)
	return container.NewBorder(container.NewVBox(top, msg, widget.NewSeparator()), nil, nil, nil, container.NewVScroll(body))
}

func messageLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.DangerImportance
	return l
}

// say shows err on l (or info, in the normal colour, when err is nil).
func say(l *widget.Label, err error, info string) {
	if err != nil {
		l.Importance = widget.DangerImportance
		l.SetText(appstate.AdminMessage(err))
		return
	}
	l.Importance = widget.SuccessImportance
	l.SetText(info)
}

// fieldMessage is a small red line under a form field, hidden while
// empty.
func fieldMessage() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

func setField(l *widget.Label, msg string) {
	l.SetText(msg)
	if msg == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

// confirmBox is a modal question with its buttons kept, so that tests can
// answer it.
type confirmBox struct {
	pop     *widget.PopUp
	yes, no *widget.Button
	msg     *widget.Label
	extra   fyne.CanvasObject
}

// confirm asks a question; yes is called on the UI goroutine when the
// person agrees and returns false to keep the box open (e.g. a message
// under an extra field).
func (a *App) confirm(title, question, yesText string, extra fyne.CanvasObject, yes func(*confirmBox) bool) *confirmBox {
	b := &confirmBox{msg: messageLabel(), extra: extra}
	q := widget.NewLabel(question)
	q.Wrapping = fyne.TextWrapWord
	h := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	b.no = widget.NewButton("Cancel", func() { b.pop.Hide() })
	b.yes = widget.NewButton(yesText, func() {
		if yes(b) {
			b.pop.Hide()
		}
	})
	b.yes.Importance = widget.DangerImportance
	items := []fyne.CanvasObject{h, q}
	if extra != nil {
		items = append(items, extra)
	}
	items = append(items, b.msg, container.NewHBox(layout.NewSpacer(), b.no, b.yes))
	box := container.NewVBox(items...)
	b.pop = widget.NewModalPopUp(container.New(layout.NewGridWrapLayout(fyne.NewSize(460, box.MinSize().Height+20)), box), a.win.Canvas())
	b.pop.Show()
	a.lastConfirm = b
	return b
}

// checklistView is the first-run checklist of a new organisation's admin.
type checklistView struct {
	s     *adminScreen
	a     *App
	msg   *widget.Label
	list  *fyne.Container
	root  fyne.CanvasObject
	steps []appstate.ChecklistStep
	rows  map[string]*checklistRow
}

type checklistRow struct {
	state *badge
	open  *widget.Button
	skip  *widget.Button
}

func newChecklistView(s *adminScreen) *checklistView {
	v := &checklistView{s: s, a: s.a, msg: messageLabel(), list: container.NewVBox()}
	intro := widget.NewLabel("The steps to get a new organisation ready. Each can be skipped and done later from here.")
	intro.Wrapping = fyne.TextWrapWord
	v.root = page(pageChecklist, v.msg, container.NewVBox(intro, v.list))
	return v
}

func (v *checklistView) content() fyne.CanvasObject { return v.root }

const prefSkip, prefPresetsReviewed = "admin.checklist.skip.", "admin.checklist.presets_reviewed"

// load gathers the facts (Epic status, people) in the background.
func (v *checklistView) load() {
	prefs := v.a.fyne.Preferences()
	facts := appstate.ChecklistFacts{PresetsReviewed: prefs.Bool(prefPresetsReviewed), Skipped: map[string]bool{}}
	for _, id := range []string{appstate.StepEpic, appstate.StepPresets, appstate.StepInvite, appstate.StepFirstRun} {
		facts.Skipped[id] = prefs.Bool(prefSkip + id)
	}
	v.msg.SetText("")
	background(v.a, func(ctx context.Context) (appstate.ChecklistFacts, error) {
		f := facts
		var err error
		if v.a.d.Epic != nil {
			if f.Epic, err = v.a.d.Epic.EpicStatus(ctx); err != nil {
				return f, err
			}
		}
		if v.a.d.Users != nil {
			ms, err := v.a.d.Users.Members(ctx)
			if err != nil {
				return f, err
			}
			ins, err := v.a.d.Users.Invites(ctx)
			if err != nil {
				return f, err
			}
			me := v.a.d.Session.Status().User.ID
			for _, m := range ms {
				if m.ID != me && m.Active {
					f.People++
				}
			}
			for _, in := range ins {
				if in.Status == "pending" {
					f.People++
				}
			}
		}
		return f, nil
	}, func(f appstate.ChecklistFacts, err error) {
		if err != nil {
			say(v.msg, err, "")
		}
		v.render(appstate.Checklist(f))
	})
}

func (v *checklistView) render(steps []appstate.ChecklistStep) {
	v.steps = steps
	v.rows = map[string]*checklistRow{}
	v.list.Objects = nil
	for i, st := range steps {
		r := &checklistRow{state: newBadge()}
		switch {
		case st.Done:
			r.state.set("+ Done", colComplete, black)
		case st.Skipped:
			r.state.set("- Skipped", colNeutral, black)
		default:
			r.state.set("! To do", colDue, black)
		}
		step := st
		r.open = widget.NewButton("Open", func() { v.s.open(stepPage(step.ID)) })
		r.skip = widget.NewButton("Skip for now", func() { v.setSkipped(step.ID, true) })
		if st.Skipped {
			r.skip.SetText("Back to to-do")
			r.skip.OnTapped = func() { v.setSkipped(step.ID, false) }
		}
		if st.Done {
			r.skip.Hide()
		}
		title := widget.NewLabelWithStyle(fmtStep(i+1, st.Title), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		detail := wrapped(st.Detail)
		v.rows[st.ID] = r
		v.list.Add(container.NewBorder(nil, nil, container.NewVBox(r.state), container.NewHBox(r.open, r.skip), container.NewVBox(title, detail)))
		v.list.Add(widget.NewSeparator())
	}
	v.list.Refresh()
}

func fmtStep(n int, title string) string { return string(rune('0'+n)) + ". " + title }

func stepPage(id string) string {
	switch id {
	case appstate.StepEpic, appstate.StepFirstRun:
		return pageEpic
	case appstate.StepPresets:
		return pageScreenings
	case appstate.StepInvite:
		return pageUsers
	}
	return pageChecklist
}

func (v *checklistView) setSkipped(id string, skip bool) {
	v.a.fyne.Preferences().SetBool(prefSkip+id, skip)
	v.load()
}

package ui

import (
	"context"
	"fmt"
	"io"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// auditView is the audit log viewer: filters, the matching entries (newest
// first, a page at a time) and a CSV export to a file.
type auditView struct {
	a   *App
	msg *widget.Label

	action, actor, since, until *widget.Entry
	outcome                     *widget.Select
	msgs                        map[string]*widget.Label
	search, more, export        *widget.Button

	entries []appstate.AuditEntry
	next    string
	filter  appstate.AuditFilter
	list    *widget.List
	count   *widget.Label
	root    fyne.CanvasObject
}

func newAuditView(a *App) *auditView {
	v := &auditView{a: a, msg: messageLabel(), action: widget.NewEntry(), actor: widget.NewEntry(), since: widget.NewEntry(), until: widget.NewEntry(),
		count: widget.NewLabel(""), msgs: map[string]*widget.Label{"action": fieldMessage(), "since": fieldMessage(), "until": fieldMessage(), "outcome": fieldMessage()}}
	v.action.SetPlaceHolder("e.g. auth. or user.invite")
	v.actor.SetPlaceHolder("user id")
	v.since.SetPlaceHolder("YYYY-MM-DD")
	v.until.SetPlaceHolder("YYYY-MM-DD")
	v.outcome = widget.NewSelect([]string{"any", "success", "failure", "alert"}, nil)
	v.outcome.SetSelected("any")
	v.search = widget.NewButtonWithIcon("Search", theme.SearchIcon(), func() { v.query(false) })
	v.search.Importance = widget.HighImportance
	v.more = widget.NewButton("Load more", func() { v.query(true) })
	v.more.Hide()
	v.export = widget.NewButtonWithIcon("Export CSV...", theme.DownloadIcon(), v.exportCSV)
	for _, e := range []*widget.Entry{v.action, v.actor, v.since, v.until} {
		e.OnSubmitted = func(string) { v.query(false) }
	}
	v.list = widget.NewList(func() int { return len(v.entries) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("2025-03-14 07:45:00  auth.signin  success  admin user-1 -> user user-2")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(v.line(v.entries[i])) })
	form := container.NewGridWithColumns(5,
		container.NewVBox(widget.NewLabel("Action"), v.action, v.msgs["action"]),
		container.NewVBox(widget.NewLabel("User"), v.actor),
		container.NewVBox(widget.NewLabel("From"), v.since, v.msgs["since"]),
		container.NewVBox(widget.NewLabel("To (inclusive)"), v.until, v.msgs["until"]),
		container.NewVBox(widget.NewLabel("Outcome"), v.outcome, v.msgs["outcome"]),
	)
	h := widget.NewLabelWithStyle(pageAudit, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.SizeName = theme.SizeNameHeadingText
	top := container.NewVBox(container.NewBorder(nil, nil, nil, container.NewHBox(v.search, v.export), h), form, v.msg, v.count, widget.NewSeparator())
	v.root = container.NewBorder(top, container.NewHBox(v.more), nil, nil, v.list)
	return v
}

func (v *auditView) content() fyne.CanvasObject { return v.root }

func (v *auditView) load() {
	if v.entries == nil {
		v.query(false)
	}
}

func (v *auditView) line(e appstate.AuditEntry) string {
	s := fmt.Sprintf("%s  %-24s %-8s %s %s", e.At.In(v.a.d.Location).Format("2006-01-02 15:04:05"), e.Action, e.Outcome, e.ActorRole, e.ActorID)
	if e.Target != "" {
		s += " -> " + e.Target
	}
	if e.PatientRef != "" {
		s += " · patient ref " + e.PatientRef
	}
	return s
}

// form validates the filters.
func (v *auditView) form() (appstate.AuditFilter, error) {
	out := v.outcome.Selected
	if out == "any" {
		out = ""
	}
	f, err := appstate.AuditForm{Action: v.action.Text, ActorID: v.actor.Text, Since: v.since.Text, Until: v.until.Text, Outcome: out}.Filter(v.a.d.Location)
	for k, l := range v.msgs {
		setField(l, appstate.FieldMessage(err, k))
	}
	return f, err
}

type auditPage struct {
	entries []appstate.AuditEntry
	next    string
}

func (v *auditView) query(more bool) {
	v.a.touch()
	f := v.filter
	token := v.next
	if !more {
		var err error
		if f, err = v.form(); err != nil {
			say(v.msg, err, "")
			return
		}
		token = ""
	}
	v.msg.SetText("")
	background(v.a, func(ctx context.Context) (auditPage, error) {
		es, next, err := v.a.d.Audit.QueryAudit(ctx, f, token)
		return auditPage{es, next}, err
	}, func(p auditPage, err error) {
		if err != nil {
			say(v.msg, err, "")
			return
		}
		if !more {
			v.entries = []appstate.AuditEntry{}
		}
		v.filter = f
		v.entries = append(v.entries, p.entries...)
		v.next = p.next
		if p.next != "" {
			v.more.Show()
		} else {
			v.more.Hide()
		}
		v.count.SetText(fmt.Sprintf("%d entries shown, newest first", len(v.entries)))
		if p.next != "" {
			v.count.SetText(v.count.Text + " (more to load)")
		}
		v.list.Refresh()
	})
}

func (v *auditView) exportCSV() {
	v.a.touch()
	f, err := v.form()
	if err != nil {
		say(v.msg, err, "")
		return
	}
	v.a.d.SaveFile("audit-log.csv", func(w io.WriteCloser, err error) {
		if w == nil || err != nil {
			return
		}
		v.export.Disable()
		v.msg.Importance = widget.MediumImportance
		v.msg.SetText("Exporting...")
		background(v.a, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, closeWith(w, v.a.d.Audit.ExportAuditCSV(ctx, f, w))
		}, func(_ struct{}, err error) {
			v.export.Enable()
			say(v.msg, err, "Exported the matching entries as CSV.")
		})
	})
}

package ui

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// overrideForm is the override dialog: what to record, the date when the
// kind takes one, and the reason. appstate validates; the form shows the
// messages beside the fields and stays open until the override is saved.
type overrideForm struct {
	kind       *widget.RadioGroup
	date       *widget.Entry
	reason     *widget.Entry
	kindMsg    *widget.Label
	dateMsg    *widget.Label
	reasonMsg  *widget.Label
	saveMsg    *widget.Label
	save       *widget.Button
	cancel     *widget.Button
	dlg        *dialog.CustomDialog
	kindByText map[string]screening.OverrideKind
}

// openOverride opens the override dialog for one screening of the open
// sheet.
func (v *sheetView) openOverride(it prepsheet.ScreeningItem) {
	s := v.current
	if s == nil {
		return
	}
	v.a.touch()
	f := &overrideForm{kindByText: map[string]screening.OverrideKind{}}
	var labels []string
	for _, k := range appstate.OverrideKinds() {
		labels = append(labels, appstate.KindLabel(k))
		f.kindByText[appstate.KindLabel(k)] = k
	}
	f.date = widget.NewEntry()
	f.date.SetPlaceHolder("YYYY-MM-DD")
	f.date.Disable()
	f.kind = widget.NewRadioGroup(labels, func(sel string) {
		if appstate.NeedsDate(f.kindByText[sel]) {
			f.date.Enable()
		} else {
			f.date.SetText("")
			f.date.Disable()
		}
	})
	f.reason = widget.NewMultiLineEntry()
	f.reason.SetPlaceHolder("Why, in a sentence (required)")
	f.reason.SetMinRowsVisible(3)
	f.reason.Wrapping = fyne.TextWrapWord
	msg := func() *widget.Label {
		l := widget.NewLabel("")
		l.Importance = widget.DangerImportance
		l.Wrapping = fyne.TextWrapWord
		l.Hide()
		return l
	}
	f.kindMsg, f.dateMsg, f.reasonMsg, f.saveMsg = msg(), msg(), msg(), msg()

	fill, fg := statusColors(it.Status)
	b := newBadge()
	b.set(it.Symbol+" "+it.Label, fill, fg)
	head := container.NewBorder(nil, nil, b, nil, widget.NewLabelWithStyle(it.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	f.save = widget.NewButtonWithIcon("Save override", theme.ConfirmIcon(), func() { v.saveOverride(f, s, it) })
	f.save.Importance = widget.HighImportance
	f.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() { f.dlg.Hide() })
	content := container.NewVBox(
		head,
		widget.NewLabel("Record"), f.kind, f.kindMsg,
		widget.NewLabel("Date (postpone until, or done on)"), f.date, f.dateMsg,
		widget.NewLabel("Reason"), f.reason, f.reasonMsg,
		f.saveMsg,
		container.NewHBox(layout.NewSpacer(), f.cancel, f.save),
	)
	f.dlg = dialog.NewCustomWithoutButtons("Override for "+s.Header.DisplayName(), content, v.a.win)
	f.dlg.Resize(fyne.NewSize(480, content.MinSize().Height+60))
	v.openForm = f
	f.dlg.Show()
}

func (v *sheetView) saveOverride(f *overrideForm, s *appstate.Sheet, it prepsheet.ScreeningItem) {
	v.a.touch()
	o := appstate.Override{
		PatientID: s.PatientID, AppointmentID: s.AppointmentID, TypeID: it.ID,
		Kind: f.kindByText[f.kind.Selected], DateText: f.date.Text, Reason: f.reason.Text,
	}
	if _, err := o.Validate(v.a.today()); !f.showErrors(err) {
		return
	}
	f.save.Disable()
	user := v.a.d.Session.Status().User
	v.a.d.Go(func() {
		err := v.a.d.Overrides.SaveOverride(v.a.ctx, o, user)
		fyne.Do(func() {
			f.save.Enable()
			if !f.showErrors(err) {
				return
			}
			f.dlg.Hide()
			if v.openID == s.AppointmentID {
				v.open(appstate.Row{AppointmentID: s.AppointmentID, Name: s.Header.DisplayName()})
			}
			v.m.reload()
		})
	})
}

// showErrors shows err's messages beside the fields and reports whether
// there were none.
func (f *overrideForm) showErrors(err error) bool {
	set := func(l *widget.Label, text string) {
		l.SetText(text)
		l.Hidden = text == ""
		l.Refresh()
	}
	var oe *appstate.OverrideError
	switch {
	case err == nil:
		set(f.kindMsg, "")
		set(f.dateMsg, "")
		set(f.reasonMsg, "")
		set(f.saveMsg, "")
		return true
	case errors.As(err, &oe):
		set(f.kindMsg, oe.Kind)
		set(f.dateMsg, oe.Date)
		set(f.reasonMsg, oe.Reason)
		set(f.saveMsg, "")
	default:
		set(f.saveMsg, "The override could not be saved on this workstation. Nothing was recorded; try again.")
	}
	return false
}

package ui

import (
	"context"
	"fmt"
	"io"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// screeningsView lists the screening types with on/off switches and edits
// one type's ages and intervals, with the shared rules' validation
// messages and a live preview on a synthetic sample patient; the changes
// are saved together, imported from and exported to JSON.
type screeningsView struct {
	a   *App
	msg *widget.Label

	saved, edited appstate.ScreeningConfig
	loaded        bool

	list  *fyne.Container
	toggl map[string]*widget.Check

	// the editor of the selected type
	typeID  string
	title   *widget.Label
	fields  map[string]*widget.Entry // min_age, max_age, due_soon, grace, rule:<id>
	msgs    map[string]*widget.Label
	typeMsg *widget.Label
	form    *fyne.Container
	sample  *widget.Select
	preview *widget.Label
	before  *widget.Label

	save, revert, reviewed *widget.Button
	previewSeq             int
	root                   fyne.CanvasObject
}

func newScreeningsView(a *App) *screeningsView {
	v := &screeningsView{a: a, msg: messageLabel(), list: container.NewVBox(), title: heading("Choose a screening type to edit"),
		typeMsg: fieldMessage(), form: container.NewVBox(), preview: wrapped(""), before: wrapped("")}
	v.before.TextStyle = fyne.TextStyle{Italic: true}
	v.preview.TextStyle = fyne.TextStyle{Bold: true}
	var names []string
	for _, r := range a.d.Samples {
		names = append(names, r.Patient.Name+" (sample)")
	}
	v.sample = widget.NewSelect(names, func(string) { v.updatePreview() })
	if len(names) > 0 {
		v.sample.SetSelectedIndex(0)
	}
	v.save = widget.NewButtonWithIcon("Save changes", theme.DocumentSaveIcon(), v.saveChanges)
	v.save.Importance = widget.HighImportance
	v.revert = widget.NewButtonWithIcon("Discard changes", theme.ContentUndoIcon(), func() {
		v.setEdited(v.saved)
		v.selectType(v.typeID)
		// Read the saved settings again: after a refused save because
		// someone else saved first, this loads theirs.
		v.loaded = false
		v.load()
	})
	v.reviewed = widget.NewButtonWithIcon("Mark presets reviewed", theme.ConfirmIcon(), func() {
		a.fyne.Preferences().SetBool(prefPresetsReviewed, true)
		say(v.msg, nil, "Marked as reviewed on the setup checklist.")
	})
	imp := widget.NewButtonWithIcon("Import...", theme.FolderOpenIcon(), v.importFile)
	exp := widget.NewButtonWithIcon("Export...", theme.DownloadIcon(), v.exportFile)

	editor := container.NewVBox(v.title, v.form, v.typeMsg, widget.NewSeparator(),
		heading("Preview"), container.NewBorder(nil, nil, widget.NewLabel("Sample patient"), nil, v.sample), v.before, v.preview)
	split := container.NewHSplit(container.NewVScroll(v.list), container.NewVScroll(editor))
	split.Offset = 0.45
	h := widget.NewLabelWithStyle(pageScreenings, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.SizeName = theme.SizeNameHeadingText
	top := container.NewBorder(nil, nil, nil, container.NewHBox(imp, exp, v.reviewed, v.revert, v.save), h)
	v.root = container.NewBorder(container.NewVBox(top, v.msg, widget.NewSeparator()), nil, nil, nil, split)
	v.updateButtons()
	return v
}

func (v *screeningsView) content() fyne.CanvasObject { return v.root }

func (v *screeningsView) load() {
	if v.loaded {
		return // keep unsaved edits while moving between pages
	}
	background(v.a, v.a.d.Screenings.ScreeningConfig, func(c appstate.ScreeningConfig, err error) {
		if err != nil {
			say(v.msg, err, "")
			return
		}
		v.loaded = true
		v.saved = c
		reselect := v.typeID != ""
		v.setEdited(c)
		if reselect {
			v.selectType(v.typeID)
		}
	})
}

func (v *screeningsView) dirty() bool {
	a, _ := v.saved.ExportSettings()
	b, _ := v.edited.ExportSettings()
	return string(a) != string(b)
}

func (v *screeningsView) updateButtons() {
	if v.loaded && v.dirty() {
		v.save.Enable()
		v.revert.Enable()
	} else {
		v.save.Disable()
		v.revert.Disable()
	}
}

// setEdited shows c as the edited configuration.
func (v *screeningsView) setEdited(c appstate.ScreeningConfig) {
	v.edited = c
	v.toggl = map[string]*widget.Check{}
	v.list.Objects = nil
	for _, r := range c.Rows() {
		row := r
		chk := widget.NewCheck("", func(on bool) { v.setEnabled(row.ID, on) })
		chk.Checked = r.Enabled
		v.toggl[r.ID] = chk
		name := r.Name
		if r.Changed {
			name += " (changed)"
		}
		edit := widget.NewButtonWithIcon("", theme.DocumentCreateIcon(), func() { v.selectType(row.ID) })
		label := widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: r.Enabled})
		label.Wrapping = fyne.TextWrapWord
		sum := widget.NewLabel(r.Summary)
		sum.Wrapping = fyne.TextWrapWord
		sum.TextStyle = fyne.TextStyle{Italic: true}
		v.list.Add(container.NewBorder(nil, nil, chk, edit, container.NewVBox(label, sum)))
	}
	v.list.Refresh()
	v.updateButtons()
	if v.typeID == "" && len(c.Base.Types) > 0 {
		v.selectType(c.Base.Types[0].ID)
	}
}

func (v *screeningsView) setEnabled(id string, on bool) {
	v.a.touch()
	c, err := v.edited.SetEnabled(id, on)
	if err != nil {
		say(v.msg, err, "")
		v.toggl[id].SetChecked(!on)
		return
	}
	v.msg.SetText("")
	v.setEdited(c)
	if id == v.typeID {
		v.updatePreview()
	}
}

// selectType opens the editor on type id.
func (v *screeningsView) selectType(id string) {
	v.a.touch()
	f, err := v.edited.Form(id)
	if err != nil {
		v.typeID = ""
		v.form.Objects = nil
		v.form.Refresh()
		return
	}
	v.typeID = id
	v.title.SetText(f.Name)
	v.fields = map[string]*widget.Entry{}
	v.msgs = map[string]*widget.Label{}
	v.form.Objects = nil
	add := func(key, label, value, hint string) {
		e := widget.NewEntry()
		e.SetText(value)
		e.SetPlaceHolder(hint)
		e.OnChanged = func(string) { v.formChanged() }
		v.fields[key] = e
		v.msgs[key] = fieldMessage()
		l := widget.NewLabel(label)
		v.form.Add(container.NewBorder(nil, nil, container.New(layout.NewGridWrapLayout(fyne.NewSize(230, l.MinSize().Height)), l), nil, e))
		v.form.Add(v.msgs[key])
	}
	add("min_age", "Minimum age", f.MinAge, "any (e.g. 50y)")
	add("max_age", "Maximum age", f.MaxAge, "any (e.g. 74y)")
	add("due_soon", "Due soon from", f.DueSoon, "30d before")
	add("grace", "Overdue after", f.Grace, "3m after the due date")
	for _, r := range f.Rules {
		if r.Interval != "" {
			add("rule:"+r.ID, "Every (by "+r.Name+")", r.Interval, "e.g. 2y")
		}
	}
	v.form.Refresh()
	setField(v.typeMsg, "")
	v.updatePreview()
}

// form reads the editor's fields.
func (v *screeningsView) formValues() appstate.TypeForm {
	f, _ := v.edited.Form(v.typeID)
	f.MinAge, f.MaxAge = v.fields["min_age"].Text, v.fields["max_age"].Text
	f.DueSoon, f.Grace = v.fields["due_soon"].Text, v.fields["grace"].Text
	for i, r := range f.Rules {
		if e, ok := v.fields["rule:"+r.ID]; ok {
			f.Rules[i].Interval = e.Text
		}
	}
	return f
}

// formChanged validates as the person types and, when the form is valid,
// takes it into the edited configuration and previews it.
func (v *screeningsView) formChanged() {
	v.a.touch()
	c, err := v.edited.WithForm(v.formValues())
	for k, l := range v.msgs {
		setField(l, appstate.FieldMessage(err, k))
	}
	setField(v.typeMsg, appstate.FieldMessage(err, "type"))
	if err != nil {
		v.preview.SetText("Fix the highlighted fields to see the preview.")
		v.save.Disable()
		return
	}
	v.edited = c
	v.updateButtons()
	v.updatePreview()
}

// updatePreview evaluates the selected type on the sample in the
// background.
func (v *screeningsView) updatePreview() {
	i := v.sample.SelectedIndex()
	if v.typeID == "" || i < 0 || i >= len(v.a.d.Samples) {
		v.preview.SetText("")
		v.before.SetText("")
		return
	}
	v.previewSeq++
	seq, saved, edited, id, rec := v.previewSeq, v.saved, v.edited, v.typeID, v.a.d.Samples[i]
	asOf := v.a.today()
	background(v.a, func(context.Context) (appstate.Preview, error) {
		return appstate.PreviewType(saved, edited, id, rec, asOf)
	}, func(p appstate.Preview, err error) {
		if seq != v.previewSeq {
			return
		}
		if err != nil {
			v.preview.SetText(appstate.AdminMessage(err))
			return
		}
		v.before.SetText("Now: " + appstate.ResultText(p.Saved))
		text := "With your changes: " + appstate.ResultText(p.Edited)
		if !p.Changed() {
			text = "With your changes: no difference for this patient."
		}
		v.preview.SetText(text)
	})
}

func (v *screeningsView) saveChanges() {
	v.a.touch()
	if _, err := v.edited.Effective(); err != nil {
		say(v.msg, &appstate.RefusedError{Message: err.Error()}, "")
		return
	}
	c := v.edited
	v.save.Disable()
	background(v.a, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, v.a.d.Screenings.SaveScreeningSettings(ctx, c.Org)
	}, func(_ struct{}, err error) {
		if err != nil {
			say(v.msg, err, "")
			v.updateButtons()
			return
		}
		v.saved = c
		v.a.fyne.Preferences().SetBool(prefPresetsReviewed, true)
		say(v.msg, nil, "Saved. Workstations use the new settings after their next sync.")
		v.setEdited(c)
	})
}

func (v *screeningsView) exportFile() {
	v.a.touch()
	b, err := v.edited.ExportSettings()
	if err != nil {
		say(v.msg, err, "")
		return
	}
	v.a.d.SaveFile("screening-settings.json", func(w io.WriteCloser, err error) {
		if w == nil || err != nil {
			return
		}
		_, err = w.Write(b)
		err = closeWith(w, err)
		say(v.msg, err, "Exported the screening settings.")
	})
}

func (v *screeningsView) importFile() {
	v.a.touch()
	v.a.d.OpenFile(func(r io.ReadCloser, err error) {
		if r == nil || err != nil {
			return
		}
		b, err := io.ReadAll(io.LimitReader(r, 4<<20))
		err = closeWith(r, err)
		if err != nil {
			say(v.msg, err, "")
			return
		}
		c, err := v.edited.ImportSettings(b)
		if err != nil {
			say(v.msg, err, "")
			return
		}
		v.setEdited(c)
		v.selectType(v.typeID)
		say(v.msg, nil, fmt.Sprintf("Imported settings (%d types off, %d changed). Check them, then save.", len(c.Org.Disabled), len(c.Org.Types)))
	})
}

func closeWith(c io.Closer, err error) error {
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

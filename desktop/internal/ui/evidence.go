package ui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/prepsheet"
)

// evidenceRow is one evidence line of a screening with its drill-down: a
// document mention opens the redacted page with the phrase highlighted,
// coded evidence shows its code, system, value, date and source. Both
// read the line's fields, never its description.
func (a *App) evidenceRow(ev prepsheet.EvidenceLine) (fyne.CanvasObject, *widget.Button) {
	l := wrapped(fmt.Sprintf("%s: %s", ev.Role, prepsheet.EvidenceText(ev)))
	var b *widget.Button
	if appstate.IsDocumentEvidence(ev) {
		b = widget.NewButtonWithIcon("Page", theme.FileImageIcon(), func() { a.openEvidencePage(ev) })
		if a.d.Documents == nil {
			b.Disable()
		}
	} else {
		b = widget.NewButtonWithIcon("Details", theme.InfoIcon(), func() { a.showEvidenceDetails(ev) })
	}
	return container.NewBorder(nil, nil, nil, b, l), b
}

// evidencePage is the dialog of a document mention, for tests.
type evidencePage struct {
	dlg  *dialog.CustomDialog
	view *pageView
}

// openEvidencePage shows the page of a document mention with its phrase
// highlighted: the line's page, or, for a line whose page is unknown, the
// page the document source finds the phrase on.
func (a *App) openEvidencePage(ev prepsheet.EvidenceLine) {
	a.touch()
	view := newPageView()
	view.img.SetMinSize(fyne.NewSize(560, 680))
	view.loading()
	dlg := dialog.NewCustom("Evidence: "+prepsheet.EvidenceText(ev), "Close", view.root, a.win)
	dlg.Resize(fyne.NewSize(760, 860))
	dlg.Show()
	a.lastEvidence = &evidencePage{dlg: dlg, view: view}
	src := a.d.Documents
	a.d.Go(func() {
		img, err := appstate.EvidencePageImage(a.ctx, src, ev)
		fyne.Do(func() {
			if err != nil {
				view.unavailable(err)
				return
			}
			view.show(img, ev.Phrase)
		})
	})
}

// showEvidenceDetails shows a coded evidence item's code, system, date
// and source.
func (a *App) showEvidenceDetails(ev prepsheet.EvidenceLine) {
	a.touch()
	form := widget.NewForm()
	for _, d := range appstate.EvidenceDetails(ev) {
		v := wrapped(d.Value)
		v.Selectable = true
		form.Append(d.Label, v)
	}
	dlg := dialog.NewCustom("Evidence", "Close", form, a.win)
	dlg.Resize(fyne.NewSize(560, 300))
	dlg.Show()
	a.lastDetails = form
}

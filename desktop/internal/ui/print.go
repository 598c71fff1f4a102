package ui

import (
	"context"
	"fmt"
	"io"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// printJob is the progress dialog of a print to PDF.
type printJob struct {
	bar    *widget.ProgressBar
	label  *widget.Label
	cancel context.CancelFunc
	dlg    *dialog.CustomDialog

	// The print dialog, when the Printer lists printers (printDialog).
	print *printDialog
}

// printSheet prints the open sheet.
func (v *sheetView) printSheet() {
	if v.current == nil {
		return
	}
	s := v.current
	name := fmt.Sprintf("prep-sheet-%s-%s.pdf", s.AsOf, s.Header.Appointment.Start.In(v.a.d.Location).Format("1504"))
	v.a.printSheets(name, []string{s.AppointmentID})
}

// printWholeDay prints every appointment shown on the schedule (the
// filter applies) as one PDF.
func (m *mainScreen) printWholeDay() {
	var ids []string
	for _, r := range m.rows {
		if !r.Cancelled() {
			ids = append(ids, r.AppointmentID)
		}
	}
	if len(ids) == 0 {
		return
	}
	m.a.printSheets(fmt.Sprintf("prep-sheets-%s.pdf", m.day), ids)
}

// printSheets shows the window's print dialog when the Printer lists the
// workstation's printers; otherwise it saves a PDF and then offers the
// Printer (the system's PDF viewer or default queue).
func (a *App) printSheets(suggested string, ids []string) {
	if q, ok := a.d.Printer.(appstate.PrintQueues); ok {
		a.showPrintDialog(q, suggested, ids)
		return
	}
	a.printPDF(suggested, ids)
}

// printPDF asks where to save, then renders the sheets in the background
// with a progress bar. File names never carry a patient's name.
func (a *App) printPDF(suggested string, ids []string) {
	a.touch()
	a.d.SaveFile(suggested, func(w io.WriteCloser, err error) {
		if err != nil {
			dialog.ShowError(fmt.Errorf("the file could not be opened for writing"), a.win)
			return
		}
		if w == nil {
			return // cancelled
		}
		path := savedPath(w)
		ctx, cancel := context.WithCancel(a.ctx)
		job := &printJob{bar: widget.NewProgressBar(), label: widget.NewLabel(fmt.Sprintf("Preparing %d prep sheets...", len(ids))), cancel: cancel}
		stop := widget.NewButton("Cancel", cancel)
		job.dlg = dialog.NewCustomWithoutButtons("Saving PDF", container.NewVBox(job.label, job.bar, stop), a.win)
		job.dlg.Resize(fyne.NewSize(420, 160))
		job.dlg.Show()
		a.lastPrint = job
		now := a.d.Session.Now()
		a.d.Go(func() {
			err := appstate.PrintPDF(ctx, a.d.Sheets, ids, now, w, func(done, total int) {
				fyne.Do(func() {
					job.bar.SetValue(float64(done) / float64(total))
					job.label.SetText(fmt.Sprintf("Prepared %d of %d prep sheets", done, total))
				})
			})
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			cancel()
			fyne.Do(func() {
				job.dlg.Hide()
				switch {
				case ctx.Err() != nil && err != nil:
					job.label.SetText("Cancelled; the file is incomplete.")
					dialog.ShowInformation("Not saved", "Printing was cancelled; the PDF is incomplete and should be deleted.", a.win)
				case err != nil:
					job.label.SetText("Failed")
					dialog.ShowInformation("Not saved", "The prep sheets could not be saved as a PDF. Try again, or print them one by one.", a.win)
				case a.d.Printer != nil && path != "":
					job.label.SetText(fmt.Sprintf("Saved %d prep sheets", len(ids)))
					a.offerPrint(path, ids)
				default:
					job.label.SetText(fmt.Sprintf("Saved %d prep sheets", len(ids)))
					dialog.ShowInformation("Saved", fmt.Sprintf("Saved %d prep sheet(s) as a PDF.", len(ids)), a.win)
				}
			})
		})
	})
}

// savedPath is the local path of a file SaveFile opened, or "" when it is
// not a local file (then there is nothing to hand to the printer).
func savedPath(w io.WriteCloser) string {
	switch f := w.(type) {
	case interface{ URI() fyne.URI }:
		if u := f.URI(); u != nil && u.Scheme() == "file" {
			return u.Path()
		}
	case interface{ Name() string }: // *os.File
		return f.Name()
	}
	return ""
}

// offerPrint asks whether to print the saved PDF; when the person agrees
// it goes to the Printer (the system's print dialog or queue) and each
// sheet is recorded as printed in the outbox.
func (a *App) offerPrint(path string, ids []string) {
	box := a.confirm("Saved", fmt.Sprintf("Saved %d prep sheet(s) as a PDF. Print it now?", len(ids)), "Print", nil, func(b *confirmBox) bool {
		a.touch()
		b.yes.Disable()
		b.msg.SetText("Sending to the printer...")
		by := a.d.Session.Status().User
		a.d.Go(func() {
			err := a.d.Printer.Print(a.ctx, path)
			var logErr error
			if err == nil && a.d.PrintLog != nil {
				logErr = a.d.PrintLog.RecordPrint(a.ctx, ids, a.d.Session.Now(), by)
			}
			fyne.Do(func() {
				switch {
				case err != nil:
					b.yes.Enable()
					b.msg.SetText("The PDF could not be sent to the printer. It is saved; open and print it from its folder.")
				case logErr != nil:
					b.yes.Hide()
					b.no.SetText("Close")
					b.msg.SetText("Sent to the printer, but the print could not be recorded on this workstation. Tell your administrator.")
				default:
					b.pop.Hide()
				}
			})
		})
		return false
	})
	box.no.SetText("Not now")
	box.yes.Importance = widget.HighImportance
	box.yes.Refresh()
}

package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// printDialog is the window's own print dialog: Fyne has no access to the
// operating system's, so the window lists the workstation's printers
// (appstate.PrintQueues), the default one chosen, asks for the number of
// copies, and offers "Save as PDF…" instead. The sheets are rendered once;
// printing writes them to a private temporary file only while the print
// service reads it, and Save as PDF writes the same rendered PDF. A print
// that fails keeps the dialog open with the rendered PDF, says why in
// words that name no file and no patient, and records nothing as printed.
type printDialog struct {
	a         *App
	q         appstate.PrintQueues
	ids       []string
	suggested string
	ctx       context.Context
	stop      context.CancelFunc

	printers *widget.Select
	copies   *widget.Entry
	msg      *widget.Label
	bar      *widget.ProgressBar
	printBtn *widget.Button
	saveBtn  *widget.Button
	cancel   *widget.Button
	dlg      *dialog.CustomDialog
	content  *fyne.Container

	open    bool
	busy    bool               // rendering, printing or saving
	working context.CancelFunc // cancels the rendering under way
	pdf     []byte             // the rendered sheets, once rendered
}

// showPrintDialog opens the print dialog for ids and lists the printers in
// the background.
func (a *App) showPrintDialog(q appstate.PrintQueues, suggested string, ids []string) {
	a.touch()
	ctx, stop := context.WithCancel(a.ctx)
	p := &printDialog{a: a, q: q, ids: ids, suggested: suggested, ctx: ctx, stop: stop, open: true}
	p.printers = widget.NewSelect(nil, func(string) { p.refresh() })
	p.printers.PlaceHolder = "Looking for printers…"
	p.printers.Disable()
	p.copies = widget.NewEntry()
	p.copies.SetText("1")
	p.copies.Validator = func(s string) error {
		if _, ok := parseCopies(s); !ok {
			return fmt.Errorf("from 1 to %d", appstate.MaxCopies)
		}
		return nil
	}
	p.copies.OnChanged = func(string) { p.refresh() }
	p.copies.OnSubmitted = func(string) { // Enter prints
		if !p.printBtn.Disabled() {
			p.printNow()
		}
	}
	p.msg = widget.NewLabel("")
	p.msg.Wrapping = fyne.TextWrapWord
	p.bar = widget.NewProgressBar()
	p.bar.Hide()
	p.printBtn = widget.NewButton("Print", p.printNow)
	p.printBtn.Importance = widget.HighImportance
	p.saveBtn = widget.NewButton("Save as PDF…", p.saveAsPDF)
	p.cancel = widget.NewButton("Cancel", p.cancelOrClose)

	form := widget.NewForm(
		widget.NewFormItem("Printer", p.printers),
		widget.NewFormItem("Copies", p.copies),
	)
	what := widget.NewLabel(sheetCount(len(ids)) + " to print.")
	p.content = container.NewVBox(what, form, p.msg, p.bar,
		container.NewHBox(p.saveBtn, layout.NewSpacer(), p.cancel, p.printBtn))
	p.dlg = dialog.NewCustomWithoutButtons("Print", p.content, a.win)
	p.dlg.SetOnClosed(func() {
		p.open = false
		p.stop()
	})
	p.dlg.Show()
	p.fit()
	a.lastPrint = &printJob{print: p, bar: p.bar, dlg: p.dlg}
	p.refresh()

	a.d.Go(func() {
		list, err := q.Printers(ctx)
		fyne.Do(func() { p.listedPrinters(list, err) })
	})
}

// listedPrinters shows the printers, the default chosen, or says why
// there are none.
func (p *printDialog) listedPrinters(list appstate.Printers, err error) {
	switch {
	case err != nil:
		p.printers.PlaceHolder = "No printer"
		p.sayError(listError(err))
	case len(list.Names) == 0:
		p.printers.PlaceHolder = "No printer"
		p.sayError("No printers are set up on this workstation. Use Save as PDF…, or ask your administrator to add one.")
	default:
		p.printers.PlaceHolder = "Choose a printer"
		p.printers.Options = list.Names
		p.printers.Enable()
		if slices.Contains(list.Names, list.Default) {
			p.printers.SetSelected(list.Default)
		}
	}
	p.printers.Refresh()
	p.refresh()
}

// refresh enables what can be used now.
func (p *printDialog) refresh() {
	_, copiesOK := parseCopies(p.copies.Text)
	switch {
	case p.busy:
		p.printBtn.Disable()
		p.saveBtn.Disable()
		p.copies.Disable()
		p.printers.Disable()
	default:
		p.saveBtn.Enable()
		p.copies.Enable()
		if len(p.printers.Options) > 0 {
			p.printers.Enable()
		}
		if p.printers.Selected != "" && copiesOK {
			p.printBtn.Enable()
		} else {
			p.printBtn.Disable()
		}
	}
}

// say shows a message in the dialog, in the warning colour when it is a
// failure (the words say so too).
func (p *printDialog) say(text string) {
	p.sayAs(text, widget.MediumImportance)
}

func (p *printDialog) sayError(text string) {
	p.sayAs(text, widget.DangerImportance)
}

func (p *printDialog) sayAs(text string, imp widget.Importance) {
	p.msg.Importance = imp
	p.msg.SetText(text)
	p.fit()
}

// fit sizes the dialog to its content, the message wrapped.
func (p *printDialog) fit() {
	if p.dlg == nil {
		return
	}
	const width = 480
	p.content.Resize(fyne.NewSize(width-40, p.content.MinSize().Height))
	p.dlg.Resize(fyne.NewSize(width, p.content.MinSize().Height+90))
}

// setBusy starts or ends background work; cancellable work may be
// stopped with Cancel.
func (p *printDialog) setBusy(busy bool, working context.CancelFunc) {
	p.busy, p.working = busy, working
	if !busy {
		p.bar.Hide()
	}
	if busy && working == nil {
		p.cancel.Disable() // sending to the printer cannot be taken back
	} else {
		p.cancel.Enable()
	}
	p.refresh()
}

// cancelOrClose stops the rendering under way, or closes the dialog:
// nothing is printed.
func (p *printDialog) cancelOrClose() {
	p.a.touch()
	if p.busy && p.working != nil {
		p.working()
		return
	}
	p.dlg.Hide()
}

// render renders the sheets once, with the progress bar, and calls done
// on the UI goroutine with the PDF (nil when it failed or was cancelled;
// the dialog then says so).
func (p *printDialog) render(done func([]byte)) {
	if p.pdf != nil {
		done(p.pdf)
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	p.setBusy(true, cancel)
	p.bar.SetValue(0)
	p.bar.Show()
	p.say(fmt.Sprintf("Preparing %s…", sheetCount(len(p.ids))))
	now := p.a.d.Session.Now()
	p.a.d.Go(func() {
		var buf bytes.Buffer
		err := appstate.PrintPDF(ctx, p.a.d.Sheets, p.ids, now, &buf, func(done, total int) {
			fyne.Do(func() {
				p.bar.SetValue(float64(done) / float64(total))
				p.say(fmt.Sprintf("Prepared %d of %d prep sheets", done, total))
			})
		})
		cancelled := ctx.Err() != nil
		cancel()
		fyne.Do(func() {
			p.setBusy(false, nil)
			switch {
			case err != nil && cancelled:
				p.say("Cancelled.")
				done(nil)
			case err != nil:
				p.sayError("The prep sheets could not be prepared. Try again, or print them one by one.")
				done(nil)
			default:
				p.pdf = buf.Bytes()
				done(p.pdf)
			}
		})
	})
}

// printNow renders the sheets and sends them to the chosen printer; when
// the print service takes them, each sheet is recorded as printed.
func (p *printDialog) printNow() {
	p.a.touch()
	job := appstate.PrintJob{Printer: p.printers.Selected}
	n, ok := parseCopies(p.copies.Text)
	if job.Printer == "" || !ok {
		return
	}
	job.Copies = n
	p.render(func(pdf []byte) {
		if pdf == nil {
			return
		}
		p.setBusy(true, nil)
		p.say(fmt.Sprintf("Sending to %s…", job.Printer))
		by := p.a.d.Session.Status().User
		p.a.d.Go(func() {
			// Once sending starts it is not interrupted (closing the
			// dialog or the window does not kill lp half-way), so that a
			// job the printer took is also recorded.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 2*time.Minute)
			defer cancel()
			err := printBytes(ctx, p.q, pdf, job)
			var logErr error
			if err == nil && p.a.d.PrintLog != nil {
				logErr = p.a.d.PrintLog.RecordPrint(ctx, p.ids, p.a.d.Session.Now(), by)
			}
			fyne.Do(func() { p.printed(job, err, logErr) })
		})
	})
}

// printed reports the end of a print.
func (p *printDialog) printed(job appstate.PrintJob, err, logErr error) {
	p.setBusy(false, nil)
	switch {
	case err != nil:
		p.sayError(printError(job.Printer, err))
	case logErr != nil:
		p.printBtn.Hide()
		p.cancel.SetText("Close")
		p.sayError("Sent to the printer, but the print could not be recorded on this workstation. Tell your administrator.")
	default:
		p.dlg.Hide()
		copies := ""
		if job.Copies > 1 {
			copies = fmt.Sprintf(", %d copies", job.Copies)
		}
		dialog.ShowInformation("Printed", fmt.Sprintf("Sent %s to %s%s.", sheetCount(len(p.ids)), job.Printer, copies), p.a.win)
	}
}

// printBytes writes pdf to a private temporary file (readable by this
// user only, removed as soon as the print service has read it) and
// prints it.
func printBytes(ctx context.Context, q appstate.PrintQueues, pdf []byte, job appstate.PrintJob) error {
	dir, err := os.MkdirTemp("", "healthprep-print-")
	if err != nil {
		return fmt.Errorf("preparing the print: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "prep-sheets.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		return fmt.Errorf("preparing the print: %w", err)
	}
	return q.PrintTo(ctx, path, job)
}

// saveAsPDF asks where to save and writes the rendered sheets there.
func (p *printDialog) saveAsPDF() {
	p.a.touch()
	p.a.d.SaveFile(p.suggested, func(w io.WriteCloser, err error) {
		if err != nil {
			p.sayError("The file could not be opened for writing. Choose another folder.")
			return
		}
		if w == nil {
			return // cancelled: the print dialog stays
		}
		p.render(func(pdf []byte) {
			if pdf == nil {
				w.Close()
				return
			}
			p.setBusy(true, nil)
			p.a.d.Go(func() {
				_, err := w.Write(pdf)
				if cerr := w.Close(); err == nil {
					err = cerr
				}
				fyne.Do(func() {
					p.setBusy(false, nil)
					if err != nil {
						p.sayError("The PDF could not be saved. Choose another folder, or try again.")
						return
					}
					p.dlg.Hide()
					dialog.ShowInformation("Saved", fmt.Sprintf("Saved %s as a PDF.", sheetCount(len(p.ids))), p.a.win)
				})
			})
		})
	})
}

// parseCopies reads the number of copies.
func parseCopies(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil && n >= 1 && n <= appstate.MaxCopies
}

// sheetCount is "1 prep sheet" or "N prep sheets".
func sheetCount(n int) string {
	if n == 1 {
		return "1 prep sheet"
	}
	return fmt.Sprintf("%d prep sheets", n)
}

// listError says why no printer can be listed.
func listError(err error) string {
	switch {
	case errors.Is(err, appstate.ErrPrintUnsupported):
		return "Printing from HealthPrep is not supported on this system yet. Use Save as PDF…, then print the file from its folder."
	case errors.Is(err, appstate.ErrNoPrintService):
		return "The print service of this workstation is not running, so no printer can be chosen. Use Save as PDF…, or ask your administrator."
	default:
		return "The printers of this workstation could not be listed. Use Save as PDF…, or ask your administrator."
	}
}

// printError says why a print failed, naming the printer (never a file
// or a patient), and that nothing was recorded as printed.
func printError(printer string, err error) string {
	var why string
	switch {
	case errors.Is(err, appstate.ErrPrinterPaused):
		why = fmt.Sprintf("The printer %s is paused.", printer)
	case errors.Is(err, appstate.ErrPrinterRejecting):
		why = fmt.Sprintf("The printer %s is not accepting jobs.", printer)
	case errors.Is(err, appstate.ErrNoSuchPrinter):
		why = fmt.Sprintf("The printer %s is no longer set up on this workstation.", printer)
	case errors.Is(err, appstate.ErrNoPrintService):
		why = "The print service of this workstation is not running."
	case errors.Is(err, appstate.ErrPrintUnsupported):
		why = "Printing from HealthPrep is not supported on this system yet."
	default:
		why = fmt.Sprintf("The prep sheets could not be sent to %s.", printer)
	}
	return why + " Nothing was printed or recorded as printed. Choose another printer, or use Save as PDF… to keep the sheets."
}

package ui

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"healthprep.dev/desktop/internal/appstate/printer"
	"healthprep.dev/desktop/internal/appstate/printer/printertest"
)

// printSetup starts a private CUPS scheduler with the printers front and
// back (back the default), signs the nurse in with printer.System pointed
// at it, and opens the print dialog for the day. The window's tests run
// one at a time (Fyne's test app is shared), so these do too.
func printSetup(t *testing.T) (*bundle, *printertest.CUPS, *printDialog) {
	t.Helper()
	printertest.Require(t)
	c := printertest.Start(t)
	c.AddQueue(t, "front")
	c.AddQueue(t, "back")
	c.SetDefault(t, "back")
	b := setup(t, func(b *bundle, d *Deps) {
		d.Printer, d.PrintLog = printer.System{Env: c.Env()}, b.clinic.Source
	})
	b.signIn()
	return b, c, openPrintDialog(t, b)
}

// openPrintDialog taps Print day and returns the dialog, its printers
// listed.
func openPrintDialog(t *testing.T, b *bundle) *printDialog {
	t.Helper()
	test.Tap(b.ui.main.printDay)
	b.wait()
	job := b.ui.lastPrint
	if job == nil || job.print == nil || !job.print.open {
		t.Fatalf("after Print day: %+v, want the print dialog open", job)
	}
	return job.print
}

// dayIDs are the appointments of the day shown.
func dayIDs(b *bundle) []string {
	var ids []string
	for _, r := range b.ui.main.rows {
		if !r.Cancelled() {
			ids = append(ids, r.AppointmentID)
		}
	}
	return ids
}

func printedIDs(b *bundle) []string {
	var got []string
	for _, ev := range b.clinic.Source.Printed() {
		got = append(got, ev.AppointmentID)
	}
	return got
}

func TestPrintDialogListsPrintersWithTheDefaultChosen(t *testing.T) {
	_, _, p := printSetup(t)
	if want := []string{"back", "front"}; !slices.Equal(p.printers.Options, want) {
		t.Errorf("printers %q, want %q", p.printers.Options, want)
	}
	if p.printers.Selected != "back" || p.copies.Text != "1" || p.printBtn.Disabled() {
		t.Errorf("chosen %q, copies %q, Print disabled %v; want back (the default), 1, enabled", p.printers.Selected, p.copies.Text, p.printBtn.Disabled())
	}
	for _, bad := range []string{"0", "51", "two", ""} {
		p.copies.SetText(bad)
		if !p.printBtn.Disabled() {
			t.Errorf("copies %q: Print enabled, want disabled", bad)
		}
	}
}

func TestPrintDialogPrintsToTheChosenPrinter(t *testing.T) {
	b, c, p := printSetup(t)
	p.printers.SetSelected("front")
	p.copies.SetText("2")
	p.copies.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // Enter prints
	b.wait()
	if p.open {
		t.Fatalf("after Print: dialog open, message %q; want it closed", p.msg.Text)
	}
	got := c.WaitOutput(t, "front", len(p.pdf))
	if !bytes.HasPrefix(got, []byte("%PDF-")) || !bytes.Equal(got, p.pdf) {
		t.Errorf("front printed %d bytes, want the %d bytes of the rendered PDF", len(got), len(p.pdf))
	}
	if copies := c.JobCopies("front"); !slices.Equal(copies, []int{2}) {
		t.Errorf("front's jobs had copies %v, want [2]", copies)
	}
	if copies := c.JobCopies("back"); len(copies) != 0 {
		t.Errorf("the default printer back got %d jobs, want none", len(copies))
	}
	if got, want := printedIDs(b), dayIDs(b); !slices.Equal(got, want) {
		t.Errorf("print events for %q, want one per sheet %q", got, want)
	}
}

func TestPrintDialogCancelPrintsNothing(t *testing.T) {
	b, c, p := printSetup(t)
	test.Tap(p.cancel)
	b.wait()
	if p.open {
		t.Error("after Cancel: dialog open, want it closed")
	}
	for _, q := range []string{"front", "back"} {
		if jobs := c.JobCopies(q); len(jobs) != 0 {
			t.Errorf("printer %s got %d jobs, want none", q, len(jobs))
		}
	}
	if got := printedIDs(b); len(got) != 0 {
		t.Errorf("print events %q after Cancel, want none", got)
	}
	if _, err := os.Stat(b.pdfPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a PDF was saved (%v), want none", err)
	}
}

func TestPrintDialogSaveAsPDF(t *testing.T) {
	b, c, p := printSetup(t)
	test.Tap(p.saveBtn)
	b.wait()
	if p.open {
		t.Fatalf("after Save as PDF: dialog open, message %q; want it closed", p.msg.Text)
	}
	saved, err := os.ReadFile(b.pdfPath)
	if err != nil || !bytes.HasPrefix(saved, []byte("%PDF-")) || !bytes.Equal(saved, p.pdf) {
		t.Fatalf("saved %d bytes (%v), want the %d bytes of the rendered PDF", len(saved), err, len(p.pdf))
	}
	if jobs := c.JobCopies("back"); len(jobs) != 0 {
		t.Errorf("Save as PDF sent %d jobs to the printer, want none", len(jobs))
	}
	if got := printedIDs(b); len(got) != 0 {
		t.Errorf("print events %q after saving, want none", got)
	}
}

func TestPrintDialogAPausedPrinterLosesNothing(t *testing.T) {
	b, c, p := printSetup(t)
	c.Pause(t, "back")
	test.Tap(p.printBtn)
	b.wait()
	if !p.open {
		t.Fatal("after a failed print: dialog closed, want it open with the reason")
	}
	msg := p.msg.Text
	if !strings.Contains(msg, "The printer back is paused.") || !strings.Contains(msg, "Nothing was printed or recorded as printed") {
		t.Errorf("message %q, want that back is paused and nothing was recorded", msg)
	}
	for _, r := range b.ui.main.rows {
		if strings.Contains(msg, r.Name) || strings.Contains(msg, ".pdf") {
			t.Errorf("message %q names a patient or a file", msg)
		}
	}
	if got := printedIDs(b); len(got) != 0 {
		t.Errorf("print events %q after a failed print, want none", got)
	}
	if jobs := c.JobCopies("back"); len(jobs) != 0 {
		t.Errorf("the paused printer got %d jobs, want none", len(jobs))
	}
	if p.printBtn.Disabled() || p.saveBtn.Disabled() {
		t.Errorf("Print disabled %v, Save as PDF disabled %v; want both usable", p.printBtn.Disabled(), p.saveBtn.Disabled())
	}
	// The rendered sheets are kept: Save as PDF writes them.
	rendered := p.pdf
	test.Tap(p.saveBtn)
	b.wait()
	if saved, err := os.ReadFile(b.pdfPath); err != nil || len(rendered) == 0 || !bytes.Equal(saved, rendered) {
		t.Errorf("saved %d bytes (%v), want the %d rendered bytes", len(saved), err, len(rendered))
	}
}

func TestPrintDialogWithoutPrinting(t *testing.T) {
	// Windows: no printer can be listed; Save as PDF still works.
	b := setup(t, func(b *bundle, d *Deps) {
		d.Printer, d.PrintLog = printer.System{GOOS: "windows"}, b.clinic.Source
	})
	b.signIn()
	p := openPrintDialog(t, b)
	if !strings.Contains(p.msg.Text, "not supported on this system") || !p.printBtn.Disabled() || p.saveBtn.Disabled() {
		t.Errorf("message %q, Print disabled %v, Save disabled %v; want unsupported, Print off, Save on", p.msg.Text, p.printBtn.Disabled(), p.saveBtn.Disabled())
	}
	if len(p.printers.Options) != 0 {
		t.Errorf("printers %q, want none", p.printers.Options)
	}
}

package ui

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// withDocuments wires the demo documents, and a file dialog that answers
// with the bundle's next picked file.
func withDocuments(b *bundle, d *Deps) {
	d.Documents, d.Importer = b.clinic.Documents, b.clinic.Documents
	d.OpenDocument = func(done func(string, io.ReadCloser, error)) {
		f := b.picked
		done(f.name, io.NopCloser(strings.NewReader(f.data)), nil)
	}
}

// recordingPrinter is a test Printer: it records the paths it was asked
// to print and prints nothing.
type recordingPrinter struct {
	mu    sync.Mutex
	paths []string
}

func (p *recordingPrinter) Print(_ context.Context, path string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paths = append(p.paths, path)
	return nil
}

func (b *bundle) openDocuments() *documentsScreen {
	b.t.Helper()
	m := b.ui.main
	if m.docsTab == nil {
		b.t.Fatal("no Documents tab")
	}
	m.tabs.Select(m.docsTab)
	b.wait()
	return m.docs
}

func texts(c *fyne.Container) []string {
	var out []string
	for _, o := range c.Objects {
		if b, ok := o.(*widget.Button); ok {
			out = append(out, b.Text)
			continue
		}
		out = append(out, labelText(o))
	}
	return out
}

func TestImportWithFileDialog(t *testing.T) {
	tests := []struct {
		name, data     string
		wantMessage    string
		wantQuarantine string // a line of the quarantine list, "" for none
	}{
		{"referral.pdf", "%PDF-1.7 referral", "referral.pdf is queued", ""},
		{"notes.docx", "PK\x03\x04 word", "notes.docx is queued", "notes.docx (added 2025-03-14 07:45): document rejected: the file is not a PDF, TIFF, PNG or JPEG"},
		{"blank.pdf", "", "blank.pdf is empty (0 bytes) and was not imported.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, withDocuments)
			b.signIn()
			s := b.openDocuments()
			b.picked = pickedFile{tt.name, tt.data}
			test.Tap(s.importBtn)
			b.wait()
			if !strings.HasPrefix(s.message.Text, tt.wantMessage) {
				t.Errorf("message %q, want %q...", s.message.Text, tt.wantMessage)
			}
			imported := slices.Contains(b.clinic.Documents.Imported(), tt.name)
			if want := tt.data != ""; imported != want {
				t.Errorf("imported %q: %v, want %v", tt.name, imported, want)
			}
			q := strings.Join(texts(s.quarantine), "\n")
			if tt.wantQuarantine != "" && !strings.Contains(q, tt.wantQuarantine) {
				t.Errorf("quarantine list\n%s\nwant a line %q", q, tt.wantQuarantine)
			}
		})
	}
}

func TestDropFilesOnWindow(t *testing.T) {
	b := setup(t, withDocuments)
	dir := t.TempDir()
	scan := filepath.Join(dir, "scan 0314.png")
	if err := os.WriteFile(scan, []byte("\x89PNG\r\n fake"), 0o600); err != nil {
		t.Fatal(err)
	}
	uris := []fyne.URI{storage.NewFileURI(scan), storage.NewFileURI(dir)}

	// Signed out, a drop imports nothing.
	b.ui.drop(fyne.NewPos(10, 10), uris)
	b.wait()
	if got := b.clinic.Documents.Imported(); len(got) != 0 {
		t.Fatalf("imported %q before sign-in, want nothing", got)
	}

	b.signIn()
	b.ui.drop(fyne.NewPos(10, 10), uris)
	b.wait()
	m := b.ui.main
	if m.tabs.Selected() != m.docsTab {
		t.Errorf("after a drop the %q tab is shown, want Documents", m.tabs.Selected().Text)
	}
	if got := b.clinic.Documents.Imported(); !slices.Equal(got, []string{"scan 0314.png"}) {
		t.Errorf("imported %q, want the dropped file only (not the folder)", got)
	}
	if want := "scan 0314.png is queued"; !strings.HasPrefix(m.docs.message.Text, want) {
		t.Errorf("message %q, want %q...", m.docs.message.Text, want)
	}
}

func TestQuarantineListShowsReasons(t *testing.T) {
	b := setup(t, withDocuments)
	b.signIn()
	s := b.openDocuments()
	got := texts(s.quarantine)
	want := []string{
		"⚠ lab-results-locked.pdf (added 2025-03-13 05:45): PDF document rejected: the PDF is password-protected; save an unprotected copy and import that",
		"⚠ fax-0312.tif (added 2025-03-14 04:45): TIFF document rejected: the file is cut short (incomplete download or copy?)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("quarantine list\n got %q\nwant %q", got, want)
	}
}

func TestReviewLowConfidencePage(t *testing.T) {
	b := setup(t, withDocuments)
	b.signIn()
	s := b.openDocuments()
	if len(s.reviewBtns) != 1 || s.reviewBtns[0].Text != "scan-outside-records.pdf, page 2 of 2: hard to read (low OCR confidence)" {
		t.Fatalf("review list %q, want the scanned letter's page 2", texts(s.review))
	}
	if !s.reviewed.Disabled() {
		t.Error("Mark reviewed is enabled before a page is open")
	}
	test.Tap(s.reviewBtns[0])
	b.wait()
	if s.viewer.shown == nil || s.reviewed.Disabled() {
		t.Fatalf("after opening the page: image %v, note %q, reviewed disabled %v", s.viewer.shown != nil, s.viewer.note.Text, s.reviewed.Disabled())
	}
	test.Tap(s.reviewed)
	b.wait()
	if got := texts(s.review); !slices.Equal(got, []string{"No pages to review."}) || s.message.Text != "Page 2 marked reviewed." {
		t.Errorf("after marking reviewed: list %q, message %q", got, s.message.Text)
	}
	if s.viewer.shown != nil {
		t.Error("the reviewed page is still shown")
	}
}

func TestPrintOffersPrinterAndRecordsOutbox(t *testing.T) {
	p := &recordingPrinter{}
	b := setup(t, func(b *bundle, d *Deps) { d.Printer, d.PrintLog = p, b.clinic.Source })
	b.signIn()
	m := b.ui.main
	test.Tap(m.printDay)
	b.wait()
	box := b.ui.lastConfirm
	if box == nil || box.yes.Text != "Print" {
		t.Fatalf("after saving: confirm %+v, want the offer to print", box)
	}
	if got := b.clinic.Source.Printed(); len(got) != 0 {
		t.Fatalf("%d print events before printing, want 0", len(got))
	}
	test.Tap(box.yes)
	b.wait()
	if !slices.Equal(p.paths, []string{b.pdfPath}) {
		t.Errorf("printer got %q, want %q", p.paths, b.pdfPath)
	}
	var want []string
	for _, r := range m.rows {
		want = append(want, r.AppointmentID)
	}
	var got []string
	for _, ev := range b.clinic.Source.Printed() {
		got = append(got, ev.AppointmentID)
		if ev.UserID != b.clinic.Nurse.ID || !ev.PrintedAt.Equal(b.clock.now()) {
			t.Errorf("event %+v, want by %s at %s", ev, b.clinic.Nurse.ID, b.clock.now())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("print events for %q, want one per sheet %q", got, want)
	}
}

type pickedFile struct{ name, data string }

// labelText is the text of the first label in o.
func labelText(o fyne.CanvasObject) string {
	switch w := o.(type) {
	case *widget.Label:
		return w.Text
	case *fyne.Container:
		for _, c := range w.Objects {
			if s := labelText(c); s != "" {
				return s
			}
		}
	}
	return ""
}

package ui

import (
	"context"
	"image/color"
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

	"healthprep.dev/desktop/internal/appstate"
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

// sheetWithDocumentEvidence opens the first demo sheet citing a document.
func (b *bundle) sheetWithDocumentEvidence() (*checkRow, int) {
	b.t.Helper()
	ctx := context.Background()
	for _, r := range b.clinic.Records {
		for _, appt := range r.Appointments {
			id := strings.TrimPrefix(appt.Ref, "Appointment/")
			s, err := b.clinic.Source.Sheet(ctx, id)
			if err != nil {
				b.t.Fatal(err)
			}
			for _, it := range s.Screenings {
				for i, ev := range it.Evidence {
					if _, ok := appstate.DocumentEvidence(ev); ok {
						b.ui.main.sheet.open(appstate.Row{AppointmentID: id, Name: "patient"})
						b.wait()
						return b.ui.main.sheet.checks[it.ID], i
					}
				}
			}
		}
	}
	b.t.Fatal("no demo sheet cites a document")
	return nil, 0
}

func TestEvidenceOpensHighlightedPage(t *testing.T) {
	b := setup(t, withDocuments)
	b.signIn()
	row, i := b.sheetWithDocumentEvidence()
	test.Tap(row.showEv)
	test.Tap(row.evButtons[i])
	b.wait()
	ev := b.ui.lastEvidence
	if ev == nil || ev.view.shown == nil {
		t.Fatalf("no page shown for %q", row.item.Evidence[i].Description)
	}
	if len(ev.view.highlights) != 1 || !strings.Contains(ev.view.note.Text, `"colonoscopy" highlighted`) {
		t.Fatalf("highlights %v, note %q; want one box around the phrase", ev.view.highlights, ev.view.note.Text)
	}
	// The box is drawn on the page: its frame in dark orange, its inside
	// tinted yellow.
	box := ev.view.highlights[0].Inset(-4)
	if got := color.NRGBAModel.Convert(ev.view.shown.At(box.Min.X+1, box.Min.Y+1)).(color.NRGBA); got != highlightEdge {
		t.Errorf("frame pixel %v, want %v", got, highlightEdge)
	}
	inside := color.NRGBAModel.Convert(ev.view.shown.At(box.Min.X+5, box.Min.Y+5)).(color.NRGBA)
	if !(inside.R > inside.B+40 && inside.G > inside.B+40) {
		t.Errorf("inside pixel %v, want a yellow tint", inside)
	}
}

func TestCodedEvidenceShowsDetails(t *testing.T) {
	b := setup(t, withDocuments)
	b.signIn()
	b.ui.main.list.Select(0)
	b.wait()
	for _, c := range b.ui.main.sheet.checks {
		for i, ev := range c.item.Evidence {
			if _, ok := appstate.DocumentEvidence(ev); ok || ev.Source == "override" {
				continue
			}
			test.Tap(c.evButtons[i])
			f := b.ui.lastDetails
			if f == nil || len(f.Items) != 4 {
				t.Fatalf("details form %+v, want 4 lines", f)
			}
			for j, want := range []string{ev.Description, string(ev.Role), ev.Date.String(), ev.Source} {
				if got := labelText(f.Items[j].Widget); !strings.Contains(got, strings.ReplaceAll(want, "_", " ")) {
					t.Errorf("%s = %q, want %q", f.Items[j].Text, got, want)
				}
			}
			return
		}
	}
	t.Fatal("the first sheet has no coded evidence")
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

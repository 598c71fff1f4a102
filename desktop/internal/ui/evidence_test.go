package ui

import (
	"context"
	"fmt"
	"image/color"
	"slices"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2/test"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/shared/prepsheet"
)

// spyDocuments is the demo document source, recording the pages asked for
// and the phrase lookups.
type spyDocuments struct {
	appstate.DocumentSource

	mu      sync.Mutex
	pages   []string // "id/page"
	lookups int
}

func (s *spyDocuments) Page(ctx context.Context, id string, page int) (appstate.PageImage, error) {
	s.mu.Lock()
	s.pages = append(s.pages, fmt.Sprintf("%s/%d", id, page))
	s.mu.Unlock()
	return s.DocumentSource.Page(ctx, id, page)
}

func (s *spyDocuments) EvidencePage(ctx context.Context, source, phrase string) (string, int, error) {
	s.mu.Lock()
	s.lookups++
	s.mu.Unlock()
	return s.DocumentSource.EvidencePage(ctx, source, phrase)
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
					if appstate.IsDocumentEvidence(ev) {
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
	line := row.item.Evidence[i]
	ev := b.ui.lastEvidence
	if ev == nil || ev.view.shown == nil {
		t.Fatalf("no page shown for %+v", line)
	}
	wantPage := max(line.Page, 1) // the demo documents have one page
	wantNote := fmt.Sprintf("Page %d (identifiers blacked out) - %q highlighted", wantPage, line.Phrase)
	if len(ev.view.highlights) != 1 || ev.view.note.Text != wantNote {
		t.Fatalf("highlights %v, note %q; want one box, note %q", ev.view.highlights, ev.view.note.Text, wantNote)
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

// TestEvidencePageFromFields opens evidence lines of the demo's two-page
// scan whose descriptions point elsewhere: the drill-down reads the
// document, page and phrase from the line's fields only.
func TestEvidencePageFromFields(t *testing.T) {
	line := func(page int, description string) prepsheet.EvidenceLine {
		return prepsheet.EvidenceLine{Role: "completion", Kind: prepsheet.EvidenceDocument,
			Source: prepsheet.DocumentRefPrefix + demo.ReviewDocumentID, DocumentID: demo.ReviewDocumentID,
			DocumentTitle: "Referral, page 1 of 2", Phrase: "Mammogram", Page: page, Description: description}
	}
	tests := []struct {
		name        string
		ev          prepsheet.EvidenceLine
		wantPages   []string
		wantLookups int
	}{
		{"page known", line(2, `"Mammogram" in Referral`), []string{demo.ReviewDocumentID + "/2"}, 0},
		{"misleading description", line(2, `"Referral letter" in Referral, page 1 of 2 (see page 3)`), []string{demo.ReviewDocumentID + "/2"}, 0},
		{"page unknown: found by the phrase", line(0, `"Referral letter" on page 1`), []string{demo.ReviewDocumentID + "/2"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := &spyDocuments{}
			b := setup(t, func(b *bundle, d *Deps) {
				withDocuments(b, d)
				spy.DocumentSource = b.clinic.Documents
				d.Documents = spy
			})
			b.signIn()
			_, btn := b.ui.evidenceRow(tt.ev)
			if btn.Text != "Page" || btn.Disabled() {
				t.Fatalf("button %q (disabled %v), want an enabled Page button", btn.Text, btn.Disabled())
			}
			test.Tap(btn)
			b.wait()
			if !slices.Equal(spy.pages, tt.wantPages) || spy.lookups != tt.wantLookups {
				t.Errorf("pages %q after %d lookups, want %q after %d", spy.pages, spy.lookups, tt.wantPages, tt.wantLookups)
			}
			v := b.ui.lastEvidence.view
			if want := `Page 2 (identifiers blacked out) - "Mammogram" highlighted`; v.note.Text != want || len(v.highlights) != 1 {
				t.Errorf("note %q with %d boxes, want %q with 1", v.note.Text, len(v.highlights), want)
			}
		})
	}
}

func TestCodedEvidenceShowsDetails(t *testing.T) {
	b := setup(t, withDocuments)
	b.signIn()
	b.ui.main.list.Select(0)
	b.wait()
	for _, c := range b.ui.main.sheet.checks {
		for i, ev := range c.item.Evidence {
			if ev.Kind != prepsheet.EvidenceCoded || ev.Code == "" {
				continue
			}
			test.Tap(c.evButtons[i])
			f := b.ui.lastDetails
			want := appstate.EvidenceDetails(ev)
			if f == nil || len(f.Items) != len(want) || len(want) < 5 {
				t.Fatalf("details form %+v, want the %d lines %q", f, len(want), want)
			}
			for j, w := range want {
				if got := labelText(f.Items[j].Widget); f.Items[j].Text != w.Label || got != w.Value {
					t.Errorf("line %d: %s = %q, want %s = %q", j, f.Items[j].Text, got, w.Label, w.Value)
				}
			}
			if got := labelText(f.Items[1].Widget); got != ev.System+" "+ev.Code {
				t.Errorf("code line %q, want %q", got, ev.System+" "+ev.Code)
			}
			return
		}
	}
	t.Fatal("the first sheet has no coded evidence")
}

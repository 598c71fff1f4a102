package ui

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// fakeFiler holds documents waiting for a patient; MRN "4411" is the only
// patient it knows.
type fakeFiler struct {
	mu       sync.Mutex
	unfiled  []appstate.UnfiledDoc
	assigned map[string]string // document → MRN
}

func (f *fakeFiler) Unfiled(context.Context) ([]appstate.UnfiledDoc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.unfiled), nil
}

func (f *fakeFiler) Assign(_ context.Context, id, mrn string, _ appstate.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if mrn != "4411" {
		return appstate.ErrUnknownMRN
	}
	f.unfiled = slices.DeleteFunc(f.unfiled, func(d appstate.UnfiledDoc) bool { return d.DocumentID == id })
	f.assigned[id] = mrn
	return nil
}

// find returns the first object under o that match accepts.
func find[T fyne.CanvasObject](o fyne.CanvasObject, match func(T) bool) (T, bool) {
	if t, ok := o.(T); ok && match(t) {
		return t, true
	}
	var kids []fyne.CanvasObject
	switch c := o.(type) {
	case *fyne.Container:
		kids = c.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(c).Objects()
	}
	for _, k := range kids {
		if t, ok := find(k, match); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// fillAssignDialog types mrn into the open Assign dialog and confirms.
func (b *bundle) fillAssignDialog(mrn string) {
	b.t.Helper()
	top := b.win.Canvas().Overlays().Top()
	if top == nil {
		b.t.Fatal("no Assign dialog open")
	}
	e, ok := find(top, func(*widget.Entry) bool { return true })
	if !ok {
		b.t.Fatal("no MRN entry in the dialog")
	}
	test.Type(e, mrn)
	btn, ok := find(top, func(w *widget.Button) bool { return w.Text == "Assign" })
	if !ok {
		b.t.Fatal("no Assign button in the dialog")
	}
	test.Tap(btn)
	b.wait()
}

func TestAssignAnUnfiledDocument(t *testing.T) {
	f := &fakeFiler{assigned: map[string]string{}, unfiled: []appstate.UnfiledDoc{
		{DocumentID: "d1", Name: "fax 0314.pdf", Type: "consult"},
		{DocumentID: "d2", Name: "scan.png"},
	}}
	b := setup(t, withDocuments, func(_ *bundle, d *Deps) { d.Filer = f })
	b.signIn()
	s := b.openDocuments()
	if got := strings.Join(texts(s.unfiled), "\n"); !strings.Contains(got, "fax 0314.pdf (consult): patient not recognised") || len(s.assignBtns) != 2 {
		t.Fatalf("waiting list\n%s\nwant both documents, each with Assign", got)
	}

	tests := []struct {
		mrn, wantMessage string
		wantAssigned     bool
	}{
		{"9999", "No patient with MRN 9999 is on this workstation; check the number.", false},
		{" 4411 ", "Filed under MRN 4411.", true},
	}
	for _, tt := range tests {
		test.Tap(s.assignBtns[0])
		b.fillAssignDialog(tt.mrn)
		if s.message.Text != tt.wantMessage {
			t.Errorf("MRN %q: message %q, want %q", tt.mrn, s.message.Text, tt.wantMessage)
		}
		if _, got := f.assigned["d1"]; got != tt.wantAssigned {
			t.Errorf("MRN %q: assigned %v, want %v", tt.mrn, got, tt.wantAssigned)
		}
	}
	if len(s.assignBtns) != 1 {
		t.Errorf("after assigning, %d documents wait, want 1", len(s.assignBtns))
	}
}

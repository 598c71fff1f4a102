package localdoc_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/localdoc"
	"healthprep.dev/desktop/internal/docpipe/queuefile"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/ocr/ocrtest"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/phi"
)

// cache stores patients with an appointment each, as a sync would.
func cache(t *testing.T, ls *localstore.Store, ps ...chart.Patient) {
	t.Helper()
	err := ls.Update(context.Background(), func(tx *localstore.Tx) error {
		for i, p := range ps {
			if err := tx.PutPatient(p); err != nil {
				return err
			}
			a := localstore.Appointment{ID: "appt-" + p.ID, PatientID: p.ID, Start: time.Date(2026, 11, 24, 8+i, 0, 0, 0, time.UTC)}
			if err := tx.PutAppointment(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scan writes a rendered page of lines as a PNG and returns its path.
func scan(t *testing.T, dir, name string, lines []string) string {
	t.Helper()
	s, err := ocrtest.RenderPage(lines, ocrtest.Layout{WidthInches: 6, HeightInches: 2.5, MarginInches: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, s.Image.Pix); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fileRun runs path through a pipeline that files documents by patient.
func (b *bundle) fileRun(t *testing.T, path string) string {
	t.Helper()
	ctx := context.Background()
	q, err := queuefile.Open(filepath.Join(t.TempDir(), "queue.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := phi.NewDetector(phi.Options{})
	p, err := docpipe.New(docpipe.Config{Extractor: b.x, Queue: q, Loader: b.docs, Sink: b.docs,
		Filer:    localdoc.Matcher{Store: b.docs, Detector: d},
		Redactor: docpipe.PHIRedactor{Detector: d, Known: b.docs.KnownFor}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := docpipe.NewInbox(docpipe.InboxConfig{Originals: b.docs, Pipeline: p, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	id, err := in.Import(ctx, path)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if err := p.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if q, _ := q.List(ctx, docpipe.StateQuarantined); len(q) != 0 {
		t.Fatalf("document quarantined: %+v", q[0])
	}
	return id
}

func ids(docs []localstore.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}

func TestALetterNamingACachedPatientsMRNIsFiledUnderThem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cache(t, b.ls,
		chart.Patient{ID: "pat-smithfield", Name: "Johnathan Smithfield", MRN: "88421973", BirthDate: chart.D(1961, 3, 4)},
		chart.Patient{ID: "pat-other", Name: "Ada Okafor", MRN: "10293847", BirthDate: chart.D(1950, 1, 2)})
	id := b.fileRun(t, b.file) // "Patient: Johnathan Smithfield MRN: 88421973"

	filed, err := b.ls.Documents(ctx, "pat-smithfield")
	if err != nil || len(filed) != 1 || filed[0].ID != id {
		t.Fatalf("documents of the patient = %v, %v; want [%s]", ids(filed), err, id)
	}
	if un, _ := b.docs.Unfiled(ctx); len(un) != 0 {
		t.Errorf("unfiled = %v, want none", ids(un))
	}
	if txt := filed[0].Text; strings.Contains(txt, "Smithfield") || strings.Contains(txt, "88421973") || !strings.Contains(txt, "polyps") {
		t.Errorf("filed text is not redacted with the patient's identifiers: %q", txt)
	}
	// The original is still there, and found by the queue's job (which
	// does not know the patient) for retention.
	if got, err := b.docs.Load(ctx, docpipe.Job{ID: id}); err != nil || len(got) == 0 {
		t.Fatalf("Load = %d bytes, %v", len(got), err)
	}
	if err := b.docs.Forget(ctx, docpipe.Job{ID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.docs.Load(ctx, docpipe.Job{ID: id}); !errors.Is(err, localdoc.ErrForgotten) {
		t.Errorf("Load after Forget: %v, want ErrForgotten", err)
	}
}

func TestAnAmbiguousLetterStaysUnfiledUntilAssigned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cache(t, b.ls,
		chart.Patient{ID: "pat-lopez-1", Name: "Maria Lopez", MRN: "55100442", BirthDate: chart.D(1975, 11, 20)},
		chart.Patient{ID: "pat-lopez-2", Name: "Maria Lopez", MRN: "77001234", BirthDate: chart.D(1975, 11, 20)})
	path := scan(t, b.dir, "lopez letter.png", []string{"CONSULT LETTER", "Re: Maria Lopez  DOB: 11/20/1975", "Mammogram was normal."})
	id := b.fileRun(t, path)

	un, err := b.docs.Unfiled(ctx)
	if err != nil || len(un) != 1 || un[0].ID != id {
		t.Fatalf("unfiled = %v, %v; want [%s]", ids(un), err, id)
	}
	for _, p := range []string{"pat-lopez-1", "pat-lopez-2"} {
		if docs, _ := b.ls.Documents(ctx, p); len(docs) != 0 {
			t.Errorf("documents of %s = %v, want none", p, ids(docs))
		}
	}

	// A person assigns it.
	tests := []struct {
		name, doc, patient string
		want               error
	}{
		{"unknown patient", id, "pat-nobody", localdoc.ErrUnknownPatient},
		{"unknown document", "nope", "pat-lopez-2", localdoc.ErrNotUnfiled},
		{"assign", id, "pat-lopez-2", nil},
		{"again", id, "pat-lopez-1", localdoc.ErrNotUnfiled},
	}
	for _, tt := range tests {
		if err := b.docs.Assign(ctx, tt.doc, tt.patient); !errors.Is(err, tt.want) {
			t.Errorf("%s: Assign = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := b.docs.AssignMRN(ctx, id, "00000000"); !errors.Is(err, localdoc.ErrUnknownPatient) {
		t.Errorf("AssignMRN with an unknown MRN = %v, want ErrUnknownPatient", err)
	}
	if docs, _ := b.ls.Documents(ctx, "pat-lopez-2"); len(docs) != 1 || docs[0].ID != id {
		t.Errorf("after Assign the patient's documents = %v, want [%s]", ids(docs), id)
	}
	if un, _ := b.docs.Unfiled(ctx); len(un) != 0 {
		t.Errorf("after Assign unfiled = %v, want none", ids(un))
	}
	if got, err := b.docs.Load(ctx, docpipe.Job{ID: id}); err != nil || len(got) == 0 {
		t.Errorf("after Assign Load = %d bytes, %v; want the original", len(got), err)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/ocr/ocrtest"
	"healthprep.dev/shared/chart"
)

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func renderPNG(t *testing.T, lines ...string) []byte {
	t.Helper()
	s, err := ocrtest.RenderPage(lines, ocrtest.Layout{WidthInches: 6, HeightInches: 2.5, MarginInches: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, s.Image.Pix); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitFor polls cond until it holds or 60 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func doneJobs(t *testing.T, q docpipe.Queue) map[string]bool {
	t.Helper()
	jobs, err := q.List(context.Background(), docpipe.StateDone)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, j := range jobs {
		out[j.ID] = true
	}
	return out
}

// TestWindowDocumentPipeline runs the window's document wiring on a real
// profile store: an import and a file dropped in the watched folder are
// read by Tesseract, filed, and each lands in the outbox once; nothing of
// their text or names reaches the log.
func TestWindowDocumentPipeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := keystore.NewInsecureFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(dir, "profile.db"), DeviceKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	if err := ls.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	err = ls.Update(ctx, func(tx *localstore.Tx) error {
		if err := tx.PutPatient(chart.Patient{ID: "pat-1", Name: "Johnathan Smithfield", MRN: "88421973", BirthDate: chart.D(1961, 3, 4)}); err != nil {
			return err
		}
		return tx.PutAppointment(localstore.Appointment{ID: "appt-1", PatientID: "pat-1", Start: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)})
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var stored atomic.Int32
	docs, err := startDocumentsWith(ctx, dir, ls, DocumentsConfig{Workers: 1, OnStored: func() { stored.Add(1) }}, log, restartBackoff{10 * time.Millisecond, 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("startDocuments: %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			docs.Stop()
		}
	})

	// An import, as the Documents tab does it.
	letter := renderPNG(t, "COLONOSCOPY REPORT", "Patient: Johnathan Smithfield MRN: 88421973", "Date of service: 04/09/2024", "Two small polyps were removed.")
	var imp appstate.Importer = docs.Source
	got, err := imp.Import(ctx, appstate.ImportFile{Name: "Smithfield colonoscopy.png", Data: letter})
	if err != nil || got.Duplicate {
		t.Fatalf("Import = %+v, %v", got, err)
	}
	waitFor(t, "the import to be processed", func() bool { return doneJobs(t, docs.Queue)[got.DocumentID] })
	if again, err := imp.Import(ctx, appstate.ImportFile{Name: "copy.png", Data: letter}); err != nil || !again.Duplicate {
		t.Errorf("second Import = %+v, %v; want a duplicate", again, err)
	}
	filed, err := ls.Documents(ctx, "pat-1")
	if err != nil || len(filed) != 1 || filed[0].ID != got.DocumentID {
		t.Errorf("the patient's documents = %d, %v; want the import, filed by its MRN", len(filed), err)
	}
	if pg, err := docs.Source.Page(ctx, got.DocumentID, 1); err != nil || pg.Image == nil {
		t.Errorf("Page 1 = %v; want the redacted page", err)
	}

	// A scan dropped into the watched folder.
	note := renderPNG(t, "MAMMOGRAM REPORT", "Patient: Ada Okafor", "Date of service: 02/11/2025", "No evidence of malignancy.")
	if err := os.WriteFile(filepath.Join(dir, "inbox", "okafor mammogram.png"), note, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watched file to be processed", func() bool { return len(doneJobs(t, docs.Queue)) == 2 })
	if _, err := os.Stat(filepath.Join(dir, "inbox", "okafor mammogram.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the watched file is still in the folder (%v)", err)
	}
	un, err := docs.Source.Unfiled(ctx)
	if err != nil || len(un) != 1 {
		t.Errorf("Unfiled = %d, %v; want the mammogram, which names no cached patient", len(un), err)
	}

	docs.Stop()
	stopped = true
	out, err := ls.Outbox(ctx, 100)
	if err != nil || len(out) != 2 {
		t.Fatalf("outbox = %d entries, %v; want one per document", len(out), err)
	}
	if n := stored.Load(); n != 2 {
		t.Errorf("OnStored was called %d times, want 2 (once a result)", n)
	}
	for _, phi := range []string{"Smithfield", "88421973", "Okafor", "colonoscopy.png", "mammogram.png", "polyps"} {
		if strings.Contains(logs.String(), phi) {
			t.Errorf("the log holds %q:\n%s", phi, logs.String())
		}
	}
}

func TestSuperviseRestartsAfterFailuresAndPanics(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan struct{})
	run := func(ctx context.Context) error {
		calls++
		switch calls {
		case 1:
			return errors.New("disk full")
		case 2:
			panic("boom")
		case 3:
			return nil
		}
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	var logs lockedBuffer
	go func() {
		supervise(ctx, slog.New(slog.NewTextHandler(&logs, nil)), "test service", run, restartBackoff{time.Millisecond, 4 * time.Millisecond})
		close(done)
	}()
	<-done
	if calls != 4 {
		t.Errorf("run was called %d times, want 4 (three restarts)", calls)
	}
	for _, want := range []string{"disk full", "panicked", "stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "boom") {
		t.Errorf("log quotes the panic value:\n%s", logs.String())
	}
}

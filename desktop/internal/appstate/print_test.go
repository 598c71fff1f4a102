package appstate_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/shared/chart"
)

func TestPrintPDFJoinsTheDay(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils, in make apt) is not installed: the printed text cannot be read back")
	}
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 7, 45, 0, 0, time.UTC)
	c, err := demo.NewClinic(30, func() time.Time { return now }, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	day, err := c.Source.Day(ctx, chart.D(2025, 3, 14))
	if err != nil || len(day.Rows) != 3 {
		t.Fatalf("Day: %d rows, %v; want 3", len(day.Rows), err)
	}
	var ids []string
	for _, r := range day.Rows {
		ids = append(ids, r.AppointmentID)
	}
	var buf bytes.Buffer
	var progress []int
	if err := appstate.PrintPDF(ctx, c.Source, ids, now, &buf, func(done, total int) {
		if total != 3 {
			t.Errorf("progress total %d, want 3", total)
		}
		progress = append(progress, done)
	}); err != nil {
		t.Fatal(err)
	}
	if len(progress) != 3 || progress[2] != 3 {
		t.Errorf("progress calls %v, want 1, 2, 3", progress)
	}
	text := pdfText(t, buf.Bytes())
	last := -1
	for _, r := range day.Rows {
		i := strings.Index(text, r.Name)
		if i < 0 {
			t.Errorf("printed day does not name %s", r.Name)
		}
		if i < last {
			t.Errorf("%s printed before the previous patient, want schedule order", r.Name)
		}
		last = i
	}

	if err := appstate.PrintPDF(ctx, c.Source, nil, now, &buf, nil); !errors.Is(err, appstate.ErrNothingToPrint) {
		t.Errorf("PrintPDF(no ids) = %v, want ErrNothingToPrint", err)
	}
	buf.Reset()
	if err := appstate.PrintPDF(ctx, c.Source, []string{ids[0], "missing"}, now, &buf, nil); !errors.Is(err, appstate.ErrNotFound) || buf.Len() != 0 {
		t.Errorf("PrintPDF(unknown id) = %v with %d bytes written, want ErrNotFound and nothing", err, buf.Len())
	}
}

// pdfText extracts a PDF's text with poppler's pdftotext.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

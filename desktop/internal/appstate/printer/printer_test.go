package printer_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/printer"
	"healthprep.dev/desktop/internal/appstate/printer/printertest"
)

func TestCommand(t *testing.T) {
	t.Parallel()
	lp := []string{"-t", printer.JobTitle, "--", "/p/sheet.pdf"}
	tests := []struct {
		goos      string
		have      []string
		wantName  string
		wantArgs  []string
		wantError error
	}{
		{"linux", []string{"lp", "xdg-open"}, "lp", lp, nil},
		{"linux", []string{"xdg-open"}, "xdg-open", []string{"/p/sheet.pdf"}, nil},
		{"darwin", []string{"open"}, "open", []string{"/p/sheet.pdf"}, nil},
		{"darwin", []string{"lp", "open"}, "lp", lp, nil},
		{"linux", nil, "", nil, printer.ErrUnsupported},
		{"windows", []string{"lp"}, "", nil, printer.ErrUnsupported},
	}
	for _, tt := range tests {
		s := printer.System{GOOS: tt.goos, LookPath: have(tt.have...)}
		name, args, err := s.Command("/p/sheet.pdf")
		if name != tt.wantName || !slices.Equal(args, tt.wantArgs) || !errors.Is(err, tt.wantError) {
			t.Errorf("%s with %q: %s %q, %v; want %s %q, %v", tt.goos, tt.have, name, args, err, tt.wantName, tt.wantArgs, tt.wantError)
		}
	}
}

func TestLPArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		job     appstate.PrintJob
		want    []string
		wantErr error
	}{
		{appstate.PrintJob{Printer: "Front_Desk", Copies: 2}, []string{"-d", "Front_Desk", "-n", "2", "-t", printer.JobTitle, "--", "/p/a.pdf"}, nil},
		{appstate.PrintJob{Printer: "Front_Desk/duplex", Copies: 1}, []string{"-d", "Front_Desk/duplex", "-n", "1", "-t", printer.JobTitle, "--", "/p/a.pdf"}, nil},
		{appstate.PrintJob{Copies: 1}, []string{"-n", "1", "-t", printer.JobTitle, "--", "/p/a.pdf"}, nil},
		{appstate.PrintJob{Printer: "-oops", Copies: 1}, nil, appstate.ErrNoSuchPrinter},
		{appstate.PrintJob{Printer: "two words", Copies: 1}, nil, appstate.ErrNoSuchPrinter},
	}
	for _, tt := range tests {
		got, err := printer.LPArgs("/p/a.pdf", tt.job)
		if !slices.Equal(got, tt.want) || !errors.Is(err, tt.wantErr) {
			t.Errorf("LPArgs(%+v) = %q, %v; want %q, %v", tt.job, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestWindowsIsHonestlyUnsupported(t *testing.T) {
	t.Parallel()
	s := printer.System{GOOS: "windows", LookPath: have("lp", "lpstat")}
	if _, err := s.Printers(context.Background()); !errors.Is(err, appstate.ErrPrintUnsupported) {
		t.Errorf("Printers on Windows = %v, want ErrPrintUnsupported", err)
	}
	if err := s.PrintTo(context.Background(), "/p/a.pdf", appstate.PrintJob{Copies: 1}); !errors.Is(err, appstate.ErrPrintUnsupported) {
		t.Errorf("PrintTo on Windows = %v, want ErrPrintUnsupported", err)
	}
}

func TestPrintErrorsDoNotQuoteThePath(t *testing.T) {
	t.Parallel()
	// A real lp that cannot reach a scheduler (nothing listens on port 1).
	printertest.Require(t)
	s := printer.System{Env: []string{"CUPS_SERVER=127.0.0.1:1"}}
	path := "/home/nurse/Jane Doe sheet.pdf"
	err := s.Print(context.Background(), path)
	if err == nil || strings.Contains(err.Error(), "Jane") || strings.Contains(err.Error(), "sheet.pdf") {
		t.Errorf("Print = %v, want an error that does not quote the file", err)
	}
	err = s.PrintTo(context.Background(), path, appstate.PrintJob{Printer: "front", Copies: 1})
	if !errors.Is(err, appstate.ErrNoPrintService) || strings.Contains(err.Error(), "Jane") {
		t.Errorf("PrintTo without a scheduler = %v, want ErrNoPrintService without the file name", err)
	}
	if _, err := s.Printers(context.Background()); !errors.Is(err, appstate.ErrNoPrintService) {
		t.Errorf("Printers without a scheduler = %v, want ErrNoPrintService", err)
	}
}

// setup starts a private CUPS scheduler with the queues front (the
// default), back and, when asked, more; it returns a System pointed at it
// and a small PDF.
func setup(t *testing.T, more ...string) (*printertest.CUPS, printer.System, string, []byte) {
	t.Helper()
	printertest.Require(t)
	c := printertest.Start(t)
	for _, q := range append([]string{"front", "back"}, more...) {
		c.AddQueue(t, q)
	}
	c.SetDefault(t, "front")
	pdf := []byte("%PDF-1.4\n% HealthPrep test sheet\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	path := filepath.Join(t.TempDir(), "Jane Doe prep sheet.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return c, printer.System{Env: c.Env()}, path, pdf
}

func TestPrintersListsTheQueuesAndTheDefault(t *testing.T) {
	t.Parallel()
	_, s, _, _ := setup(t)
	got, err := s.Printers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"back", "front"}; !slices.Equal(got.Names, want) || got.Default != "front" {
		t.Errorf("Printers = %q, default %q; want %q, default front", got.Names, got.Default, want)
	}
}

func TestPrintToTheChosenQueueWithCopies(t *testing.T) {
	t.Parallel()
	c, s, path, pdf := setup(t)
	if err := s.PrintTo(context.Background(), path, appstate.PrintJob{Printer: "back", Copies: 2}); err != nil {
		t.Fatalf("PrintTo(back, 2 copies) = %v", err)
	}
	if got := c.WaitOutput(t, "back", len(pdf)); !bytes.Equal(got, pdf) {
		t.Errorf("back printed %q, want the PDF %q", got, pdf)
	}
	if got := c.JobCopies("back"); !slices.Equal(got, []int{2}) {
		t.Errorf("back's jobs had copies %v, want [2]", got)
	}
	if _, err := os.Stat(c.Output("front")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the default printer front printed too (%v), want only back", err)
	}

	// The default printer, when none is chosen.
	if err := s.PrintTo(context.Background(), path, appstate.PrintJob{Copies: 1}); err != nil {
		t.Fatalf("PrintTo(default) = %v", err)
	}
	if got := c.WaitOutput(t, "front", len(pdf)); !bytes.Equal(got, pdf) {
		t.Errorf("front printed %q, want the PDF", got)
	}
}

func TestPrintToAPrinterThatCannotPrint(t *testing.T) {
	t.Parallel()
	c, s, path, _ := setup(t, "paused", "rejecting")
	c.Pause(t, "paused")
	c.Reject(t, "rejecting")
	tests := []struct {
		job  appstate.PrintJob
		want error
	}{
		{appstate.PrintJob{Printer: "paused", Copies: 1}, appstate.ErrPrinterPaused},
		{appstate.PrintJob{Printer: "rejecting", Copies: 1}, appstate.ErrPrinterRejecting},
		{appstate.PrintJob{Printer: "gone", Copies: 1}, appstate.ErrNoSuchPrinter},
		{appstate.PrintJob{Printer: "front", Copies: 0}, appstate.ErrCopies},
		{appstate.PrintJob{Printer: "front", Copies: appstate.MaxCopies + 1}, appstate.ErrCopies},
	}
	for _, tt := range tests {
		err := s.PrintTo(context.Background(), path, tt.job)
		if !errors.Is(err, tt.want) {
			t.Errorf("PrintTo(%+v) = %v, want %v", tt.job, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "Jane") || strings.Contains(err.Error(), ".pdf")) {
			t.Errorf("PrintTo(%+v) error %q quotes the file", tt.job, err)
		}
	}
	for _, q := range []string{"paused", "rejecting", "front"} {
		if got := c.JobCopies(q); len(got) != 0 {
			t.Errorf("printer %s started %d jobs, want none", q, len(got))
		}
	}
}

// have is a LookPath that finds only the commands named.
func have(cmds ...string) func(string) (string, error) {
	return func(c string) (string, error) {
		if slices.Contains(cmds, c) {
			return "/usr/bin/" + c, nil
		}
		return "", exec.ErrNotFound
	}
}

// BenchmarkPrinters is how long the print dialog waits for its list: the
// lpstat commands against a running scheduler with two printers.
func BenchmarkPrinters(b *testing.B) {
	printertest.Require(b)
	c := printertest.Start(b)
	c.AddQueue(b, "front")
	c.AddQueue(b, "back")
	c.SetDefault(b, "front")
	s := printer.System{Env: c.Env()}
	for b.Loop() {
		if p, err := s.Printers(context.Background()); err != nil || len(p.Names) != 2 {
			b.Fatalf("Printers = %+v, %v", p, err)
		}
	}
}

// BenchmarkPrintTo is how long Print keeps the dialog busy once the PDF
// is rendered: the state check and lp, until the scheduler has the job.
func BenchmarkPrintTo(b *testing.B) {
	printertest.Require(b)
	c := printertest.Start(b)
	c.AddQueue(b, "front")
	path := filepath.Join(b.TempDir(), "sheet.pdf")
	if err := os.WriteFile(path, []byte("%PDF-1.4\n%%EOF\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	s := printer.System{Env: c.Env()}
	for b.Loop() {
		if err := s.PrintTo(context.Background(), path, appstate.PrintJob{Printer: "front", Copies: 2}); err != nil {
			b.Fatal(err)
		}
	}
}

package printer_test

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"testing"

	"healthprep.dev/desktop/internal/appstate/printer"
)

func TestCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		goos      string
		have      []string
		wantName  string
		wantArgs  []string
		wantError error
	}{
		{"linux", []string{"lp", "xdg-open"}, "lp", []string{"--", "/p/sheet.pdf"}, nil},
		{"linux", []string{"xdg-open"}, "xdg-open", []string{"/p/sheet.pdf"}, nil},
		{"darwin", []string{"open"}, "open", []string{"/p/sheet.pdf"}, nil},
		{"darwin", []string{"lp", "open"}, "lp", []string{"--", "/p/sheet.pdf"}, nil},
		{"linux", nil, "", nil, printer.ErrUnsupported},
		{"windows", []string{"lp"}, "", nil, printer.ErrUnsupported},
	}
	for _, tt := range tests {
		s := printer.System{GOOS: tt.goos, LookPath: func(c string) (string, error) {
			if slices.Contains(tt.have, c) {
				return "/usr/bin/" + c, nil
			}
			return "", exec.ErrNotFound
		}}
		name, args, err := s.Command("/p/sheet.pdf")
		if name != tt.wantName || !slices.Equal(args, tt.wantArgs) || !errors.Is(err, tt.wantError) {
			t.Errorf("%s with %q: %s %q, %v; want %s %q, %v", tt.goos, tt.have, name, args, err, tt.wantName, tt.wantArgs, tt.wantError)
		}
	}
}

func TestPrintErrorsDoNotQuoteThePath(t *testing.T) {
	t.Parallel()
	s := printer.System{GOOS: "linux", LookPath: func(string) (string, error) { return "/usr/bin/lp", nil },
		Run: func(ctx context.Context, name string, args ...string) error {
			return exec.CommandContext(ctx, "false").Run() // exits 1, like lp without a printer
		}}
	err := s.Print(context.Background(), "/home/nurse/Jane Doe sheet.pdf")
	if err == nil || err.Error() != "printing with lp: exit status 1" {
		t.Errorf("Print = %v, want %q", err, "printing with lp: exit status 1")
	}
}

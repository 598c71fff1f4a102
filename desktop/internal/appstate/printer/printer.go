// Package printer implements appstate.Printer with the operating system's
// printing commands.
//
// On Linux and macOS (CUPS) a saved PDF goes to the default printer with
// `lp`; where lp is missing it opens in the desktop's PDF viewer
// (`xdg-open` on Linux, `open` on macOS), whose print dialog the person
// uses. On Windows there is no command-line print dialog: the equivalent
// is the shell's print verb, `powershell -NoProfile -Command Start-Process
// -FilePath <pdf> -Verb Print`, which needs a PDF application registered
// for printing; System does not run it yet and reports ErrUnsupported, so
// the window keeps the saved file.
package printer

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
)

// ErrUnsupported: no printing command on this operating system.
var ErrUnsupported = errors.New("printing from HealthPrep is not supported on this system; print the saved PDF")

// System prints through the operating system's commands. The zero value
// uses the real ones.
type System struct {
	// GOOS is the operating system; runtime.GOOS when "".
	GOOS string
	// LookPath finds a command; exec.LookPath when nil.
	LookPath func(string) (string, error)
	// Run runs a command; exec.CommandContext(...).Run when nil.
	Run func(ctx context.Context, name string, args ...string) error
}

// Command returns the command Print runs for path.
func (s System) Command(path string) (name string, args []string, err error) {
	goos, look := s.GOOS, s.LookPath
	if goos == "" {
		goos = runtime.GOOS
	}
	if look == nil {
		look = exec.LookPath
	}
	switch goos {
	case "linux", "freebsd", "openbsd", "netbsd", "darwin":
		if _, err := look("lp"); err == nil {
			return "lp", []string{"--", path}, nil
		}
		viewer := "xdg-open"
		if goos == "darwin" {
			viewer = "open"
		}
		if _, err := look(viewer); err == nil {
			return viewer, []string{path}, nil
		}
	}
	return "", nil, ErrUnsupported
}

// Print implements appstate.Printer. Its errors never quote the path
// (file names can be PHI).
func (s System) Print(ctx context.Context, path string) error {
	name, args, err := s.Command(path)
	if err != nil {
		return err
	}
	run := s.Run
	if run == nil {
		run = func(ctx context.Context, name string, args ...string) error {
			return exec.CommandContext(ctx, name, args...).Run()
		}
	}
	if err := run(ctx, name, args...); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("printing with %s: exit status %d", name, ee.ExitCode())
		}
		return fmt.Errorf("printing with %s failed", name)
	}
	return nil
}

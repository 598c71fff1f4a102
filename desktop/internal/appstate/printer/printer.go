// Package printer implements appstate.Printer and appstate.PrintQueues
// with the operating system's printing commands.
//
// Fyne has no operating-system print dialog, so the window shows its own
// (package ui): the printers listed here, the number of copies, and "Save
// as PDF…". On Linux and macOS the printers are the CUPS destinations:
// Printers runs `lpstat -e` (the names) and `lpstat -d` (the default), and
// PrintTo runs `lpstat -p DEST` (a paused printer is refused rather than
// left holding the job) and then `lp -d DEST -n COPIES -t TITLE -- file`.
// The commands run in the C locale so that their answers can be read;
// their output never reaches an error message, because lp quotes file
// names, and file names can be PHI. Env adds to the commands' environment
// (CUPS_SERVER=host:port points them at another scheduler, as the tests
// do with a private cupsd, see package printertest).
//
// Print, the plain appstate.Printer, sends a saved PDF to the default
// printer with `lp`, or where lp is missing opens it in the desktop's PDF
// viewer (`xdg-open` on Linux, `open` on macOS), whose print dialog the
// person uses.
//
// On Windows there is no command-line print dialog. Listing printers
// would be `powershell -NoProfile -Command Get-Printer`, and printing the
// shell's print verb (`Start-Process -FilePath <pdf> -Verb Print`, which
// prints to the default printer only, through a registered PDF
// application); neither can be tested on the Linux machines that build
// HealthPrep, so System reports appstate.ErrPrintUnsupported there and the
// window offers "Save as PDF…".
package printer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"unicode"

	"healthprep.dev/desktop/internal/appstate"
)

// ErrUnsupported: no printing command on this operating system. It is
// appstate.ErrPrintUnsupported.
var ErrUnsupported = appstate.ErrPrintUnsupported

// JobTitle is the title of every print job: the print service shows it to
// everyone who lists its queue, so it is never the file's name.
const JobTitle = "HealthPrep prep sheets"

// System prints through the operating system's commands. The zero value
// uses the real ones with the process's environment.
type System struct {
	// GOOS is the operating system; runtime.GOOS when "".
	GOOS string
	// LookPath finds a command; exec.LookPath when nil.
	LookPath func(string) (string, error)
	// Env is added to the environment of the commands, after the
	// process's own ("CUPS_SERVER=127.0.0.1:631").
	Env []string
}

var _ appstate.PrintQueues = System{}

// cups reports whether the CUPS commands can be used here.
func (s System) cups() bool {
	switch s.goos() {
	case "linux", "freebsd", "openbsd", "netbsd", "darwin":
	default:
		return false
	}
	for _, c := range []string{"lp", "lpstat"} {
		if _, err := s.lookPath(c); err != nil {
			return false
		}
	}
	return true
}

func (s System) goos() string {
	if s.GOOS == "" {
		return runtime.GOOS
	}
	return s.GOOS
}

func (s System) lookPath(name string) (string, error) {
	if s.LookPath == nil {
		return exec.LookPath(name)
	}
	return s.LookPath(name)
}

// Command returns the command Print runs for path.
func (s System) Command(path string) (name string, args []string, err error) {
	goos := s.goos()
	switch goos {
	case "linux", "freebsd", "openbsd", "netbsd", "darwin":
		if _, err := s.lookPath("lp"); err == nil {
			return "lp", []string{"-t", JobTitle, "--", path}, nil
		}
		viewer := "xdg-open"
		if goos == "darwin" {
			viewer = "open"
		}
		if _, err := s.lookPath(viewer); err == nil {
			return viewer, []string{path}, nil
		}
	}
	return "", nil, ErrUnsupported
}

// Print implements appstate.Printer: one copy to the default printer, or
// the PDF viewer. Its errors never quote the path (file names can be PHI).
func (s System) Print(ctx context.Context, path string) error {
	name, args, err := s.Command(path)
	if err != nil {
		return err
	}
	if _, err := s.run(ctx, name, args...); err != nil {
		return fmt.Errorf("printing with %s: %w", name, err)
	}
	return nil
}

// Printers implements appstate.PrintQueues with `lpstat -e` and
// `lpstat -d`. No printers and a print service that is not running is
// appstate.ErrNoPrintService; no printers with a running one is an empty
// list.
func (s System) Printers(ctx context.Context) (appstate.Printers, error) {
	if !s.cups() {
		return appstate.Printers{}, ErrUnsupported
	}
	out, err := s.run(ctx, "lpstat", "-e")
	if err != nil {
		return appstate.Printers{}, fmt.Errorf("listing printers with lpstat: %w", err)
	}
	var p appstate.Printers
	for _, line := range strings.Split(out, "\n") {
		if name := strings.TrimSpace(line); name != "" {
			p.Names = append(p.Names, name)
		}
	}
	if len(p.Names) == 0 {
		if !s.running(ctx) {
			return appstate.Printers{}, fmt.Errorf("listing printers: %w", appstate.ErrNoPrintService)
		}
		return p, nil
	}
	out, err = s.run(ctx, "lpstat", "-d")
	if err != nil {
		return appstate.Printers{}, fmt.Errorf("finding the default printer with lpstat: %w", err)
	}
	p.Default = parseDefault(out)
	return p, nil
}

// parseDefault reads `lpstat -d` in the C locale: "system default
// destination: NAME", or "no system default destination".
func parseDefault(out string) string {
	const prefix = "system default destination:"
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// running reports whether the CUPS scheduler answers (`lpstat -r`).
func (s System) running(ctx context.Context) bool {
	out, err := s.run(ctx, "lpstat", "-r")
	return err == nil && strings.TrimSpace(out) == "scheduler is running"
}

// PrintTo implements appstate.PrintQueues. A paused printer is refused
// (appstate.ErrPrinterPaused) before anything is sent, so that a job does
// not wait unseen in its queue while the sheet counts as printed.
func (s System) PrintTo(ctx context.Context, path string, job appstate.PrintJob) error {
	if !s.cups() {
		return ErrUnsupported
	}
	if job.Copies < 1 || job.Copies > appstate.MaxCopies {
		return fmt.Errorf("printing %d copies: %w", job.Copies, appstate.ErrCopies)
	}
	args, err := LPArgs(path, job)
	if err != nil {
		return err
	}
	if job.Printer != "" {
		queue, _, _ := strings.Cut(job.Printer, "/") // an instance prints on its queue
		out, err := s.run(ctx, "lpstat", "-p", queue)
		switch {
		case err != nil && !s.running(ctx):
			return fmt.Errorf("printing to %s: %w", job.Printer, appstate.ErrNoPrintService)
		case err != nil:
			return fmt.Errorf("printing to %s: %w", job.Printer, appstate.ErrNoSuchPrinter)
		case strings.Contains(out, "printer "+queue+" disabled"):
			return fmt.Errorf("printing to %s: %w", job.Printer, appstate.ErrPrinterPaused)
		}
	}
	if _, err := s.run(ctx, "lp", args...); err != nil {
		dest := job.Printer
		if dest == "" {
			dest = "the default printer"
		}
		var ce *commandError
		if errors.As(err, &ce) {
			switch {
			case strings.Contains(ce.stderr, "not accepting jobs"):
				err = appstate.ErrPrinterRejecting
			case strings.Contains(ce.stderr, "does not exist"), strings.Contains(ce.stderr, "No default destination"):
				err = appstate.ErrNoSuchPrinter
			case strings.Contains(ce.stderr, "Unable to connect"), strings.Contains(ce.stderr, "not running"):
				err = appstate.ErrNoPrintService
			}
		}
		return fmt.Errorf("printing to %s: %w", dest, err)
	}
	return nil
}

// LPArgs are the arguments of the lp command that prints path as job
// says. A printer name that CUPS would not accept is
// appstate.ErrNoSuchPrinter.
func LPArgs(path string, job appstate.PrintJob) ([]string, error) {
	var args []string
	if job.Printer != "" {
		if !validName(job.Printer) {
			return nil, fmt.Errorf("printing: %w", appstate.ErrNoSuchPrinter)
		}
		args = append(args, "-d", job.Printer)
	}
	return append(args, "-n", strconv.Itoa(job.Copies), "-t", JobTitle, "--", path), nil
}

// validName reports whether name can be a CUPS destination (printer or
// printer/instance): printable, no spaces, not an option.
func validName(name string) bool {
	if name == "" || len(name) > 127 || name[0] == '-' {
		return false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '#' {
			return false
		}
	}
	return true
}

// commandError is a command that failed; its stderr is read for known
// answers and never shown.
type commandError struct {
	name   string
	code   int
	stderr string
}

func (e *commandError) Error() string {
	if e.code < 0 {
		return e.name + " could not run"
	}
	return fmt.Sprintf("%s: exit status %d", e.name, e.code)
}

// run runs name in the C locale with s.Env and returns its standard
// output. A command that cannot be found is ErrUnsupported.
func (s System) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), "LC_ALL=C", "LANG=C"), s.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", ErrUnsupported
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return "", &commandError{name: name, code: code, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

// Command healthprep is the HealthPrep workstation client. Subcommands:
//
//	healthprep [gui]   the window nurses, MAs and admins use (the default;
//	                   needs a cgo build with a display)
//	healthprep enrol   enrol this workstation with an enrolment code from
//	                   an administrator (device credentials go to the OS
//	                   key store)
//	healthprep agent   sync with the cloud without a window (tests,
//	                   servers, machines without a display)
//	healthprep sheets  open every prep sheet of the schedule from the
//	                   local cache (works offline) and count them
//
// Common flags:
//
//	-profile DIR       the workstation profile directory (encrypted local
//	                   store, device record)
//	-keystore NAME     where the device secrets live: os (default: Windows
//	                   Credential Manager, macOS Keychain, Secret Service)
//	                   or insecure-file-for-tests (0600 files in the
//	                   profile, for headless Linux tests only)
//
// healthprep gui flags (besides the common ones):
//
//	-inbox DIR         the watched folder for scanned documents (default:
//	                   inbox/ in the profile)
//	-ocr-workers N     OCR workers (default: the number of cores)
//	-tesseract PATH    the tesseract executable (default: from PATH)
//
// healthprep enrol -server URL -code CODE -name NAME
//
// healthprep agent flags:
//
//	-server URL        the cloud's base URL (default: the enrolled one)
//	-token-file PATH   sync as a user with this session token instead of
//	                   the device credentials (re-read before every call);
//	                   or -token-env NAME
//	-once              sync once and exit (exit 0 when up to date)
//
// healthprep sheets [-from YYYY-MM-DD] [-days N]
//
// Exit statuses: 0 done, 1 failed, 2 bad usage, 3 the cloud revoked this
// workstation (its local data was crypto-shredded).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // clinic time zones resolve on Windows, which has no zone database Go can read
)

func main() {
	os.Exit(runOrGUI(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = "usage: healthprep [gui]|enrol|agent|sheets [flags]   (healthprep COMMAND -h for the flags)"

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "agent":
		return agent(ctx, args[1:], stdout, stderr)
	case "enrol":
		return enrol(ctx, args[1:], stdout, stderr)
	case "sheets":
		return sheets(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "healthprep: unknown command %q (known: enrol, agent, sheets)\n", args[0])
	return 2
}

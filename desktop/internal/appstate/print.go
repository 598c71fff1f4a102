package appstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

	"healthprep.dev/shared/prepsheet/pdf"
)

// ErrNothingToPrint: PrintPDF was given no appointments.
var ErrNothingToPrint = errors.New("no prep sheets to print")

// The errors of PrintQueues. Their messages name no file and no patient;
// the window turns them into sentences for the person at the desk.
var (
	// ErrPrintUnsupported: this system has no printing command HealthPrep
	// can drive (Windows today, or no CUPS client): save the PDF instead.
	ErrPrintUnsupported = errors.New("printing from HealthPrep is not supported on this system; save the PDF and print it from its folder")
	// ErrNoPrintService: the workstation's print service (CUPS) is not
	// running or cannot be reached.
	ErrNoPrintService = errors.New("the print service is not running")
	// ErrNoSuchPrinter: the chosen printer is not (or no longer) set up on
	// this workstation.
	ErrNoSuchPrinter = errors.New("no such printer")
	// ErrPrinterPaused: the printer is paused (disabled); a job sent to
	// it would wait in its queue, so it is not sent.
	ErrPrinterPaused = errors.New("the printer is paused")
	// ErrPrinterRejecting: the printer is not accepting jobs.
	ErrPrinterRejecting = errors.New("the printer is not accepting jobs")
	// ErrCopies: the number of copies is not between 1 and MaxCopies.
	ErrCopies = errors.New("the number of copies must be between 1 and 50")
)

// MaxCopies is the most copies one print may ask for.
const MaxCopies = 50

// Printers are the printers of the workstation, by name, in the print
// service's order, and the default one ("" when there is none).
type Printers struct {
	Names   []string
	Default string
}

// PrintJob says where and how many times a PDF is printed.
type PrintJob struct {
	// Printer is one of Printers.Names; "" means the default printer.
	Printer string
	// Copies is between 1 and MaxCopies.
	Copies int
}

// PrintQueues is a Printer that lets the person choose the printer and
// the number of copies: the window then shows its own print dialog
// before printing (a Printer without it is offered after the PDF is
// saved, as the system's viewer or default queue).
type PrintQueues interface {
	Printer
	// Printers lists the workstation's printers.
	Printers(ctx context.Context) (Printers, error)
	// PrintTo prints the PDF at path as job says. A nil error means the
	// print service accepted the job for a printer that is not paused.
	PrintTo(ctx context.Context, path string, job PrintJob) error
}

// PrintPDF writes the prep sheets of the appointments ids, in that order,
// as one PDF to w, each sheet starting on a new page and rendered by the
// shared PDF renderer. progress, when not nil, is called after each sheet
// with the number done and the total. It stops at the first sheet that
// cannot be made, or when ctx is cancelled, and writes nothing to w then.
func PrintPDF(ctx context.Context, sheets Sheets, ids []string, now time.Time, w io.Writer, progress func(done, total int)) error {
	if len(ids) == 0 {
		return ErrNothingToPrint
	}
	parts := make([]io.ReadSeeker, 0, len(ids))
	for i, id := range ids {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("printing: %w", err)
		}
		s, err := sheets.Sheet(ctx, id)
		if err != nil {
			return fmt.Errorf("printing sheet %d of %d: %w", i+1, len(ids), err)
		}
		var buf bytes.Buffer
		if err := pdf.Write(&buf, &s.Sheet, pdf.Options{Generated: now}); err != nil {
			return fmt.Errorf("rendering sheet %d of %d: %w", i+1, len(ids), err)
		}
		parts = append(parts, bytes.NewReader(buf.Bytes()))
		if progress != nil {
			progress(i+1, len(ids))
		}
	}
	if len(parts) == 1 {
		_, err := io.Copy(w, parts[0])
		return err
	}
	if err := api.MergeRaw(parts, w, false, mergeConfig()); err != nil {
		return fmt.Errorf("joining %d sheets: %w", len(parts), err)
	}
	return nil
}

// mergeConfig is pdfcpu's configuration for joining sheets, built here so
// that pdfcpu neither reads nor creates a configuration directory, and
// never goes online (certificate revocation checks).
func mergeConfig() *model.Configuration {
	return &model.Configuration{
		Version:               model.VersionStr,
		Reader15:              true,
		ValidationMode:        model.ValidationRelaxed,
		Eol:                   types.EolLF,
		WriteObjectStream:     true,
		WriteXRefStream:       true,
		Optimize:              true,
		OptimizeBeforeWriting: true,
		OptimizeResourceDicts: true,
		Offline:               true,
		Limits:                model.DefaultResourceLimits(),
		TimestampFormat:       "2006-01-02 15:04",
		DateFormat:            "2006-01-02",
	}
}

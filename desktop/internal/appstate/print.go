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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/cache"
	"healthprep.dev/shared/chart"
)

// SheetReport is what sheets found (its -json output).
type SheetReport struct {
	From, To     string
	Appointments int
	Patients     int
	Sheets       int
	Recomputed   int
	Cached       int
	Stale        int
	Missing      int
	SlowestMS    float64
}

// sheets opens the prep sheet of every appointment in the window from the
// local cache only (no network: it works with the cloud down), as the
// window would, and counts them.
func sheets(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var pf profileFlags
	var from string
	var days int
	var asJSON bool
	fs := flag.NewFlagSet("healthprep sheets", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf.register(fs)
	fs.StringVar(&from, "from", "", "first day, YYYY-MM-DD (default: today in the clinic's time zone)")
	fs.IntVar(&days, "days", 1, "number of days (1–366)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := pf.check()
	if err == nil && (days < 1 || days > 366) {
		err = errors.New("-days: must be 1–366")
	}
	var first chart.Date
	if err == nil && from != "" {
		if first, err = chart.ParseDate(from); err != nil {
			err = errors.New("-from: want YYYY-MM-DD")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "healthprep sheets: %v\n", err)
		return 2
	}
	p, err := openProfile(ctx, pf, false)
	if err != nil {
		fmt.Fprintf(stderr, "healthprep sheets: %v\n", err)
		return 1
	}
	defer p.Close()
	clinic, _, err := p.clinic(ctx, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "healthprep sheets: %v\n", err)
		return 1
	}
	if from == "" {
		first = chart.FromTime(time.Now().In(clinic.Location))
	}
	src := cache.New(p.local, clinic.Engine, cache.Options{Location: clinic.Location, Lookback: clinic.Lookback})
	r, err := countSheets(ctx, src, first, days)
	if err != nil {
		fmt.Fprintf(stderr, "healthprep sheets: %v\n", err)
		return 1
	}
	if asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintf(stdout, "sheets: %d appointments of %d patients from %s to %s: %d sheets opened (%d computed here, %d cached, %d stale), %d missing; slowest %.1f ms\n",
			r.Appointments, r.Patients, r.From, r.To, r.Sheets, r.Recomputed, r.Cached, r.Stale, r.Missing, r.SlowestMS)
	}
	if r.Missing > 0 {
		return 1
	}
	return 0
}

type sheetSource interface {
	appstate.Schedule
	appstate.Sheets
}

func countSheets(ctx context.Context, src sheetSource, first chart.Date, days int) (SheetReport, error) {
	r := SheetReport{From: first.String(), To: first.AddDays(days - 1).String()}
	patients := map[string]bool{}
	for i := range days {
		day, err := src.Day(ctx, first.AddDays(i))
		if err != nil {
			return r, err
		}
		for _, row := range day.Rows {
			r.Appointments++
			patients[row.PatientID] = true
			start := time.Now()
			sh, err := src.Sheet(ctx, row.AppointmentID)
			ms := float64(time.Since(start).Microseconds()) / 1000
			r.SlowestMS = max(r.SlowestMS, ms)
			if errors.Is(err, appstate.ErrNotFound) {
				r.Missing++
				continue
			}
			if err != nil {
				return r, err
			}
			r.Sheets++
			switch sh.Origin {
			case appstate.Recomputed:
				r.Recomputed++
			case appstate.Cached:
				r.Cached++
			case appstate.Stale:
				r.Stale++
			}
		}
	}
	r.Patients = len(patients)
	return r, nil
}

package appstate

import (
	"fmt"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// Visit is the appointment a sheet prepares for.
type Visit struct {
	ID        string
	Start     time.Time
	Provider  string
	Location  string
	VisitType string
}

// ComputeSheet evaluates rec with engine for the visit's date in loc (the
// clinic's time zone), applying the patient's overrides, and assembles the
// prep sheet with the organisation's lookback windows; now is the
// generation time printed on it. It is how this workstation makes a sheet
// offline, with the same shared code the cloud uses.
func ComputeSheet(engine *screening.Engine, rec chart.Record, overrides []screening.Override, v Visit,
	lookback prepsheet.Lookback, loc *time.Location, now time.Time) (prepsheet.Sheet, error) {
	if loc == nil {
		loc = time.UTC
	}
	start := v.Start.In(loc)
	asOf := chart.FromTime(start)
	results := engine.Evaluate(rec, asOf, overrides)
	y, m, d := asOf.YMD()
	in := prepsheet.Input{
		Patient:     rec.Patient,
		Appointment: prepsheet.Appointment{Start: v.Start, Provider: v.Provider, Location: v.Location, VisitType: v.VisitType},
		Screenings:  results,
		Conditions:  rec.Items, // Assemble lists the active conditions among them
		Entries:     prepsheet.Entries(rec),
		Documents:   rec.Documents,
		Lookback:    lookback,
		AsOf:        time.Date(y, m, d, 12, 0, 0, 0, loc),
		Location:    loc,
	}
	s, err := prepsheet.Assemble(in)
	if err != nil {
		return s, fmt.Errorf("assembling sheet: %w", err)
	}
	s.GeneratedAt = now.In(loc)
	return s, nil
}

// CachedIsCurrent reports whether a sheet computed elsewhere can be shown
// for a visit on day: it must be for that day, and no override of the
// patient may have been recorded on or after the day it was computed (the
// sheet would not show it yet).
func CachedIsCurrent(sheet *prepsheet.Sheet, day chart.Date, overrides []screening.Override) bool {
	if sheet.AsOf != day {
		return false
	}
	for _, o := range overrides {
		if !o.At.Before(sheet.AsOf) {
			return false
		}
	}
	return true
}

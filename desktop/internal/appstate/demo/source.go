package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// Source serves the schedule, prep sheets and overrides of a set of
// records from memory, computing every sheet with the shared engine the
// way the workstation does offline. It is safe for concurrent use.
type Source struct {
	engine *screening.Engine
	loc    *time.Location
	now    func() time.Time

	mu        sync.Mutex
	records   map[string]chart.Record // by patient id
	appts     []apptRef               // by start
	overrides map[string][]screening.Override
	saved     []appstate.Override
	failNext  error
	printed   []appstate.PrintEvent
}

type apptRef struct {
	id, patientID string
	appt          chart.Appointment
}

// NewSource serves recs (each with its appointments) in the clinic's time
// zone loc; now is the clock printed on sheets.
func NewSource(engine *screening.Engine, recs []chart.Record, loc *time.Location, now func() time.Time) *Source {
	s := &Source{engine: engine, loc: loc, now: now, records: map[string]chart.Record{}, overrides: map[string][]screening.Override{}}
	for _, r := range recs {
		s.records[r.Patient.ID] = r
		for _, a := range r.Appointments {
			s.appts = append(s.appts, apptRef{id: strings.TrimPrefix(a.Ref, "Appointment/"), patientID: r.Patient.ID, appt: a})
		}
	}
	slices.SortFunc(s.appts, func(a, b apptRef) int {
		if c := a.appt.Start.Compare(b.appt.Start); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return s
}

// Day implements appstate.Schedule.
func (s *Source) Day(ctx context.Context, day chart.Date) (appstate.Day, error) {
	s.mu.Lock()
	var refs []apptRef
	for _, a := range s.appts {
		if chart.FromTime(a.appt.Start.In(s.loc)) == day {
			refs = append(refs, a)
		}
	}
	s.mu.Unlock()
	out := appstate.Day{Date: day, Rows: make([]appstate.Row, 0, len(refs))}
	for _, a := range refs {
		if err := ctx.Err(); err != nil {
			return appstate.Day{}, err
		}
		sh, err := s.Sheet(ctx, a.id)
		if err != nil {
			return appstate.Day{}, fmt.Errorf("schedule for %s: %w", day, err)
		}
		due, overdue := appstate.Counts(&sh.Sheet)
		p := s.record(a.patientID).Patient
		out.Rows = append(out.Rows, appstate.Row{
			AppointmentID: a.id, PatientID: a.patientID, Start: a.appt.Start.In(s.loc),
			Name: p.Name, MRN: p.MRN, BirthDate: p.BirthDate,
			Provider: a.appt.Provider, Location: a.appt.Location, VisitType: a.appt.VisitType, Status: a.appt.Status,
			Due: due, Overdue: overdue, Counted: true,
		})
	}
	return out, nil
}

func (s *Source) record(id string) chart.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[id]
}

// Sheet implements appstate.Sheets.
func (s *Source) Sheet(ctx context.Context, appointmentID string) (appstate.Sheet, error) {
	s.mu.Lock()
	i := slices.IndexFunc(s.appts, func(a apptRef) bool { return a.id == appointmentID })
	if i < 0 {
		s.mu.Unlock()
		return appstate.Sheet{}, appstate.ErrNotFound
	}
	a := s.appts[i]
	rec := s.records[a.patientID]
	ovs := slices.Clone(s.overrides[a.patientID])
	s.mu.Unlock()
	v := appstate.Visit{ID: a.id, Start: a.appt.Start, Provider: a.appt.Provider, Location: a.appt.Location, VisitType: a.appt.VisitType}
	sh, err := appstate.ComputeSheet(s.engine, rec, ovs, v, prepsheet.Lookback{}, s.loc, s.now())
	if err != nil {
		return appstate.Sheet{}, err
	}
	return appstate.Sheet{AppointmentID: a.id, PatientID: a.patientID, Origin: appstate.Recomputed, Sheet: sh}, nil
}

// SaveOverride implements appstate.OverrideSink: the override applies to
// the patient's next sheets.
func (s *Source) SaveOverride(ctx context.Context, o appstate.Override, by appstate.User) error {
	today := chart.FromTime(s.now().In(s.loc))
	so, err := o.Validate(today)
	if err != nil {
		return err
	}
	so.By = by.Name
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failNext; err != nil {
		s.failNext = nil
		return fmt.Errorf("saving override: %w", err)
	}
	s.overrides[o.PatientID] = append(s.overrides[o.PatientID], so)
	s.saved = append(s.saved, o)
	return nil
}

// Saved returns the overrides saved so far, in order.
func (s *Source) Saved() []appstate.Override {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.saved)
}

// FailNextSave makes the next SaveOverride fail with err (for tests of the
// error path).
func (s *Source) FailNextSave(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = err
}

// RecordPrint implements appstate.PrintLog: the events are kept as the
// outbox's "print" entries would be.
func (s *Source) RecordPrint(_ context.Context, ids []string, at time.Time, by appstate.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.printed = append(s.printed, appstate.PrintEvents(ids, at, by)...)
	return nil
}

// Printed returns the print events recorded so far.
func (s *Source) Printed() []appstate.PrintEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.printed)
}

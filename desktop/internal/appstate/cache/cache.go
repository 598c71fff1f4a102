// Package cache implements the appstate interfaces over the workstation's
// encrypted local store (package localstore), the shared screening engine and
// prep sheet assembly: the schedule comes from the cached appointments and
// patients, a sheet is the cloud's cached one while it is current and is
// recomputed here otherwise (offline, a sheet of another day, an override
// recorded since), and overrides are written together with their outbox
// entry in one local transaction, so that the sync agent sends them.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// OutboxKind is the outbox kind of an override entry; its payload is the
// JSON of a localstore.Override.
const OutboxKind = "override"

// Options configure a Source.
type Options struct {
	// Location is the clinic's time zone; UTC when nil.
	Location *time.Location
	// Lookback is the organisation's lookback windows (defaults when
	// zero).
	Lookback prepsheet.Lookback
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Source reads the schedule and sheets from a local store and writes
// overrides to it. It is safe for concurrent use.
type Source struct {
	store *localstore.Store

	mu     sync.Mutex
	engine *screening.Engine // the clinic's, see SetClinic
	opts   Options
	appts  map[string]localstore.Appointment // seen by Day, by id
}

// New returns a Source over store, recomputing sheets with engine.
func New(store *localstore.Store, engine *screening.Engine, opts Options) *Source {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Source{store: store, engine: engine, opts: opts, appts: map[string]localstore.Appointment{}}
}

var _ appstate.ClinicFollower = (*Source)(nil)

// SetClinic implements appstate.ClinicFollower: schedules and sheets read
// from now on use c's time zone, lookback windows and screening engine
// (fields left zero or nil keep the current ones).
func (s *Source) SetClinic(c appstate.Clinic) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Location != nil {
		s.opts.Location = c.Location
	}
	if c.Lookback != (prepsheet.Lookback{}) {
		s.opts.Lookback = c.Lookback
	}
	if c.Engine != nil {
		s.engine = c.Engine
	}
}

// clinic is what one read computes with, taken once so that a change of
// the settings in the middle of it cannot mix two time zones.
type clinic struct {
	engine   *screening.Engine
	loc      *time.Location
	lookback prepsheet.Lookback
	now      func() time.Time
}

func (s *Source) clinic() clinic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clinic{engine: s.engine, loc: s.opts.Location, lookback: s.opts.Lookback, now: s.opts.Now}
}

// Day implements appstate.Schedule.
func (s *Source) Day(ctx context.Context, day chart.Date) (appstate.Day, error) {
	c := s.clinic()
	y, m, d := day.YMD()
	from := time.Date(y, m, d, 0, 0, 0, 0, c.loc)
	appts, err := s.store.Appointments(ctx, from, from.AddDate(0, 0, 1))
	if err != nil {
		return appstate.Day{}, fmt.Errorf("reading the schedule: %w", err)
	}
	s.mu.Lock()
	for _, a := range appts {
		s.appts[a.ID] = a
	}
	s.mu.Unlock()
	out := appstate.Day{Date: day, Rows: make([]appstate.Row, 0, len(appts))}
	for _, a := range appts {
		row := appstate.Row{
			AppointmentID: a.ID, PatientID: a.PatientID, Start: a.Start.In(c.loc),
			Provider: a.Provider, Location: a.Location, VisitType: a.VisitType, Status: a.Status,
		}
		p, err := s.store.Patient(ctx, a.PatientID)
		switch {
		case errors.Is(err, localstore.ErrNotFound):
			row.Name = "Patient not yet synced"
		case err != nil:
			return appstate.Day{}, fmt.Errorf("reading the schedule: %w", err)
		default:
			row.Name, row.MRN, row.BirthDate = p.Name, p.MRN, p.BirthDate
		}
		if sh, err := s.sheet(ctx, c, a, err == nil); err == nil {
			row.Due, row.Overdue = appstate.Counts(&sh.Sheet)
			row.Counted = true
		} else if !errors.Is(err, appstate.ErrNotFound) {
			return appstate.Day{}, fmt.Errorf("reading the schedule: %w", err)
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// Sheet implements appstate.Sheets.
func (s *Source) Sheet(ctx context.Context, appointmentID string) (appstate.Sheet, error) {
	c := s.clinic()
	a, err := s.appointment(ctx, c, appointmentID)
	if err != nil {
		return appstate.Sheet{}, err
	}
	return s.sheet(ctx, c, a, true)
}

// appointment finds an appointment by id: among those the schedule
// listed, else through its cached sheet's start time, else in the 60 days
// around today.
func (s *Source) appointment(ctx context.Context, c clinic, id string) (localstore.Appointment, error) {
	s.mu.Lock()
	a, ok := s.appts[id]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	cached, err := s.store.PrepSheet(ctx, id)
	switch {
	case err == nil && !cached.Sheet.Header.Appointment.Start.IsZero():
		st := cached.Sheet.Header.Appointment.Start
		if a, ok, err := s.findAppointment(ctx, id, st.Add(-time.Minute), st.Add(time.Minute)); err != nil || ok {
			return a, err
		}
	case err != nil && !errors.Is(err, localstore.ErrNotFound):
		return localstore.Appointment{}, fmt.Errorf("reading sheet: %w", err)
	}
	// No usable sheet: look around today (the schedule's window).
	now := c.now()
	a, ok, err = s.findAppointment(ctx, id, now.AddDate(0, 0, -60), now.AddDate(0, 0, 60))
	if err != nil {
		return a, err
	}
	if !ok {
		return a, appstate.ErrNotFound
	}
	return a, nil
}

func (s *Source) findAppointment(ctx context.Context, id string, from, to time.Time) (localstore.Appointment, bool, error) {
	appts, err := s.store.Appointments(ctx, from, to)
	if err != nil {
		return localstore.Appointment{}, false, fmt.Errorf("reading appointments: %w", err)
	}
	for _, a := range appts {
		if a.ID == id {
			return a, true, nil
		}
	}
	return localstore.Appointment{}, false, nil
}

// sheet returns the sheet of a: the cached one when current, else
// recomputed from the record (when haveRecord), else the stale cached one.
func (s *Source) sheet(ctx context.Context, c clinic, a localstore.Appointment, haveRecord bool) (appstate.Sheet, error) {
	day := chart.FromTime(a.Start.In(c.loc))
	var ovs []screening.Override
	if haveRecord {
		stored, err := s.store.Overrides(ctx, a.PatientID)
		if err != nil {
			return appstate.Sheet{}, fmt.Errorf("reading overrides: %w", err)
		}
		for _, o := range stored {
			ovs = append(ovs, o.Override)
		}
	}
	cached, err := s.store.PrepSheet(ctx, a.ID)
	hasCached := err == nil
	if err != nil && !errors.Is(err, localstore.ErrNotFound) {
		return appstate.Sheet{}, fmt.Errorf("reading sheet: %w", err)
	}
	// A sheet the cloud computed in another time zone than the clinic's
	// current one (the organisation moved it since) may be for another
	// day: recompute it.
	sameZone := cached.Sheet.TimeZone == "" || cached.Sheet.TimeZone == c.loc.String()
	if hasCached && sameZone && appstate.CachedIsCurrent(&cached.Sheet, day, ovs) {
		return appstate.Sheet{AppointmentID: a.ID, PatientID: a.PatientID, Origin: appstate.Cached, Sheet: cached.Sheet}, nil
	}
	if haveRecord {
		rec, err := s.store.Record(ctx, a.PatientID)
		if err == nil {
			v := appstate.Visit{ID: a.ID, Start: a.Start, Provider: a.Provider, Location: a.Location, VisitType: a.VisitType}
			sh, err := appstate.ComputeSheet(c.engine, rec, ovs, v, c.lookback, c.loc, c.now())
			if err != nil {
				return appstate.Sheet{}, err
			}
			return appstate.Sheet{AppointmentID: a.ID, PatientID: a.PatientID, Origin: appstate.Recomputed, Sheet: sh}, nil
		}
		if !errors.Is(err, localstore.ErrNotFound) {
			return appstate.Sheet{}, fmt.Errorf("reading record: %w", err)
		}
	}
	if hasCached {
		return appstate.Sheet{AppointmentID: a.ID, PatientID: a.PatientID, Origin: appstate.Stale, Sheet: cached.Sheet}, nil
	}
	return appstate.Sheet{}, appstate.ErrNotFound
}

// SaveOverride implements appstate.OverrideSink: it validates o for today
// and writes the override and its outbox entry in one transaction.
func (s *Source) SaveOverride(ctx context.Context, o appstate.Override, by appstate.User) error {
	c := s.clinic()
	today := chart.FromTime(c.now().In(c.loc))
	so, err := o.Validate(today)
	if err != nil {
		return err
	}
	so.By = by.Name
	if so.By == "" {
		so.By = by.Email
	}
	lo := localstore.Override{ID: uuid.NewString(), PatientID: o.PatientID, Override: so}
	payload, err := json.Marshal(lo)
	if err != nil {
		return fmt.Errorf("encoding override: %w", err)
	}
	err = s.store.Update(ctx, func(tx *localstore.Tx) error {
		if err := tx.PutOverride(lo); err != nil {
			return err
		}
		_, err := tx.Enqueue(localstore.OutboxEntry{Kind: OutboxKind, Payload: payload})
		return err
	})
	if err != nil {
		return fmt.Errorf("saving override: %w", err)
	}
	return nil
}

// RecordPrint implements appstate.PrintLog: one outbox entry of kind
// appstate.PrintOutboxKind per appointment, in one transaction. The
// payload is an appstate.PrintEvent (appointment ID, time, user ID).
func (s *Source) RecordPrint(ctx context.Context, ids []string, at time.Time, by appstate.User) error {
	events := appstate.PrintEvents(ids, at, by)
	err := s.store.Update(ctx, func(tx *localstore.Tx) error {
		for _, ev := range events {
			payload, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if _, err := tx.Enqueue(localstore.OutboxEntry{Kind: appstate.PrintOutboxKind, Payload: payload}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording %d printed sheets: %w", len(ids), err)
	}
	return nil
}

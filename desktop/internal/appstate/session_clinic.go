package appstate

import (
	"time"

	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// Clinic is the organisation's synced settings the window follows while it
// runs: a sync that brings new ones takes effect without a restart.
type Clinic struct {
	// Location is the clinic's time zone: today's date, the times shown.
	Location *time.Location
	// IdleLock is the idle time after which the workstation locks
	// (DefaultIdleLock when zero).
	IdleLock time.Duration
	// Lookback is the prep sheet's lookback windows.
	Lookback prepsheet.Lookback
	// Engine is the compiled screening library sheets are computed with.
	Engine *screening.Engine
}

// ClinicFollower is a source that computes with the clinic's settings
// (the cache source: its time zone, lookback and screening engine).
type ClinicFollower interface {
	SetClinic(Clinic)
}

// Clinic returns the organisation's settings last given to SetClinic
// (only the idle-lock time before that).
func (s *Session) Clinic() Clinic {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clinic
}

// SetClinic takes new organisation settings: the idle lock counts with
// c.IdleLock from now on (an idle time already longer than it locks at the
// next check), and Status.ClinicRev moves so that subscribers (the window)
// refresh today's date, the times shown and the schedule. Call it after
// the sources computing with c (ClinicFollower) have it. Safe from any
// goroutine; subscribers are called on the caller's.
func (s *Session) SetClinic(c Clinic) {
	if c.IdleLock <= 0 {
		c.IdleLock = DefaultIdleLock
	}
	s.mu.Lock()
	s.idle, s.clinic = c.IdleLock, c
	s.mu.Unlock()
	s.update(func(st *Status) { st.ClinicRev++ })
}

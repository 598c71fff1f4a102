// Package appstate is what the desktop window shows and what it can ask for,
// without any widget: the view-models and intents between the Fyne UI and the
// domain (local store, screening engine, prep sheets, sync).
//
// The UI depends only on the small interfaces declared here — Schedule (the
// appointments of a day with their due/overdue counts), Sheets (the prep sheet
// of an appointment), OverrideSink (a person's screening decision) and
// Authenticator (sign-in, unlock), Importer and DocumentSource (the
// Documents screen and the evidence drill-down), Printer and PrintLog — and
// on Session, the observable state of
// the signed-in user, the organisation, the connection and the sync. Every
// rule the window follows lives here as plain Go: how rows are filtered and
// searched, which override needs which date, what a sign-in error says to a
// person, when the workstation locks, how a day is printed. The Fyne package
// renders these values and forwards the person's intents.
//
// The organisation's synced settings (Clinic: time zone, idle lock,
// lookback, screening engine) can change while the window runs: the cache
// source (ClinicFollower) and then the Session take them, and the window
// refreshes when Status.ClinicRev moves.
//
// Implementations live in subpackages: cache (over the encrypted local store,
// the shared screening engine and prep sheet assembly), pipeline (the
// document screens over the document pipeline's queue), remote (the admin
// sources over the cloud's API) and demo (in memory, on deterministic
// synthetic patients, for screenshots and widget tests).
package appstate

import (
	"context"
	"errors"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// Schedule lists a day's appointments.
type Schedule interface {
	// Day returns the appointments starting on day (in the clinic's time
	// zone), by start time, with each patient's due and overdue counts.
	Day(ctx context.Context, day chart.Date) (Day, error)
}

// Sheets makes prep sheets.
type Sheets interface {
	// Sheet returns the prep sheet of an appointment: the cached one when
	// it is current, else one recomputed on this workstation with the
	// shared engine (see Origin). It fails with ErrNotFound for an unknown
	// appointment.
	Sheet(ctx context.Context, appointmentID string) (Sheet, error)
}

// OverrideSink records a person's screening decision: in the local store
// together with its outbox entry, so that it is synced and audited.
type OverrideSink interface {
	// SaveOverride stores o. Callers validate o first (Override.Validate).
	SaveOverride(ctx context.Context, o Override, by User) error
}

// Errors the sources return.
var (
	// ErrNotFound: no such appointment or patient in the cache.
	ErrNotFound = errors.New("not found on this workstation")
)

// Row is one appointment on the schedule.
type Row struct {
	AppointmentID string
	PatientID     string
	Start         time.Time // in the clinic's time zone
	Name          string
	MRN           string
	BirthDate     chart.Date
	Provider      string
	Location      string
	VisitType     string
	// Status is the appointment's FHIR status (booked, arrived,
	// cancelled, ...).
	Status string
	// Due and Overdue count the screenings to act on at this visit.
	Due, Overdue int
	// Counted is false when the counts could not be computed (no sheet
	// and no record on this workstation).
	Counted bool
}

// Cancelled reports whether the visit will not take place.
func (r Row) Cancelled() bool {
	switch r.Status {
	case "cancelled", "noshow", "entered-in-error":
		return true
	}
	return false
}

// Day is one day of the schedule.
type Day struct {
	Date chart.Date
	Rows []Row
}

// Origin says where a sheet came from.
type Origin int

// The origins.
const (
	// Cached: the sheet the cloud computed, for the visit's date.
	Cached Origin = iota + 1
	// Recomputed: recomputed on this workstation by the shared engine from
	// the cached record (offline, a sheet from another day, or an override
	// recorded since).
	Recomputed
	// Stale: the cached sheet of another date, shown because the record
	// needed to recompute it is not on this workstation.
	Stale
)

// Sheet is a prep sheet with where it came from.
type Sheet struct {
	AppointmentID string
	PatientID     string
	Origin        Origin
	prepsheet.Sheet
}

// OriginText says where the sheet came from, for the sheet's header.
func (s *Sheet) OriginText() string {
	switch s.Origin {
	case Cached:
		return "Prepared by HealthPrep cloud for " + s.AsOf.String()
	case Recomputed:
		return "Computed on this workstation for " + s.AsOf.String()
	case Stale:
		return "Cached sheet from " + s.AsOf.String() + " - could not be updated on this workstation"
	}
	return ""
}

// Counts returns how many screenings of sheet are due and overdue.
func Counts(sheet *prepsheet.Sheet) (due, overdue int) {
	for _, it := range sheet.Screenings {
		switch it.Status {
		case screening.Due:
			due++
		case screening.Overdue:
			overdue++
		}
	}
	return due, overdue
}

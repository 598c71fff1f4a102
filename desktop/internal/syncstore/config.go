package syncstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// Record ids the cloud publishes the organisation's configuration under
// (see cloud/internal/syncfeed: Publisher).
const (
	// OrgConfigID is the config record of the organisation's settings.
	OrgConfigID = "org"
	// LibraryID is the screening_type record holding the organisation's
	// effective screening library (the default preset with its changes).
	LibraryID = "library"
	// RevokedUsersID is the config record listing the organisation's users
	// who lost offline access (deactivated, or every session revoked by an
	// admin). Applying it destroys their password wraps in the page's own
	// transaction: UnlockWithPassword for them then fails with
	// localstore.ErrUnknownUser ("sign in online first"), and the cloud
	// refuses that online sign-in. Other users' wraps are untouched.
	RevokedUsersID = "revoked_users"
)

// RevokedUsers is the payload of the config record "revoked_users".
type RevokedUsers struct {
	UserIDs []string `json:"user_ids"`
}

// OrgConfig is the payload of the config record "org".
type OrgConfig struct {
	Timezone           string             `json:"timezone"`
	DesktopIdleMinutes int                `json:"desktop_idle_minutes"`
	Lookback           prepsheet.Lookback `json:"lookback"`
}

// Clinic is what the workstation needs to make prep sheets offline, from
// the synced configuration (defaults where nothing was synced yet).
type Clinic struct {
	Location    *time.Location
	Lookback    prepsheet.Lookback
	IdleMinutes int
	Engine      *screening.Engine
	// LibraryVersion is the synced library's version ("" for the built-in
	// default).
	LibraryVersion string
	// Warning, when not "", says that the organisation's time zone is
	// not known on this machine and UTC is used instead
	// (UnknownZoneWarning): for the status bar and the log, without PHI.
	Warning string
}

// Clinic reads the synced configuration and compiles the screening
// library: the organisation's when synced, else the built-in default. A
// time zone this machine does not know (missing from its time zone
// database, or misspelt) does not stop the workstation: dates and times
// are then taken in UTC, the other settings as synced, and Warning says
// so.
func (s *Store) Clinic(ctx context.Context) (Clinic, error) {
	c := Clinic{Location: time.UTC, Lookback: prepsheet.DefaultLookback(), IdleMinutes: 15}
	oc, err := s.orgConfig(ctx)
	if err != nil {
		return c, err
	}
	if c.Location, err = oc.location(); err != nil {
		c.Location, c.Warning = time.UTC, UnknownZoneWarning(oc.Timezone)
	}
	if oc.Lookback != (prepsheet.Lookback{}) {
		c.Lookback = oc.Lookback
	}
	if oc.DesktopIdleMinutes > 0 {
		c.IdleMinutes = oc.DesktopIdleMinutes
	}
	var lib screening.Library
	raw, err := s.ls.Setting(ctx, ScreeningTypePrefix+LibraryID)
	switch {
	case errors.Is(err, localstore.ErrNotFound):
		if lib, err = preset.Default(); err != nil {
			return c, fmt.Errorf("loading the default screening library: %w", err)
		}
	case err != nil:
		return c, fmt.Errorf("reading the screening library: %w", err)
	default:
		if lib, err = preset.Load(raw); err != nil {
			return c, fmt.Errorf("reading the synced screening library: %w", err)
		}
		c.LibraryVersion = lib.Version
	}
	if c.Engine, err = screening.Compile(lib); err != nil {
		return c, fmt.Errorf("compiling the screening library: %w", err)
	}
	return c, nil
}

// UnknownZoneWarning is what the status bar says when the organisation's
// time zone is not known on this workstation.
func UnknownZoneWarning(zone string) string {
	return fmt.Sprintf("The organisation's time zone %q is not known on this workstation: dates and times are shown in UTC. "+
		"Ask your administrator to check it, or update this workstation.", zone)
}

// ChangesClinic reports whether c changes what Clinic returns: the
// organisation's settings record or its screening library.
func ChangesClinic(c syncagent.Change) bool {
	return (c.Kind == "config" && c.ID == OrgConfigID) || (c.Kind == "screening_type" && c.ID == LibraryID)
}

// OnClinicChange registers fn to be called after each committed page that
// changed the organisation's settings or screening library (ChangesClinic),
// on the goroutine that applied it (the sync agent's, never the window's):
// fn reads Clinic again and hands the result on. A running window thus
// follows a new time zone, idle-lock time, lookback or screening library
// without a restart. fn must not wait for the window.
func (s *Store) OnClinicChange(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onClinic = append(s.onClinic, fn)
}

// orgConfig reads the synced organisation settings (zero before any).
func (s *Store) orgConfig(ctx context.Context) (OrgConfig, error) {
	var oc OrgConfig
	raw, err := s.ls.Setting(ctx, ConfigPrefix+OrgConfigID)
	switch {
	case errors.Is(err, localstore.ErrNotFound):
		return oc, nil
	case err != nil:
		return oc, fmt.Errorf("reading the organisation's settings: %w", err)
	}
	if err := json.Unmarshal(raw, &oc); err != nil {
		return oc, fmt.Errorf("reading the organisation's settings: %w", err)
	}
	return oc, nil
}

// location is the organisation's time zone (UTC when unset).
func (oc OrgConfig) location() (*time.Location, error) {
	if oc.Timezone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(oc.Timezone)
	if err != nil {
		return time.UTC, fmt.Errorf("the organisation's time zone: %w", err)
	}
	return loc, nil
}

// clinicChanged follows a committed change of the clinic's settings: the
// time zone later pages' FHIR date-times are read in, then the
// OnClinicChange functions. A time zone that cannot be loaded keeps the
// previous one (Clinic reports the error to the window).
func (s *Store) clinicChanged(ctx context.Context) {
	if oc, err := s.orgConfig(ctx); err == nil {
		if loc, err := oc.location(); err == nil {
			s.loc.Store(loc)
		}
	}
	s.mu.Lock()
	fns := slices.Clone(s.onClinic)
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

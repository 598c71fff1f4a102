package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncstore"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// ReadClinic reads the synced settings as ss.Clinic does (ls is the
// store ss syncs), except that a time zone this machine does not know
// (missing from its time zone database, or misspelt) does not stop the
// workstation: the clinic's dates and times are then taken in UTC, with
// the other settings as synced, and warning says so in words without PHI,
// for the status bar and the log. warning is "" when all is well.
func ReadClinic(ctx context.Context, ls *localstore.Store, ss *syncstore.Store) (c syncstore.Clinic, warning string, err error) {
	c, err = ss.Clinic(ctx)
	if err == nil {
		return c, "", nil
	}
	oc, ok := unknownZone(ctx, ls)
	if !ok {
		return c, "", err
	}
	c = syncstore.Clinic{Location: time.UTC, Lookback: prepsheet.DefaultLookback(), IdleMinutes: 15}
	if oc.Lookback != (prepsheet.Lookback{}) {
		c.Lookback = oc.Lookback
	}
	if oc.DesktopIdleMinutes > 0 {
		c.IdleMinutes = oc.DesktopIdleMinutes
	}
	var lib screening.Library
	raw, err := ls.Setting(ctx, syncstore.ScreeningTypePrefix+syncstore.LibraryID)
	switch {
	case errors.Is(err, localstore.ErrNotFound):
		if lib, err = preset.Default(); err != nil {
			return c, "", fmt.Errorf("loading the default screening library: %w", err)
		}
	case err != nil:
		return c, "", fmt.Errorf("reading the screening library: %w", err)
	default:
		if lib, err = preset.Load(raw); err != nil {
			return c, "", fmt.Errorf("reading the synced screening library: %w", err)
		}
		c.LibraryVersion = lib.Version
	}
	if c.Engine, err = screening.Compile(lib); err != nil {
		return c, "", fmt.Errorf("compiling the screening library: %w", err)
	}
	return c, UnknownZoneWarning(oc.Timezone), nil
}

// UnknownZoneWarning is what the status bar says when the organisation's
// time zone is not known on this workstation.
func UnknownZoneWarning(zone string) string {
	return fmt.Sprintf("The organisation's time zone %q is not known on this workstation: dates and times are shown in UTC. "+
		"Ask your administrator to check it, or update this workstation.", zone)
}

// unknownZone returns the synced organisation settings when their time
// zone is one this machine cannot load.
func unknownZone(ctx context.Context, ls *localstore.Store) (syncstore.OrgConfig, bool) {
	var oc syncstore.OrgConfig
	raw, err := ls.Setting(ctx, syncstore.ConfigPrefix+syncstore.OrgConfigID)
	if err != nil || json.Unmarshal(raw, &oc) != nil || oc.Timezone == "" {
		return oc, false
	}
	_, err = time.LoadLocation(oc.Timezone)
	return oc, err != nil
}

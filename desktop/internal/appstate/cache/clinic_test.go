package cache_test

import (
	"context"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate/cache"
	"healthprep.dev/desktop/internal/syncstore"
)

// TestClinicZoneFallback: the synced settings as the workstation starts
// on them (syncstore's Clinic), and a schedule read in them. A
// time zone this machine does not know does not stop it: UTC, the other
// settings as synced, and a warning naming the zone (and nothing else);
// a known zone, or none, gives no warning.
func TestClinicZoneFallback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, zone, wantZone string
		wantWarning          bool
	}{
		{"known zone", "America/Chicago", "America/Chicago", false},
		{"no zone synced", "", "UTC", false},
		{"zone unknown here", "Mars/Olympus_Mons", "UTC", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setupFollowing(t, 10)
			f.applyConfig(t, syncstore.OrgConfig{Timezone: tc.zone, DesktopIdleMinutes: 7})
			c, err := f.sync.Clinic(context.Background())
			if err != nil {
				t.Fatalf("Clinic: %v, want the settings", err)
			}
			warning := c.Warning
			if c.Location.String() != tc.wantZone || c.IdleMinutes != 7 || c.Engine == nil {
				t.Errorf("clinic: zone %v, idle %d min, engine %v; want %s, 7, compiled", c.Location, c.IdleMinutes, c.Engine != nil, tc.wantZone)
			}
			want := ""
			if tc.wantWarning {
				want = `The organisation's time zone "Mars/Olympus_Mons" is not known on this workstation: dates and times are shown in UTC. Ask your administrator to check it, or update this workstation.`
			}
			if warning != want {
				t.Errorf("warning = %q, want %q", warning, want)
			}
			if tc.wantWarning {
				day, err := cache.New(f.store, c.Engine, cache.Options{Location: c.Location, Lookback: c.Lookback, Now: func() time.Time { return now }}).Day(context.Background(), today)
				if err != nil || len(day.Rows) == 0 || day.Rows[0].Start.Location() != time.UTC {
					t.Errorf("schedule in the fallback zone: %d rows, %v; want rows in UTC", len(day.Rows), err)
				}
			}
		})
	}
}

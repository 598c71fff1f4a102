package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/syncstore"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
)

// unknownZoneProfile enrols a workstation and syncs it an organisation
// whose time zone this machine does not know, with an idle lock of 7
// minutes and n patients seen today.
func unknownZoneProfile(t *testing.T, n int) profileFlags {
	t.Helper()
	f := newFakeCloud(t)
	seedClinic(f, n)
	f.publish(v1.SyncEntityKind_SYNC_ENTITY_KIND_CONFIG, "org", []byte(`{"timezone":"Mars/Olympus_Mons","desktop_idle_minutes":7}`))
	url := f.start(t)
	dir := filepath.Join(t.TempDir(), "profile")
	flags := profileFlags{Dir: dir, Keystore: string(keystore.BackendInsecureFile)}
	ks := []string{"-profile", dir, "-keystore", flags.Keystore}
	if code, out, errs := runCmd(append([]string{"enrol", "-server", url, "-code", "abcde fghjk", "-name", "Room 1"}, ks...)...); code != 0 {
		t.Fatalf("enrol: exit %d, %s%s", code, out, errs)
	}
	if code, out, errs := runCmd(append([]string{"agent", "-once"}, ks...)...); code != 0 {
		t.Fatalf("agent -once: exit %d, %s%s", code, out, errs)
	}
	return flags
}

// TestUnknownTimeZoneFallsBackToUTC: a synced time zone this machine does
// not know no longer keeps the workstation from opening its profile: the
// agent syncs on, and the sheets are made in UTC with a warning on stderr
// naming the zone (and no patient data).
func TestUnknownTimeZoneFallsBackToUTC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	flags := unknownZoneProfile(t, 3)
	ks := []string{"-profile", flags.Dir, "-keystore", flags.Keystore}

	p, err := openProfile(ctx, flags, false)
	if err != nil {
		t.Fatalf("opening the profile: %v, want it open in UTC", err)
	}
	p.Close()
	if code, out, errs := runCmd(append([]string{"agent", "-once"}, ks...)...); code != 0 {
		t.Errorf("agent -once after the unknown zone was synced: exit %d, %s%s; want 0", code, out, errs)
	}
	code, out, errs := runCmd(append([]string{"sheets"}, ks...)...)
	today := time.Now().UTC().Format("2006-01-02")
	if code != 0 || !strings.Contains(out, "3 appointments of 3 patients from "+today) {
		t.Errorf("sheets: exit %d, %q; want 0 and today's (UTC) 3 appointments", code, out)
	}
	if want := "healthprep: warning: " + syncstore.UnknownZoneWarning("Mars/Olympus_Mons"); !strings.Contains(errs, want) {
		t.Errorf("sheets' stderr = %q, want it to contain %q", errs, want)
	}
	if strings.Contains(errs, "Pat0") || strings.Contains(errs, "Demo") {
		t.Errorf("stderr names a patient: %q", errs)
	}
}

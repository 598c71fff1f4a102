//go:build cgo

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	"healthprep.dev/shared/chart"
)

type noAuth struct{}

func (noAuth) SignIn(context.Context, appstate.Credentials) (appstate.SignedIn, error) {
	return appstate.SignedIn{}, appstate.ErrUnreachable
}
func (noAuth) Unlock(context.Context, appstate.User, string) error { return appstate.ErrUnreachable }
func (noAuth) Lock()                                               {}

// TestWindowFollowsSettingsFromTheCloud: the window's session and sources
// (windowState, as runGUI builds them) start from the last sync the agent
// recorded and follow an organisation settings change the cloud publishes
// while the window is open, through the real protocol.
func TestWindowFollowsSettingsFromTheCloud(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFakeCloud(t)
	seedClinic(f, 3)
	url := f.start(t)
	dir := filepath.Join(t.TempDir(), "profile")
	flags := profileFlags{Dir: dir, Keystore: string(keystore.BackendInsecureFile)}
	ks := []string{"-profile", dir, "-keystore", flags.Keystore}
	if code, out, errs := runCmd(append([]string{"enrol", "-server", url, "-code", "abcde fghjk", "-name", "Room 1"}, ks...)...); code != 0 {
		t.Fatalf("enrol: exit %d, %s%s", code, out, errs)
	}
	before := time.Now()
	if code, out, errs := runCmd(append([]string{"agent", "-once"}, ks...)...); code != 0 {
		t.Fatalf("agent -once: exit %d, %s%s", code, out, errs)
	}

	// The window opens on the profile (its handle unlocked, as a sign-in
	// does).
	p, err := openProfile(ctx, flags, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	win, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(dir, "profile.db"), DeviceKeys: p.keys})
	if err != nil {
		t.Fatal(err)
	}
	defer win.Close()
	if err := win.UnlockWithDevice(ctx); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	session, src, _, err := windowState(ctx, p, win, noAuth{}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if last := session.Status().LastSync; last.Before(before.Add(-time.Second)) || last.After(time.Now()) {
		t.Errorf("status bar's last sync at start = %v, want the agent's sync just before (after %v)", last, before)
	}
	if got := session.IdleLock(); got != 10*time.Minute {
		t.Errorf("idle lock at start = %v, want the synced 10m", got)
	}

	// An admin moves the clinic to Auckland and shortens the idle lock;
	// the window's agent syncs it.
	f.publish(v1.SyncEntityKind_SYNC_ENTITY_KIND_CONFIG, "org", []byte(`{"timezone":"Pacific/Auckland","desktop_idle_minutes":2}`))
	dev, err := readDevice(dir)
	if err != nil {
		t.Fatal(err)
	}
	token := func() (string, error) {
		b, err := p.keys.Get(tokenKey(dev.DeviceID))
		return string(b), err
	}
	prev, err := p.sync.LastSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent := syncagent.New(p.sync, syncagent.NewConnectCloud(url, token, dev.DeviceID), syncagent.Options{})
	if _, err := agent.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}

	if got := session.IdleLock(); got != 2*time.Minute {
		t.Errorf("idle lock after the sync = %v, want 2m", got)
	}
	loc := session.Clinic().Location
	if loc == nil || loc.String() != "Pacific/Auckland" || session.Status().ClinicRev != 2 {
		t.Fatalf("clinic after the sync: zone %v, rev %d; want Pacific/Auckland, 2", loc, session.Status().ClinicRev)
	}
	// The appointments at 12:xx UTC today are early tomorrow in Auckland.
	y, m, d := time.Now().UTC().Date()
	noon := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	day, err := src.Day(ctx, chart.FromTime(noon.In(loc)))
	if err != nil {
		t.Fatal(err)
	}
	if len(day.Rows) != 3 {
		t.Fatalf("Auckland's %s has %d appointments, want the 3 of 12:xx UTC", day.Date, len(day.Rows))
	}
	for _, r := range day.Rows {
		if r.Start.Location().String() != "Pacific/Auckland" || r.Start.UTC().Hour() != 12 {
			t.Errorf("appointment %s at %v, want 12:xx UTC shown in Pacific/Auckland", r.AppointmentID, r.Start)
		}
	}
	if last, err := p.sync.LastSync(ctx); err != nil || !last.After(prev) {
		t.Errorf("recorded last sync %v, %v; want the window's sync, after %v", last, err, prev)
	}
	if strings.TrimSpace(stderr.String()) != "" {
		t.Errorf("stderr: %s", stderr.String())
	}
}

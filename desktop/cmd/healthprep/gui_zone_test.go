//go:build cgo

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncstore"
	"healthprep.dev/shared/chart"
)

// TestWindowOpensOnAnUnknownTimeZone: the window's session and schedule
// (windowState) start in UTC when the synced time zone is unknown here,
// with the other settings as synced, and the status bar's warning says
// so.
func TestWindowOpensOnAnUnknownTimeZone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	flags := unknownZoneProfile(t, 2)
	p, err := openProfile(ctx, flags, false)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	win, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(flags.Dir, "profile.db"), DeviceKeys: p.keys})
	if err != nil {
		t.Fatal(err)
	}
	defer win.Close()
	if err := win.UnlockWithDevice(ctx); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	session, src, clinic, err := windowState(ctx, p, win, noAuth{}, &stderr)
	if err != nil {
		t.Fatalf("windowState: %v, want the window to open in UTC", err)
	}
	if clinic.Location != time.UTC || session.IdleLock() != 7*time.Minute {
		t.Errorf("clinic: zone %v, idle lock %v; want UTC and the synced 7m", clinic.Location, session.IdleLock())
	}
	want := syncstore.UnknownZoneWarning("Mars/Olympus_Mons")
	if got := session.Status().Notice; got != want {
		t.Errorf("status bar warning = %q, want %q", got, want)
	}
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want the warning", stderr.String())
	}
	day, err := src.Day(ctx, chart.FromTime(time.Now().In(clinic.Location)))
	if err != nil || len(day.Rows) != 2 {
		t.Errorf("today's schedule: %d rows, %v; want the 2 appointments", len(day.Rows), err)
	}
}

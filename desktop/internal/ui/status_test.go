package ui

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncstore"
	"healthprep.dev/shared/chart"
)

// openProfile opens (initialising the first time) a workstation profile's
// encrypted store in dir, as the binary does at start.
func openProfile(t *testing.T, dir string) (*localstore.Store, *syncstore.Store) {
	t.Helper()
	ctx := context.Background()
	keys, err := keystore.NewInsecureFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(dir, "profile.db"), DeviceKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	err = ls.UnlockWithDevice(ctx)
	if errors.Is(err, localstore.ErrNotInitialized) {
		err = ls.Initialize(ctx)
	}
	if err != nil {
		ls.Close()
		t.Fatal(err)
	}
	return ls, syncstore.New(ls, time.UTC)
}

// TestStatusBarShowsLastSyncAfterRestart: the last successful sync the
// agent recorded in the profile is in the status bar of the next window,
// before that window's first sync.
func TestStatusBarShowsLastSyncAfterRestart(t *testing.T) {
	tests := []struct {
		name     string
		recorded time.Time // zero: the profile never synced
		online   bool
		want     string
		banner   string
	}{
		{"never synced", time.Time{}, true, "Synced never", ""},
		{"synced yesterday", time.Date(2025, 3, 13, 16, 5, 0, 0, time.UTC), true, "Synced on 2025-03-13 16:05", ""},
		{"synced this morning", time.Date(2025, 3, 14, 6, 2, 0, 0, time.UTC), true, "Synced at 06:02", ""},
		{"offline after a restart", time.Date(2025, 3, 13, 16, 5, 0, 0, time.UTC), false,
			"Offline - last sync on 2025-03-13 16:05", "OFFLINE - working from this workstation's copy (last sync on 2025-03-13 16:05)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ls, ss := openProfile(t, dir)
			if !tt.recorded.IsZero() {
				if err := ss.RecordSync(context.Background(), tt.recorded); err != nil {
					t.Fatal(err)
				}
			}
			if err := ls.Close(); err != nil {
				t.Fatal(err)
			}

			// The restart: the profile opened again, the window built on it.
			ls, ss = openProfile(t, dir)
			defer ls.Close()
			last, err := ss.LastSync(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			b := setup(t, func(b *bundle, d *Deps) {
				b.session = appstate.NewSession(b.clinic.Auth, 15*time.Minute, b.clock.now)
				b.session.RestoreLastSync(last)
				d.Session = b.session
			})
			b.signIn()
			if !tt.online {
				b.session.SetOnline(false) // the first sync found no cloud
			}
			if got := b.ui.main.status.sync.Text; got != tt.want {
				t.Errorf("status bar = %q, want %q", got, tt.want)
			}
			banner := b.ui.main.bannerText.Text
			if !strings.HasPrefix(banner, tt.banner) || b.ui.main.banner.Visible() != (tt.banner != "") {
				t.Errorf("banner = %q (shown %v), want it to start with %q", banner, b.ui.main.banner.Visible(), tt.banner)
			}
		})
	}
}

// recordingSchedule is the demo schedule, remembering the days read.
type recordingSchedule struct {
	appstate.Schedule
	mu   sync.Mutex
	days []chart.Date
}

func (r *recordingSchedule) Day(ctx context.Context, day chart.Date) (appstate.Day, error) {
	r.mu.Lock()
	r.days = append(r.days, day)
	r.mu.Unlock()
	return r.Schedule.Day(ctx, day)
}

func (r *recordingSchedule) last() chart.Date {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.days[len(r.days)-1]
}

// TestWindowFollowsNewClinicSettings: settings synced while the window is
// open take effect at once (the sync agent's goroutine hands them to the
// session): today in the new time zone, the schedule and the open sheet
// read again, the override dialog left open, the new idle lock.
func TestWindowFollowsNewClinicSettings(t *testing.T) {
	rec := &recordingSchedule{}
	b := setup(t, func(b *bundle, d *Deps) {
		rec.Schedule = d.Schedule
		d.Schedule = rec
	})
	b.signIn()
	m := b.ui.main
	if got := m.dateButton.Text; got != "Today, Fri 14 Mar 2025" {
		t.Fatalf("date before = %q", got)
	}
	c := b.openFirstActionable()
	open := m.sheet.current.AppointmentID
	test.Tap(c.override)
	f := m.sheet.openForm
	test.Type(f.reason, "Patient travelling")
	b.wait()

	// 07:45 UTC on Friday is 21:45 on Thursday in Honolulu.
	honolulu, err := time.LoadLocation("Pacific/Honolulu")
	if err != nil {
		honolulu = time.FixedZone("HST", -10*3600)
	}
	b.clock.add(time.Minute)
	b.session.SetClinic(appstate.Clinic{Location: honolulu, IdleLock: 2 * time.Minute})
	b.wait()

	if got, want := m.dateButton.Text, "Today, Thu 13 Mar 2025"; got != want {
		t.Errorf("date after the move = %q, want %q", got, want)
	}
	if got, want := rec.last(), chart.D(2025, 3, 13); got != want {
		t.Errorf("schedule read for %s, want %s", got, want)
	}
	if m.sheet.current == nil || m.sheet.current.AppointmentID != open {
		t.Errorf("open sheet after the change: %v, want %s read again", m.sheet.current, open)
	}
	if b.win.Canvas().Overlays().Top() == nil || f.reason.Text != "Patient travelling" {
		t.Errorf("override dialog after the change: shown %v, reason %q; want it open as typed", b.win.Canvas().Overlays().Top() != nil, f.reason.Text)
	}

	// The refresh a minute later was not the person's activity: 2 minutes
	// after the last one the workstation locks, and says after how long.
	b.clock.add(time.Minute)
	if !b.session.CheckIdle() || b.ui.shown != b.ui.lock.root {
		t.Fatal("not locked 2 minutes after the last activity with the synced 2-minute idle lock")
	}
	if got := b.ui.lock.who.Text; !strings.HasPrefix(got, "Locked after 2 minutes") {
		t.Errorf("lock screen says %q, want it to start with %q", got, "Locked after 2 minutes")
	}
}

// TestLockScreenKeepsTypedPasswordOnStatusUpdates: syncs go on while the
// workstation is locked; their status updates must not wipe the password
// being typed.
func TestLockScreenKeepsTypedPasswordOnStatusUpdates(t *testing.T) {
	b := setup(t)
	b.signIn()
	b.session.Lock()
	l := b.ui.lock
	test.Type(l.password, "half-typ")
	b.session.SyncStarted()
	b.session.SyncDone(b.clock.now(), nil)
	if got := l.password.Text; got != "half-typ" {
		t.Errorf("password after two sync updates = %q, want what was typed kept", got)
	}
}

// TestStatusBarNamesThePerson: an account without a display name shows
// its email in the status bar, beside the organisation.
func TestStatusBarNamesThePerson(t *testing.T) {
	noName := demo.Account{User: appstate.User{ID: "user-ma", Email: "ma@demo-clinic.example", Role: "ma"}, Password: "ma-password-1"}
	b := setup(t, func(b *bundle, d *Deps) {
		b.session = appstate.NewSession(demo.NewAuth(b.clinic.Org, noName), 15*time.Minute, b.clock.now)
		d.Session = b.session
	})
	s := b.ui.signIn
	test.Type(s.email, noName.Email)
	test.Type(s.password, noName.Password)
	test.Tap(s.submit)
	b.wait()
	if b.ui.main == nil {
		t.Fatalf("sign-in: %q, want the schedule", s.message.Text)
	}
	if got, want := b.ui.main.status.user.Text, "ma@demo-clinic.example · Demo Family Clinic"; got != want {
		t.Errorf("status bar user = %q, want %q", got, want)
	}
}

// TestStatusBarShowsTheWorkstationsWarning: a warning about the
// workstation's settings (an unknown time zone) shows in the status bar,
// is still there for the next person, and goes when cleared.
func TestStatusBarShowsTheWorkstationsWarning(t *testing.T) {
	b := setup(t)
	const warning = `The organisation's time zone "Mars/Olympus_Mons" is not known on this workstation: dates and times are shown in UTC.`
	b.session.SetNotice(warning)
	b.signIn()
	n := b.ui.main.status.notice
	if !n.Visible() || n.Text != "⚠ "+warning {
		t.Errorf("status bar warning: shown %v, %q; want %q", n.Visible(), n.Text, "⚠ "+warning)
	}
	b.session.SignOut()
	b.signIn()
	if n := b.ui.main.status.notice; !n.Visible() || !strings.Contains(n.Text, "Mars/Olympus_Mons") {
		t.Errorf("after signing out and in: warning shown %v, %q; want it kept", n.Visible(), n.Text)
	}
	b.session.SetNotice("")
	if n := b.ui.main.status.notice; n.Visible() {
		t.Errorf("cleared warning still shown: %q", n.Text)
	}
}

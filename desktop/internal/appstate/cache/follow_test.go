package cache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/cache"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncstore"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/preset"
)

// The window follows the organisation's settings as the sync agent
// applies them (syncstore over the same real SQLite store the window's
// cache source reads), without a restart.

type fakeAuth struct{}

func (fakeAuth) SignIn(context.Context, appstate.Credentials) (appstate.SignedIn, error) {
	return appstate.SignedIn{User: appstate.User{ID: "u1", Name: "Jamie Rivera, RN"}, Org: appstate.Org{ID: "o1", Name: "Demo Clinic"}}, nil
}
func (fakeAuth) Unlock(context.Context, appstate.User, string) error { return nil }
func (fakeAuth) Lock()                                               {}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type following struct {
	*bundle
	sync    *syncstore.Store
	session *appstate.Session
	clock   *fakeClock
	pages   int
	errs    []error
	revs    []int // ClinicRev seen by the session's subscriber
}

// setupFollowing syncs the organisation's settings (Chicago, idle lock
// idle minutes) into the demo store, opens the session and source on them
// as the window does at start, and makes them follow later changes.
func setupFollowing(t *testing.T, idle int) *following {
	t.Helper()
	f := &following{bundle: setup(t, 20), clock: &fakeClock{t: now}}
	f.sync = syncstore.New(f.store, nil)
	f.applyConfig(t, syncstore.OrgConfig{Timezone: "America/Chicago", DesktopIdleMinutes: idle})
	c, err := f.sync.Clinic(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := cache.ClinicOf(c)
	f.src = cache.New(f.store, start.Engine, cache.Options{Location: start.Location, Lookback: start.Lookback, Now: func() time.Time { return now }})
	f.session = appstate.NewSession(fakeAuth{}, start.IdleLock, f.clock.now)
	f.session.SetClinic(start) // ClinicRev 1: what the window starts with
	f.session.Subscribe(func(st appstate.Status) { f.revs = append(f.revs, st.ClinicRev) })
	cache.Follow(context.Background(), f.sync, f.session, func(err error) { f.errs = append(f.errs, err) }, f.src)
	if err := f.session.SignIn(context.Background(), appstate.Credentials{Email: "nurse@example.org", Password: "x"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// apply applies one feed page as the sync agent does.
func (f *following) apply(t *testing.T, changes ...syncagent.Change) {
	t.Helper()
	ctx := context.Background()
	cur, err := f.sync.Cursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.pages++
	for i := range changes {
		changes[i].Seq = int64(f.pages*10 + i)
	}
	if err := f.sync.ApplyPage(ctx, syncagent.Page{From: cur, Next: fmt.Sprint("cursor-", f.pages), Changes: changes}); err != nil {
		t.Fatal(err)
	}
}

func (f *following) applyConfig(t *testing.T, oc syncstore.OrgConfig) {
	t.Helper()
	b, err := json.Marshal(oc)
	if err != nil {
		t.Fatal(err)
	}
	f.apply(t, syncagent.Change{Kind: "config", ID: syncstore.OrgConfigID, Payload: b})
}

func TestIdleLockFollowsSyncedSettings(t *testing.T) {
	t.Parallel()
	f := setupFollowing(t, 10)
	if got := f.session.IdleLock(); got != 10*time.Minute {
		t.Fatalf("idle lock at start = %v, want 10m", got)
	}
	f.clock.add(2 * time.Minute)
	if f.session.CheckIdle() {
		t.Fatal("locked after 2 minutes idle with a 10-minute idle lock")
	}

	f.applyConfig(t, syncstore.OrgConfig{Timezone: "America/Chicago", DesktopIdleMinutes: 2})
	if got := f.session.IdleLock(); got != 2*time.Minute {
		t.Errorf("idle lock after the sync = %v, want 2m", got)
	}
	if got := f.session.Status().ClinicRev; got != 2 || !slices.Contains(f.revs, 2) {
		t.Errorf("ClinicRev = %d (subscriber saw %v), want 2 seen by the window", got, f.revs)
	}
	f.session.Touch()
	f.clock.add(2*time.Minute - time.Second)
	if f.session.CheckIdle() {
		t.Fatal("locked after 1m59s idle with a 2-minute idle lock")
	}
	f.clock.add(time.Second)
	if !f.session.CheckIdle() || !f.session.Status().Locked {
		t.Fatal("not locked after 2 minutes idle with the synced 2-minute idle lock")
	}
	if len(f.errs) > 0 {
		t.Errorf("errors: %v", f.errs)
	}
}

func TestTimeZoneFollowsSyncedSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupFollowing(t, 15)
	todayIn := func() chart.Date { return chart.FromTime(f.session.Now().In(f.session.Clinic().Location)) }
	if got := todayIn(); got != today {
		t.Fatalf("today in Chicago = %s, want %s", got, today)
	}
	before, err := f.src.Day(ctx, today)
	if err != nil || len(before.Rows) == 0 {
		t.Fatalf("Day(%s): %d rows, %v", today, len(before.Rows), err)
	}

	// Friday 07:45 in Chicago is Saturday 01:45 in Auckland.
	f.applyConfig(t, syncstore.OrgConfig{Timezone: "Pacific/Auckland", DesktopIdleMinutes: 15})
	auckland := mustZone("Pacific/Auckland")
	if got, want := todayIn(), chart.D(2025, 3, 15); got != want {
		t.Errorf("today after the move = %s, want %s", got, want)
	}
	after, err := f.src.Day(ctx, chart.D(2025, 3, 15))
	if err != nil {
		t.Fatal(err)
	}
	starts := map[string]time.Time{}
	for _, r := range after.Rows {
		starts[r.AppointmentID] = r.Start
	}
	for _, r := range before.Rows {
		got, ok := starts[r.AppointmentID]
		if !ok {
			t.Errorf("appointment at %s Chicago is not on Saturday in Auckland", r.Start.Format("15:04"))
			continue
		}
		want := r.Start.In(auckland)
		if !got.Equal(r.Start) || got.Location().String() != auckland.String() || got.Format("15:04") != want.Format("15:04") {
			t.Errorf("appointment at %s Chicago shows %s %s, want %s Pacific/Auckland", r.Start.Format("15:04"), got.Format("15:04"), got.Location(), want.Format("15:04"))
		}
	}
	sh, err := f.src.Sheet(ctx, before.Rows[0].AppointmentID)
	if err != nil {
		t.Fatal(err)
	}
	if sh.AsOf != chart.D(2025, 3, 15) || sh.TimeZone != "Pacific/Auckland" {
		t.Errorf("sheet as of %s in %q, want 2025-03-15 in Pacific/Auckland", sh.AsOf, sh.TimeZone)
	}
}

func TestScreeningLibraryFollowsSyncedSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupFollowing(t, 15)
	day, err := f.src.Day(ctx, today)
	if err != nil || len(day.Rows) == 0 {
		t.Fatalf("Day: %d rows, %v", len(day.Rows), err)
	}
	id := day.Rows[0].AppointmentID
	before, err := f.src.Sheet(ctx, id)
	if err != nil || len(before.Screenings) == 0 {
		t.Fatalf("Sheet: %d screenings, %v", len(before.Screenings), err)
	}
	off := before.Screenings[0].ID

	// The admin disables that screening type; the cloud publishes the
	// organisation's effective library.
	lib, err := preset.Default()
	if err != nil {
		t.Fatal(err)
	}
	if lib, err = preset.Apply(lib, preset.OrgSettings{Disabled: []string{off}}); err != nil {
		t.Fatal(err)
	}
	lib.Version += "+org1"
	raw, err := preset.Export(lib)
	if err != nil {
		t.Fatal(err)
	}
	f.apply(t, syncagent.Change{Kind: "screening_type", ID: syncstore.LibraryID, Payload: raw})

	after, err := f.src.Sheet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Origin != appstate.Recomputed {
		t.Errorf("origin %v, want recomputed", after.Origin)
	}
	for _, it := range after.Screenings {
		if it.ID == off {
			t.Errorf("recomputed sheet still lists %s (%s), which the organisation disabled", it.ID, it.Name)
		}
	}
	if len(after.Screenings) != len(before.Screenings)-1 {
		t.Errorf("recomputed sheet has %d screenings, want %d", len(after.Screenings), len(before.Screenings)-1)
	}
	if len(f.errs) > 0 {
		t.Errorf("errors: %v", f.errs)
	}
}

func TestUnreadableSettingsKeepTheCurrentOnes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setupFollowing(t, 10)
	f.applyConfig(t, syncstore.OrgConfig{Timezone: "Mars/Olympus_Mons", DesktopIdleMinutes: 2})
	if got := f.session.IdleLock(); got != 10*time.Minute {
		t.Errorf("idle lock = %v, want the current 10m kept", got)
	}
	if got := f.session.Status().ClinicRev; got != 1 {
		t.Errorf("ClinicRev = %d, want 1 (nothing changed since the start)", got)
	}
	day, err := f.src.Day(ctx, today)
	if err != nil || len(day.Rows) == 0 || day.Rows[0].Start.Location().String() != "America/Chicago" {
		t.Errorf("Day after an unknown zone: %d rows, %v; want Chicago times kept", len(day.Rows), err)
	}
	if len(f.errs) != 1 || !strings.Contains(f.errs[0].Error(), "keeping the current ones") {
		t.Errorf("errors = %v, want one saying the current settings are kept", f.errs)
	}
}

// BenchmarkFollowSettingsChange is the cost, on the sync agent's
// goroutine, of a page carrying new organisation settings: the page's
// transaction, reading the settings and compiling the screening library,
// and handing them to the source and the session.
func BenchmarkFollowSettingsChange(b *testing.B) {
	f := &following{bundle: setup(b, 1), clock: &fakeClock{t: now}}
	f.sync = syncstore.New(f.store, nil)
	f.session = appstate.NewSession(fakeAuth{}, 0, f.clock.now)
	cache.Follow(context.Background(), f.sync, f.session, func(err error) { b.Fatal(err) }, f.src)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		payload := fmt.Appendf(nil, `{"timezone":"America/Chicago","desktop_idle_minutes":%d}`, 2+i%10)
		cur, err := f.sync.Cursor(ctx)
		if err != nil {
			b.Fatal(err)
		}
		err = f.sync.ApplyPage(ctx, syncagent.Page{From: cur, Next: fmt.Sprint("c", i),
			Changes: []syncagent.Change{{Kind: "config", ID: syncstore.OrgConfigID, Payload: payload, Seq: int64(i + 1)}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	if f.session.Status().ClinicRev == 0 {
		b.Fatal("the session never followed")
	}
}

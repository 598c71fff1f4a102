package ui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/cache"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncstore"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// The benchmarks measure the window on a real encrypted profile: 2,000
// demo patients over 10 working days (200 on the day), their appointments
// and chart items, the cloud's prep sheets cached for the day (the normal
// state after a sync), and a nurse who signed in online before.

var benchNow = time.Date(2025, 3, 14, 7, 45, 0, 0, time.UTC)

const benchPassword = "correct horse battery"

type benchProfile struct {
	path string
	keys localstore.DeviceKeys
}

func newBenchProfile(b *testing.B, n int) benchProfile {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	keys, err := keystore.NewInsecureFile(dir)
	if err != nil {
		b.Fatal(err)
	}
	p := benchProfile{path: filepath.Join(dir, "profile.db"), keys: keys}
	store, err := localstore.Open(ctx, localstore.Options{Path: p.path, DeviceKeys: keys})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.Initialize(ctx); err != nil {
		b.Fatal(err)
	}
	if err := store.SetUserPassword(ctx, "user-nurse", benchPassword); err != nil {
		b.Fatal(err)
	}
	lib, err := preset.Default()
	if err != nil {
		b.Fatal(err)
	}
	engine, err := screening.Compile(lib)
	if err != nil {
		b.Fatal(err)
	}
	today := chart.FromTime(benchNow)
	recs := demo.Generate(7, n, today, 10, time.UTC)
	err = store.Update(ctx, func(tx *localstore.Tx) error {
		for _, r := range recs {
			if err := tx.PutPatient(r.Patient); err != nil {
				return err
			}
			for _, a := range r.Appointments {
				id := strings.TrimPrefix(a.Ref, "Appointment/")
				if err := tx.PutAppointment(localstore.Appointment{ID: id, PatientID: r.Patient.ID,
					Start: a.Start, End: a.End, Provider: a.Provider, Location: a.Location, VisitType: a.VisitType, Status: a.Status}); err != nil {
					return err
				}
				if chart.FromTime(a.Start) == today {
					sh, err := appstate.ComputeSheet(engine, r, nil, appstate.Visit{ID: id, Start: a.Start, Provider: a.Provider, Location: a.Location, VisitType: a.VisitType},
						prepsheet.DefaultLookback(), time.UTC, benchNow)
					if err != nil {
						return err
					}
					if err := tx.PutPrepSheet(localstore.PrepSheet{AppointmentID: id, PatientID: r.Patient.ID, Sheet: sh}); err != nil {
						return err
					}
				}
			}
			for _, it := range r.Items {
				if err := tx.PutChartItem(localstore.ChartItem{ID: it.Ref, PatientID: r.Patient.ID, Item: it}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// storeAuth signs the nurse in offline with the store's password wrap
// (the slowest sign-in: Argon2id on this workstation).
type storeAuth struct{ store *localstore.Store }

func (a storeAuth) SignIn(ctx context.Context, c appstate.Credentials) (appstate.SignedIn, error) {
	if err := a.store.UnlockWithPassword(ctx, "user-nurse", c.Password); err != nil {
		return appstate.SignedIn{}, err
	}
	return appstate.SignedIn{User: appstate.User{ID: "user-nurse", Name: "Jamie Rivera, RN", Role: appstate.RoleNurse}, Org: appstate.Org{Name: "Demo"}, Offline: true}, nil
}
func (a storeAuth) Unlock(ctx context.Context, _ appstate.User, pw string) error {
	return a.store.UnlockWithPassword(ctx, "user-nurse", pw)
}
func (a storeAuth) Lock() { a.store.Lock() }

// startWindow does what the binary does from opening the profile to a
// painted schedule: open the store, read the synced configuration and
// compile the screening library, build the window, sign in (offline, the
// password unwrapping the data key), read the day and paint it.
func startWindow(b *testing.B, p benchProfile, bg *runner) (*App, fyne.Window, *localstore.Store) {
	ctx := context.Background()
	store, err := localstore.Open(ctx, localstore.Options{Path: p.path, DeviceKeys: p.keys})
	if err != nil {
		b.Fatal(err)
	}
	if err := store.UnlockWithDevice(ctx); err != nil { // the agent's view, for the config
		b.Fatal(err)
	}
	clinic, err := syncstore.New(store, nil).Clinic(ctx)
	if err != nil {
		b.Fatal(err)
	}
	store.Lock()
	session := appstate.NewSession(storeAuth{store}, time.Duration(clinic.IdleMinutes)*time.Minute, func() time.Time { return benchNow })
	src := cache.New(store, clinic.Engine, cache.Options{Location: time.UTC, Lookback: clinic.Lookback, Now: func() time.Time { return benchNow }})
	win := test.NewWindow(nil)
	win.Resize(fyne.NewSize(1280, 800))
	u := New(fyne.CurrentApp(), win, Deps{Session: session, Schedule: src, Sheets: src, Overrides: src, Location: time.UTC, Go: bg.Go})
	test.Type(u.signIn.email, "nurse@demo-clinic.example")
	test.Type(u.signIn.password, benchPassword)
	test.Tap(u.signIn.submit)
	bg.wait()
	if u.main == nil || len(u.main.rows) != 200 {
		b.Fatalf("schedule not shown: message %q", u.signIn.message.Text)
	}
	win.Canvas().Capture()
	return u, win, store
}

// BenchmarkColdStart: profile opened to a painted schedule of 200
// appointments with their due/overdue counts. Target ≤ 1.5 s.
func BenchmarkColdStart(b *testing.B) {
	test.NewTempApp(b).Settings().SetTheme(Theme(false))
	p := newBenchProfile(b, 2000)
	bg := &runner{}
	b.ResetTimer()
	for b.Loop() {
		_, win, store := startWindow(b, p, bg)
		b.StopTimer()
		win.Close()
		store.Close()
		b.StartTimer()
	}
}

// BenchmarkSwitchSheet: opening the next appointment's prep sheet, read
// from the store and its widgets built and laid out ("build"), and also
// painted by the headless software painter ("build+paint"; the real
// window paints with OpenGL). Target ≤ 100 ms.
func BenchmarkSwitchSheet(b *testing.B) {
	test.NewTempApp(b).Settings().SetTheme(Theme(false))
	p := newBenchProfile(b, 2000)
	bg := &runner{}
	u, win, store := startWindow(b, p, bg)
	defer store.Close()
	defer win.Close()
	m := u.main
	for _, paint := range []bool{false, true} {
		name := map[bool]string{false: "build", true: "build+paint"}[paint]
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				m.open(i % len(m.rows))
				bg.wait()
				if m.sheet.current == nil {
					b.Fatal("no sheet shown")
				}
				m.sheet.root.Resize(m.sheet.root.Size())
				test.LaidOutObjects(m.sheet.root)
				if paint {
					win.Canvas().Capture()
				}
				i++
			}
		})
	}
}

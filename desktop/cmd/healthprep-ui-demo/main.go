//go:build cgo

// Command healthprep-ui-demo opens the HealthPrep window on the demo clinic
// (deterministic synthetic patients, computed with the shared screening
// engine in memory), for trying the window and for screenshots until the GUI
// becomes the default subcommand of cmd/healthprep.
//
// Usage:
//
//	healthprep-ui-demo [-patients N] [-now RFC3339] [-tz ZONE] [-dark] [-screenshots DIR]
//
// Sign in as nurse@demo-clinic.example with demo-password-1 (or
// admin@demo-clinic.example, code 246810, for the administration: users,
// workstations, Epic and the audit log come from a fake cloud on loopback
// (package fakecloud, made-up accounts), screening settings are kept in
// memory). With -screenshots DIR it signs in by itself, walks through the
// main screens (sign-in, schedule with an open prep sheet, offline banner,
// lock screen, then as the admin the users screen and the screening
// editor, and the Documents tab with a page to review), saves each as
// DIR/NN-name.png from the window's own canvas, and quits; run it under
// Xvfb (make screenshots) on a screen of at least 1920x1200, as the
// schedule with its open prep sheet is also saved in the dark theme and
// at 150 % scale (DIR/sheet-THEME-PERCENT.png: sheet-dark-100,
// sheet-light-150, sheet-dark-150). The scale is Fyne's FYNE_SCALE, which
// the window reads again whenever the settings change. It needs cgo and
// OpenGL (Fyne's GL driver).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
	_ "time/tzdata" // -tz works without a system zone database

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/fakecloud"
	"healthprep.dev/desktop/internal/ui"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
)

// Config is the command's configuration, from its flags.
type Config struct {
	Patients    int
	Now         time.Time // the demo clock's start; zero means the real clock
	Location    *time.Location
	Dark        bool
	Screenshots string
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthprep-ui-demo:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "healthprep-ui-demo:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (Config, error) {
	fs := flag.NewFlagSet("healthprep-ui-demo", flag.ContinueOnError)
	cfg := Config{}
	now := fs.String("now", "2025-03-14T07:45:00-05:00", "the demo clock's start (RFC 3339); \"real\" for the real clock")
	tz := fs.String("tz", "America/Chicago", "the clinic's time zone")
	fs.IntVar(&cfg.Patients, "patients", 200, "demo patients (spread over 10 working days)")
	fs.BoolVar(&cfg.Dark, "dark", false, "dark theme")
	fs.StringVar(&cfg.Screenshots, "screenshots", "", "save screenshots of the main screens to this directory and quit")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return cfg, fmt.Errorf("-tz: %w", err)
	}
	cfg.Location = loc
	if *now != "real" {
		t, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			return cfg, fmt.Errorf("-now: %w", err)
		}
		cfg.Now = t
	}
	if cfg.Patients < 1 {
		return cfg, errors.New("-patients must be at least 1")
	}
	return cfg, nil
}

func run(cfg Config) error {
	clock := time.Now
	if !cfg.Now.IsZero() {
		start, wall := cfg.Now, time.Now()
		clock = func() time.Time { return start.Add(time.Since(wall)) }
	}
	clinic, err := demo.NewClinic(cfg.Patients, clock, cfg.Location)
	if err != nil {
		return err
	}
	session := appstate.NewSession(clinic.Auth, appstate.DefaultIdleLock, clock)
	session.SyncDone(clock().Add(-4*time.Minute), nil)

	cloud, stop := demoCloud(clock)
	defer stop()
	admin := remote.NewAdmin(cloud.url, nil, func() string { return cloud.token }, "")
	screenings, err := demo.NewScreenings()
	if err != nil {
		return err
	}

	a := app.NewWithID("dev.healthprep.demo")
	a.Settings().SetTheme(ui.Theme(cfg.Dark))
	w := a.NewWindow("HealthPrep - Demo Family Clinic")
	w.Resize(windowSize)
	u := ui.New(a, w, ui.Deps{
		Session: session, Schedule: clinic.Source, Sheets: clinic.Source, Overrides: clinic.Source,
		Location: cfg.Location,
		Users:    admin, Devices: admin, Epic: admin, Audit: admin, Screenings: screenings,
		Samples:   clinic.Records[:5],
		Documents: clinic.Documents, Importer: clinic.Documents,
		PrintLog: clinic.Source,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go u.RunIdleLock(ctx, 30*time.Second)

	var tourErr error
	if cfg.Screenshots != "" {
		go func() {
			tourErr = tour(a, w, u, session, cfg)
			fyne.Do(a.Quit)
		}()
	}
	w.ShowAndRun()
	return tourErr
}

// windowSize is the window's size at 100 %: 1280x760 pixels.
var windowSize = fyne.NewSize(1280, 760)

// sheetLooks are the themes and scales the schedule and prep sheet are
// also saved in, to check they stay legible.
var sheetLooks = []struct {
	dark  bool
	scale float64
}{{true, 1}, {false, 1.5}, {true, 1.5}}

// tour walks through the main screens as a person would (keyboard
// included) and saves a screenshot of each.
func tour(a fyne.App, w fyne.Window, u *ui.App, session *appstate.Session, cfg Config) error {
	dir := cfg.Screenshots
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	save := func(file string) error {
		time.Sleep(700 * time.Millisecond) // let the window lay out and paint
		path := filepath.Join(dir, file)
		img := w.Canvas().Capture() // runs on the window's GL context itself
		if !uniform(img) {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			defer f.Close()
			return png.Encode(f, img)
		}
		// Some software GL stacks (Mesa under Xvfb) read back a blank
		// front buffer: take the window from the X display instead.
		if out, err := exec.Command("import", "-window", w.Title(), path).CombinedOutput(); err != nil {
			return fmt.Errorf("the window's capture is blank and import failed: %v: %s", err, out)
		}
		return nil
	}
	n := 0
	shot := func(name string) error {
		n++
		return save(fmt.Sprintf("%02d-%s.png", n, name))
	}
	// look switches the theme and the scale; the window reads FYNE_SCALE
	// again when the settings change.
	userScale, hadScale := os.LookupEnv("FYNE_SCALE")
	look := func(dark bool, scale float64) {
		switch {
		case scale != 1:
			os.Setenv("FYNE_SCALE", strconv.FormatFloat(scale, 'f', -1, 64))
		case hadScale:
			os.Setenv("FYNE_SCALE", userScale)
		default:
			os.Unsetenv("FYNE_SCALE")
		}
		fyne.DoAndWait(func() {
			a.Settings().SetTheme(ui.Theme(dark))
			w.Resize(windowSize) // in device-independent units: 1.5 times the pixels at 150 %
		})
	}
	key := func(k fyne.KeyName) {
		fyne.DoAndWait(func() {
			if f := w.Canvas().Focused(); f != nil {
				f.TypedKey(&fyne.KeyEvent{Name: k})
			}
		})
		time.Sleep(200 * time.Millisecond)
	}
	if err := shot("sign-in"); err != nil {
		return err
	}
	if err := session.SignIn(context.Background(), appstate.Credentials{Email: demo.NurseEmail, Password: demo.DemoPassword}); err != nil {
		return fmt.Errorf("signing in: %w", err)
	}
	time.Sleep(time.Second)
	key(fyne.KeyDown)
	key(fyne.KeyDown)
	key(fyne.KeyReturn)
	if err := shot("schedule-and-sheet"); err != nil {
		return err
	}
	for _, l := range sheetLooks {
		look(l.dark, l.scale)
		name := map[bool]string{false: "light", true: "dark"}[l.dark]
		if err := save(fmt.Sprintf("sheet-%s-%.0f.png", name, l.scale*100)); err != nil {
			return err
		}
	}
	look(cfg.Dark, 1)
	session.SyncStarted()
	session.SyncProgress(appstate.Progress{Applied: 1840, Seq: 620, Latest: 1000})
	session.SetOnline(false)
	if err := shot("offline"); err != nil {
		return err
	}
	session.SyncDone(session.Now(), errors.New("cloud unreachable"))
	session.Lock()
	if err := shot("locked"); err != nil {
		return err
	}
	// The administration, as the clinic's admin.
	session.SignOut()
	session.SetOnline(true)
	session.SyncDone(session.Now().Add(-2*time.Minute), nil)
	if err := session.SignIn(context.Background(), appstate.Credentials{Email: demo.AdminEmail, Password: demo.DemoPassword, TOTP: demo.AdminTOTPCode}); err != nil {
		return fmt.Errorf("signing the admin in: %w", err)
	}
	time.Sleep(700 * time.Millisecond)
	var ok bool
	fyne.DoAndWait(func() { ok = u.ShowAdmin(ui.AdminUsers) })
	if !ok {
		return errors.New("the users screen did not open")
	}
	time.Sleep(time.Second) // the cloud answers in the background
	if err := shot("admin-users"); err != nil {
		return err
	}
	fyne.DoAndWait(func() { ok = u.ShowAdmin(ui.AdminScreenings) })
	if !ok {
		return errors.New("the screening editor did not open")
	}
	time.Sleep(time.Second)
	if err := shot("screening-editor"); err != nil {
		return err
	}
	// The Documents tab: the quarantine and a scanned page to review.
	fyne.DoAndWait(func() { ok = u.ShowDocuments() })
	if !ok {
		return errors.New("the Documents tab did not open")
	}
	time.Sleep(time.Second)
	return shot("documents")
}

// demoCloudInfo is the fake cloud the demo's admin screens talk to.
type demoCloudInfo struct {
	url, token string
}

// demoCloud starts the fake cloud (package fakecloud: made-up accounts,
// loopback only) with a few users, invites and workstations.
func demoCloud(clock func() time.Time) (demoCloudInfo, func()) {
	now := clock()
	f := fakecloud.New(fakecloud.Options{OrgID: "org-demo", OrgName: "Demo Family Clinic", Now: clock})
	admin := f.AddAccount(fakecloud.Account{ID: "user-admin", Email: demo.AdminEmail, Name: "Pat Morgan", Password: demo.DemoPassword,
		Role: v1.Role_ROLE_ADMIN, TOTP: demo.AdminTOTPCode, Created: now.AddDate(0, -3, 0)})
	for _, a := range []fakecloud.Account{
		{Email: demo.NurseEmail, Name: "Jamie Rivera, RN", Role: v1.Role_ROLE_NURSE, TOTP: "x"},
		{Email: "alex.chen@demo-clinic.example", Name: "Alex Chen, MA", Role: v1.Role_ROLE_MA},
		{Email: "sam.okafor@demo-clinic.example", Name: "Sam Okafor, RN", Role: v1.Role_ROLE_NURSE},
		{Email: "lee.park@demo-clinic.example", Name: "Lee Park", Role: v1.Role_ROLE_NURSE, Deactivated: true},
	} {
		a.Created = now.AddDate(0, -2, 0)
		f.AddAccount(a)
	}
	f.AddDevice("Front desk 1", "windows/amd64", "1.0.0", "Pat Morgan", now.Add(-3*time.Minute))
	f.AddDevice("Nurse station", "windows/amd64", "1.0.0", "Pat Morgan", now.Add(-40*time.Minute))
	url := f.Start()
	tok := f.SessionToken(admin)
	c := remote.NewAdmin(url, nil, func() string { return tok }, "")
	_, _ = c.InviteUser(context.Background(), appstate.InviteRequest{Email: "robin.diaz@demo-clinic.example", Role: appstate.RoleMA})
	return demoCloudInfo{url: url, token: tok}, f.Stop
}

// uniform reports whether every pixel of img has one colour.
func uniform(img image.Image) bool {
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	r0, g0, b0, a0 := first.RGBA()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			if r != r0 || g != g0 || bl != b0 || a != a0 {
				return false
			}
		}
	}
	return true
}

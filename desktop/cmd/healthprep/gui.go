//go:build cgo

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/dialog"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/cache"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/desktop/internal/appstate/printer"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/ui"
	"healthprep.dev/shared/chart"
)

// GUIConfig is the window's configuration, from flags.
type GUIConfig struct {
	profileFlags
	Server    string
	Dark      bool
	Documents DocumentsConfig
}

// gui opens the HealthPrep window on this workstation's profile: sign-in
// online through the cloud (then offline with the same password), the
// sync agent in the background feeding the status bar and the offline
// banner, the idle lock after the organisation's desktop idle minutes,
// and the admin screens for admins.
func gui(ctx context.Context, args []string, _ io.Writer, stderr io.Writer) int {
	var cfg GUIConfig
	fs := flag.NewFlagSet("healthprep gui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.register(fs)
	fs.StringVar(&cfg.Server, "server", "", "the cloud's base URL (default: the one this workstation enrolled with)")
	fs.BoolVar(&cfg.Dark, "dark", false, "dark theme")
	cfg.Documents.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	err := cfg.check()
	if err == nil && cfg.Server != "" {
		err = checkServer(cfg.Server)
	}
	if err != nil {
		fmt.Fprintf(stderr, "healthprep: %v\n", err)
		return 2
	}
	if err := runGUI(ctx, cfg, stderr); err != nil {
		fmt.Fprintf(stderr, "healthprep: %v\n", err)
		return 1
	}
	return 0
}

func runGUI(ctx context.Context, cfg GUIConfig, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dev, err := readDevice(cfg.Dir)
	if err != nil {
		return err
	}
	if cfg.Server == "" {
		cfg.Server = dev.Server
	}
	// Two handles on the profile: the sync agent's, unlocked with the
	// device key so that it syncs while the window is locked, and the
	// window's, unlocked only by a sign-in and locked again by the idle
	// lock.
	p, err := openProfile(ctx, cfg.profileFlags, false)
	if err != nil {
		return err
	}
	defer p.Close()
	win, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(cfg.Dir, "profile.db"), DeviceKeys: p.keys})
	if err != nil {
		return err
	}
	defer win.Close()

	auth := remote.NewAuth(remote.Options{BaseURL: cfg.Server, DeviceID: dev.DeviceID, Store: win,
		Directory: remote.NewFileDirectory(filepath.Join(cfg.Dir, "signins.json"))})
	session, src, clinic, err := windowState(ctx, p, win, auth, stderr)
	if err != nil {
		return err
	}

	token := func() (string, error) {
		b, err := p.keys.Get(tokenKey(dev.DeviceID))
		if err != nil {
			return "", fmt.Errorf("reading the device credentials: %w", err)
		}
		return string(b), nil
	}
	cloud := remote.Observe(syncagent.NewConnectCloud(cfg.Server, token, dev.DeviceID), session, nil)
	agent := syncagent.New(p.sync, cloud, syncagent.Options{
		OnRejected: func(a syncagent.Ack) { fmt.Fprintf(stderr, "sync: the cloud refused result %s: %s\n", a.ID, a.Message) },
	})
	admin := remote.NewAdmin(cfg.Server, nil, auth.Token, dev.DeviceID)

	// The document pipeline works on the agent's handle too: scans in the
	// watched folder are read while the window is locked.
	cfg.Documents.OnStored = agent.Nudge
	docs, err := startDocuments(ctx, cfg.Dir, p.local, cfg.Documents, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		fmt.Fprintf(stderr, "healthprep: documents are off: %v\n", err)
	} else {
		defer docs.Stop()
	}

	a := app.NewWithID("dev.healthprep.desktop")
	a.Settings().SetTheme(ui.Theme(cfg.Dark))
	w := a.NewWindow("HealthPrep")
	w.Resize(fyne.NewSize(1280, 800))
	today := chart.FromTime(time.Now().In(clinic.Location))
	deps := ui.Deps{
		Session: session, Schedule: src, Sheets: src, Overrides: nudging{src, agent},
		Location: clinic.Location,
		Users:    admin, Devices: admin, Epic: admin, Audit: admin,
		Screenings: remote.NewScreenings(admin),
		Samples:    demo.Generate(7, 6, today, 1, clinic.Location),
		Printer:    printer.System{},
		PrintLog:   nudgingPrints{src, agent},
	}
	if docs != nil {
		deps.Documents, deps.Importer, deps.Filer = docs.Source, docs.Source, docs.Source
	}
	u := ui.New(a, w, deps)
	go u.RunIdleLock(ctx, 15*time.Second)
	go func() {
		err := agent.Run(ctx)
		if !errors.Is(err, syncagent.ErrRevoked) {
			return
		}
		serr := p.shred(context.Background(), dev)
		win.Lock()
		msg := "An administrator revoked this workstation. Its copy of patient data was erased and can no longer be read."
		if serr != nil {
			msg = "An administrator revoked this workstation. Erasing its copy of patient data failed; contact support."
		}
		// Signed out first: the window, on signing out, closes every
		// dialog of the person's view; this one comes after.
		session.SignOut()
		fyne.Do(func() {
			d := dialog.NewInformation("Workstation revoked", msg, w)
			d.SetOnClosed(a.Quit)
			d.Show()
		})
	}()
	w.SetCloseIntercept(func() {
		cancel()
		auth.SignOut(context.Background())
		a.Quit()
	})
	w.ShowAndRun()
	return nil
}

// windowState builds the window's session and cache source (over win,
// the window's handle on the profile) on the organisation's settings as
// synced so far, and makes both follow the settings the sync agent
// applies to p later (cache.Follow), without a restart. The status bar
// starts from the last successful sync recorded in the profile.
func windowState(ctx context.Context, p *profile, win *localstore.Store, auth appstate.Authenticator, stderr io.Writer) (*appstate.Session, *cache.Source, appstate.Clinic, error) {
	synced, warning, err := p.clinic(ctx, stderr)
	if err != nil {
		return nil, nil, appstate.Clinic{}, err
	}
	clinic := cache.ClinicOf(synced)
	session := appstate.NewSession(auth, clinic.IdleLock, nil)
	session.SetClinic(clinic)
	session.SetNotice(warning)
	if last, err := p.sync.LastSync(ctx); err != nil {
		fmt.Fprintf(stderr, "healthprep: %v\n", err)
	} else {
		session.RestoreLastSync(last)
	}
	src := cache.New(win, clinic.Engine, cache.Options{Location: clinic.Location, Lookback: clinic.Lookback})
	cache.Follow(ctx, p.sync, session, func(err error) { fmt.Fprintf(stderr, "healthprep: %v\n", err) }, src)
	return session, src, clinic, nil
}

// nudging saves overrides and asks the sync agent to send them soon.
type nudging struct {
	appstate.OverrideSink
	agent *syncagent.Agent
}

func (n nudging) SaveOverride(ctx context.Context, o appstate.Override, by appstate.User) error {
	if err := n.OverrideSink.SaveOverride(ctx, o, by); err != nil {
		return err
	}
	n.agent.Nudge()
	return nil
}

// nudgingPrints records printed sheets and asks the sync agent to send
// the events soon.
type nudgingPrints struct {
	appstate.PrintLog
	agent *syncagent.Agent
}

func (n nudgingPrints) RecordPrint(ctx context.Context, ids []string, at time.Time, by appstate.User) error {
	if err := n.PrintLog.RecordPrint(ctx, ids, at, by); err != nil {
		return err
	}
	n.agent.Nudge()
	return nil
}

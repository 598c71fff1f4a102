// Package ui is the HealthPrep desktop window: sign-in, the day's schedule,
// the prep sheet with its overrides and evidence (down to the redacted
// document page with the phrase highlighted), printing, the Documents tab
// (import by dialog or drag-and-drop, quarantine, pages to review), the
// status bar, the offline banner and the idle lock screen, built with Fyne.
//
// The UI is thin: it renders the values of package appstate and forwards the
// person's intents to it; it holds no business rules. It takes a fyne.App
// and never imports fyne.io/fyne/v2/app, so that its tests run on Fyne's
// headless test driver with CGO_ENABLED=0; the binaries (cmd/healthprep,
// cmd/healthprep-ui-demo) create the real app and window. Work that may be
// slow (store reads, the screening engine, PDF rendering, sign-in) runs in
// the background through Deps.Go and comes back to the UI goroutine with
// fyne.Do. Status is always shown by text and mark as well as colour, so
// that it reads for colour-blind people and in black-and-white print.
package ui

import (
	"context"
	"io"
	"net/url"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/chart"
)

// Deps is what the window needs. Session, Schedule, Sheets and Overrides
// are required.
type Deps struct {
	Session   *appstate.Session
	Schedule  appstate.Schedule
	Sheets    appstate.Sheets
	Overrides appstate.OverrideSink
	// Location is the clinic's time zone; time.Local when nil.
	Location *time.Location
	// Go runs background work; `go f()` when nil. Results come back with
	// fyne.Do.
	Go func(f func())
	// SaveFile asks the person where to save a PDF (suggested is the file
	// name offered) and calls done with the open file, or with nil when
	// they cancelled; a file dialog when nil.
	SaveFile func(suggested string, done func(io.WriteCloser, error))

	// The admin screens, shown to admins (by role) when Users is set;
	// each screen whose source is nil is left out.
	Users      appstate.UserAdmin
	Devices    appstate.DeviceAdmin
	Epic       appstate.EpicAdmin
	Audit      appstate.AuditLog
	Screenings appstate.ScreeningSettings
	// Samples are synthetic patients (never real ones) the screening
	// editor previews its result on.
	Samples []chart.Record
	// OpenURL opens a link in the system browser; the fyne.App's OpenURL
	// when nil.
	OpenURL func(*url.URL) error
	// OpenFile asks the person for a file to read (import); a file
	// dialog when nil.
	OpenFile func(done func(io.ReadCloser, error))

	// The Documents tab, shown when Documents and Importer are set; the
	// evidence drill-down to pages needs Documents.
	Documents appstate.DocumentSource
	Importer  appstate.Importer
	// Filer, when set, adds the documents waiting for a patient to the
	// Documents tab, each with an Assign action.
	Filer appstate.DocumentFiler
	// OpenDocument asks the person for a document to import and calls
	// done with its name and contents (nil when cancelled); a file dialog
	// when nil.
	OpenDocument func(done func(name string, r io.ReadCloser, err error))
	// Printer, when set, is offered after a PDF is saved; PrintLog then
	// records each printed sheet in the outbox.
	Printer  appstate.Printer
	PrintLog appstate.PrintLog
}

// App is the window's content and its screens.
type App struct {
	fyne fyne.App
	win  fyne.Window
	d    Deps
	ctx  context.Context

	signIn *signInScreen
	main   *mainScreen
	lock   *lockScreen
	shown  fyne.CanvasObject

	// owner is the ID of the user the main screen was built for: another
	// person never sees it (see forget).
	owner string
	// hidden are the dialogs (override form, evidence, printing) put
	// away while the workstation is locked, shown again when the same
	// person unlocks.
	hidden []fyne.CanvasObject

	// clinicRev is the Status.ClinicRev the window shows (see
	// followClinic).
	clinicRev int

	lastPrint    *printJob     // for tests
	lastConfirm  *confirmBox   // for tests
	lastEvidence *evidencePage // for tests
	lastDetails  *widget.Form  // for tests
}

// New builds the window's content on win and shows the sign-in screen (or
// the schedule, when the session is already signed in).
func New(a fyne.App, win fyne.Window, d Deps) *App {
	if d.Location == nil {
		d.Location = time.Local
	}
	if d.Go == nil {
		d.Go = func(f func()) { go f() }
	}
	ui := &App{fyne: a, win: win, d: d, ctx: context.Background()}
	if ui.d.SaveFile == nil {
		ui.d.SaveFile = ui.saveFileDialog
	}
	if ui.d.OpenURL == nil {
		ui.d.OpenURL = a.OpenURL
	}
	if ui.d.OpenFile == nil {
		ui.d.OpenFile = ui.openFileDialog
	}
	if ui.d.OpenDocument == nil {
		ui.d.OpenDocument = ui.openDocumentDialog
	}
	if ui.d.Documents != nil && ui.d.Importer != nil {
		win.SetOnDropped(ui.drop)
	}
	ui.signIn = newSignInScreen(ui)
	ui.lock = newLockScreen(ui)
	win.Canvas().SetOnTypedRune(func(r rune) {
		if ui.main != nil && ui.shown == ui.main.root {
			ui.main.typeToSearch(r)
		}
	})
	d.Session.Subscribe(func(st appstate.Status) { fyne.Do(func() { ui.apply(st) }) })
	st := d.Session.Status()
	ui.clinicRev = st.ClinicRev
	ui.apply(st)
	return ui
}

// apply shows the screen the session's state calls for and refreshes the
// status bar and banner.
func (a *App) apply(st appstate.Status) {
	if st.ClinicRev != a.clinicRev {
		a.clinicRev = st.ClinicRev
		a.followClinic()
	}
	if a.main != nil && (!st.SignedIn || st.User.ID != a.owner) {
		a.forget()
	}
	switch {
	case !st.SignedIn:
		a.signIn.update(st)
		a.show(a.signIn.root)
	case st.Locked:
		if a.shown != a.lock.root {
			a.hideDialogs()
			a.show(a.lock.root)
			a.lock.reset()
		}
		a.lock.update(st)
	default:
		if a.main == nil {
			a.main = newMainScreen(a)
			a.owner = st.User.ID
		}
		a.main.updateStatus(st)
		if a.shown != a.main.root {
			a.show(a.main.root)
			a.main.focusSchedule()
			a.restoreDialogs()
		}
		if a.main.stale {
			a.main.refresh()
		}
	}
}

// forget drops everything the signed-in person had on screen, on sign-out
// or when someone else signs in: the main screen with its open sheet,
// search text, day, filters and tabs, and every dialog (override form,
// evidence, printing), open or put away by the lock, and the email on the
// sign-in form. The next person starts from a fresh schedule. Work still
// running for the old screen finishes on widgets no longer shown.
func (a *App) forget() {
	a.signIn.clear()
	a.main, a.owner, a.hidden = nil, "", nil
	a.lastPrint, a.lastConfirm, a.lastEvidence, a.lastDetails = nil, nil, nil, nil
	ov := a.win.Canvas().Overlays()
	for o := ov.Top(); o != nil; o = ov.Top() {
		ov.Remove(o)
	}
}

// hideDialogs puts the open dialogs away as the lock screen covers the
// window, so that none of them shows patient data over it.
func (a *App) hideDialogs() {
	ov := a.win.Canvas().Overlays()
	a.hidden = append(a.hidden, ov.List()...)
	for o := ov.Top(); o != nil; o = ov.Top() {
		ov.Remove(o)
	}
}

// restoreDialogs shows the dialogs hideDialogs put away again, as they
// were, when the same person unlocks.
func (a *App) restoreDialogs() {
	ov := a.win.Canvas().Overlays()
	for _, o := range a.hidden {
		ov.Add(o)
	}
	a.hidden = nil
}

// followClinic takes the organisation's new settings (Session.Clinic)
// while the window runs: the clinic's time zone for today's date and the
// times shown, and, through the main screen, the schedule and the open
// sheet, read again by the sources that already compute with the new
// settings. The schedule refreshes when it is next visible (at once
// unless the workstation is locked); an open override dialog stays open.
func (a *App) followClinic() {
	oldToday := a.today()
	if loc := a.d.Session.Clinic().Location; loc != nil {
		a.d.Location = loc
	}
	if a.main != nil {
		a.main.followClinic(oldToday)
	}
}

func (a *App) show(o fyne.CanvasObject) {
	if a.shown == o {
		return
	}
	a.shown = o
	a.win.SetContent(o)
}

// today is the clinic's date now.
func (a *App) today() chart.Date { return chart.FromTime(a.d.Session.Now().In(a.d.Location)) }

// touch records activity for the idle lock.
func (a *App) touch() { a.d.Session.Touch() }

// RunIdleLock checks the idle lock every interval until ctx ends; the
// binaries start it in a goroutine.
func (a *App) RunIdleLock(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.d.Session.CheckIdle()
		}
	}
}

func (a *App) saveFileDialog(suggested string, done func(io.WriteCloser, error)) {
	dlg := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if w == nil {
			done(nil, err)
			return
		}
		done(w, err)
	}, a.win)
	dlg.SetFileName(suggested)
	if ext := filepath.Ext(suggested); ext != "" {
		dlg.SetFilter(storage.NewExtensionFileFilter([]string{ext}))
	}
	dlg.Show()
}

func (a *App) openFileDialog(done func(io.ReadCloser, error)) {
	dlg := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if r == nil {
			done(nil, err)
			return
		}
		done(r, err)
	}, a.win)
	dlg.SetFilter(storage.NewExtensionFileFilter([]string{".json"}))
	dlg.Show()
}

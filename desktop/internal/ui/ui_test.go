package ui

// The widget tests run on Fyne's headless test driver (CGO_ENABLED=0 works).
// They do not call t.Parallel: Fyne keeps the current app in a process-wide
// variable, so two windows built at once would share it.

import (
	"bytes"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/shared/screening"
)

// runner queues background work until the test calls wait, which runs it
// (and whatever it queues) in order. The headless driver runs a fyne.Do
// function at once on the calling goroutine, so work running beside the
// test would touch widgets beside it, which the real driver never allows
// (it runs every fyne.Do on its one UI goroutine); queueing keeps the test
// and the UI on one thread while still going through Deps.Go and fyne.Do.
type runner struct {
	mu    sync.Mutex
	queue []func()
}

func (r *runner) Go(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, f)
}

func (r *runner) wait() {
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.mu.Unlock()
			return
		}
		f := r.queue[0]
		r.queue = r.queue[1:]
		r.mu.Unlock()
		f()
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type bundle struct {
	t       *testing.T
	app     fyne.App
	win     fyne.Window
	ui      *App
	clinic  *demo.Clinic
	session *appstate.Session
	clock   *clock
	bg      *runner
	pdfPath string
	picked  pickedFile // what the fake document dialog answers
}

// setup builds the window on the demo clinic (40 patients over 10 working
// days from Friday 14 March 2025, 4 of them that day) at 07:45 UTC.
func setup(t *testing.T, opts ...func(*bundle, *Deps)) *bundle {
	t.Helper()
	b := &bundle{t: t, clock: &clock{t: time.Date(2025, 3, 14, 7, 45, 0, 0, time.UTC)}, bg: &runner{}}
	b.app = test.NewTempApp(t)
	b.app.Settings().SetTheme(Theme(false))
	c, err := demo.NewClinic(40, b.clock.now, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	b.clinic = c
	b.session = appstate.NewSession(c.Auth, 15*time.Minute, b.clock.now)
	b.session.SyncDone(b.clock.now().Add(-5*time.Minute), nil)
	b.win = test.NewTempWindow(t, nil)
	b.win.Resize(fyne.NewSize(1280, 800))
	b.pdfPath = filepath.Join(t.TempDir(), "out.pdf")
	d := Deps{
		Session: b.session, Schedule: c.Source, Sheets: c.Source, Overrides: c.Source,
		Location: time.UTC, Go: b.bg.Go,
		SaveFile: func(_ string, done func(io.WriteCloser, error)) {
			f, err := os.Create(b.pdfPath)
			done(f, err)
		},
	}
	for _, o := range opts {
		o(b, &d)
	}
	b.ui = New(b.app, b.win, d)
	t.Cleanup(b.bg.wait)
	return b
}

// wait waits for the background work started so far (and what it
// started).
func (b *bundle) wait() { b.bg.wait() }

// signIn signs the nurse in through the sign-in screen.
func (b *bundle) signIn() {
	b.t.Helper()
	s := b.ui.signIn
	test.Type(s.email, demo.NurseEmail)
	test.Type(s.password, demo.DemoPassword)
	test.Tap(s.submit)
	b.wait()
	if b.ui.main == nil || b.ui.shown != b.ui.main.root {
		b.t.Fatalf("after signing in: message %q, want the schedule shown", s.message.Text)
	}
}

func (b *bundle) key(name fyne.KeyName) {
	b.t.Helper()
	f := b.win.Canvas().Focused()
	if f == nil {
		b.t.Fatalf("key %s: nothing has the focus", name)
	}
	f.TypedKey(&fyne.KeyEvent{Name: name})
	b.wait()
}

func (b *bundle) rowNames() []string {
	var names []string
	for _, r := range b.ui.main.rows {
		names = append(names, r.Name)
	}
	return names
}

func TestSignIn(t *testing.T) {
	b := setup(t)
	s := b.ui.signIn
	if b.ui.shown != s.root {
		t.Fatal("a signed-out window does not show the sign-in screen")
	}
	test.Type(s.email, demo.NurseEmail)
	test.Type(s.password, "not-my-password")
	test.Tap(s.submit)
	b.wait()
	if got, want := s.message.Text, "Wrong email or password. Check them and try again."; got != want {
		t.Errorf("after a wrong password the screen says %q, want %q", got, want)
	}
	if b.ui.shown != s.root || b.session.Status().SignedIn || s.password.Text != "" {
		t.Fatalf("after a wrong password: shown sign-in %v, signed in %v, password kept %q; want sign-in, no, cleared",
			b.ui.shown == s.root, b.session.Status().SignedIn, s.password.Text)
	}
	test.Type(s.password, demo.DemoPassword)
	test.Tap(s.submit)
	b.wait()
	if b.ui.shown != b.ui.main.root {
		t.Fatalf("after the right password the screen says %q, want the schedule", s.message.Text)
	}
	if got, want := b.ui.main.status.user.Text, "Jamie Rivera, RN · Demo Family Clinic"; got != want {
		t.Errorf("status bar user = %q, want %q", got, want)
	}
	if got, want := b.ui.main.status.sync.Text, "Synced 5 min ago"; got != want {
		t.Errorf("status bar sync = %q, want %q", got, want)
	}
}

func TestSignInAsksForTOTP(t *testing.T) {
	b := setup(t)
	s := b.ui.signIn
	if s.totpRow.Visible() {
		t.Fatal("the one-time code field shows before it is needed")
	}
	test.Type(s.email, demo.AdminEmail)
	test.Type(s.password, demo.DemoPassword)
	test.Tap(s.submit)
	b.wait()
	if !s.totpRow.Visible() || s.message.Text != "Enter the 6-digit code from your authenticator app." {
		t.Fatalf("account with TOTP: code field visible %v, message %q", s.totpRow.Visible(), s.message.Text)
	}
	test.Type(s.totp, "000000")
	test.Tap(s.submit)
	b.wait()
	if !strings.HasPrefix(s.message.Text, "That code is not valid.") || b.session.Status().SignedIn {
		t.Fatalf("wrong code: message %q, signed in %v", s.message.Text, b.session.Status().SignedIn)
	}
	test.Type(s.totp, demo.AdminTOTPCode)
	test.Tap(s.submit)
	b.wait()
	if !b.session.Status().SignedIn {
		t.Fatalf("right code: not signed in, message %q", s.message.Text)
	}
}

func TestOfflineSignInAndBanner(t *testing.T) {
	b := setup(t)
	b.clinic.Auth.SetReachable(false)
	b.session.SetOnline(false)
	if !strings.HasPrefix(b.ui.signIn.offline.Text, "No connection to HealthPrep cloud.") {
		t.Errorf("offline sign-in note = %q", b.ui.signIn.offline.Text)
	}
	b.signIn()
	m := b.ui.main
	if !m.banner.Visible() || !strings.HasPrefix(m.bannerText.Text, "OFFLINE - working from this workstation's copy (last sync 5 min ago).") {
		t.Fatalf("signed in offline: banner visible %v, text %q", m.banner.Visible(), m.bannerText.Text)
	}
	if !strings.Contains(m.bannerText.Text, "prep sheets still open and print") {
		t.Errorf("banner does not say what still works: %q", m.bannerText.Text)
	}
	if len(m.rows) != 4 {
		t.Errorf("offline schedule has %d rows, want the 4 cached", len(m.rows))
	}
}

func TestOfflineBannerFollowsTheSession(t *testing.T) {
	b := setup(t)
	b.signIn()
	m := b.ui.main
	if m.banner.Visible() {
		t.Fatal("banner shown while online")
	}
	b.session.SetOnline(false)
	if !m.banner.Visible() || !strings.HasPrefix(m.status.sync.Text, "Offline - last sync 5 min ago") {
		t.Fatalf("after going offline: banner %v, status %q", m.banner.Visible(), m.status.sync.Text)
	}
	b.session.SyncStarted()
	b.session.SyncProgress(appstate.Progress{Applied: 300, Seq: 30, Latest: 120})
	if !m.status.progress.Visible() || m.status.progress.Value != 0.25 || m.status.sync.Text != "Syncing... 25% (300 changes)" {
		t.Errorf("syncing: progress visible %v value %v, status %q", m.status.progress.Visible(), m.status.progress.Value, m.status.sync.Text)
	}
	b.session.SyncDone(b.clock.now(), nil)
	if m.banner.Visible() || m.status.progress.Visible() || m.status.sync.Text != "Synced just now" {
		t.Errorf("back online: banner %v, progress %v, status %q", m.banner.Visible(), m.status.progress.Visible(), m.status.sync.Text)
	}
}

func TestOpenSheetWithMouseAndKeyboard(t *testing.T) {
	b := setup(t)
	b.signIn()
	m := b.ui.main
	if len(m.rows) != 4 || !strings.HasPrefix(m.dateButton.Text, "Today, Fri 14 Mar 2025") {
		t.Fatalf("schedule: %d rows on %q, want 4 today", len(m.rows), m.dateButton.Text)
	}
	// Mouse: click the third row.
	test.Tap(b.findRow(m.rows[2].Name))
	b.wait()
	if got := m.sheet.title.Text; got != m.rows[2].Name || m.sheet.current == nil || len(m.sheet.checks) == 0 {
		t.Fatalf("after clicking %s the sheet shows %q (%d screenings)", m.rows[2].Name, got, len(m.sheet.checks))
	}
	// Keyboard: Up moves without opening, Enter opens.
	b.win.Canvas().Focus(m.list)
	b.key(fyne.KeyUp)
	if got := m.sheet.title.Text; got != m.rows[2].Name {
		t.Errorf("Up opened %q, want the sheet to stay on %s until Enter", got, m.rows[2].Name)
	}
	b.key(fyne.KeyReturn)
	if got := m.sheet.title.Text; got != m.rows[1].Name {
		t.Errorf("Up, Enter opened %q, want %s", got, m.rows[1].Name)
	}
	b.key(fyne.KeyDown)
	b.key(fyne.KeyDown)
	b.key(fyne.KeyDown)
	b.key(fyne.KeyDown) // past the end stays on the last row
	b.key(fyne.KeyReturn)
	if got := m.sheet.title.Text; got != m.rows[3].Name {
		t.Errorf("Down x4, Enter opened %q, want the last row %s", got, m.rows[3].Name)
	}
	// The sheet says how it was made and what it holds.
	if got := m.sheet.origin.Text; got != "Computed on this workstation for 2025-03-14" {
		t.Errorf("origin = %q", got)
	}
	markup := test.RenderObjectToMarkup(m.sheet.body)
	for _, want := range []string{"Screenings", "Active conditions", "Recent labs", "Hospital and ED visits"} {
		if !strings.Contains(markup, want) {
			t.Errorf("sheet does not show %q", want)
		}
	}
	// Next day (a Saturday), then back.
	test.Tap(m.next)
	b.wait()
	if m.dateButton.Text != "Tomorrow, Sat 15 Mar 2025" || len(m.rows) != 0 || m.count.Text != "No appointments on this day." {
		t.Errorf("next day: %q with %d rows, count %q", m.dateButton.Text, len(m.rows), m.count.Text)
	}
	test.Tap(m.prev)
	b.wait()
	if m.dateButton.Text != "Today, Fri 14 Mar 2025" || len(m.rows) != 4 {
		t.Errorf("back: %q with %d rows", m.dateButton.Text, len(m.rows))
	}
}

// findRow returns the list item (what a click lands on) showing the
// patient named name.
func (b *bundle) findRow(name string) fyne.Tappable {
	b.t.Helper()
	for _, o := range test.LaidOutObjects(b.win.Canvas().Content()) {
		item, ok := o.(fyne.Tappable)
		if !ok || o == fyne.CanvasObject(b.ui.main.list) {
			continue
		}
		for _, c := range test.LaidOutObjects(o) {
			if rw, ok := c.(*rowWidget); ok && rw.name.Text == name && c != o {
				return item
			}
		}
	}
	b.t.Fatalf("no row shows %s", name)
	return nil
}

func TestSearchFiltersRows(t *testing.T) {
	b := setup(t)
	b.signIn()
	m := b.ui.main
	all := m.rows
	target := all[2]
	// Typing with the schedule focused starts a search.
	b.win.Canvas().Focus(m.list)
	first := strings.Fields(target.Name)[0]
	test.TypeOnCanvas(b.win.Canvas(), first[:3])
	b.wait()
	if m.search.Text != first[:3] {
		t.Fatalf("typing on the schedule: search = %q, want %q", m.search.Text, first[:3])
	}
	if len(m.rows) == 0 || len(m.rows) > len(all) {
		t.Fatalf("search %q keeps %d of %d rows", m.search.Text, len(m.rows), len(all))
	}
	for _, r := range m.rows {
		if !strings.Contains(strings.ToLower(r.Name), strings.ToLower(first[:3])) {
			t.Errorf("search %q kept %s", m.search.Text, r.Name)
		}
	}
	// MRN search.
	m.search.SetText("")
	test.Type(m.search, target.MRN)
	if got := b.rowNames(); len(got) != 1 || got[0] != target.Name {
		t.Errorf("search by MRN %s: rows %v, want %s", target.MRN, got, target.Name)
	}
	if m.count.Text != "1 of 4 appointments match" {
		t.Errorf("count = %q", m.count.Text)
	}
	// Enter in the search opens the first match.
	b.key(fyne.KeyReturn)
	if m.sheet.title.Text != target.Name {
		t.Errorf("Enter in the search opened %q, want %s", m.sheet.title.Text, target.Name)
	}
	m.search.SetText("no such patient")
	if len(m.rows) != 0 || m.count.Text != "0 of 4 appointments match" || !m.printDay.Disabled() {
		t.Errorf("no match: %d rows, count %q, print day enabled %v", len(m.rows), m.count.Text, !m.printDay.Disabled())
	}
	// Provider filter.
	m.search.SetText("")
	m.provider.SetSelected(all[0].Provider)
	for _, r := range m.rows {
		if r.Provider != all[0].Provider {
			t.Errorf("provider filter %s kept a row of %s", all[0].Provider, r.Provider)
		}
	}
}

// openFirstActionable opens a sheet and returns its first due or overdue
// screening.
func (b *bundle) openFirstActionable() *checkRow {
	b.t.Helper()
	m := b.ui.main
	for i := range m.rows {
		m.open(i)
		b.wait()
		for _, it := range m.sheet.current.Screenings {
			if it.Status == screening.Due || it.Status == screening.Overdue {
				return m.sheet.checks[it.ID]
			}
		}
	}
	b.t.Fatal("no due or overdue screening on the day")
	return nil
}

func TestOverride(t *testing.T) {
	b := setup(t)
	b.signIn()
	m := b.ui.main
	c := b.openFirstActionable()
	patient := m.sheet.current.PatientID
	test.Tap(c.override)
	f := m.sheet.openForm
	if f == nil {
		t.Fatal("the override button opened no dialog")
	}
	// Nothing chosen: messages beside the fields, nothing saved.
	test.Tap(f.save)
	b.wait()
	if f.kindMsg.Text != "Choose what to record." || f.reasonMsg.Text != "Give a reason." || !f.kindMsg.Visible() {
		t.Errorf("empty form: kind %q, reason %q", f.kindMsg.Text, f.reasonMsg.Text)
	}
	if !f.date.Disabled() {
		t.Error("the date is enabled before a kind that takes one is chosen")
	}
	f.kind.SetSelected(appstate.KindLabel(screening.Postponed))
	test.Type(f.date, "2025-02-30")
	test.Type(f.reason, "Patient travelling; will schedule in May.")
	test.Tap(f.save)
	b.wait()
	if f.dateMsg.Text != "Enter the date as YYYY-MM-DD, for example 2025-04-13." || f.kindMsg.Visible() || f.reasonMsg.Visible() {
		t.Errorf("bad date: date message %q, kind shown %v, reason shown %v", f.dateMsg.Text, f.kindMsg.Visible(), f.reasonMsg.Visible())
	}
	if got := b.clinic.Source.Saved(); len(got) != 0 {
		t.Fatalf("invalid overrides reached the sink: %+v", got)
	}
	// A failing store: the message, the dialog stays.
	b.clinic.Source.FailNextSave(os.ErrPermission)
	f.date.SetText("2025-05-15")
	test.Tap(f.save)
	b.wait()
	if !strings.HasPrefix(f.saveMsg.Text, "The override could not be saved") {
		t.Errorf("store failure: message %q", f.saveMsg.Text)
	}
	test.Tap(f.save)
	b.wait()
	got := b.clinic.Source.Saved()
	want := appstate.Override{PatientID: patient, AppointmentID: m.sheet.current.AppointmentID, TypeID: c.item.ID,
		Kind: screening.Postponed, DateText: "2025-05-15", Reason: "Patient travelling; will schedule in May."}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("saved overrides %+v, want %+v", got, want)
	}
	// The sheet was recomputed with it.
	var status screening.Status
	for _, it := range m.sheet.current.Screenings {
		if it.ID == c.item.ID {
			status = it.Status
		}
	}
	if status != screening.DueSoon {
		t.Errorf("after postponing, %s is %s, want due_soon", c.item.ID, status)
	}
}

func TestPrintDay(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils, in make apt) is not installed: the PDF cannot be read back")
	}
	b := setup(t)
	b.signIn()
	m := b.ui.main
	test.Tap(m.printDay)
	b.wait()
	job := b.ui.lastPrint
	if job == nil || job.bar.Value != 1 || job.label.Text != "Saved 4 prep sheets" {
		t.Fatalf("print job: %+v", job)
	}
	out, err := exec.Command("pdftotext", "-layout", b.pdfPath, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	for _, r := range m.rows {
		if !bytes.Contains(out, []byte(r.Name)) {
			t.Errorf("the printed day does not show %s", r.Name)
		}
	}
}

func TestIdleLock(t *testing.T) {
	b := setup(t)
	b.signIn()
	b.clock.add(16 * time.Minute)
	if !b.session.CheckIdle() || b.ui.shown != b.ui.lock.root || !b.clinic.Auth.Locked() {
		t.Fatalf("after 16 idle minutes: lock screen %v, store locked %v", b.ui.shown == b.ui.lock.root, b.clinic.Auth.Locked())
	}
	l := b.ui.lock
	test.Type(l.password, "wrong")
	test.Tap(l.unlock)
	b.wait()
	if l.message.Text != "Wrong email or password. Check them and try again." || b.ui.shown != l.root {
		t.Errorf("wrong password on the lock screen: %q", l.message.Text)
	}
	test.Type(l.password, demo.DemoPassword)
	test.Tap(l.unlock)
	b.wait()
	if b.ui.shown != b.ui.main.root {
		t.Errorf("after unlocking: %q, want the schedule", l.message.Text)
	}
}

// TestThemesAndScale renders the main screens in the light and dark themes
// at 100 % and 150 % and checks each picture: the right size, and text that
// stands out from the background (contrast ≥ 4.5:1 for some pixels).
func TestThemesAndScale(t *testing.T) {
	for _, dark := range []bool{false, true} {
		for _, scale := range []float32{1, 1.5} {
			b := setup(t)
			b.app.Settings().SetTheme(Theme(dark))
			b.win.Canvas().(test.WindowlessCanvas).SetScale(scale)
			b.signIn()
			b.ui.main.open(0)
			b.wait()
			img := b.win.Canvas().Capture()
			name := map[bool]string{false: "light", true: "dark"}[dark]
			if got, want := img.Bounds().Dx(), int(1280*scale); got != want {
				t.Errorf("%s %.0f%%: image %d px wide, want %d", name, scale*100, got, want)
			}
			bg, best := contrast(img)
			if best < 4.5 {
				t.Errorf("%s %.0f%%: best text contrast against the background %v is %.1f, want ≥ 4.5", name, scale*100, bg, best)
			}
			if dark != (luminance(bg) < 0.2) {
				t.Errorf("%s theme: background %v has luminance %.2f", name, bg, luminance(bg))
			}
		}
	}
}

func TestBadgeColoursContrast(t *testing.T) {
	for _, s := range []screening.Status{screening.Overdue, screening.Due, screening.DueSoon, screening.Complete, screening.CannotEvaluate, screening.NotEligible} {
		fill, fg := statusColors(s)
		if r := ratio(luminance(fill), luminance(fg)); r < 4.5 {
			t.Errorf("%s badge: text contrast %.1f, want ≥ 4.5", s, r)
		}
	}
}

// contrast returns the most common colour of img (the background) and the
// highest contrast ratio of any pixel against it.
func contrast(img image.Image) (color.Color, float64) {
	counts := map[color.RGBA]int{}
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y += 2 {
		for x := bnd.Min.X; x < bnd.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 0xff}]++
		}
	}
	var bg color.RGBA
	for c, n := range counts {
		if n > counts[bg] {
			bg = c
		}
	}
	best := 1.0
	lb := luminance(bg)
	for c := range counts {
		best = max(best, ratio(lb, luminance(c)))
	}
	return bg, best
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		f := float64(v) / 0xffff
		if f <= 0.03928 {
			return f / 12.92
		}
		return math.Pow((f+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func ratio(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return (a + 0.05) / (b + 0.05)
}

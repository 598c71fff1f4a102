package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/demo"
)

// nurseB is a second nurse of the demo clinic, for the tests where one
// person leaves the workstation to another.
var nurseB = demo.Account{
	User:     appstate.User{ID: "user-nurse-b", Email: "nurse.b@demo-clinic.example", Name: "Alex Chen, RN", Role: "nurse"},
	Password: "nurse-b-password-1",
}

// withTwoNurses signs people in with the demo nurse (A) and nurseB.
func withTwoNurses(b *bundle, d *Deps) {
	auth := demo.NewAuth(b.clinic.Org, demo.Account{User: b.clinic.Nurse, Password: demo.DemoPassword, Offline: true}, nurseB)
	b.session = appstate.NewSession(auth, 15*time.Minute, b.clock.now)
	b.session.SyncDone(b.clock.now().Add(-5*time.Minute), nil)
	d.Session = b.session
}

// windowTexts is every text in the window's canvas tree, its content and
// its overlays (dialogs, pop-ups), shown or hidden.
func windowTexts(win fyne.Window) []string {
	c := win.Canvas()
	roots := append([]fyne.CanvasObject{c.Content()}, c.Overlays().List()...)
	var out []string
	for _, r := range roots {
		for _, o := range test.LaidOutObjects(r) {
			switch o := o.(type) {
			case *canvas.Text:
				out = append(out, o.Text)
			case *widget.Label:
				out = append(out, o.Text)
			case *widget.Entry:
				out = append(out, o.Text)
			case *widget.Button:
				out = append(out, o.Text)
			case *widget.RichText:
				out = append(out, o.String())
			}
		}
	}
	return out
}

// showsText reports whether some text in the window contains s.
func showsText(win fyne.Window, s string) bool {
	for _, t := range windowTexts(win) {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// TestSignOutForgetsThePreviousPersonsView: nurse A opens a sheet, starts
// an override and a search, and leaves (signing out, or signing out from
// the idle lock's screen); nurse B then signs in at the same window and
// sees a fresh schedule: nothing of A's patient anywhere in the window,
// no dialog, no search text, no sheet.
func TestSignOutForgetsThePreviousPersonsView(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave func(b *bundle)
	}{
		{"sign out", func(b *bundle) { b.session.SignOut() }},
		{"idle lock, then sign out on the lock screen", func(b *bundle) {
			b.clock.add(16 * time.Minute)
			if !b.session.CheckIdle() || b.ui.shown != b.ui.lock.root {
				b.t.Fatal("not locked after 16 idle minutes")
			}
			test.Tap(b.ui.lock.signOut)
			b.wait()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, withTwoNurses)
			b.signIn()
			m := b.ui.main
			for range 3 { // to Monday 17 March: patients not on today's schedule
				test.Tap(m.next)
				b.wait()
			}
			c := b.openFirstActionable()
			patient := m.sheet.current.Header.DisplayName()
			test.Tap(c.override)
			test.Type(m.sheet.openForm.reason, "Patient travelling")
			m.search.SetText("zz")
			if !showsText(b.win, patient) {
				t.Fatalf("before leaving, the window does not show %q: the check below would prove nothing", patient)
			}

			tc.leave(b)
			if st := b.session.Status(); st.SignedIn || b.ui.shown != b.ui.signIn.root {
				t.Fatalf("after leaving: signed in %v, sign-in screen shown %v; want signed out at the sign-in screen", st.SignedIn, b.ui.shown == b.ui.signIn.root)
			}
			if showsText(b.win, patient) {
				t.Errorf("the sign-in screen shows %q, the previous person's patient", patient)
			}

			s := b.ui.signIn
			if s.email.Text != "" {
				t.Errorf("the sign-in form still shows %q, nurse A's email", s.email.Text)
			}
			test.Type(s.email, nurseB.Email)
			test.Type(s.password, nurseB.Password)
			test.Tap(s.submit)
			b.wait()
			if b.ui.main == nil || b.ui.shown != b.ui.main.root {
				t.Fatalf("nurse B's sign-in: message %q, want the schedule", s.message.Text)
			}
			if showsText(b.win, patient) || showsText(b.win, "Patient travelling") {
				t.Errorf("after nurse B signed in the window still shows %q, nurse A's patient", patient)
			}
			if n := len(b.win.Canvas().Overlays().List()); n != 0 {
				t.Errorf("%d dialog(s) of nurse A still open for nurse B, want none", n)
			}
			nm := b.ui.main
			for _, r := range nm.rows {
				if r.Name == patient {
					t.Fatalf("%s is on today's schedule too: pick a patient nurse B does not see anyway", patient)
				}
			}
			if nm.search.Text != "" || nm.sheet.current != nil || nm.sheet.openID != "" || len(nm.rows) != 4 {
				t.Errorf("nurse B's schedule: search %q, sheet open %v, %d rows; want no search, no sheet, the day's 4 rows",
					nm.search.Text, nm.sheet.current != nil, len(nm.rows))
			}
			if got, want := nm.status.user.Text, "Alex Chen, RN · Demo Family Clinic"; got != want {
				t.Errorf("status bar user = %q, want %q", got, want)
			}
		})
	}
}

// TestLockKeepsTheSamePersonsView: the lock screen covers everything,
// the open override dialog too, and the same person unlocks back to where
// they were: the sheet, the search, the dialog with what they typed.
func TestLockKeepsTheSamePersonsView(t *testing.T) {
	b := setup(t)
	b.signIn()
	c := b.openFirstActionable()
	m := b.ui.main
	patient := m.sheet.current.Header.DisplayName()
	test.Tap(c.override)
	f := m.sheet.openForm
	test.Type(f.reason, "Patient travelling")

	b.session.Lock()
	if b.ui.shown != b.ui.lock.root {
		t.Fatal("Lock did not show the lock screen")
	}
	if showsText(b.win, patient) {
		t.Errorf("the lock screen shows %q (the override dialog left over it?)", patient)
	}

	test.Type(b.ui.lock.password, demo.DemoPassword)
	test.Tap(b.ui.lock.unlock)
	b.wait()
	if b.ui.main != m || b.ui.shown != m.root {
		t.Fatal("after unlocking, the window does not show the same main screen")
	}
	if m.sheet.current == nil || m.sheet.current.Header.DisplayName() != patient {
		t.Errorf("after unlocking the sheet is %v, want %s's still open", m.sheet.current != nil, patient)
	}
	if top := b.win.Canvas().Overlays().Top(); top == nil || f.reason.Text != "Patient travelling" {
		t.Errorf("after unlocking: override dialog shown %v, reason %q; want it back as typed", top != nil, f.reason.Text)
	}
}

// TestAnotherPersonSigningInOverTheLockGetsAFreshView: should someone
// else's sign-in reach the session while the workstation is locked on
// nurse A (without a sign-out in between), the window still shows them
// nothing of A's: the view belongs to the person it was built for.
func TestAnotherPersonSigningInOverTheLockGetsAFreshView(t *testing.T) {
	b := setup(t, withTwoNurses)
	b.signIn()
	m := b.ui.main
	for range 3 { // Monday 17 March: patients not on today's schedule
		test.Tap(m.next)
		b.wait()
	}
	c := b.openFirstActionable()
	patient := m.sheet.current.Header.DisplayName()
	test.Tap(c.override)
	b.session.Lock()

	if err := b.session.SignIn(b.ui.ctx, appstate.Credentials{Email: nurseB.Email, Password: nurseB.Password}); err != nil {
		t.Fatal(err)
	}
	b.wait()
	if b.ui.main == m || b.ui.main == nil || b.ui.shown != b.ui.main.root {
		t.Fatal("nurse B got nurse A's main screen, or no schedule")
	}
	if showsText(b.win, patient) || len(b.win.Canvas().Overlays().List()) != 0 {
		t.Errorf("nurse B sees %q or one of nurse A's dialogs (%d open)", patient, len(b.win.Canvas().Overlays().List()))
	}
}

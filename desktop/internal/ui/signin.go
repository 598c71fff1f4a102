package ui

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// signInScreen asks for email, password and, when the account requires
// one, the one-time code.
type signInScreen struct {
	a        *App
	email    *widget.Entry
	password *widget.Entry
	totp     *widget.Entry
	totpRow  *fyne.Container
	submit   *widget.Button
	message  *widget.Label
	offline  *widget.Label
	root     fyne.CanvasObject
}

func newSignInScreen(a *App) *signInScreen {
	s := &signInScreen{a: a, email: widget.NewEntry(), password: widget.NewPasswordEntry(), totp: widget.NewEntry()}
	s.email.SetPlaceHolder("name@clinic.org")
	s.totp.SetPlaceHolder("6-digit code")
	s.message = widget.NewLabel("")
	s.message.Wrapping = fyne.TextWrapWord
	s.message.Importance = widget.DangerImportance
	s.offline = widget.NewLabel("")
	s.offline.Wrapping = fyne.TextWrapWord
	s.offline.Importance = widget.WarningImportance
	s.submit = widget.NewButtonWithIcon("Sign in", theme.LoginIcon(), s.signIn)
	s.submit.Importance = widget.HighImportance
	s.email.OnSubmitted = func(string) { a.win.Canvas().Focus(s.password) }
	s.password.OnSubmitted = func(string) { s.signIn() }
	s.totp.OnSubmitted = func(string) { s.signIn() }
	s.totpRow = container.NewVBox(widget.NewLabel("One-time code"), s.totp)
	s.totpRow.Hide()

	title := widget.NewLabelWithStyle("HealthPrep", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	form := container.NewVBox(
		title,
		widget.NewLabelWithStyle("Sign in to prepare today's visits", fyne.TextAlignCenter, fyne.TextStyle{}),
		widget.NewLabel("Email"), s.email,
		widget.NewLabel("Password"), s.password,
		s.totpRow,
		s.submit,
		s.message,
		s.offline,
	)
	s.root = container.NewCenter(container.New(layout.NewGridWrapLayout(fyne.NewSize(380, form.MinSize().Height+120)), form))
	return s
}

// update shows the offline sign-in note when the cloud is unreachable.
func (s *signInScreen) update(st appstate.Status) {
	if st.Online {
		s.offline.SetText("")
		return
	}
	s.offline.SetText("No connection to HealthPrep cloud. If you have signed in on this workstation before, " +
		"you can sign in offline with your password and work from its copy of the schedule.")
}

// clear empties the form for the next person.
func (s *signInScreen) clear() {
	s.email.SetText("")
	s.password.SetText("")
	s.totp.SetText("")
	s.totpRow.Hide()
	s.message.SetText("")
}

func (s *signInScreen) signIn() {
	c := appstate.Credentials{Email: s.email.Text, Password: s.password.Text, TOTP: s.totp.Text}
	s.submit.Disable()
	s.message.Importance = widget.MediumImportance
	s.message.SetText("Signing in...")
	s.a.d.Go(func() {
		err := s.a.d.Session.SignIn(s.a.ctx, c)
		fyne.Do(func() { s.done(err) })
	})
}

func (s *signInScreen) done(err error) {
	s.submit.Enable()
	s.message.Importance = widget.DangerImportance
	s.message.SetText(appstate.SignInMessage(err))
	switch {
	case err == nil:
		s.password.SetText("")
		s.totp.SetText("")
		s.totpRow.Hide()
	case errors.Is(err, appstate.ErrTOTPRequired), errors.Is(err, appstate.ErrWrongTOTP):
		s.totpRow.Show()
		s.totp.SetText("")
		s.a.win.Canvas().Focus(s.totp)
	default:
		s.password.SetText("")
		s.a.win.Canvas().Focus(s.password)
	}
}

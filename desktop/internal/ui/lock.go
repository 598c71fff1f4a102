package ui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// lockScreen hides everything after the idle time until the signed-in
// user types their password again.
type lockScreen struct {
	a        *App
	who      *widget.Label
	password *widget.Entry
	unlock   *widget.Button
	signOut  *widget.Button
	message  *widget.Label
	root     fyne.CanvasObject
}

func newLockScreen(a *App) *lockScreen {
	l := &lockScreen{a: a, who: widget.NewLabel(""), password: widget.NewPasswordEntry(), message: widget.NewLabel("")}
	l.message.Importance = widget.DangerImportance
	l.message.Wrapping = fyne.TextWrapWord
	l.who.Wrapping = fyne.TextWrapWord
	l.unlock = widget.NewButtonWithIcon("Unlock", theme.LoginIcon(), l.tryUnlock)
	l.unlock.Importance = widget.HighImportance
	l.password.OnSubmitted = func(string) { l.tryUnlock() }
	l.signOut = widget.NewButtonWithIcon("Sign out", theme.LogoutIcon(), func() { a.d.Go(a.d.Session.SignOut) })
	title := widget.NewLabelWithStyle("HealthPrep is locked", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	box := container.NewVBox(
		container.NewCenter(widget.NewIcon(theme.VisibilityOffIcon())),
		title, l.who,
		widget.NewLabel("Password"), l.password,
		l.unlock, l.message, l.signOut,
	)
	l.root = container.NewCenter(container.New(layout.NewGridWrapLayout(fyne.NewSize(380, box.MinSize().Height+80)), box))
	return l
}

// reset clears the screen as it is shown: no password, no message, the
// focus in the password field.
func (l *lockScreen) reset() {
	l.password.SetText("")
	l.message.SetText("")
	l.a.win.Canvas().Focus(l.password)
}

// update refreshes the text after any change of the session's state
// (sync progress arrives while the screen is up): it leaves what is being
// typed alone.
func (l *lockScreen) update(st appstate.Status) {
	l.who.SetText(fmt.Sprintf("Locked after %d minutes without activity; patient information is hidden. %s, type your password to continue.",
		int(l.a.d.Session.IdleLock().Minutes()), st.User.Name))
}

func (l *lockScreen) tryUnlock() {
	pw := l.password.Text
	l.unlock.Disable()
	l.a.d.Go(func() {
		err := l.a.d.Session.Unlock(l.a.ctx, pw)
		fyne.Do(func() {
			l.unlock.Enable()
			if err != nil {
				l.password.SetText("")
				l.message.SetText(appstate.SignInMessage(err))
			}
		})
	})
}

package demo

import (
	"context"
	"strings"
	"sync"

	"healthprep.dev/desktop/internal/appstate"
)

// Account is a demo user.
type Account struct {
	appstate.User
	Password string
	// TOTP, when set, is the one code the account accepts.
	TOTP string
	// Offline means the user signed in on this workstation before, so
	// offline sign-in works for them.
	Offline bool
}

// Auth signs demo accounts in; with SetReachable(false) it behaves like a
// workstation whose cloud is down (offline sign-in for known accounts).
type Auth struct {
	org appstate.Org

	mu        sync.Mutex
	accounts  map[string]Account
	reachable bool
	locked    bool
}

// NewAuth returns an authenticator for org's accounts, the cloud
// reachable.
func NewAuth(org appstate.Org, accounts ...Account) *Auth {
	a := &Auth{org: org, accounts: map[string]Account{}, reachable: true}
	for _, acc := range accounts {
		a.accounts[strings.ToLower(acc.Email)] = acc
	}
	return a
}

// SetReachable says whether the cloud answers.
func (a *Auth) SetReachable(ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reachable = ok
}

// Locked reports whether Lock was called since the last sign-in or unlock.
func (a *Auth) Locked() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.locked
}

// SignIn implements appstate.Authenticator.
func (a *Auth) SignIn(_ context.Context, c appstate.Credentials) (appstate.SignedIn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.accounts[strings.ToLower(strings.TrimSpace(c.Email))]
	if !a.reachable {
		if !ok || !acc.Offline {
			return appstate.SignedIn{}, appstate.ErrNotOnThisWorkstation
		}
		if c.Password != acc.Password {
			return appstate.SignedIn{}, appstate.ErrWrongPassword
		}
		a.locked = false
		return appstate.SignedIn{User: acc.User, Org: a.org, Offline: true}, nil
	}
	if !ok || c.Password != acc.Password {
		return appstate.SignedIn{}, appstate.ErrWrongPassword
	}
	if acc.TOTP != "" && c.TOTP == "" {
		return appstate.SignedIn{}, appstate.ErrTOTPRequired
	}
	if acc.TOTP != "" && c.TOTP != acc.TOTP {
		return appstate.SignedIn{}, appstate.ErrWrongTOTP
	}
	a.locked = false
	return appstate.SignedIn{User: acc.User, Org: a.org}, nil
}

// Unlock implements appstate.Authenticator.
func (a *Auth) Unlock(_ context.Context, u appstate.User, password string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.accounts[strings.ToLower(u.Email)]
	if !ok || acc.Password != password {
		return appstate.ErrWrongPassword
	}
	a.locked = false
	return nil
}

// Lock implements appstate.Authenticator.
func (a *Auth) Lock() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.locked = true
}

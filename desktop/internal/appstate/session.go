package appstate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// User is the person signed in.
type User struct {
	ID    string
	Email string
	Name  string
	Role  string
}

// Org is the organisation the user works for.
type Org struct {
	ID   string
	Name string
}

// Credentials are what the sign-in screen collects.
type Credentials struct {
	Email    string
	Password string
	// TOTP is the six-digit code from the authenticator app, when the
	// account requires one.
	TOTP string
}

// SignedIn is the outcome of a successful sign-in.
type SignedIn struct {
	User User
	Org  Org
	// Offline is set when the cloud could not be reached and the
	// workstation was unlocked with the password alone.
	Offline bool
}

// Authenticator signs people in (online with the cloud, or offline with the
// local store's password wrap) and unlocks the workstation after an idle
// lock.
type Authenticator interface {
	SignIn(ctx context.Context, c Credentials) (SignedIn, error)
	// Unlock checks the signed-in user's password again and unlocks the
	// local store.
	Unlock(ctx context.Context, u User, password string) error
	// Lock forgets the local store's keys.
	Lock()
}

// Sign-in errors an Authenticator returns (wrapped or not); SignInMessage
// turns them into what the person reads.
var (
	ErrWrongPassword = errors.New("wrong email or password")
	// ErrTOTPRequired: the account needs a code; the screen asks for it.
	ErrTOTPRequired = errors.New("a one-time code is required")
	ErrWrongTOTP    = errors.New("wrong one-time code")
	// ErrTOTPEnrolmentRequired: the account must set up a second factor
	// first (on the web page), before it can sign in here.
	ErrTOTPEnrolmentRequired = errors.New("second factor enrolment required")
	// ErrNotOnThisWorkstation: offline, and the user never signed in
	// online here, so there is no key to unlock the cache with.
	ErrNotOnThisWorkstation = errors.New("no offline access on this workstation")
	// ErrUnreachable: the cloud cannot be reached (and offline sign-in was
	// not possible).
	ErrUnreachable = errors.New("cloud unreachable")
	// ErrAccountDisabled: the account or the workstation was revoked.
	ErrAccountDisabled = errors.New("account disabled")
	// ErrOrgSuspended: the organisation's account is suspended; the
	// person's account and this workstation are intact.
	ErrOrgSuspended = errors.New("organisation suspended")
)

// SignInMessage is what the sign-in or lock screen says after err. It
// never repeats what was typed.
func SignInMessage(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrWrongPassword):
		return "Wrong email or password. Check them and try again."
	case errors.Is(err, ErrTOTPRequired):
		return "Enter the 6-digit code from your authenticator app."
	case errors.Is(err, ErrWrongTOTP):
		return "That code is not valid. Codes change every 30 seconds; try the current one."
	case errors.Is(err, ErrTOTPEnrolmentRequired):
		return "Your organisation requires a second factor. Set up your authenticator app on the HealthPrep web page first, then sign in here."
	case errors.Is(err, ErrNotOnThisWorkstation):
		return "HealthPrep cannot reach the cloud, and you have not signed in on this workstation before, so it cannot be used offline. Ask a colleague who has, or wait for the connection."
	case errors.Is(err, ErrUnreachable):
		return "HealthPrep cannot reach the cloud. Check the network and try again."
	case errors.Is(err, ErrOrgSuspended):
		return "This organisation's HealthPrep account is suspended. Contact your administrator or HealthPrep support."
	case errors.Is(err, ErrAccountDisabled):
		return "This account or workstation has been disabled. Contact your administrator."
	case errors.Is(err, context.DeadlineExceeded):
		return "Signing in took too long. Try again."
	}
	return "Sign-in failed. Try again, or contact your administrator."
}

// Progress is how far a long sync is.
type Progress struct {
	Applied int   // changes applied so far in this sync
	Seq     int64 // the feed position reached
	Latest  int64 // the feed's latest position
}

// Fraction is the share of the feed done, in [0, 1], or -1 when unknown.
func (p Progress) Fraction() float64 {
	if p.Latest <= 0 {
		return -1
	}
	return min(1, max(0, float64(p.Seq)/float64(p.Latest)))
}

// Status is everything the status bar, the offline banner and the lock
// screen show.
type Status struct {
	SignedIn bool
	User     User
	Org      Org
	Online   bool
	Locked   bool
	// LastSync is when the last sync finished; zero when never.
	LastSync time.Time
	Syncing  bool
	Progress Progress
	// SyncError is the last sync's failure, for people; "" after a
	// success.
	SyncError string
	// ClinicRev counts the changes of the organisation's settings while
	// the window runs (SetClinic): when it moves, the window reads
	// Session.Clinic and refreshes what depends on it.
	ClinicRev int
	// Notice is a warning about this workstation's settings for the
	// status bar (SetNotice), without PHI; "" when none. It outlives
	// sign-outs: it is about the workstation, not the person.
	Notice string
}

// Who is the status bar's signed-in person and organisation, "Jamie
// Rivera, RN · Demo Family Clinic": the email when there is no display
// name, and the person alone when the organisation's name is unknown.
func (s Status) Who() string {
	who := strings.TrimSpace(s.User.Name)
	if who == "" {
		who = strings.TrimSpace(s.User.Email)
	}
	org := strings.TrimSpace(s.Org.Name)
	switch {
	case who == "":
		return org
	case org == "":
		return who
	}
	return who + " · " + org
}

// SyncText is the sync part of the status bar.
func (s Status) SyncText(now time.Time) string {
	switch {
	case s.Syncing && s.Progress.Fraction() >= 0:
		return fmt.Sprintf("Syncing... %d%% (%d changes)", int(100*s.Progress.Fraction()), s.Progress.Applied)
	case s.Syncing:
		return "Syncing..."
	case !s.Online:
		return "Offline - last sync " + Ago(s.LastSync, now)
	case s.SyncError != "":
		return "Sync failed: " + s.SyncError + " - last sync " + Ago(s.LastSync, now)
	}
	return "Synced " + Ago(s.LastSync, now)
}

// OfflineBanner is the banner shown while offline: what still works, and
// what does not. "" when online.
func (s Status) OfflineBanner(now time.Time) string {
	if s.Online {
		return ""
	}
	return "OFFLINE - working from this workstation's copy (last sync " + Ago(s.LastSync, now) + "). " +
		"Schedules and prep sheets still open and print, and overrides are saved here and sent when the connection returns. " +
		"New appointments, results and documents will not appear until then."
}

// Ago says how long ago t was, for people: "just now", "5 min ago",
// "at 07:42", "on 2025-03-13", or "never". Clock times are in now's time
// zone (the clinic's, as the window passes it), whatever t's is.
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	t = t.In(now.Location())
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case t.YearDay() == now.YearDay() && t.Year() == now.Year():
		return "at " + t.Format("15:04")
	}
	return "on " + t.Format("2006-01-02 15:04")
}

// Session is the signed-in state of the window. It is safe for concurrent
// use: the sync agent reports from its goroutine, the UI reads and acts from
// its own. Subscribers are called after every change, on the goroutine that
// made it (the UI hands the update to its thread with fyne.Do).
type Session struct {
	auth Authenticator
	now  func() time.Time

	mu        sync.Mutex
	idle      time.Duration
	clinic    Clinic
	st        Status
	lastTouch time.Time
	subs      []func(Status)
}

// DefaultIdleLock is the idle time after which the workstation locks unless
// the organisation sets another.
const DefaultIdleLock = 15 * time.Minute

// NewSession returns a signed-out session. idle is the idle-lock time
// (DefaultIdleLock when zero); now is the clock (time.Now when nil).
func NewSession(auth Authenticator, idle time.Duration, now func() time.Time) *Session {
	if idle <= 0 {
		idle = DefaultIdleLock
	}
	if now == nil {
		now = time.Now
	}
	return &Session{auth: auth, idle: idle, clinic: Clinic{IdleLock: idle}, now: now, st: Status{Online: true}}
}

// Now returns the session's clock reading.
func (s *Session) Now() time.Time { return s.now() }

// IdleLock returns the idle-lock time.
func (s *Session) IdleLock() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idle
}

// Status returns the current state.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Subscribe calls fn after every change of the state.
func (s *Session) Subscribe(fn func(Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
}

// update changes the state under the lock and notifies subscribers
// outside it.
func (s *Session) update(fn func(*Status)) {
	s.mu.Lock()
	fn(&s.st)
	st, subs := s.st, slices.Clone(s.subs)
	s.mu.Unlock()
	for _, f := range subs {
		f(st)
	}
}

// SignIn signs in with c. On failure the state is unchanged and the error
// is one SignInMessage explains.
func (s *Session) SignIn(ctx context.Context, c Credentials) error {
	in, err := s.auth.SignIn(ctx, c)
	if err != nil {
		return fmt.Errorf("signing in: %w", err)
	}
	s.mu.Lock()
	s.lastTouch = s.now()
	s.mu.Unlock()
	s.update(func(st *Status) {
		st.SignedIn, st.User, st.Org, st.Locked = true, in.User, in.Org, false
		st.Online = !in.Offline
	})
	return nil
}

// Touch records activity: the idle timer starts again.
func (s *Session) Touch() {
	s.mu.Lock()
	s.lastTouch = s.now()
	s.mu.Unlock()
}

// CheckIdle locks the session when it has been idle for the idle-lock time
// and reports whether it is locked.
func (s *Session) CheckIdle() bool {
	s.mu.Lock()
	due := s.st.SignedIn && !s.st.Locked && s.now().Sub(s.lastTouch) >= s.idle
	locked := s.st.Locked
	s.mu.Unlock()
	if due {
		s.Lock()
		return true
	}
	return locked
}

// Lock locks the workstation now: the local store forgets its keys and the
// window shows the lock screen.
func (s *Session) Lock() {
	s.auth.Lock()
	s.update(func(st *Status) { st.Locked = true })
}

// Unlock unlocks with the signed-in user's password.
func (s *Session) Unlock(ctx context.Context, password string) error {
	u := s.Status().User
	if err := s.auth.Unlock(ctx, u, password); err != nil {
		return fmt.Errorf("unlocking: %w", err)
	}
	s.Touch()
	s.update(func(st *Status) { st.Locked = false })
	return nil
}

// SignOut forgets the user and locks the local store.
func (s *Session) SignOut() {
	s.auth.Lock()
	s.update(func(st *Status) { *st = Status{Online: st.Online, LastSync: st.LastSync, Notice: st.Notice} })
}

// SetNotice shows text (no PHI) in the status bar as a warning about the
// workstation's settings, or removes the warning when text is "".
func (s *Session) SetNotice(text string) {
	s.update(func(st *Status) { st.Notice = text })
}

// SetOnline records whether the cloud is reachable.
func (s *Session) SetOnline(online bool) {
	s.update(func(st *Status) { st.Online = online })
}

// SyncStarted records that a sync began.
func (s *Session) SyncStarted() {
	s.update(func(st *Status) { st.Syncing, st.Progress = true, Progress{} })
}

// SyncProgress records a long sync's progress.
func (s *Session) SyncProgress(p Progress) {
	s.update(func(st *Status) { st.Syncing, st.Progress = true, p })
}

// SyncDone records the end of a sync: at is when it finished; a non-nil
// err says it failed (its text must carry no PHI; the sync agent's errors
// do not).
func (s *Session) SyncDone(at time.Time, err error) {
	s.update(func(st *Status) {
		st.Syncing, st.Progress = false, Progress{}
		if err != nil {
			st.SyncError = err.Error()
			return
		}
		st.SyncError, st.LastSync, st.Online = "", at, true
	})
}

// RestoreLastSync shows at, the last successful sync this workstation
// recorded before the window started (package syncstore keeps it across
// restarts), until a newer sync finishes. It does not say the cloud is
// reachable: the window's first sync says that.
func (s *Session) RestoreLastSync(at time.Time) {
	s.update(func(st *Status) {
		if at.After(st.LastSync) {
			st.LastSync = at
		}
	})
}

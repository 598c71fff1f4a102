// Package remote implements the appstate interfaces that need the cloud,
// over its Connect API: sign-in (AuthService, with the second factor, then
// the local store's password wrap so that the person can sign in offline
// next time; offline sign-in with that wrap when the cloud cannot be
// reached), the admin screens' sources (UserService, DeviceService,
// EpicService, AuditService), and Observe, which turns what the sync agent
// sees of the cloud into the Session's online, progress and last-sync
// state.
//
// Wire types stay here: the appstate values carry no generated code, and
// Connect codes become appstate's sentinel errors (an unreachable cloud,
// a refused request with the cloud's sentence for people, a permission
// denied).
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
)

// Store is the workstation's local store as sign-in uses it (package
// localstore's Store, the window's own handle on the profile).
type Store interface {
	UnlockWithDevice(ctx context.Context) error
	UnlockWithPassword(ctx context.Context, userID, password string) error
	SetUserPassword(ctx context.Context, userID, password string) error
	CheckPassword(ctx context.Context, userID, password string) error
	RemoveUser(ctx context.Context, userID string) error
	Setting(ctx context.Context, key string) ([]byte, error)
	Update(ctx context.Context, fn func(*localstore.Tx) error) error
	Lock()
}

// Directory remembers which user id an email signed in as on this
// workstation, so that offline sign-in knows whose password wrap to try
// before anything is decrypted.
type Directory interface {
	Lookup(email string) (userID string, ok bool)
	Remember(email, userID string) error
}

// Options configure NewAuth.
type Options struct {
	// BaseURL is the cloud's URL.
	BaseURL string
	// HTTPClient talks to it; syncagent.HTTPClient() when nil.
	HTTPClient *http.Client
	// DeviceID is this workstation's enrolled id ("" when not enrolled).
	DeviceID  string
	Store     Store
	Directory Directory
}

// Auth is the workstation's Authenticator, and the holder of the cloud
// session token the admin screens use. It is safe for concurrent use.
type Auth struct {
	opts Options
	auth c.AuthServiceClient
	org  c.OrgServiceClient

	mu    sync.Mutex
	token string // "" when signed in offline or signed out
}

// NewAuth returns the authenticator.
func NewAuth(opts Options) *Auth {
	if opts.HTTPClient == nil {
		opts.HTTPClient = syncagent.HTTPClient()
	}
	return &Auth{opts: opts, auth: c.NewAuthServiceClient(opts.HTTPClient, opts.BaseURL),
		org: c.NewOrgServiceClient(opts.HTTPClient, opts.BaseURL)}
}

// profileKey is the local setting holding what the window shows of a user
// who signed in here (sealed like every value of the store).
func profileKey(userID string) string { return "local/user/" + userID }

type storedProfile struct {
	User appstate.User `json:"user"`
	Org  appstate.Org  `json:"org"`
}

func header(req connect.AnyRequest, token, deviceID string) {
	req.Header().Set("Healthprep-Protocol-Version", strconv.Itoa(syncagent.APIProtocolVersion))
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	if deviceID != "" {
		req.Header().Set("Healthprep-Device-Id", deviceID)
	}
}

// SignIn implements appstate.Authenticator: online when the cloud answers,
// offline with the local password wrap when it cannot be reached.
func (a *Auth) SignIn(ctx context.Context, cr appstate.Credentials) (appstate.SignedIn, error) {
	a.setToken("")
	email := strings.ToLower(strings.TrimSpace(cr.Email))
	req := connect.NewRequest(&v1.SignInRequest{Email: email, Password: cr.Password, ClientKind: v1.ClientKind_CLIENT_KIND_DESKTOP, DeviceId: a.opts.DeviceID})
	header(req, "", a.opts.DeviceID)
	res, err := a.auth.SignIn(ctx, req)
	if err != nil {
		if unreachable(ctx, err) {
			return a.offline(ctx, email, cr.Password)
		}
		refused := signInError(ctx, err, appstate.ErrWrongPassword)
		if rerr := a.forgetRefused(ctx, email, cr.Password, refused); rerr != nil {
			return appstate.SignedIn{}, errors.Join(refused, rerr)
		}
		return appstate.SignedIn{}, refused
	}
	token := res.Msg.GetSessionToken()
	switch {
	case res.Msg.GetTotpEnrolmentRequired():
		return appstate.SignedIn{}, appstate.ErrTOTPEnrolmentRequired
	case res.Msg.GetSecondFactorRequired() && strings.TrimSpace(cr.TOTP) == "":
		return appstate.SignedIn{}, appstate.ErrTOTPRequired
	case res.Msg.GetSecondFactorRequired():
		vreq := connect.NewRequest(&v1.VerifySecondFactorRequest{Code: &v1.VerifySecondFactorRequest_TotpCode{TotpCode: strings.TrimSpace(cr.TOTP)}})
		header(vreq, token, a.opts.DeviceID)
		vres, err := a.auth.VerifySecondFactor(ctx, vreq)
		if err != nil {
			return appstate.SignedIn{}, signInError(ctx, err, appstate.ErrWrongTOTP)
		}
		token = vres.Msg.GetSessionToken()
	}
	wreq := connect.NewRequest(&v1.WhoAmIRequest{})
	header(wreq, token, a.opts.DeviceID)
	who, err := a.auth.WhoAmI(ctx, wreq)
	if err != nil {
		return appstate.SignedIn{}, signInError(ctx, err, appstate.ErrWrongPassword)
	}
	m := who.Msg
	in := appstate.SignedIn{
		User: named(appstate.User{ID: m.GetUserId(), Email: m.GetEmail(), Name: m.GetDisplayName(), Role: roleFromWire(m.GetRole())}, email),
		Org:  appstate.Org{ID: m.GetOrgId()},
	}
	oreq := connect.NewRequest(&v1.GetOrgRequest{})
	header(oreq, token, a.opts.DeviceID)
	if org, err := a.org.GetOrg(ctx, oreq); err == nil {
		in.Org.Name = org.Msg.GetOrganization().GetName()
	}
	// The cloud accepted the password: the workstation may now open its
	// store, and wraps the data key under this password for offline
	// sign-in next time.
	if err := a.remember(ctx, email, cr.Password, in); err != nil {
		return appstate.SignedIn{}, err
	}
	a.setToken(token)
	return in, nil
}

func (a *Auth) remember(ctx context.Context, email, password string, in appstate.SignedIn) error {
	st := a.opts.Store
	if err := st.UnlockWithDevice(ctx); err != nil {
		return fmt.Errorf("opening this workstation's store: %w", storeError(err))
	}
	if err := st.SetUserPassword(ctx, in.User.ID, password); err != nil {
		return fmt.Errorf("enabling offline sign-in: %w", err)
	}
	b, err := json.Marshal(storedProfile{User: in.User, Org: in.Org})
	if err != nil {
		return fmt.Errorf("enabling offline sign-in: %w", err)
	}
	if err := st.Update(ctx, func(tx *localstore.Tx) error { return tx.PutSetting(profileKey(in.User.ID), b) }); err != nil {
		return fmt.Errorf("enabling offline sign-in: %w", err)
	}
	if err := a.opts.Directory.Remember(email, in.User.ID); err != nil {
		return fmt.Errorf("enabling offline sign-in: %w", err)
	}
	return nil
}

// forgetRefused destroys the offline password wrap of a person whose
// online sign-in the cloud refused as a deactivated account, before the
// refusal is shown. The cloud says so outright (ErrAccountDisabled) only
// for some refusals: for deactivated accounts it answers like a wrong
// password, so a refusal of the very password this workstation's wrap
// still accepts also counts — the account was deactivated, or its
// password changed or reset elsewhere — and the wrap must not outlive
// it. A real typo (the wrap refuses it too) keeps the wrap.
func (a *Auth) forgetRefused(ctx context.Context, email, password string, refused error) error {
	id, ok := a.opts.Directory.Lookup(email)
	if !ok {
		return nil
	}
	switch {
	case errors.Is(refused, appstate.ErrAccountDisabled):
	case errors.Is(refused, appstate.ErrWrongPassword):
		if err := a.opts.Store.CheckPassword(ctx, id, password); err != nil {
			return nil // not this workstation's password, or no wrap
		}
	default:
		return nil
	}
	if err := a.opts.Store.RemoveUser(ctx, id); err != nil {
		return fmt.Errorf("removing offline sign-in: %w", err)
	}
	return nil
}

// offline unlocks the store with the password wrap of a user who signed
// in online here before.
func (a *Auth) offline(ctx context.Context, email, password string) (appstate.SignedIn, error) {
	id, ok := a.opts.Directory.Lookup(email)
	if !ok {
		return appstate.SignedIn{}, appstate.ErrNotOnThisWorkstation
	}
	if err := a.opts.Store.UnlockWithPassword(ctx, id, password); err != nil {
		return appstate.SignedIn{}, storeError(err)
	}
	b, err := a.opts.Store.Setting(ctx, profileKey(id))
	var p storedProfile
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		a.opts.Store.Lock()
		return appstate.SignedIn{}, fmt.Errorf("reading who signed in: %w", err)
	}
	return appstate.SignedIn{User: named(p.User, email), Org: p.Org, Offline: true}, nil
}

// named gives u the name the window shows: the display name, or the email
// when there is none. A cloud that did not say the email (older clouds'
// WhoAmI, and the profiles they left on workstations) has u signed in with
// email, the address the person typed.
func named(u appstate.User, email string) appstate.User {
	if u.Email = strings.TrimSpace(u.Email); u.Email == "" {
		u.Email = email
	}
	if u.Name = strings.TrimSpace(u.Name); u.Name == "" {
		u.Name = u.Email
	}
	return u
}

// Unlock implements appstate.Authenticator: the password is checked by
// the local store's wrap (it works offline).
func (a *Auth) Unlock(ctx context.Context, u appstate.User, password string) error {
	return storeError(a.opts.Store.UnlockWithPassword(ctx, u.ID, password))
}

// Lock implements appstate.Authenticator.
func (a *Auth) Lock() { a.opts.Store.Lock() }

// SignOut ends the cloud session (best effort) and forgets the token.
func (a *Auth) SignOut(ctx context.Context) {
	t := a.Token()
	a.setToken("")
	if t == "" {
		return
	}
	req := connect.NewRequest(&v1.SignOutRequest{})
	header(req, t, a.opts.DeviceID)
	_, _ = a.auth.SignOut(ctx, req)
}

func (a *Auth) setToken(t string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.token = t
}

// Token is the cloud session token ("" when signed in offline).
func (a *Auth) Token() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.token
}

func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, localstore.ErrWrongPassword):
		return appstate.ErrWrongPassword
	case errors.Is(err, localstore.ErrUnknownUser):
		return appstate.ErrNotOnThisWorkstation
	case errors.Is(err, localstore.ErrShredded), errors.Is(err, localstore.ErrDeviceKey):
		return appstate.ErrAccountDisabled
	}
	return err
}

// unreachable reports whether err means the cloud could not be reached
// (as opposed to answering no): the cloud said it is unavailable, or the
// call failed in transport (refused, reset, broken connection; Connect
// gives those various codes) while the caller's context was still live.
func unreachable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if connect.IsWireError(err) {
		return connect.CodeOf(err) == connect.CodeUnavailable
	}
	var ce *connect.Error
	return errors.As(err, &ce) || connect.CodeOf(err) == connect.CodeUnavailable
}

// suspended reports whether the cloud refused because the organisation's
// account is suspended.
func suspended(err error) bool {
	var ce *connect.Error
	return errors.As(err, &ce) && ce.Meta().Get(syncagent.SuspendedHeader) != ""
}

func revoked(err error) bool {
	var ce *connect.Error
	return errors.As(err, &ce) && ce.Meta().Get(syncagent.RevokedHeader) != ""
}

// signInError maps a refusal during sign-in; wrong is what
// UNAUTHENTICATED means at this step.
func signInError(ctx context.Context, err, wrong error) error {
	switch {
	case unreachable(ctx, err):
		return appstate.ErrUnreachable
	case suspended(err):
		return appstate.ErrOrgSuspended
	case revoked(err):
		return appstate.ErrAccountDisabled
	case connect.CodeOf(err) == connect.CodeUnauthenticated, connect.CodeOf(err) == connect.CodeInvalidArgument:
		return wrong
	case connect.CodeOf(err) == connect.CodePermissionDenied:
		return appstate.ErrAccountDisabled
	case connect.CodeOf(err) == connect.CodeDeadlineExceeded:
		return context.DeadlineExceeded
	}
	return fmt.Errorf("signing in: %s", connect.CodeOf(err))
}

func roleFromWire(r v1.Role) string {
	switch r {
	case v1.Role_ROLE_ROOT_ADMIN:
		return appstate.RoleRootAdmin
	case v1.Role_ROLE_ADMIN:
		return appstate.RoleAdmin
	case v1.Role_ROLE_NURSE:
		return appstate.RoleNurse
	case v1.Role_ROLE_MA:
		return appstate.RoleMA
	}
	return ""
}

func roleToWire(r string) v1.Role {
	switch r {
	case appstate.RoleRootAdmin:
		return v1.Role_ROLE_ROOT_ADMIN
	case appstate.RoleAdmin:
		return v1.Role_ROLE_ADMIN
	case appstate.RoleNurse:
		return v1.Role_ROLE_NURSE
	case appstate.RoleMA:
		return v1.Role_ROLE_MA
	}
	return v1.Role_ROLE_UNSPECIFIED
}

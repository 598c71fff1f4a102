// Package web serves HealthPrep's few server-rendered pages: accepting an
// invitation (set a password, enrol TOTP, see the recovery codes once),
// resetting a password from an emailed link, signing in with a password and
// a second factor, signing out, and a minimal signed-in landing page.
//
// The pages are html/template files embedded in the binary; they use no
// JavaScript at all (the Content-Security-Policy forbids scripts). All the
// rules (password policy, lockout, throttling, TOTP, one-time links) belong
// to package identity; this package only renders state and forwards intents
// through the small Identity interface below.
//
// # Mounting
//
// New returns an http.Handler that serves every page under the path of
// Config.BaseURL, which must be the same base URL identity builds its
// emailed links from (BaseURL + "/invite/accept?token=…" and
// BaseURL + "/password/reset?token=…"). With HP_BASE_URL=https://host/web:
//
//	h, err := web.New(ids, web.Config{BaseURL: cfg.BaseURL, CSRFKey: key})
//	mux.Handle("/web/", h) // no StripPrefix: the handler knows its prefix
//
// # Security
//
//   - The session is the cookie __Host-hp_session (Secure, HttpOnly,
//     SameSite=Strict, Path=/, no Domain, no expiry: it ends with the
//     browser, and identity's idle and absolute timeouts end it sooner).
//     The pages therefore need HTTPS, also in tests.
//   - Every POST passes two independent CSRF checks. First, Go's
//     http.CrossOriginProtection refuses requests a browser marks as
//     cross-origin (Sec-Fetch-Site, or Origin not matching Host). Second, a
//     signed double-submit token: a random __Host-hp_csrf cookie, and in
//     each form the HMAC-SHA256, under Config.CSRFKey, of that cookie, the
//     session cookie and the form's path. The first check alone trusts the
//     browser's metadata (old browsers send none); the token alone would
//     still let a sibling subdomain (same-site for SameSite) try cookie
//     tossing, which the __Host- prefix and the session binding defeat. The
//     key is shared by every replica, so any replica verifies any form, and
//     no server-side state is needed before sign-in.
//   - Headers on every page: a strict Content-Security-Policy (see CSP),
//     X-Content-Type-Options nosniff, Referrer-Policy no-referrer,
//     X-Frame-Options DENY, Cache-Control no-store.
//   - Tokens from emailed links leave the URL at once: the first GET checks
//     the link, puts the token in a short-lived HttpOnly cookie
//     (__Host-hp_invite or __Host-hp_reset, SameSite=Lax so that a link
//     clicked in a webmail still works) and redirects to the same path
//     without the query. Nothing logged by this package carries a token,
//     password, code, email or name.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/identity/password"
)

// Identity is what the pages need from package identity; *identity.Service
// implements it.
type Identity interface {
	Validate(ctx context.Context, token string) (identity.Principal, error)
	SignIn(ctx context.Context, req identity.SignInRequest) (identity.Session, error)
	VerifyTOTP(ctx context.Context, p identity.Principal, code string) (identity.Session, error)
	SignOut(ctx context.Context, p identity.Principal) error
	BeginTOTPEnrolment(ctx context.Context, p identity.Principal) (identity.Enrolment, error)
	ConfirmTOTP(ctx context.Context, p identity.Principal, code string) ([]string, error)
	CheckInvite(ctx context.Context, token string) (identity.InviteInfo, error)
	AcceptInvite(ctx context.Context, req identity.AcceptInviteRequest) (identity.Session, error)
	RequestPasswordReset(ctx context.Context, email string, c identity.Client) error
	CheckPasswordReset(ctx context.Context, token string) (needsSecondFactor bool, err error)
	CompletePasswordReset(ctx context.Context, req identity.CompletePasswordResetRequest) error
}

// Config holds the pages' settings.
type Config struct {
	// BaseURL is where people reach the pages, identity's BaseURL: an
	// absolute https URL (http only for local development, where Secure
	// cookies will not stick). Its path is the handler's prefix.
	BaseURL string
	// CSRFKey keys the CSRF tokens: at least 32 random bytes, secret, the
	// same on every replica.
	CSRFKey []byte
	// TrustForwardedFor takes the client address from X-Forwarded-For (only
	// behind a load balancer that overwrites the header).
	TrustForwardedFor bool
	// Logger receives server-side failures (never tokens, passwords,
	// codes, emails or names); nil discards them.
	Logger *slog.Logger
}

// CSP is the Content-Security-Policy of every page.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Cookie names.
const (
	SessionCookie = "__Host-hp_session"
	CSRFCookie    = "__Host-hp_csrf"
	InviteCookie  = "__Host-hp_invite"
	ResetCookie   = "__Host-hp_reset"
)

// maxFormBytes bounds a form body; the largest field is a 128-character
// password.
const maxFormBytes = 16 << 10

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

// Handler serves the pages. Build it with New.
type Handler struct {
	ids    Identity
	cfg    Config
	prefix string // BaseURL's path without the trailing slash: "" or "/web"
	https  bool
	log    *slog.Logger
	pages  map[string]*template.Template
	root   http.Handler
}

// New builds the pages' handler.
func New(ids Identity, cfg Config) (*Handler, error) {
	if ids == nil {
		return nil, errors.New("web: identity service is required")
	}
	if len(cfg.CSRFKey) < 32 {
		return nil, errors.New("web: CSRF key must be at least 32 bytes")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" {
		return nil, errors.New("web: base URL must be an absolute http(s) URL without query")
	}
	h := &Handler{
		ids: ids, cfg: cfg, prefix: strings.TrimSuffix(base.Path, "/"), https: base.Scheme == "https",
		log: cfg.Logger,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}

	p := h.prefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/{$}", h.landing)
	mux.HandleFunc("GET "+p+"/static/style.css", h.style)
	mux.HandleFunc("GET "+p+"/signin", h.signInForm)
	mux.HandleFunc("POST "+p+"/signin", h.signIn)
	mux.HandleFunc("GET "+p+"/signin/code", h.codeForm)
	mux.HandleFunc("POST "+p+"/signin/code", h.code)
	mux.HandleFunc("POST "+p+"/signout", h.signOut)
	mux.HandleFunc("GET "+p+"/invite/accept", h.inviteForm)
	mux.HandleFunc("POST "+p+"/invite/accept", h.acceptInvite)
	mux.HandleFunc("GET "+p+"/totp/enrol", h.enrolForm)
	mux.HandleFunc("POST "+p+"/totp/enrol", h.confirmEnrol)
	mux.HandleFunc("GET "+p+"/password/forgot", h.forgotForm)
	mux.HandleFunc("POST "+p+"/password/forgot", h.forgot)
	mux.HandleFunc("GET "+p+"/password/reset", h.resetForm)
	mux.HandleFunc("POST "+p+"/password/reset", h.reset)
	mux.HandleFunc(p+"/", h.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(h.forbidden))
	h.root = cop.Handler(h.csrfCheck(mux))
	return h, nil
}

// ServeHTTP serves a page with the security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	if h.https {
		hd.Set("Strict-Transport-Security", "max-age=63072000")
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	h.root.ServeHTTP(w, r)
}

func (h *Handler) style(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(styleCSS)
}

// path returns the absolute path of a page.
func (h *Handler) path(p string) string { return h.prefix + p }

// client describes the request for identity.
func (h *Handler) client(r *http.Request) identity.Client {
	c := identity.Client{Kind: identity.KindWeb, UserAgent: r.UserAgent()}
	if h.cfg.TrustForwardedFor {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
				c.IP = ip
				return c
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	c.IP, _ = netip.ParseAddr(host)
	return c
}

// setCookie sets a __Host- cookie for the whole site.
func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge int, same http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: same,
	})
}

func (h *Handler) clearCookie(w http.ResponseWriter, name string) {
	h.setCookie(w, name, "", -1, http.SameSiteStrictMode)
}

func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// principal validates the session cookie; ok is false without a live
// session.
func (h *Handler) principal(r *http.Request) (identity.Principal, bool) {
	tok := cookie(r, SessionCookie)
	if tok == "" {
		return identity.Principal{}, false
	}
	p, err := h.ids.Validate(r.Context(), tok)
	if err != nil {
		if !errors.Is(err, identity.ErrUnauthenticated) && !errors.Is(err, identity.ErrOrgSuspended) {
			h.log.ErrorContext(r.Context(), "web: validating session", "err", err)
		}
		return identity.Principal{}, false
	}
	return p, true
}

// redirect answers 303 See Other to a page, with an optional notice key.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, page, notice string) {
	target := h.path(page)
	if notice != "" {
		target += "?m=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// notices are the only messages a URL can ask a page to show.
var notices = map[string]string{
	"signed_out": "You have signed out.",
	"expired":    "Your session has ended. Please sign in again.",
	"reset":      "Your password has been changed. Sign in with your new password.",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("m")] }

// internalError logs a failure (the error, never the form) and shows a
// generic page.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	h.log.ErrorContext(r.Context(), "web: "+doing, "page", r.Pattern, "err", err)
	h.render(w, r, http.StatusInternalServerError, "message", view{
		Title: "Something went wrong",
		Text:  "Something went wrong on our side. Please try again in a moment.",
	})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, "message", view{Title: "Page not found", Text: "There is no page at this address."})
}

// forbidden is the answer to a POST that fails a CSRF check.
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusForbidden, "message", view{
		Title: "This form has expired",
		Text:  "For your security the form could not be accepted. Go back, reload the page and try again.",
	})
}

// personMessage turns an identity error into words for the person, or ""
// when the error is not theirs to fix.
func personMessage(err error) string {
	var weak *password.WeakError
	var in *identity.InputError
	switch {
	case errors.As(err, &weak):
		return "Please choose another password: " + weak.Reason + "."
	case errors.As(err, &in):
		return "The " + in.Field + " " + in.Reason + "."
	}
	for _, s := range []error{
		identity.ErrInvalidCredentials, identity.ErrLocked, identity.ErrThrottled, identity.ErrInvalidTOTP,
		identity.ErrMaxUsers, identity.ErrEmailInUse, identity.ErrTOTPEnrolled, identity.ErrTOTPNotEnrolled,
		identity.ErrOrgSuspended,
	} {
		if errors.Is(err, s) {
			m := s.Error()
			return strings.ToUpper(m[:1]) + m[1:] + "."
		}
	}
	return ""
}

// statusOf is the HTTP status of a page showing a person's error.
func statusOf(err error) int {
	switch {
	case errors.Is(err, identity.ErrLocked), errors.Is(err, identity.ErrThrottled):
		return http.StatusTooManyRequests
	case errors.Is(err, identity.ErrInvalidCredentials), errors.Is(err, identity.ErrInvalidTOTP):
		return http.StatusUnauthorized
	case errors.Is(err, identity.ErrMaxUsers), errors.Is(err, identity.ErrEmailInUse), errors.Is(err, identity.ErrTOTPEnrolled):
		return http.StatusConflict
	case errors.Is(err, identity.ErrOrgSuspended):
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// view is what a page template sees.
type view struct {
	Title  string
	Prefix string
	Action string // the form's path
	CSRF   string // the form's token
	Notice string
	Error  string
	Text   string // a message page's text
	Link   string // a message page's link…
	LinkTo string // …and its label

	Email       string
	Org         string // the inviting organisation's name
	DisplayName string
	NeedCode    bool
	QR          template.URL
	Secret      string
	Mandatory   bool
	Codes       []string
	Role        string
	Retry       bool
}

var pageNames = []string{
	"message", "signin", "code", "landing", "invite", "enrol", "codes", "forgot", "reset",
}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, n := range pageNames {
		t, err := template.New(n).ParseFS(templateFS, "templates/base.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parsing page %s: %w", n, err)
		}
		pages[n] = t
	}
	return pages, nil
}

// render writes a page. Forms get a CSRF token bound to the request's
// cookies and the form's path (v.Action, default the request's path).
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	v.Prefix = h.prefix
	if v.Action == "" {
		v.Action = r.URL.Path
	}
	v.CSRF = h.formToken(w, r, v.Action)
	var b strings.Builder
	if err := h.pages[page].ExecuteTemplate(&b, "base", v); err != nil {
		h.log.ErrorContext(r.Context(), "web: rendering page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

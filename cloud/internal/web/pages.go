package web

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"healthprep.dev/cloud/internal/identity"
)

// linkMaxAge is how long a link's token may wait in its cookie (seconds):
// long enough to choose a password, shorter than any link's validity.
const linkMaxAge = 30 * 60

func roleName(r identity.Role) string {
	switch r {
	case identity.RoleRootAdmin:
		return "Root administrator"
	case identity.RoleAdmin:
		return "Administrator"
	case identity.RoleNurse:
		return "Nurse"
	case identity.RoleMA:
		return "Medical assistant"
	}
	return string(r)
}

// startSession stores a new session's token in the session cookie.
func (h *Handler) startSession(w http.ResponseWriter, s identity.Session) {
	h.setCookie(w, SessionCookie, s.Token, 0, http.SameSiteStrictMode)
}

// afterSignIn sends a person where their session's scope lets them go.
func (h *Handler) afterSignIn(w http.ResponseWriter, r *http.Request, p identity.Principal) {
	switch p.Scope {
	case identity.ScopeSecondFactor:
		h.redirect(w, r, "/signin/code", "")
	case identity.ScopeEnrol:
		h.redirect(w, r, "/totp/enrol", "")
	default:
		h.redirect(w, r, "/", "")
	}
}

// toSignIn redirects a request without a usable session to the sign-in
// page, saying the session ended when there was one.
func (h *Handler) toSignIn(w http.ResponseWriter, r *http.Request) {
	m := ""
	if cookie(r, SessionCookie) != "" {
		h.clearCookie(w, SessionCookie)
		m = "expired"
	}
	h.redirect(w, r, "/signin", m)
}

// ---- landing and sign-out ----

func (h *Handler) landing(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(r)
	if !ok {
		h.toSignIn(w, r)
		return
	}
	if p.Scope != identity.ScopeFull {
		h.afterSignIn(w, r, p)
		return
	}
	h.render(w, r, http.StatusOK, "landing", view{
		Title: "You are signed in", Role: roleName(p.Role), NeedCode: !p.MFAVerified, Action: h.path("/signout"),
	})
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	if p, ok := h.principal(r); ok {
		if err := h.ids.SignOut(r.Context(), p); err != nil {
			h.internalError(w, r, "signing out", err)
			return
		}
	}
	h.clearCookie(w, SessionCookie)
	h.redirect(w, r, "/signin", "signed_out")
}

// ---- sign-in ----

func (h *Handler) signInForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", Notice: notice(r)})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	sess, err := h.ids.SignIn(r.Context(), identity.SignInRequest{
		Email: email, Password: r.PostFormValue("password"), Client: h.client(r),
	})
	if err != nil {
		if m := personMessage(err); m != "" {
			h.render(w, r, statusOf(err), "signin", view{Title: "Sign in", Email: email, Error: m})
			return
		}
		h.internalError(w, r, "signing in", err)
		return
	}
	if old, ok := h.principal(r); ok {
		// A new sign-in on this browser ends the one it replaces.
		if err := h.ids.SignOut(r.Context(), old); err != nil {
			h.log.ErrorContext(r.Context(), "web: ending replaced session", "err", err)
		}
	}
	h.startSession(w, sess)
	h.afterSignIn(w, r, sess.Principal)
}

func (h *Handler) codeForm(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(r)
	switch {
	case !ok:
		h.toSignIn(w, r)
	case p.Scope != identity.ScopeSecondFactor:
		h.afterSignIn(w, r, p)
	default:
		h.render(w, r, http.StatusOK, "code", view{Title: "Enter your authentication code"})
	}
}

func (h *Handler) code(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(r)
	if !ok {
		h.toSignIn(w, r)
		return
	}
	if p.Scope != identity.ScopeSecondFactor {
		h.afterSignIn(w, r, p)
		return
	}
	sess, err := h.ids.VerifyTOTP(r.Context(), p, r.PostFormValue("code"))
	if err != nil {
		if errors.Is(err, identity.ErrUnauthenticated) {
			h.toSignIn(w, r)
			return
		}
		if m := personMessage(err); m != "" {
			h.render(w, r, statusOf(err), "code", view{Title: "Enter your authentication code", Error: m})
			return
		}
		h.internalError(w, r, "verifying the second factor", err)
		return
	}
	h.startSession(w, sess)
	h.redirect(w, r, "/", "")
}

// ---- TOTP enrolment ----

func (h *Handler) enrolView(p identity.Principal) view {
	return view{Title: "Set up two-factor authentication", Mandatory: p.Scope == identity.ScopeEnrol}
}

func (h *Handler) alreadyEnrolled(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusConflict, "message", view{
		Title: "Two-factor authentication is already set up",
		Text:  "Your account already asks for a code from your authenticator app.",
		Link:  h.path("/"), LinkTo: "Continue",
	})
}

func (h *Handler) enrolForm(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(r)
	if !ok {
		h.toSignIn(w, r)
		return
	}
	if p.Scope == identity.ScopeSecondFactor {
		h.afterSignIn(w, r, p)
		return
	}
	en, err := h.ids.BeginTOTPEnrolment(r.Context(), p)
	if errors.Is(err, identity.ErrTOTPEnrolled) {
		h.alreadyEnrolled(w, r)
		return
	}
	if err != nil {
		h.internalError(w, r, "starting TOTP enrolment", err)
		return
	}
	v := h.enrolView(p)
	v.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRCode))
	v.Secret = groupSecret(en.Secret)
	h.render(w, r, http.StatusOK, "enrol", v)
}

// groupSecret writes a base32 secret in groups of four for typing.
func groupSecret(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (h *Handler) confirmEnrol(w http.ResponseWriter, r *http.Request) {
	p, ok := h.principal(r)
	if !ok {
		h.toSignIn(w, r)
		return
	}
	if p.Scope == identity.ScopeSecondFactor {
		h.afterSignIn(w, r, p)
		return
	}
	codes, err := h.ids.ConfirmTOTP(r.Context(), p, r.PostFormValue("code"))
	switch {
	case errors.Is(err, identity.ErrTOTPEnrolled):
		h.alreadyEnrolled(w, r)
		return
	case errors.Is(err, identity.ErrTOTPNotEnrolled):
		h.redirect(w, r, "/totp/enrol", "")
		return
	case err != nil:
		if m := personMessage(err); m != "" {
			// The secret is not shown again: the person keeps the entry
			// they added, or starts over with a new one.
			v := h.enrolView(p)
			v.Retry, v.Error = true, m
			h.render(w, r, statusOf(err), "enrol", v)
			return
		}
		h.internalError(w, r, "confirming TOTP enrolment", err)
		return
	}
	h.render(w, r, http.StatusOK, "codes", view{Title: "Save your recovery codes", Codes: codes})
}

// ---- invitations ----

func (h *Handler) inviteInvalid(w http.ResponseWriter, r *http.Request) {
	h.clearCookie(w, InviteCookie)
	h.render(w, r, http.StatusGone, "message", view{
		Title: "This link has expired or was already used",
		Text:  "Invitation links work once and for 7 days. Ask your administrator to send you a new invitation.",
	})
}

func inviteView() view { return view{Title: "Welcome to HealthPrep"} }

// checkInvite checks an invitation link without using it; ok is false
// (and the invalid-link page has been written) when it cannot be accepted.
func (h *Handler) checkInvite(w http.ResponseWriter, r *http.Request, tok string) (identity.InviteInfo, bool) {
	info, err := h.ids.CheckInvite(r.Context(), tok)
	switch {
	case errors.Is(err, identity.ErrInviteInvalid):
		h.inviteInvalid(w, r)
		return info, false
	case err != nil:
		h.internalError(w, r, "checking an invitation", err)
		return info, false
	}
	return info, true
}

func (h *Handler) inviteForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("token") {
		tok := q.Get("token")
		if _, ok := h.checkInvite(w, r, tok); !ok {
			return
		}
		h.setCookie(w, InviteCookie, tok, linkMaxAge, http.SameSiteLaxMode)
		h.redirect(w, r, "/invite/accept", "")
		return
	}
	tok := cookie(r, InviteCookie)
	if tok == "" {
		h.inviteInvalid(w, r)
		return
	}
	info, ok := h.checkInvite(w, r, tok)
	if !ok {
		return
	}
	v := inviteView()
	v.Org, v.Role = info.OrgName, roleName(info.Role)
	h.render(w, r, http.StatusOK, "invite", v)
}

const mismatch = "The two passwords do not match. Please type the same password twice."

func (h *Handler) acceptInvite(w http.ResponseWriter, r *http.Request) {
	tok := cookie(r, InviteCookie)
	if tok == "" {
		h.inviteInvalid(w, r)
		return
	}
	v := inviteView()
	v.DisplayName = strings.TrimSpace(r.PostFormValue("name"))
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		v.Error = mismatch
		h.render(w, r, http.StatusBadRequest, "invite", v)
		return
	}
	sess, err := h.ids.AcceptInvite(r.Context(), identity.AcceptInviteRequest{
		Token: tok, Password: pw, DisplayName: v.DisplayName, Client: h.client(r),
	})
	if errors.Is(err, identity.ErrInviteInvalid) {
		h.inviteInvalid(w, r)
		return
	}
	if err != nil {
		if m := personMessage(err); m != "" {
			v.Error = m
			h.render(w, r, statusOf(err), "invite", v)
			return
		}
		h.internalError(w, r, "accepting an invitation", err)
		return
	}
	h.clearCookie(w, InviteCookie)
	h.startSession(w, sess)
	h.redirect(w, r, "/totp/enrol", "")
}

// ---- password reset ----

func (h *Handler) forgotForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "forgot", view{Title: "Reset your password"})
}

func (h *Handler) forgot(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	err := h.ids.RequestPasswordReset(r.Context(), email, h.client(r))
	var in *identity.InputError
	if errors.As(err, &in) {
		h.render(w, r, http.StatusBadRequest, "forgot", view{Title: "Reset your password", Email: email, Error: personMessage(err)})
		return
	}
	if err != nil {
		// Past validation only the database can fail (mail is sent later,
		// from identity's outbox): the answer stays the same.
		h.log.ErrorContext(r.Context(), "web: requesting a password reset", "err", err)
	}
	h.render(w, r, http.StatusOK, "message", view{
		Title: "Check your email",
		Text: "If an account exists for that address, we have sent it a link to choose a new password. " +
			"The link works once, for one hour.",
		Link: h.path("/signin"), LinkTo: "Back to sign in",
	})
}

func (h *Handler) resetInvalid(w http.ResponseWriter, r *http.Request) {
	h.clearCookie(w, ResetCookie)
	h.render(w, r, http.StatusGone, "message", view{
		Title: "This link has expired or was already used",
		Text:  "Password reset links work once and for one hour. You can ask for a new one.",
		Link:  h.path("/password/forgot"), LinkTo: "Ask for a new link",
	})
}

func resetView() view { return view{Title: "Choose a new password"} }

// checkReset checks a reset link without using it; ok is false (and the
// invalid-link page has been written) when it cannot be used.
func (h *Handler) checkReset(w http.ResponseWriter, r *http.Request, tok string) (needCode, ok bool) {
	needCode, err := h.ids.CheckPasswordReset(r.Context(), tok)
	switch {
	case errors.Is(err, identity.ErrResetInvalid):
		h.resetInvalid(w, r)
		return false, false
	case err != nil:
		h.internalError(w, r, "checking a reset link", err)
		return false, false
	}
	return needCode, true
}

func (h *Handler) resetForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("token") {
		tok := q.Get("token")
		if _, ok := h.checkReset(w, r, tok); !ok {
			return
		}
		h.setCookie(w, ResetCookie, tok, linkMaxAge, http.SameSiteLaxMode)
		h.redirect(w, r, "/password/reset", "")
		return
	}
	tok := cookie(r, ResetCookie)
	if tok == "" {
		h.resetInvalid(w, r)
		return
	}
	needCode, ok := h.checkReset(w, r, tok)
	if !ok {
		return
	}
	v := resetView()
	v.NeedCode = needCode
	h.render(w, r, http.StatusOK, "reset", v)
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	tok := cookie(r, ResetCookie)
	if tok == "" {
		h.resetInvalid(w, r)
		return
	}
	v := resetView()
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		v.Error = mismatch
		h.render(w, r, http.StatusBadRequest, "reset", v)
		return
	}
	err := h.ids.CompletePasswordReset(r.Context(), identity.CompletePasswordResetRequest{
		Token: tok, Password: pw, SecondFactor: r.PostFormValue("code"), Client: h.client(r),
	})
	switch {
	case errors.Is(err, identity.ErrResetInvalid):
		h.resetInvalid(w, r)
		return
	case errors.Is(err, identity.ErrMFARequired):
		v.Error = "This account uses two-factor authentication: enter the 6-digit code from your authenticator app, or one of your recovery codes."
		v.NeedCode = true
		h.render(w, r, http.StatusBadRequest, "reset", v)
		return
	case err != nil:
		if m := personMessage(err); m != "" {
			v.Error = m
			h.render(w, r, statusOf(err), "reset", v)
			return
		}
		h.internalError(w, r, "completing a password reset", err)
		return
	}
	h.clearCookie(w, ResetCookie)
	h.clearCookie(w, SessionCookie) // every session was revoked
	h.redirect(w, r, "/signin", "reset")
}

package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// csrfField is the hidden form field carrying the token.
const csrfField = "csrf"

// csrfSecret returns the request's CSRF cookie value, setting a new random
// one on w when the request has none (or a malformed one).
func (h *Handler) csrfSecret(w http.ResponseWriter, r *http.Request) string {
	if v := cookie(r, CSRFCookie); validSecret(v) {
		return v
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on supported systems
	v := base64.RawURLEncoding.EncodeToString(b)
	h.setCookie(w, CSRFCookie, v, 0, http.SameSiteStrictMode)
	// Later reads in this request (render after a redirect-less POST) see it.
	r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: v})
	return v
}

func validSecret(v string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(v)
	return err == nil && len(b) == 32
}

// mac is the token of a form: HMAC-SHA256 under the CSRF key of the CSRF
// cookie, the session cookie ("" before sign-in) and the form's path.
func (h *Handler) mac(secret, session, path string) []byte {
	m := hmac.New(sha256.New, h.cfg.CSRFKey)
	for _, part := range []string{"hp-web-csrf-v1", secret, session, path} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// formToken returns the token for a form posting to path.
func (h *Handler) formToken(w http.ResponseWriter, r *http.Request, path string) string {
	secret := h.csrfSecret(w, r)
	return base64.RawURLEncoding.EncodeToString(h.mac(secret, cookie(r, SessionCookie), path))
}

// validToken reports whether a POST carries the token of its own form.
func (h *Handler) validToken(r *http.Request) bool {
	secret := cookie(r, CSRFCookie)
	if !validSecret(secret) {
		return false
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(r.PostFormValue(csrfField))
	if err != nil {
		return false
	}
	return hmac.Equal(got, h.mac(secret, cookie(r, SessionCookie), r.URL.Path))
}

// csrfCheck refuses every POST without a valid token before any handler
// runs, so a refused request changes nothing.
func (h *Handler) csrfCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := r.ParseForm(); err != nil {
				h.render(w, r, http.StatusBadRequest, "message", view{
					Title: "Form not accepted", Text: "The form could not be read. Go back and try again.",
				})
				return
			}
			if !h.validToken(r) {
				h.forbidden(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

package epic

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// AuthCode runs a SMART standalone launch: authorization code + PKCE S256 +
// state, and nonce with a verified id_token when Scopes include openid.
type AuthCode struct {
	ClientID string
	// ClientSecret makes the client confidential (sent with HTTP Basic);
	// empty for a public client.
	ClientSecret string
	AuthURL      string
	TokenURL     string
	// RedirectURL must exactly match the one registered with Epic.
	RedirectURL string
	// Audience is the FHIR base URL, sent as aud as SMART requires.
	Audience string
	Scopes   []string
	// Issuer and JWKSURL verify the id_token (from discovery); required
	// when Scopes include openid.
	Issuer  string
	JWKSURL string
	// HTTPClient calls the token and JWKS endpoints (nil: http.DefaultClient).
	HTTPClient *http.Client
	// Now is the clock for id_token checks (nil: time.Now).
	Now func() time.Time
}

// WithDiscovery fills the endpoints and issuer from a SMART configuration.
func (c AuthCode) WithDiscovery(sc *SMARTConfiguration) AuthCode {
	c.AuthURL, c.TokenURL, c.Issuer, c.JWKSURL = sc.AuthorizationEndpoint, sc.TokenEndpoint, sc.Issuer, sc.JWKSURI
	return c
}

func (c *AuthCode) config() *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if c.ClientSecret != "" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: c.AuthURL, TokenURL: c.TokenURL, AuthStyle: style},
		RedirectURL:  c.RedirectURL,
		Scopes:       c.Scopes,
	}
}

func (c *AuthCode) openID() bool { return slices.Contains(c.Scopes, "openid") }

// Authorization is one started launch. Keep it server-side (it holds the
// PKCE verifier) until the callback, then pass it to Exchange; it is good
// for one exchange.
type Authorization struct {
	// URL is where to send the user's browser.
	URL      string
	State    string
	Verifier string
	Nonce    string // empty unless openid was asked
}

// Start builds the authorization URL with a fresh state, PKCE verifier and
// (for openid) nonce.
func (c *AuthCode) Start() (Authorization, error) {
	if c.ClientID == "" || c.AuthURL == "" || c.TokenURL == "" || c.RedirectURL == "" || c.Audience == "" {
		return Authorization{}, errors.New("starting the Epic authorization: client ID, endpoints, redirect URL and audience are required")
	}
	if c.openID() && (c.JWKSURL == "" || c.Issuer == "") {
		return Authorization{}, errors.New("starting the Epic authorization: openid needs the issuer and its JWKS URL")
	}
	a := Authorization{State: randomString(), Verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.Verifier), oauth2.SetAuthURLParam("aud", c.Audience)}
	if c.openID() {
		a.Nonce = randomString()
		opts = append(opts, oauth2.SetAuthURLParam("nonce", a.Nonce))
	}
	a.URL = c.config().AuthCodeURL(a.State, opts...)
	return a, nil
}

func randomString() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Grant is the result of a launch.
type Grant struct {
	Token *oauth2.Token
	// Patient is the SMART launch context patient id, when one was chosen.
	Patient string
	// FHIRUser is the id_token's fhirUser claim, when openid was asked.
	FHIRUser string
}

// Errors Exchange returns for a callback that must not be honoured.
var (
	ErrStateMismatch = errors.New("the callback's state does not match the authorization: refusing it")
	ErrDenied        = errors.New("the user or the server declined the authorization")
)

// Exchange checks a callback's query (state first, then error or code) and
// exchanges the code with the PKCE verifier.
func (c *AuthCode) Exchange(ctx context.Context, a Authorization, callback url.Values) (*Grant, error) {
	if a.State == "" || subtle.ConstantTimeCompare([]byte(callback.Get("state")), []byte(a.State)) != 1 {
		return nil, fmt.Errorf("completing the Epic authorization: %w", ErrStateMismatch)
	}
	if e := callback.Get("error"); e != "" {
		return nil, fmt.Errorf("completing the Epic authorization: %w: %s", ErrDenied, oauthCode(e))
	}
	code := callback.Get("code")
	if code == "" {
		return nil, errors.New("completing the Epic authorization: the callback has no code")
	}
	tok, err := c.config().Exchange(withClient(ctx, c.HTTPClient), code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return nil, tokenError("completing the Epic authorization", err)
	}
	g := &Grant{Token: tok}
	if p, ok := tok.Extra("patient").(string); ok {
		g.Patient = p
	}
	if c.openID() {
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			return nil, errors.New("completing the Epic authorization: openid was asked but no id_token came back")
		}
		fu, err := c.verifyIDToken(ctx, raw, a.Nonce)
		if err != nil {
			return nil, fmt.Errorf("completing the Epic authorization: %w", err)
		}
		g.FHIRUser = fu
	}
	return g, nil
}

// oauthCode keeps an OAuth error code printable and short.
func oauthCode(s string) string {
	if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		return "(unreadable error code)"
	}
	return s
}

// verifyIDToken checks the id_token's signature against the issuer's JWKS,
// its issuer, audience, expiry and nonce, and returns its fhirUser claim.
func (c *AuthCode) verifyIDToken(ctx context.Context, raw, nonce string) (string, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.ES256, jose.ES384})
	if err != nil {
		return "", errors.New("the id_token is not a signed JWT with an accepted algorithm")
	}
	set, err := fetchJWKS(ctx, c.HTTPClient, c.JWKSURL)
	if err != nil {
		return "", fmt.Errorf("fetching the issuer's keys: %w", err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) == 0 {
		return "", errors.New("the id_token's kid is not in the issuer's JWKS")
	}
	var std jwt.Claims
	var extra struct {
		Nonce    string `json:"nonce"`
		FHIRUser string `json:"fhirUser"`
	}
	if err := tok.Claims(keys[0].Key, &std, &extra); err != nil {
		return "", errors.New("the id_token's signature does not verify")
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: c.Issuer, AnyAudience: jwt.Audience{c.ClientID}, Time: now}, time.Minute); err != nil {
		return "", fmt.Errorf("the id_token is not for us or has expired: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(extra.Nonce), []byte(nonce)) != 1 {
		return "", errors.New("the id_token's nonce does not match the authorization")
	}
	return extra.FHIRUser, nil
}

func fetchJWKS(ctx context.Context, hc *http.Client, u string) (*jose.JSONWebKeySet, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, errors.New("the JWKS is not valid JSON")
	}
	return &set, nil
}

// Refresh uses a refresh token once. Servers may rotate it: the returned
// token carries the refresh token to keep (oauth2 keeps the old one when the
// server sends none).
func (c *AuthCode) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	if refreshToken == "" {
		return nil, fmt.Errorf("refreshing the Epic token: %w: no refresh token", ErrAuthorization)
	}
	src := c.config().TokenSource(withClient(ctx, c.HTTPClient), &oauth2.Token{RefreshToken: refreshToken})
	tok, err := src.Token()
	if err != nil {
		return nil, tokenError("refreshing the Epic token", err)
	}
	return tok, nil
}

// Tokens returns a cache starting with initial that refreshes with the
// current refresh token when the access token is due, calling onRotate
// (when not nil) with every new token so the caller can store it (the
// refresh token may have changed). If onRotate fails, the new token is not
// used and the error is returned.
func (c *AuthCode) Tokens(initial *oauth2.Token, onRotate func(context.Context, *oauth2.Token) error) *Tokens {
	var mu sync.Mutex
	refresh := initial.RefreshToken
	return NewTokens(initial, func(ctx context.Context) (*oauth2.Token, error) {
		mu.Lock()
		defer mu.Unlock()
		tok, err := c.Refresh(ctx, refresh)
		if err != nil {
			return nil, err
		}
		if onRotate != nil {
			if err := onRotate(ctx, tok); err != nil {
				return nil, fmt.Errorf("storing the refreshed Epic token: %w", err)
			}
		}
		refresh = tok.RefreshToken
		return tok, nil
	})
}

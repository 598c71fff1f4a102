package epic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// fixedTokens serves one token as is (no renewal).
type fixedTokens struct{ tok *oauth2.Token }

func (f fixedTokens) Token(context.Context) (*oauth2.Token, error) { return f.tok, nil }
func (fixedTokens) Invalidate(*oauth2.Token)                       {}

// TestPeerOAuth runs both SMART flows of the client against oidc-provider,
// and its FHIR calls with the peer's tokens through the front to Medplum.
func TestPeerOAuth(t *testing.T) {
	t.Parallel()
	rsaKey, otherKey, ecKey := testKeys(t)
	jwks := newJWKSServer(t, rsaKey, ecKey) // our JWKSHandler, read by the peer
	// Access tokens live 30 s, less than Tokens' 60 s renewal margin: every
	// use of a Tokens cache renews, so refreshes happen without waiting.
	e := startPeers(t, 30*time.Second,
		publicClient("hp-public"),
		backendClient("svc-any", jwks.URL, ""),
		backendClient("svc-rs", jwks.URL, "RS384"),
		backendClient("svc-es", jwks.URL, "ES384"),
	)
	ctx := context.Background()
	if _, err := e.fhir.Load(ctx, map[string]any{"resourceType": "Patient", "id": "peer-pat", "birthDate": "1960-02-03"}); err != nil {
		t.Fatal(err)
	}
	scopes := []string{"openid", "fhirUser", "offline_access", "launch/patient", "user/Patient.read", "user/Observation.read"}
	authCode := func() *AuthCode {
		ac := AuthCode{ClientID: "hp-public", RedirectURL: peerRedirectURI, Audience: e.front.Base, Scopes: scopes,
			HTTPClient: e.hc}.WithDiscovery(e.smart)
		return &ac
	}
	// launch starts an authorization and plays the browser through the
	// peer's login and consent; consent adds prompt=consent (difference 2).
	launch := func(t *testing.T, ac *AuthCode, consent bool) (Authorization, url.Values) {
		t.Helper()
		a, err := ac.Start()
		if err != nil {
			t.Fatal(err)
		}
		u := a.URL
		if consent {
			u += "&prompt=consent"
		}
		status, cb := e.browse(t, u)
		if cb.Get("code") == "" {
			t.Fatalf("authorization: status %d, callback %v; want a redirect with a code", status, cb)
		}
		return a, cb
	}
	readPatient := func(tokens TokenSource) error {
		_, err := peerClient(t, e.front.Base, tokens, e.hc).Read(ctx, "Patient", "peer-pat")
		return err
	}

	t.Run("discovery through the SMART configuration", func(t *testing.T) {
		t.Parallel()
		sc := e.smart
		if sc.Issuer != e.oidc.Issuer || sc.AuthorizationEndpoint != e.oidc.AuthURL || sc.TokenEndpoint != e.oidc.TokenURL ||
			sc.JWKSURI != e.oidc.JWKSURL || sc.RevocationEndpoint != e.oidc.RevocationURL {
			t.Errorf("discovered %+v, want the peer's issuer and endpoints", sc)
		}
		if !sc.SupportsPKCE() || !slices.Contains(sc.TokenEndpointAuthMethods, "private_key_jwt") ||
			!slices.Contains(sc.TokenEndpointAuthSigningAlgs, "RS384") || !slices.Contains(sc.TokenEndpointAuthSigningAlgs, "ES384") {
			t.Errorf("PKCE %v, auth methods %v, signing algs %v; want S256, private_key_jwt, RS384 and ES384",
				sc.CodeChallengeMethods, sc.TokenEndpointAuthMethods, sc.TokenEndpointAuthSigningAlgs)
		}
	})

	t.Run("authorization code with PKCE, state and nonce", func(t *testing.T) {
		t.Parallel()
		ac := authCode()
		a, cb := launch(t, ac, false)
		q := mustQuery(t, a.URL)
		if q.Get("code_challenge_method") != "S256" || q.Get("state") != a.State || q.Get("nonce") != a.Nonce || a.Nonce == "" {
			t.Errorf("authorization URL %v lacks S256, the state or the nonce", q)
		}
		if cb.Get("state") != a.State || cb.Get("iss") != e.oidc.Issuer {
			t.Errorf("callback state %q iss %q, want %q and the peer's issuer (RFC 9207)", cb.Get("state"), cb.Get("iss"), a.State)
		}
		// Exchange checks the state, sends the verifier, and verifies the
		// peer's id_token (RS256, its JWKS, issuer, audience, nonce).
		g, err := ac.Exchange(ctx, a, cb)
		if err != nil {
			t.Fatalf("exchange with the peer: %v", err)
		}
		// Difference 2: without prompt=consent the peer drops offline_access.
		if g.Token.AccessToken == "" || g.Token.RefreshToken != "" {
			t.Errorf("access token %t, refresh token %t; want an access token and no refresh token",
				g.Token.AccessToken != "", g.Token.RefreshToken != "")
		}
		// Difference 4: no SMART launch context from a generic OIDC server.
		if g.Patient != "" || g.FHIRUser != "" {
			t.Errorf("patient %q fhirUser %q, want none from the peer", g.Patient, g.FHIRUser)
		}
		if got := accessTokenScope(t, g.Token.AccessToken); !strings.Contains(" "+got+" ", " user/Patient.read ") {
			t.Errorf("access token scope %q, want user/Patient.read granted", got)
		}
		if err := readPatient(fixedTokens{g.Token}); err != nil {
			t.Errorf("reading through the front with the peer's token: %v", err)
		}
		// Without a refresh token, renewal says "connect again" in words.
		if err := readPatient(ac.Tokens(g.Token, nil)); !errors.Is(err, ErrAuthorization) || !strings.Contains(err.Error(), "no refresh token") {
			t.Errorf("renewing a grant without refresh token: %v, want ErrAuthorization saying there is no refresh token", err)
		}
	})

	t.Run("refresh before expiry, rotation and reuse detection", func(t *testing.T) {
		t.Parallel()
		ac := authCode()
		a, cb := launch(t, ac, true)
		g, err := ac.Exchange(ctx, a, cb)
		if err != nil {
			t.Fatal(err)
		}
		if g.Token.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access and prompt=consent")
		}
		var stored []*oauth2.Token
		tokens := ac.Tokens(g.Token, func(_ context.Context, tok *oauth2.Token) error {
			stored = append(stored, tok)
			return nil
		})
		for i := range 2 {
			if err := readPatient(tokens); err != nil {
				t.Fatalf("read %d with a refreshed token: %v", i+1, err)
			}
		}
		// Difference 3: the peer rotates a public client's refresh token.
		if len(stored) != 2 || stored[0].RefreshToken == g.Token.RefreshToken || stored[1].RefreshToken == stored[0].RefreshToken {
			t.Fatalf("onRotate got %d tokens, want 2, each with a new refresh token", len(stored))
		}
		if _, err := ac.Refresh(ctx, g.Token.RefreshToken); !errors.Is(err, ErrAuthorization) || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("reusing a rotated-out refresh token: %v, want ErrAuthorization (invalid_grant)", err)
		}
		if _, err := ac.Refresh(ctx, stored[1].RefreshToken); !errors.Is(err, ErrAuthorization) {
			t.Errorf("the current refresh token after a reuse: %v, want ErrAuthorization (the peer revoked the grant)", err)
		}
	})

	t.Run("revoked refresh token", func(t *testing.T) {
		t.Parallel()
		ac := authCode()
		a, cb := launch(t, ac, true)
		g, err := ac.Exchange(ctx, a, cb)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.hc.PostForm(e.smart.RevocationEndpoint, url.Values{"token": {g.Token.RefreshToken}, "client_id": {"hp-public"}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("revocation answered %d, want 200", res.StatusCode)
		}
		err = readPatient(ac.Tokens(g.Token, nil))
		if !errors.Is(err, ErrAuthorization) || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("after revocation: %v, want ErrAuthorization (invalid_grant)", err)
		}
		if strings.Contains(err.Error(), g.Token.RefreshToken) || strings.Contains(err.Error(), g.Token.AccessToken) {
			t.Errorf("the error carries a token: %v", err)
		}
	})

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, ac *AuthCode) error
		want error  // errors.Is
		text string // and the message mentions
	}{
		{"wrong PKCE verifier (peer)", func(t *testing.T, ac *AuthCode) error {
			a, cb := launch(t, ac, false)
			a.Verifier = oauth2.GenerateVerifier()
			_, err := ac.Exchange(ctx, a, cb)
			return err
		}, ErrAuthorization, "invalid_grant"},
		{"replayed code (peer)", func(t *testing.T, ac *AuthCode) error {
			a, cb := launch(t, ac, true)
			g, err := ac.Exchange(ctx, a, cb)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ac.Exchange(ctx, a, cb)
			// The peer also revokes what the first exchange issued.
			if _, rerr := ac.Refresh(ctx, g.Token.RefreshToken); !errors.Is(rerr, ErrAuthorization) {
				t.Errorf("after a replayed code the first refresh token still works: %v", rerr)
			}
			return err
		}, ErrAuthorization, "invalid_grant"},
		{"wrong state (client)", func(t *testing.T, ac *AuthCode) error {
			a, cb := launch(t, ac, false)
			cb.Set("state", "forged")
			_, err := ac.Exchange(ctx, a, cb)
			return err
		}, ErrStateMismatch, "state does not match"},
		{"nonce mismatch (client, on the peer's id_token)", func(t *testing.T, ac *AuthCode) error {
			a, cb := launch(t, ac, false)
			a.Nonce = randomString()
			_, err := ac.Exchange(ctx, a, cb)
			return err
		}, nil, "nonce does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.run(t, authCode())
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}

	t.Run("unregistered redirect URI (peer)", func(t *testing.T) {
		t.Parallel()
		ac := authCode()
		ac.RedirectURL = peerRedirectURI + "/other"
		a, err := ac.Start()
		if err != nil {
			t.Fatal(err)
		}
		if status, cb := e.browse(t, a.URL); status != http.StatusBadRequest || cb != nil {
			t.Errorf("got %d with callback %v, want 400 and no redirect", status, cb)
		}
	})

	backend := func(id string, key Key) *Backend {
		return &Backend{ClientID: id, TokenURL: e.smart.TokenEndpoint, Key: key,
			Scopes: []string{"system/Patient.read", "system/Observation.read"}, HTTPClient: e.hc}
	}
	for _, tc := range []struct {
		client string
		key    Key
	}{{"svc-any", rsaKey}, {"svc-any", ecKey}, {"svc-rs", rsaKey}, {"svc-es", ecKey}} {
		t.Run("backend services "+tc.key.Alg+" as "+tc.client, func(t *testing.T) {
			t.Parallel()
			b := backend(tc.client, tc.key)
			tok, err := b.Token(ctx)
			if err != nil {
				t.Fatalf("token with a %s assertion: %v", tc.key.Alg, err)
			}
			if got := accessTokenScope(t, tok.AccessToken); got != "system/Patient.read system/Observation.read" {
				t.Errorf("granted scope %q, want the two system scopes", got)
			}
			if err := readPatient(b.Tokens()); err != nil {
				t.Errorf("reading with a backend token: %v", err)
			}
		})
	}

	t.Run("backend services refusals (peer)", func(t *testing.T) {
		t.Parallel()
		forged := rsaKey
		forged.Signer = otherKey.Signer // claims the registered kid, signed by another key
		expired := backend("svc-any", rsaKey)
		expired.Now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
		for _, tc := range []struct {
			name string
			b    *Backend
			want string
		}{
			{"bad signature", backend("svc-any", forged), "invalid_client"},
			{"unregistered key", backend("svc-any", otherKey), "invalid_client"},
			{"algorithm not registered", backend("svc-rs", ecKey), "invalid_client"},
			{"expired assertion", expired, "invalid_client"},
			{"unknown client", backend("nobody", rsaKey), "invalid_client"},
		} {
			_, err := tc.b.Token(ctx)
			if !errors.Is(err, ErrAuthorization) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want ErrAuthorization (%s)", tc.name, err, tc.want)
			}
		}
		// A scope the resource does not know is dropped, not refused (the
		// sandbox grants any system/ scope asked for): the token comes back
		// without it and the FHIR call it was meant for is forbidden, in
		// words.
		b := backend("svc-any", rsaKey)
		b.Scopes = []string{"system/Patient.read", "system/Appointment.read"}
		tok, err := b.Token(ctx)
		if err != nil {
			t.Fatalf("token with an unknown scope: %v, want the known ones granted", err)
		}
		if got := accessTokenScope(t, tok.AccessToken); got != "system/Patient.read" {
			t.Errorf("granted %q, want system/Patient.read only", got)
		}
		_, err = peerClient(t, e.front.Base, fixedTokens{tok}, e.hc).Search(ctx, "Appointment", nil)
		if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "HTTP 403") {
			t.Errorf("searching without the scope: %v, want ErrForbidden (HTTP 403)", err)
		}
	})

	t.Run("replayed and misaddressed assertions (peer)", func(t *testing.T) {
		t.Parallel()
		now := time.Now()
		claims := func(aud string) jwt.Claims {
			return jwt.Claims{Issuer: "svc-any", Subject: "svc-any", Audience: jwt.Audience{aud}, ID: randomString(),
				IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute))}
		}
		once := signAssertion(t, rsaKey, jose.RS384, rsaKey.KID, claims(e.smart.TokenEndpoint))
		for _, tc := range []struct {
			name, assertion, want string
		}{
			{"first use", once, ""},
			{"replayed jti", once, "invalid_client"},
			{"aud is the FHIR base", signAssertion(t, rsaKey, jose.RS384, rsaKey.KID, claims(e.front.Base)), "invalid_client"},
		} {
			status, body := e.postToken(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/Patient.read"},
				"client_assertion_type": {assertionType}, "client_assertion": {tc.assertion}})
			if tc.want == "" {
				if status != http.StatusOK || body["access_token"] == nil {
					t.Errorf("%s: %d %v, want a token", tc.name, status, body["error"])
				}
				continue
			}
			if status != http.StatusUnauthorized && status != http.StatusBadRequest || body["error"] != tc.want {
				t.Errorf("%s: %d %v (%v), want %s", tc.name, status, body["error"], body["error_description"], tc.want)
			}
		}
	})
}

func (e peerEnv) postToken(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	res, err := e.hc.PostForm(e.smart.TokenEndpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// accessTokenScope reads the scope claim of a JWT access token (unverified:
// the front verifies it when the token is used).
func accessTokenScope(t *testing.T, raw string) string {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("access token is not a JWT: %v", err)
	}
	var c struct {
		Scope string `json:"scope"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c.Scope
}

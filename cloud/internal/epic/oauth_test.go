package epic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"healthprep.dev/cloud/internal/sandbox"
)

func TestBackendServicesFlow(t *testing.T) {
	t.Parallel()
	rsaKey, _, ecKey := testKeys(t)
	for _, key := range []Key{rsaKey, ecKey} {
		t.Run(key.Alg, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			b := e.backend(t, "backend-"+key.Alg, newJWKSServer(t, key), key)
			c := e.client(t, b.Tokens(), RetryPolicy{})
			got, err := c.Search(context.Background(), "Patient", url.Values{"_id": {"bob"}})
			if err != nil {
				t.Fatalf("search with a %s backend token: %v", key.Alg, err)
			}
			if ids := ids(t, got); len(ids) != 1 || ids[0] != "bob" {
				t.Errorf("got %v, want [bob]", ids)
			}
		})
	}
}

func TestBackendAssertionClaims(t *testing.T) {
	t.Parallel()
	rsaKey, _, _ := testKeys(t)
	b := &Backend{ClientID: "c1", TokenURL: "https://epic.example/oauth2/token", Key: rsaKey,
		Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}
	seen := map[string]bool{}
	for range 3 {
		a, err := b.Assertion()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseSigned(a, []jose.SignatureAlgorithm{jose.RS384})
		if err != nil {
			t.Fatal(err)
		}
		var c jwt.Claims
		if err := tok.Claims(rsaKey.Signer.Public(), &c); err != nil {
			t.Fatal(err)
		}
		h := tok.Headers[0]
		if h.KeyID != rsaKey.KID || h.Algorithm != "RS384" || h.ExtraHeaders["typ"] != "JWT" {
			t.Errorf("header kid %q alg %q typ %v, want %q RS384 JWT", h.KeyID, h.Algorithm, h.ExtraHeaders["typ"], rsaKey.KID)
		}
		if c.Issuer != "c1" || c.Subject != "c1" || len(c.Audience) != 1 || c.Audience[0] != b.TokenURL {
			t.Errorf("iss %q sub %q aud %v, want c1 c1 [token URL]", c.Issuer, c.Subject, c.Audience)
		}
		if life := c.Expiry.Time().Sub(c.IssuedAt.Time()); life <= 0 || life > MaxAssertionLifetime {
			t.Errorf("lifetime %s, want (0, 5m]", life)
		}
		if c.ID == "" || seen[c.ID] {
			t.Errorf("jti %q empty or repeated", c.ID)
		}
		seen[c.ID] = true
	}
	b.Lifetime = 6 * time.Minute
	if _, err := b.Assertion(); err == nil || !strings.Contains(err.Error(), "more than 5m0s") {
		t.Errorf("6-minute assertion: error %v, want a refusal", err)
	}
}

// signAssertion builds an assertion by hand, to send ones our Backend never would.
func signAssertion(t *testing.T, key Key, alg jose.SignatureAlgorithm, kid string, claims jwt.Claims) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key.Signer}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSandboxRejectsBadAssertions(t *testing.T) {
	t.Parallel()
	rsaKey, other, _ := testKeys(t)
	e := setup(t)
	e.backend(t, "c1", newJWKSServer(t, rsaKey), rsaKey)
	now := e.clock.Now()
	good := func() jwt.Claims {
		return jwt.Claims{Issuer: "c1", Subject: "c1", Audience: jwt.Audience{e.smart.TokenEndpoint},
			ID: randomString(), Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)), IssuedAt: jwt.NewNumericDate(now)}
	}
	replayed := signAssertion(t, rsaKey, jose.RS384, rsaKey.KID, good())
	for _, tc := range []struct {
		name      string
		assertion string
		want      string
	}{
		{"valid", replayed, ""},
		{"replayed jti", replayed, "jti was already used"},
		{"exp too far", signAssertion(t, rsaKey, jose.RS384, rsaKey.KID, func() jwt.Claims {
			c := good()
			c.Expiry = jwt.NewNumericDate(now.Add(10 * time.Minute))
			return c
		}()), "more than 5 minutes"},
		{"expired", signAssertion(t, rsaKey, jose.RS384, rsaKey.KID, func() jwt.Claims {
			c := good()
			c.IssuedAt, c.Expiry = jwt.NewNumericDate(now.Add(-10*time.Minute)), jwt.NewNumericDate(now.Add(-6*time.Minute))
			return c
		}()), "expired"},
		{"wrong aud", signAssertion(t, rsaKey, jose.RS384, rsaKey.KID, func() jwt.Claims {
			c := good()
			c.Audience = jwt.Audience{e.srv.FHIRBase()}
			return c
		}()), "invalid audience"},
		{"no jti", signAssertion(t, rsaKey, jose.RS384, rsaKey.KID, func() jwt.Claims {
			c := good()
			c.ID = ""
			return c
		}()), "needs jti"},
		{"no kid", signAssertion(t, rsaKey, jose.RS384, "", good()), "needs a kid"},
		{"unknown kid", signAssertion(t, other, jose.RS384, other.KID, good()), "no key with that kid"},
		{"signed by another key", signAssertion(t, other, jose.RS384, rsaKey.KID, good()), "signature does not verify"},
		{"RS256", signAssertion(t, rsaKey, jose.RS256, rsaKey.KID, good()), "RS384 or ES384"},
		{"sub differs", signAssertion(t, rsaKey, jose.RS384, rsaKey.KID, func() jwt.Claims {
			c := good()
			c.Subject = "someone"
			return c
		}()), "invalid subject"},
	} {
		// Sequential: "replayed jti" relies on "valid" having run first.
		res, err := e.hc.PostForm(e.smart.TokenEndpoint, url.Values{
			"grant_type": {"client_credentials"}, "scope": {"system/*.read"},
			"client_assertion_type": {assertionType}, "client_assertion": {tc.assertion},
		})
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if tc.want == "" {
			if res.StatusCode != 200 || body["access_token"] == nil {
				t.Errorf("%s: got %d %v, want a token", tc.name, res.StatusCode, body)
			}
			continue
		}
		desc, _ := body["error_description"].(string)
		if res.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.Contains(desc, tc.want) {
			t.Errorf("%s: got %d %v, want 401 invalid_client mentioning %q", tc.name, res.StatusCode, body, tc.want)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey, _ := testKeys(t)
	e := setup(t)
	jwks := newJWKSServer(t, oldKey, newKey) // both published during rotation
	withOld := e.backend(t, "rotating", jwks, oldKey)
	withNew := *withOld
	withNew.Key = newKey
	ctx := context.Background()
	for _, b := range []*Backend{withOld, &withNew} {
		if _, err := b.Token(ctx); err != nil {
			t.Errorf("during rotation, a token signed with %s: %v, want accepted", b.Key.Name, err)
		}
	}
	// The old key retires; once the server's cached copy ages out its
	// assertions are refused and the new key keeps working.
	jwks.Set(newKey)
	e.clock.Advance(6 * time.Minute)
	if _, err := withOld.Token(ctx); !errors.Is(err, ErrAuthorization) || !strings.Contains(err.Error(), "no key with that kid") {
		t.Errorf("after the old key was removed: %v, want an authorization error naming the unknown kid", err)
	}
	if _, err := withNew.Token(ctx); err != nil {
		t.Errorf("new key after rotation: %v", err)
	}
}

func TestAuthCodeFlow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ac := e.authCode(t, "openid", "fhirUser", "launch/patient", "offline_access", "user/*.read")
	a, err := ac.Start()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(a.URL)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") != a.State ||
		q.Get("nonce") != a.Nonce || a.Nonce == "" || q.Get("aud") != e.srv.FHIRBase() || q.Get("redirect_uri") != redirectURI {
		t.Fatalf("authorization URL query %v lacks PKCE S256, state, nonce, aud or redirect_uri", q)
	}
	status, cb := e.consent(t, a.URL, "allow")
	if status != http.StatusSeeOther || cb.Get("state") != a.State || cb.Get("code") == "" {
		t.Fatalf("consent: %d %v, want 303 back with the state and a code", status, cb)
	}
	g, err := ac.Exchange(context.Background(), a, cb)
	if err != nil {
		t.Fatal(err)
	}
	if g.Token.AccessToken == "" || g.Token.RefreshToken == "" || g.Patient == "" || !strings.HasSuffix(g.FHIRUser, "/Practitioner/sandbox-practitioner") {
		t.Errorf("grant: access %t refresh %t patient %q fhirUser %q", g.Token.AccessToken != "", g.Token.RefreshToken != "", g.Patient, g.FHIRUser)
	}
	c := e.client(t, ac.Tokens(g.Token, nil), RetryPolicy{})
	if _, err := c.Read(context.Background(), "Patient", g.Patient); err != nil {
		t.Errorf("reading the launch patient: %v", err)
	}
}

func TestAuthCodeRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e env, ac *AuthCode) error
		want error  // errors.Is
		text string // and the message mentions
	}{
		{"wrong state", func(t *testing.T, e env, ac *AuthCode) error {
			a, _ := ac.Start()
			_, cb := e.consent(t, a.URL, "allow")
			cb.Set("state", "forged")
			_, err := ac.Exchange(ctx, a, cb)
			return err
		}, ErrStateMismatch, "state does not match"},
		{"denied", func(t *testing.T, e env, ac *AuthCode) error {
			a, _ := ac.Start()
			_, cb := e.consent(t, a.URL, "deny")
			_, err := ac.Exchange(ctx, a, cb)
			return err
		}, ErrDenied, "access_denied"},
		{"bad PKCE verifier", func(t *testing.T, e env, ac *AuthCode) error {
			a, _ := ac.Start()
			_, cb := e.consent(t, a.URL, "allow")
			a.Verifier = oauth2.GenerateVerifier()
			_, err := ac.Exchange(ctx, a, cb)
			return err
		}, ErrAuthorization, "code_verifier does not match"},
		{"expired code", func(t *testing.T, e env, ac *AuthCode) error {
			a, _ := ac.Start()
			_, cb := e.consent(t, a.URL, "allow")
			e.clock.Advance(2 * time.Minute)
			_, err := ac.Exchange(ctx, a, cb)
			return err
		}, ErrAuthorization, "authorization code expired"},
		{"replayed code", func(t *testing.T, e env, ac *AuthCode) error {
			a, _ := ac.Start()
			_, cb := e.consent(t, a.URL, "allow")
			g, err := ac.Exchange(ctx, a, cb)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ac.Exchange(ctx, a, cb)
			// The replay also revokes what the first exchange issued.
			c := e.client(t, ac.Tokens(g.Token, nil), RetryPolicy{})
			if _, rerr := c.Read(ctx, "Patient", "bob"); !errors.Is(rerr, ErrAuthorization) {
				t.Errorf("after a replayed code, the first token still works: %v", rerr)
			}
			return err
		}, ErrAuthorization, "authorization code already used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			err := tc.run(t, e, e.authCode(t, "user/*.read", "offline_access"))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestAuthorizeRequestValidation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ac := e.authCode(t, "user/*.read")
	a, _ := ac.Start()
	for _, tc := range []struct {
		name   string
		change func(q url.Values)
		status int
		errTxt string // error in the redirect, when redirected
	}{
		{"redirect URI not registered", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9/other") }, 400, ""},
		{"redirect URI prefix", func(q url.Values) { q.Set("redirect_uri", redirectURI+"/x") }, 400, ""},
		{"unknown client", func(q url.Values) { q.Set("client_id", "nobody") }, 400, ""},
		{"no PKCE", func(q url.Values) { q.Del("code_challenge") }, 303, "invalid_request"},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, 303, "invalid_request"},
		{"no state", func(q url.Values) { q.Del("state") }, 303, "invalid_request"},
		{"wrong aud", func(q url.Values) { q.Set("aud", "https://elsewhere/fhir") }, 303, "invalid_request"},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, 303, "unsupported_response_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, _ := url.Parse(a.URL)
			q := u.Query()
			tc.change(q)
			u.RawQuery = q.Encode()
			status, cb := e.consent(t, u.String(), "allow")
			if status != tc.status || cb.Get("error") != tc.errTxt {
				t.Errorf("got %d error %q, want %d %q", status, cb.Get("error"), tc.status, tc.errTxt)
			}
		})
	}
}

func TestExpiredAndRevokedTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("auth code token expires: refreshed and rotated", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		ac := e.authCode(t, "user/*.read", "offline_access")
		a, _ := ac.Start()
		_, cb := e.consent(t, a.URL, "allow")
		g, err := ac.Exchange(ctx, a, cb)
		if err != nil {
			t.Fatal(err)
		}
		var stored []*oauth2.Token
		c := e.client(t, ac.Tokens(g.Token, func(_ context.Context, tok *oauth2.Token) error {
			stored = append(stored, tok)
			return nil
		}), RetryPolicy{})
		e.clock.Advance(61 * time.Minute) // the sandbox now sees the access token as expired
		if _, err := c.Read(ctx, "Patient", "bob"); err != nil {
			t.Fatalf("read after expiry: %v, want a refresh and success", err)
		}
		if len(stored) != 1 || stored[0].RefreshToken == g.Token.RefreshToken {
			t.Fatalf("onRotate got %d tokens, want 1 with a rotated refresh token", len(stored))
		}
		// The rotated-out refresh token is dead, and reusing it kills the family.
		if _, err := ac.Refresh(ctx, g.Token.RefreshToken); !errors.Is(err, ErrAuthorization) {
			t.Errorf("reusing a rotated refresh token: %v, want ErrAuthorization", err)
		}
		e.sb.InjectFault(sandbox.Fault{Kind: sandbox.FaultExpiredToken, Times: 1})
		if _, err := c.Read(ctx, "Patient", "bob"); !errors.Is(err, ErrAuthorization) {
			t.Errorf("after refresh-token reuse: %v, want ErrAuthorization (connect again)", err)
		}
	})
	t.Run("auth code refresh token revoked", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		ac := e.authCode(t, "user/*.read", "offline_access")
		a, _ := ac.Start()
		_, cb := e.consent(t, a.URL, "allow")
		g, err := ac.Exchange(ctx, a, cb)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.hc.PostForm(e.smart.RevocationEndpoint, url.Values{"token": {g.Token.RefreshToken}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		c := e.client(t, ac.Tokens(g.Token, nil), RetryPolicy{})
		_, err = c.Read(ctx, "Patient", "bob")
		if !errors.Is(err, ErrAuthorization) || !strings.Contains(err.Error(), "refresh token revoked") {
			t.Errorf("after revocation: %v, want ErrAuthorization saying the refresh token was revoked", err)
		}
		if strings.Contains(err.Error(), g.Token.AccessToken) || strings.Contains(err.Error(), g.Token.RefreshToken) {
			t.Errorf("error message carries a token: %v", err)
		}
	})
	t.Run("backend token revoked: a new assertion gets a new token", func(t *testing.T) {
		t.Parallel()
		e := setup(t)
		k, _, _ := testKeys(t)
		tokens := e.backend(t, "svc", newJWKSServer(t, k), k).Tokens()
		c := e.client(t, tokens, RetryPolicy{})
		tok, err := tokens.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.sb.Revoke(tok.AccessToken)
		if _, err := c.Read(ctx, "Patient", "bob"); err != nil {
			t.Fatalf("read after revocation: %v, want a new token and success", err)
		}
		if now, _ := tokens.Token(ctx); now.AccessToken == tok.AccessToken {
			t.Error("the revoked token is still cached")
		}
	})
}

func TestDiscoveryRefusesInsecureEndpoints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ base, want string }{
		{"http://epic.example/fhir", "must use https"},
		{"ftp://127.0.0.1/fhir", "must use https"},
		{"/relative", "not an absolute URL"},
	} {
		_, err := Discover(context.Background(), nil, tc.base)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Discover(%q) = %v, want %q", tc.base, err, tc.want)
		}
	}
}

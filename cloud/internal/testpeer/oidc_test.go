package testpeer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
)

const redirectURI = "http://127.0.0.1:1/callback"

// publicJWK is the JWK of an RSA or P-384 public key.
func publicJWK(t *testing.T, kid string, pub crypto.PublicKey) map[string]any {
	t.Helper()
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS384", "use": "sig",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, err := k.Bytes() // 0x04 || X || Y, 48 bytes each for P-384
		if err != nil || len(b) != 97 {
			t.Fatalf("encoding EC key: %v", err)
		}
		x, y := b[1:49], b[49:]
		return map[string]any{"kty": "EC", "kid": kid, "alg": "ES384", "use": "sig", "crv": "P-384", "x": b64(x), "y": b64(y)}
	}
	t.Fatalf("unsupported key %T", pub)
	return nil
}

func TestOIDCBothFlowsAndStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rsaKey, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	backend := func(id, alg string, jwk map[string]any) map[string]any {
		return map[string]any{"client_id": id, "token_endpoint_auth_method": "private_key_jwt",
			"token_endpoint_auth_signing_alg": alg, "jwks": map[string]any{"keys": []any{jwk}},
			"grant_types": []string{"client_credentials"}, "response_types": []string{}, "scope": "system/Patient.read"}
	}
	o := NewOIDC(t, OIDCConfig{Clients: []map[string]any{
		{"client_id": "app", "token_endpoint_auth_method": "none", "redirect_uris": []string{redirectURI},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"}},
		backend("svc-rs", "RS384", publicJWK(t, "rs", &rsaKey.PublicKey)),
		backend("svc-es", "ES384", publicJWK(t, "es", &ecKey.PublicKey)),
	}})

	t.Run("authorization code with PKCE", func(t *testing.T) {
		conf := &oauth2.Config{ClientID: "app", RedirectURL: redirectURI,
			Endpoint: oauth2.Endpoint{AuthURL: o.AuthURL, TokenURL: o.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
			Scopes:   []string{"openid", "offline_access", "launch/patient", "patient/Patient.read"}}
		verifier := oauth2.GenerateVerifier()
		code := authorize(t, conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oauth2.AccessTypeOffline,
			oauth2.SetAuthURLParam("prompt", "consent")))

		if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption("wrong-"+verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("Exchange with a wrong PKCE verifier: err = %v, want invalid_grant", err)
		}
		code = authorize(t, conf.AuthCodeURL("state-456", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")))
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		if tok.RefreshToken == "" {
			t.Error("no refresh token, want one for offline_access")
		}
		checkAccessToken(t, o, tok.AccessToken, "patient/Patient.read")
	})

	for _, c := range []struct {
		id     string
		method jwt.SigningMethod
		key    any
		kid    string
	}{{"svc-rs", jwt.SigningMethodRS384, rsaKey, "rs"}, {"svc-es", jwt.SigningMethodES384, ecKey, "es"}} {
		t.Run("client credentials "+c.method.Alg(), func(t *testing.T) {
			assertion := jwt.NewWithClaims(c.method, jwt.RegisteredClaims{
				Issuer: c.id, Subject: c.id, Audience: jwt.ClaimStrings{o.TokenURL},
				ExpiresAt: jwt.NewNumericDate(time.Now().Add(4 * time.Minute)), ID: randomHex(16),
			})
			assertion.Header["kid"] = c.kid
			signed, err := assertion.SignedString(c.key)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.PostForm(o.TokenURL, url.Values{
				"grant_type":            {"client_credentials"},
				"scope":                 {"system/Patient.read"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {signed},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body struct {
				AccessToken string `json:"access_token"`
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != http.StatusOK || body.AccessToken == "" {
				t.Fatalf("token: status %d error %q (%s), want 200 with an access token", res.StatusCode, body.Error, body.Description)
			}
			checkAccessToken(t, o, body.AccessToken, "system/Patient.read")
		})
	}
	assertStopped(t, o.Process)
}

// authorize follows the authorization redirects (automatic login and
// consent) and returns the code sent to the redirect URI.
func authorize(t *testing.T, authURL string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := client.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirectURI) || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: status %d location %q, want a redirect to %s with a code", res.StatusCode, res.Header.Get("Location"), redirectURI)
	}
	return loc.Query().Get("code")
}

// checkAccessToken checks that tok is a JWT for the peer's resource
// carrying scope.
func checkAccessToken(t *testing.T, o *OIDC, tok, scope string) {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		t.Fatalf("access token is not a JWT: %v", err)
	}
	aud, _ := claims.GetAudience()
	if len(aud) != 1 || aud[0] != o.Resource {
		t.Errorf("access token aud = %v, want [%s]", aud, o.Resource)
	}
	if s, _ := claims["scope"].(string); !strings.Contains(" "+s+" ", " "+scope+" ") {
		t.Errorf("access token scope = %q, want it to include %q", s, scope)
	}
}

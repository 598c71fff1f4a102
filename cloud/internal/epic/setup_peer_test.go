package epic

// The independent proof: the same client that talks to our sandbox runs
// against third-party servers on loopback (package testpeer, installed by
// `make deps`; a missing peer fails the test naming that target):
//
//   - the npm oidc-provider, a certified OpenID Connect implementation, as
//     the authorization server for both SMART flows;
//   - Medplum's FHIR router (in-memory FHIR R4) as the FHIR server.
//
// Neither speaks SMART on its own, so resourceServer below joins them the
// way an Epic instance is laid out: one FHIR base URL that publishes
// <base>/.well-known/smart-configuration naming the authorization server's
// endpoints, and checks the authorization server's access tokens before
// answering FHIR requests. That front is the only code of ours in the path;
// it decides nothing the peers decide (codes, PKCE, refresh, client
// assertions are all checked by oidc-provider; searches by Medplum).
//
// Differences from our sandbox, which the client copes with (each test
// says more where it exercises one):
//
//  1. Discovery: oidc-provider publishes RFC 8414 / OIDC metadata at
//     <issuer>/.well-known/openid-configuration, not SMART configuration at
//     the FHIR base. SMART App Launch 2 reuses the RFC 8414 field names, so
//     the front serves the peer's metadata unchanged plus the SMART-only
//     "capabilities" list; Discover reads it like Epic's.
//  2. offline_access: oidc-provider follows OIDC Core §11 and drops
//     offline_access unless the request says prompt=consent, so our
//     authorization URL (which, like Epic's examples, has no prompt) gets
//     no refresh token; the sandbox and Epic issue one by registration.
//  3. Refresh rotation: oidc-provider rotates a public client's refresh
//     token and revokes the whole grant when a rotated-out one is reused,
//     as the sandbox does.
//  4. Access tokens are RFC 9068 JWTs for one resource (the FHIR base, from
//     the resource-indicator default; the peer ignores SMART's aud
//     parameter). The token response carries no SMART launch context
//     (patient) and the id_token no fhirUser claim.
//  5. Medplum sends no paging links although it honours _count, and a
//     reference search needs "Patient/<id>": a bare id matches nothing
//     (no error). The sandbox pages with next links and takes both forms.
//     Unknown search parameters: the sandbox answers 400, Medplum matches
//     nothing.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"healthprep.dev/cloud/internal/testpeer"
)

// peerFHIRPath is the FHIR base path on the front and on Medplum.
const peerFHIRPath = "/fhir/R4"

// peerRedirectURI is the redirect URI registered with oidc-provider; the
// browser stops there (nothing listens on port 9).
const peerRedirectURI = "http://127.0.0.1:9/epic/oauth/callback"

// peerScopes are the resource scopes oidc-provider grants for the FHIR base.
var peerScopes = []string{
	"launch/patient", "user/Patient.read", "user/Observation.read",
	"system/Patient.read", "system/Observation.read",
}

// resourceServer is the front described in the file comment.
type resourceServer struct {
	srv  *httptest.Server
	Base string // the FHIR base URL clients use
	st   atomic.Pointer[frontState]
}

type frontState struct {
	issuer string
	smart  []byte             // the smart-configuration document
	keys   jose.JSONWebKeySet // the authorization server's signing keys
	proxy  http.Handler       // to Medplum
	calls  *atomic.Int64      // FHIR requests let through
}

// peerEnv is a running oidc-provider, Medplum and the front joining them.
type peerEnv struct {
	oidc  *testpeer.OIDC
	fhir  *testpeer.FHIR
	front *resourceServer
	hc    *http.Client
	smart *SMARTConfiguration
	calls *atomic.Int64
}

// startPeers starts the front, then oidc-provider with the front's FHIR base
// as its resource, then Medplum behind the front, and discovers the SMART
// configuration through the front with the client's Discover.
func startPeers(t *testing.T, ttl time.Duration, clients ...map[string]any) peerEnv {
	t.Helper()
	front := &resourceServer{}
	front.srv = httptest.NewServer(front)
	t.Cleanup(front.srv.Close)
	front.Base = front.srv.URL + peerFHIRPath

	o := testpeer.NewOIDC(t, testpeer.OIDCConfig{
		Clients: clients, Resource: front.Base, ResourceScopes: peerScopes, AccessTokenTTL: ttl,
	})
	f := testpeer.NewFHIR(t)

	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx := context.Background()

	// Serve the peer's own metadata as the SMART configuration (difference 1).
	var meta map[string]any
	if err := getJSON(ctx, hc, o.Issuer+"/.well-known/openid-configuration", &meta); err != nil {
		t.Fatal(err)
	}
	meta["capabilities"] = []string{"launch-standalone", "client-public", "client-confidential-asymmetric",
		"context-standalone-patient", "permission-offline", "permission-user", "sso-openid-connect"}
	smart, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	var keys jose.JSONWebKeySet
	if err := getJSON(ctx, hc, o.JWKSURL, &keys); err != nil {
		t.Fatal(err)
	}
	up, err := url.Parse(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	up.Path = "" // the front and Medplum share the base path
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(up)
		pr.Out.Header.Del("Authorization")
	}}
	calls := new(atomic.Int64)
	front.st.Store(&frontState{issuer: o.Issuer, smart: smart, keys: keys, proxy: proxy, calls: calls})

	sc, err := Discover(ctx, hc, front.Base)
	if err != nil {
		t.Fatalf("discovering through the front: %v", err)
	}
	return peerEnv{oidc: o, fhir: f, front: front, hc: hc, smart: sc, calls: calls}
}

func getJSON(ctx context.Context, hc *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, res.StatusCode)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// ServeHTTP publishes the SMART configuration and lets FHIR requests with a
// valid access token through to Medplum, stripped of the token.
func (rs *resourceServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := rs.st.Load()
	if st == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path == peerFHIRPath+"/.well-known/smart-configuration" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(st.smart)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, peerFHIRPath+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	typ, _, _ := strings.Cut(rest, "/")
	scope, err := st.verify(r.Header.Get("Authorization"), rs.Base)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		outcome(w, http.StatusUnauthorized, "login")
		return
	}
	need := ".read"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		need = ".write"
	}
	if !slices.ContainsFunc(strings.Fields(scope), func(s string) bool {
		_, res, _ := strings.Cut(s, "/")
		return res == typ+need || res == "*"+need
	}) {
		outcome(w, http.StatusForbidden, "forbidden")
		return
	}
	st.calls.Add(1)
	st.proxy.ServeHTTP(w, r)
}

// verify checks an RFC 9068 access token from the authorization server:
// signature against its JWKS, issuer, audience (our FHIR base) and expiry.
func (st *frontState) verify(header, base string) (scope string, err error) {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return "", fmt.Errorf("no bearer token")
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", err
	}
	keys := st.keys.Key(tok.Headers[0].KeyID)
	if len(keys) == 0 {
		return "", fmt.Errorf("unknown kid")
	}
	var c jwt.Claims
	var extra struct {
		Scope string `json:"scope"`
	}
	if err := tok.Claims(keys[0].Key, &c, &extra); err != nil {
		return "", err
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: st.issuer, AnyAudience: jwt.Audience{base}, Time: time.Now()}, 0); err != nil {
		return "", err
	}
	return extra.Scope, nil
}

func outcome(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":%q}]}`, code)
}

// browse plays the user's browser: it opens the authorization URL with a
// cookie jar and follows the peer's redirects (its automatic login and
// consent screens) until the peer sends it to the redirect URI. It returns
// the last status and the callback query (nil when the peer did not
// redirect back, e.g. for an unregistered redirect URI).
func (e peerEnv) browse(t *testing.T, authURL string) (int, url.Values) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	bc := &http.Client{Jar: jar, Transport: e.hc.Transport, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), peerRedirectURI) || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	res, err := bc.Get(authURL)
	if err != nil {
		t.Fatalf("browsing to the authorization URL: %v", err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, peerRedirectURI) {
		return res.StatusCode, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, u.Query()
}

// publicClient is oidc-provider metadata for a SMART standalone launch by a
// public client (PKCE, no secret), as Epic registers it.
func publicClient(id string) map[string]any {
	return map[string]any{"client_id": id, "token_endpoint_auth_method": "none",
		"redirect_uris": []string{peerRedirectURI}, "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}}
}

// backendClient is oidc-provider metadata for SMART Backend Services: the
// peer fetches the client's keys from jwksURL (our JWKSHandler); alg pins
// the assertion algorithm ("" accepts RS384 and ES384).
func backendClient(id, jwksURL, alg string) map[string]any {
	m := map[string]any{"client_id": id, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwksURL,
		"grant_types": []string{"client_credentials"}, "response_types": []string{},
		"scope": "system/Patient.read system/Observation.read"}
	if alg != "" {
		m["token_endpoint_auth_signing_alg"] = alg
	}
	return m
}

// peerClient is a FHIR client for base with no retries.
func peerClient(t *testing.T, base string, tokens TokenSource, hc *http.Client) *Client {
	t.Helper()
	c, err := NewClient(Config{BaseURL: base, Tokens: tokens, HTTPClient: hc, Retry: RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

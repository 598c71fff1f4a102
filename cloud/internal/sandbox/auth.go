package sandbox

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Client is an OAuth client registered with the sandbox, as an app is
// registered with Epic.
type Client struct {
	ID   string
	Name string // shown on the consent page
	// Secret makes the client confidential (client_secret_basic or
	// client_secret_post); empty for a public client.
	Secret string
	// RedirectURIs are matched exactly.
	RedirectURIs []string
	// JWKSURL is where the client publishes its public keys; it enables
	// private_key_jwt authentication and the client_credentials grant.
	JWKSURL string
}

// MaxAssertionLifetime bounds exp - now for a client assertion.
const MaxAssertionLifetime = 5 * time.Minute

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

type grant struct {
	clientID string
	scope    string
	patient  string
	expires  time.Time // zero for refresh tokens (they live until revoked)
	revoked  bool
	refresh  bool
	family   string // tokens from one authorization share a family
}

type pending struct {
	clientID, redirect, scope, state, nonce, challenge string
	expires                                            time.Time
}

type code struct {
	pending
	used   bool
	family string
}

type jwksEntry struct {
	set     jose.JSONWebKeySet
	fetched time.Time
}

type authServer struct {
	s *Sandbox

	mu        sync.Mutex
	clients   map[string]Client
	pendings  map[string]*pending
	codes     map[string]*code
	tokens    map[string]*grant
	jtis      map[string]time.Time // clientID + "\x00" + jti -> exp
	jwksCache map[string]jwksEntry

	idKey *ecdsa.PrivateKey
	idKID string
}

func newAuthServer(s *Sandbox) *authServer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("sandbox: generating the id_token key: " + err.Error()) // crypto/rand cannot fail
	}
	jwk := jose.JSONWebKey{Key: &k.PublicKey}
	tp, _ := jwk.Thumbprint(crypto.SHA256)
	return &authServer{
		s: s, clients: map[string]Client{}, pendings: map[string]*pending{}, codes: map[string]*code{},
		tokens: map[string]*grant{}, jtis: map[string]time.Time{}, jwksCache: map[string]jwksEntry{},
		idKey: k, idKID: base64.RawURLEncoding.EncodeToString(tp),
	}
}

// RegisterClient registers (or replaces) an OAuth client.
func (s *Sandbox) RegisterClient(c Client) error {
	if c.ID == "" {
		return errors.New("registering client: empty client ID")
	}
	for _, u := range c.RedirectURIs {
		if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Fragment != "" {
			return fmt.Errorf("registering client %s: redirect URI %q must be absolute without fragment", c.ID, u)
		}
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	s.auth.clients[c.ID] = c
	return nil
}

// Revoke revokes an access or refresh token (a refresh token takes the whole
// authorization with it), as POST /oauth2/revoke does.
func (s *Sandbox) Revoke(token string) {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revokeLocked(token)
}

func (a *authServer) revokeLocked(token string) {
	g := a.tokens[token]
	if g == nil {
		return
	}
	g.revoked = true
	if g.refresh {
		a.revokeFamilyLocked(g.family)
	}
}

func (a *authServer) revokeFamilyLocked(family string) {
	for _, g := range a.tokens {
		if g.family == family {
			g.revoked = true
		}
	}
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// check validates the request's bearer token; problem is a sentence for the
// client when it is not acceptable.
func (a *authServer) check(r *http.Request) (*grant, string) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return nil, "a bearer token is required"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	g := a.tokens[tok]
	switch {
	case g == nil || g.refresh:
		return nil, "the access token is not valid"
	case g.revoked:
		return nil, "the access token was revoked"
	case !a.s.now().Before(g.expires):
		return nil, "the access token expired"
	}
	cp := *g
	return &cp, ""
}

// allows reports whether the grant's scopes permit the request: SMART v1
// (patient|user|system)/(Type|*).(read|write|*) and v2 (.rs, .cud, ...).
func (g *grant) allows(r *http.Request) bool {
	typ, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/fhir/"), "/")
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	for _, sc := range strings.Fields(g.scope) {
		_, rest, ok := strings.Cut(sc, "/")
		if !ok || !(strings.HasPrefix(sc, "patient/") || strings.HasPrefix(sc, "user/") || strings.HasPrefix(sc, "system/")) {
			continue
		}
		rt, perm, ok := strings.Cut(rest, ".")
		if !ok || (rt != "*" && rt != typ) {
			continue
		}
		switch perm {
		case "*":
			return true
		case "read":
			if !write {
				return true
			}
			continue
		case "write":
			if write {
				return true
			}
			continue
		}
		if (!write && strings.ContainsAny(perm, "rs")) || (write && strings.ContainsAny(perm, "cud")) {
			return true
		}
	}
	return false
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {{.App}}</title></head>
<body>
<h1>HealthPrep FHIR sandbox</h1>
<p><strong>{{.App}}</strong> asks for access: <code>{{.Scope}}</code>.</p>
<p>This sandbox holds synthetic data only and approves automatically.</p>
<form id="consent" method="post" action="authorize">
<input type="hidden" name="request" value="{{.Request}}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<script>document.getElementById("consent").requestSubmit(document.querySelector('button[value="allow"]'));</script>
</body></html>
`))

// authorize serves GET /oauth2/authorize: validates the request and shows the
// automatic consent page.
func (a *authServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.mu.Lock()
	c, ok := a.clients[q.Get("client_id")]
	a.mu.Unlock()
	redirect := q.Get("redirect_uri")
	// Errors about the client or its redirect URI are shown here, never
	// sent to an unverified redirect URI.
	if !ok {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	if !slices.Contains(c.RedirectURIs, redirect) {
		http.Error(w, "redirect_uri does not exactly match a registered redirect URI", http.StatusBadRequest)
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		redirectWith(w, r, redirect, url.Values{"error": {code}, "error_description": {desc}, "state": {state}})
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case state == "":
		fail("invalid_request", "state is required")
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE with code_challenge_method S256 is required")
		return
	case q.Get("aud") != a.s.fhirBase(r):
		fail("invalid_request", "aud must be this server's FHIR base URL")
		return
	}
	id := randomToken()
	a.mu.Lock()
	a.pendings[id] = &pending{
		clientID: c.ID, redirect: redirect, scope: q.Get("scope"), state: state,
		nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), expires: a.s.now().Add(10 * time.Minute),
	}
	a.mu.Unlock()
	name := c.Name
	if name == "" {
		name = c.ID
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = consentPage.Execute(w, map[string]string{"App": name, "Scope": q.Get("scope"), "Request": id})
}

func redirectWith(w http.ResponseWriter, r *http.Request, to string, v url.Values) {
	u, _ := url.Parse(to)
	q := u.Query()
	for k, vs := range v {
		if vs[0] != "" {
			q[k] = vs
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// decide serves the consent form's POST: redirect back with a code (or
// access_denied) and the state.
func (a *authServer) decide(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	p := a.pendings[r.PostForm.Get("request")]
	delete(a.pendings, r.PostForm.Get("request"))
	a.mu.Unlock()
	if p == nil || !a.s.now().Before(p.expires) {
		http.Error(w, "this authorization request is unknown or expired; start again", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		redirectWith(w, r, p.redirect, url.Values{"error": {"access_denied"}, "state": {p.state}})
		return
	}
	c := &code{pending: *p, family: randomToken()}
	c.expires = a.s.now().Add(a.s.cfg.CodeTTL)
	id := randomToken()
	a.mu.Lock()
	a.codes[id] = c
	a.mu.Unlock()
	redirectWith(w, r, p.redirect, url.Values{"code": {id}, "state": {p.state}})
}

type tokenError struct {
	status int
	code   string
	desc   string
}

func (e *tokenError) Error() string { return e.code + ": " + e.desc }

func invalidGrant(desc string) *tokenError {
	return &tokenError{http.StatusBadRequest, "invalid_grant", desc}
}

func invalidClient(desc string) *tokenError {
	return &tokenError{http.StatusUnauthorized, "invalid_client", desc}
}

// token serves POST /oauth2/token.
func (a *authServer) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, &tokenError{http.StatusBadRequest, "invalid_request", "the body must be a form"})
		return
	}
	var resp map[string]any
	var err error
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		resp, err = a.exchangeCode(r)
	case "refresh_token":
		resp, err = a.refresh(r)
	case "client_credentials":
		resp, err = a.clientCredentials(r)
	default:
		err = &tokenError{http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code, refresh_token or client_credentials"}
	}
	if err != nil {
		var te *tokenError
		if !errors.As(err, &te) {
			te = &tokenError{http.StatusInternalServerError, "server_error", "the token could not be issued"}
		}
		a.s.log.Info("sandbox token request refused", "error", te.code, "why", te.desc)
		writeTokenError(w, te)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

func writeTokenError(w http.ResponseWriter, e *tokenError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": e.code, "error_description": e.desc})
}

// authenticate identifies the client of a token request: private_key_jwt,
// client_secret_basic, client_secret_post, or a public client's client_id.
func (a *authServer) authenticate(r *http.Request) (Client, bool, error) {
	f := r.PostForm
	if f.Get("client_assertion_type") != "" || f.Get("client_assertion") != "" {
		if f.Get("client_assertion_type") != assertionType {
			return Client{}, false, invalidClient("client_assertion_type must be " + assertionType)
		}
		c, err := a.verifyAssertion(r.Context(), f.Get("client_assertion"), a.s.root(r)+"/oauth2/token")
		if err != nil {
			return Client{}, false, err
		}
		if id := f.Get("client_id"); id != "" && id != c.ID {
			return Client{}, false, invalidClient("client_id does not match the assertion")
		}
		return c, true, nil
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	a.mu.Lock()
	c, ok := a.clients[id]
	a.mu.Unlock()
	if !ok {
		return Client{}, false, invalidClient("unknown client")
	}
	if c.Secret != "" {
		if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
			return Client{}, false, invalidClient("client authentication failed")
		}
		return c, true, nil
	}
	if c.JWKSURL != "" {
		return Client{}, false, invalidClient("this client must authenticate with private_key_jwt")
	}
	return c, false, nil
}

func (a *authServer) exchangeCode(r *http.Request) (map[string]any, error) {
	c, _, err := a.authenticate(r)
	if err != nil {
		return nil, err
	}
	f := r.PostForm
	a.mu.Lock()
	defer a.mu.Unlock()
	cd := a.codes[f.Get("code")]
	switch {
	case cd == nil:
		return nil, invalidGrant("unknown authorization code")
	case cd.used:
		// A replayed code revokes what the first exchange issued.
		a.revokeFamilyLocked(cd.family)
		return nil, invalidGrant("authorization code already used")
	}
	cd.used = true
	switch {
	case !a.s.now().Before(cd.expires):
		return nil, invalidGrant("authorization code expired")
	case cd.clientID != c.ID:
		return nil, invalidGrant("authorization code was issued to another client")
	case f.Get("redirect_uri") != cd.redirect:
		return nil, invalidGrant("redirect_uri does not match the authorization request")
	case f.Get("code_verifier") == "":
		return nil, invalidGrant("code_verifier is required")
	}
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(cd.challenge)) != 1 {
		return nil, invalidGrant("code_verifier does not match the code_challenge")
	}
	patient := ""
	if slices.Contains(strings.Fields(cd.scope), "launch/patient") {
		patient = a.s.firstPatient()
	}
	resp := a.issueLocked(c.ID, cd.scope, patient, cd.family, true)
	if slices.Contains(strings.Fields(cd.scope), "openid") {
		idt, err := a.idToken(r, c.ID, cd.nonce)
		if err != nil {
			return nil, err
		}
		resp["id_token"] = idt
	}
	return resp, nil
}

func (a *authServer) refresh(r *http.Request) (map[string]any, error) {
	c, _, err := a.authenticate(r)
	if err != nil {
		return nil, err
	}
	rt := r.PostForm.Get("refresh_token")
	a.mu.Lock()
	defer a.mu.Unlock()
	g := a.tokens[rt]
	switch {
	case g == nil || !g.refresh:
		return nil, invalidGrant("unknown refresh token")
	case g.clientID != c.ID:
		return nil, invalidGrant("refresh token was issued to another client")
	case g.revoked:
		// Reuse of a rotated or revoked refresh token revokes the family.
		a.revokeFamilyLocked(g.family)
		return nil, invalidGrant("refresh token revoked")
	}
	g.revoked = true // rotation
	scope := g.scope
	if want := r.PostForm.Get("scope"); want != "" {
		for _, sc := range strings.Fields(want) {
			if !slices.Contains(strings.Fields(g.scope), sc) {
				return nil, &tokenError{http.StatusBadRequest, "invalid_scope", "a refresh cannot widen the scope"}
			}
		}
		scope = want
	}
	return a.issueLocked(c.ID, scope, g.patient, g.family, true), nil
}

func (a *authServer) clientCredentials(r *http.Request) (map[string]any, error) {
	c, strong, err := a.authenticate(r)
	if err != nil {
		return nil, err
	}
	if !strong || c.JWKSURL == "" {
		return nil, &tokenError{http.StatusBadRequest, "unauthorized_client", "client_credentials needs private_key_jwt client authentication"}
	}
	scope := r.PostForm.Get("scope")
	for _, sc := range strings.Fields(scope) {
		if !strings.HasPrefix(sc, "system/") {
			return nil, &tokenError{http.StatusBadRequest, "invalid_scope", "backend services may only ask for system/ scopes"}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.issueLocked(c.ID, scope, "", randomToken(), false), nil
}

func (a *authServer) issueLocked(clientID, scope, patient, family string, withRefresh bool) map[string]any {
	ttl := a.s.cfg.AccessTokenTTL
	at := randomToken()
	a.tokens[at] = &grant{clientID: clientID, scope: scope, patient: patient, expires: a.s.now().Add(ttl), family: family}
	resp := map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": int(ttl / time.Second), "scope": scope,
	}
	if withRefresh {
		rt := randomToken()
		a.tokens[rt] = &grant{clientID: clientID, scope: scope, patient: patient, refresh: true, family: family}
		resp["refresh_token"] = rt
	}
	if patient != "" {
		resp["patient"] = patient
	}
	return resp
}

func (a *authServer) idToken(r *http.Request, clientID, nonce string) (string, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: a.idKey},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", a.idKID))
	if err != nil {
		return "", fmt.Errorf("signing id_token: %w", err)
	}
	now := a.s.now()
	root := a.s.root(r)
	claims := map[string]any{
		"iss": root, "sub": "sandbox-practitioner", "aud": clientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"fhirUser": root + "/fhir/Practitioner/sandbox-practitioner",
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return jwt.Signed(sig).Claims(claims).Serialize()
}

// jwks serves the sandbox's own signing keys (for id_token verification).
func (a *authServer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &a.idKey.PublicKey, KeyID: a.idKID, Algorithm: "ES256", Use: "sig"}}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// revoke serves POST /oauth2/revoke (RFC 7009): always 200.
func (a *authServer) revoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		writeTokenError(w, &tokenError{http.StatusBadRequest, "invalid_request", "the body must be a form"})
		return
	}
	a.s.Revoke(r.PostForm.Get("token"))
	w.WriteHeader(http.StatusOK)
}

// verifyAssertion checks a private_key_jwt client assertion: RS384 or ES384,
// a kid found in the client's JWKS, iss = sub = client, aud = the token URL,
// exp in the future and at most MaxAssertionLifetime away, a jti never seen.
func (a *authServer) verifyAssertion(ctx context.Context, assertion, tokenURL string) (Client, error) {
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS384, jose.ES384})
	if err != nil {
		return Client{}, invalidClient("client_assertion must be a JWT signed with RS384 or ES384")
	}
	kid := tok.Headers[0].KeyID
	if kid == "" {
		return Client{}, invalidClient("client_assertion needs a kid header")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return Client{}, invalidClient("client_assertion claims are unreadable")
	}
	a.mu.Lock()
	c, ok := a.clients[unverified.Issuer]
	a.mu.Unlock()
	if !ok || c.JWKSURL == "" {
		return Client{}, invalidClient("unknown client or no registered JWKS URL")
	}
	key, err := a.clientKey(ctx, c.JWKSURL, kid)
	if err != nil {
		return Client{}, err
	}
	if key.Algorithm != "" && key.Algorithm != tok.Headers[0].Algorithm {
		return Client{}, invalidClient("the key's alg does not match the assertion's")
	}
	var claims jwt.Claims
	if err := tok.Claims(key.Key, &claims); err != nil {
		return Client{}, invalidClient("client_assertion signature does not verify")
	}
	now := a.s.now()
	if err := claims.ValidateWithLeeway(jwt.Expected{
		Issuer: c.ID, Subject: c.ID, AnyAudience: jwt.Audience{tokenURL}, Time: now,
	}, 5*time.Second); err != nil {
		return Client{}, invalidClient("client_assertion rejected: " + err.Error())
	}
	switch {
	case claims.Expiry == nil:
		return Client{}, invalidClient("client_assertion needs exp")
	case claims.Expiry.Time().Sub(now) > MaxAssertionLifetime:
		return Client{}, invalidClient("client_assertion exp is more than 5 minutes away")
	case claims.ID == "":
		return Client{}, invalidClient("client_assertion needs jti")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, exp := range a.jtis {
		if now.After(exp.Add(time.Minute)) {
			delete(a.jtis, k)
		}
	}
	k := c.ID + "\x00" + claims.ID
	if _, seen := a.jtis[k]; seen {
		return Client{}, invalidClient("client_assertion jti was already used")
	}
	a.jtis[k] = claims.Expiry.Time()
	return c, nil
}

// clientKey finds kid in the client's JWKS: the cached copy while it is
// fresh, else (or when kid is unknown) a new fetch.
func (a *authServer) clientKey(ctx context.Context, jwksURL, kid string) (*jose.JSONWebKey, error) {
	a.mu.Lock()
	e, ok := a.jwksCache[jwksURL]
	a.mu.Unlock()
	fresh := ok && a.s.now().Sub(e.fetched) < a.s.cfg.JWKSCacheTTL
	if fresh {
		if ks := e.set.Key(kid); len(ks) > 0 {
			return &ks[0], nil
		}
	}
	set, err := a.fetchJWKS(ctx, jwksURL)
	if err != nil {
		return nil, invalidClient("the client's JWKS could not be fetched")
	}
	a.mu.Lock()
	a.jwksCache[jwksURL] = jwksEntry{set: set, fetched: a.s.now()}
	a.mu.Unlock()
	ks := set.Key(kid)
	if len(ks) == 0 {
		return nil, invalidClient("no key with that kid in the client's JWKS")
	}
	return &ks[0], nil
}

func (a *authServer) fetchJWKS(ctx context.Context, u string) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return set, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.s.cfg.HTTPClient.Do(req)
	if err != nil {
		return set, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return set, fmt.Errorf("JWKS answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return set, err
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return set, err
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			return jose.JSONWebKeySet{}, errors.New("JWKS holds a non-public or invalid key")
		}
	}
	return set, nil
}

// firstPatient returns the first loaded patient's id (the patient a
// standalone launch selects on the consent page).
func (s *Sandbox) firstPatient() string {
	if c := s.store.candidates("Patient", "", false); len(c) > 0 {
		return c[0].id
	}
	return ""
}

// IssueToken mints an access token for scope without any OAuth flow, for
// tests and scripted demos (curl against the sandbox). It expires like any
// other access token.
func (s *Sandbox) IssueToken(scope string) string {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.issueLocked("sandbox-direct", scope, "", randomToken(), false)["access_token"].(string)
}

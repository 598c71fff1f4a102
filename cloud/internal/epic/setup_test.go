package epic

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/sandbox"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// keyPEM makes a PKCS#8 PEM private key: "rsa" (2048) or "ec" (P-384).
func keyPEM(t testing.TB, kind string) string {
	t.Helper()
	var k any
	var err error
	switch kind {
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ec":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ec256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

var (
	keyOnce sync.Once
	keyRSA  string
	keyRSA2 string
	keyEC   string
)

// testKeys returns two RSA keys and one EC key, generated once per test binary.
func testKeys(t testing.TB) (rsa1, rsa2, ec Key) {
	t.Helper()
	keyOnce.Do(func() { keyRSA, keyRSA2, keyEC = keyPEM(t, "rsa"), keyPEM(t, "rsa"), keyPEM(t, "ec") })
	parse := func(name, p string) Key {
		k, err := ParseKey(name, NonProduction, p)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return parse("NP_KEY_A", keyRSA), parse("NP_KEY_B", keyRSA2), parse("NP_KEY_C", keyEC)
}

// jwksServer publishes a changeable JWKS on loopback, as our cloud core does.
type jwksServer struct {
	URL  string
	keys atomic.Pointer[[]Key]
}

func newJWKSServer(t testing.TB, keys ...Key) *jwksServer {
	js := &jwksServer{}
	js.Set(keys...)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := JWKSHandler(Keys{NonProduction: *js.keys.Load()})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	js.URL = srv.URL + "/nonprod/.well-known/jwks.json"
	return js
}

func (js *jwksServer) Set(keys ...Key) { js.keys.Store(&keys) }

type env struct {
	sb    *sandbox.Sandbox
	srv   *sandbox.Server
	clock *fakeClock
	hc    *http.Client // HTTP/2 without TLS
	smart *SMARTConfiguration
	waits *[]time.Duration
}

const redirectURI = "http://127.0.0.1:9/epic/callback"

// setup starts a sandbox with the sandbox package's fixtures on loopback.
func setup(t testing.TB) env {
	t.Helper()
	clock := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	sb := sandbox.New(sandbox.Config{Now: clock.Now})
	if _, err := sb.LoadDir("../sandbox/testdata/fhir"); err != nil {
		t.Fatal(err)
	}
	srv, err := sandbox.Start(sb, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	smart, err := Discover(context.Background(), hc, srv.FHIRBase())
	if err != nil {
		t.Fatal(err)
	}
	return env{sb: sb, srv: srv, clock: clock, hc: hc, smart: smart, waits: new([]time.Duration)}
}

// backend registers a backend services client using keys and returns its Backend.
func (e env) backend(t testing.TB, id string, jwks *jwksServer, key Key) *Backend {
	t.Helper()
	if err := e.sb.RegisterClient(sandbox.Client{ID: id, JWKSURL: jwks.URL}); err != nil {
		t.Fatal(err)
	}
	return &Backend{ClientID: id, TokenURL: e.smart.TokenEndpoint, Key: key, Scopes: []string{"system/*.read"},
		HTTPClient: e.hc, Now: e.clock.Now}
}

// client returns a FHIR client whose retries record their waits instead of sleeping.
func (e env) client(t testing.TB, tokens TokenSource, retry RetryPolicy) *Client {
	t.Helper()
	var mu sync.Mutex
	c, err := NewClient(Config{BaseURL: e.srv.FHIRBase(), Tokens: tokens, HTTPClient: e.hc, Retry: retry,
		Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			*e.waits = append(*e.waits, d)
			return ctx.Err()
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// authCode registers a public client and returns its AuthCode config.
func (e env) authCode(t testing.TB, scopes ...string) *AuthCode {
	t.Helper()
	if err := e.sb.RegisterClient(sandbox.Client{ID: "healthprep-web", Name: "HealthPrep", RedirectURIs: []string{redirectURI}}); err != nil {
		t.Fatal(err)
	}
	ac := AuthCode{ClientID: "healthprep-web", RedirectURL: redirectURI, Audience: e.srv.FHIRBase(),
		Scopes: scopes, HTTPClient: e.hc, Now: e.clock.Now}.WithDiscovery(e.smart)
	return &ac
}

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// consent plays the browser: opens the authorization URL, submits the
// consent page's form with decision, and returns the callback's query.
func (e env) consent(t testing.TB, authURL, decision string) (int, url.Values) {
	t.Helper()
	nc := &http.Client{Transport: e.hc.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := nc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, callbackQuery(t, res)
	}
	m := requestField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("consent page has no request field:\n%s", page)
	}
	res, err = nc.PostForm(e.srv.URL+"/oauth2/authorize", url.Values{"request": {string(m[1])}, "decision": {decision}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, callbackQuery(t, res)
}

func callbackQuery(t testing.TB, res *http.Response) url.Values {
	loc := res.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// ids returns the ids of raw resources.
func ids(t testing.TB, rs []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		var v struct{ ID string }
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.ID)
	}
	return out
}

// loadObservations adds n observations for patient bob.
func loadObservations(t testing.TB, sb *sandbox.Sandbox, prefix string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		out = append(out, id)
		doc := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","subject":{"reference":"Patient/bob"},"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"effectiveDateTime":"2024-01-01"}`, id)
		if _, err := sb.Load([]byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

package publicpage_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/publicpage"
)

const contact = "epic-review@app.example"

func newHandler(t *testing.T, cfg publicpage.Config) *publicpage.Handler {
	t.Helper()
	if cfg.Contact == "" {
		cfg.Contact = contact
	}
	h, err := publicpage.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestDocumentationContent(t *testing.T) {
	t.Parallel()
	h := newHandler(t, publicpage.Config{BaseURL: "https://app.example", Version: "v1.4.2"})
	res, page := get(t, h, http.MethodGet, "/epic/documentation")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("got %d %q, want 200 text/html", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		// what it does
		"prepares clinic staff for patient visits", "preventive screenings",
		// the URLs to register, built from the base URL
		`<code id="redirect-uri">https://app.example/epic/oauth/callback</code>`,
		`<code id="jwks-url">https://app.example/.well-known/jwks.json</code>`,
		`<code id="nonprod-jwks-url">https://app.example/nonprod/.well-known/jwks.json</code>`,
		"https://app.example/health",
		// flows
		"PKCE (S256)", "<code>state</code>", "<code>nonce</code>", "<code>private_key_jwt</code>", "RS384 or ES384", "RFC 7638",
		// read-only but for optional write-back
		"off unless\nthe organisation turns it on", "read; write optional",
		// our smart-configuration describes a client
		"<code>https://app.example/.well-known/smart-configuration</code> describes the client",
		// data handling
		"encrypted field by field", "row-level security", "hash-chained audit log", "never contain patient data",
		// contact and version
		`<a href="mailto:epic-review@app.example">epic-review@app.example</a>`, `<span id="version">v1.4.2</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	for _, typ := range []string{"Patient", "Appointment", "Encounter", "Condition", "Observation", "Procedure",
		"DiagnosticReport", "DocumentReference", "Binary", "Immunization"} {
		if !strings.Contains(page, "<td><code>"+typ+"</code></td>") {
			t.Errorf("the resource table lacks %s", typ)
		}
	}
	for _, sc := range publicpage.DefaultScopes {
		if !strings.Contains(page, "<li><code>"+sc+"</code></li>") {
			t.Errorf("the scope list lacks %s", sc)
		}
	}
	// The write scope is listed apart, as optional.
	if i, j := strings.Index(page, "Only for write-back"), strings.Index(page, "user/DocumentReference.write"); i < 0 || j < i {
		t.Error("user/DocumentReference.write is not listed under the optional write-back scopes")
	}
}

// The URLs and scopes on the page are the ones the admin screen tells an
// organisation to register (package epicconfig).
func TestDocumentationMatchesRegistration(t *testing.T) {
	t.Parallel()
	reg := epicconfig.New(nil, nil, epicconfig.Options{BaseURL: "https://app.example"}).Registration()
	_, page := get(t, newHandler(t, publicpage.Config{BaseURL: "https://app.example/"}), http.MethodGet, "/epic/documentation")
	for _, u := range []string{reg.RedirectURI, reg.JWKSURL, reg.NonProdJWKSURL} {
		if !strings.Contains(page, ">"+u+"<") {
			t.Errorf("the page lacks %s, which epicconfig tells admins to register", u)
		}
	}
	if !slices.Equal(reg.Scopes, publicpage.DefaultScopes) {
		t.Errorf("publicpage.DefaultScopes = %v, epicconfig registers %v", publicpage.DefaultScopes, reg.Scopes)
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	h := newHandler(t, publicpage.Config{BaseURL: "https://app.example"})
	res, page := get(t, h, http.MethodGet, "/epic/documentation")
	for name, want := range map[string]string{
		"Content-Security-Policy":   h.CSP(),
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "no-referrer",
		"Strict-Transport-Security": "max-age=63072000",
		"Cache-Control":             "public, max-age=300",
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	csp := h.CSP()
	for _, want := range []string{"default-src 'none'", "img-src 'none'", "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q allows more than the one stylesheet", csp)
	}
	// The CSP's hash is the page's one inline stylesheet; nothing else
	// runs or loads.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		t.Fatalf("got %d <style> elements, want 1", len(m))
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("CSP %q does not allow the page's stylesheet (%s)", csp, want)
	}
	for _, bad := range []string{"<script", "<img", "<form", "<iframe", "<link", " style="} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if m := regexp.MustCompile(`(?i)<[^>]*\son[a-z]+=`).FindString(page); m != "" {
		t.Errorf("the page has an event handler attribute: %s", m)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	h := newHandler(t, publicpage.Config{BaseURL: "https://app.example", Version: "v1.4.2"})
	res, body := get(t, h, http.MethodGet, "/health")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("got %d %q %q, want 200 application/json no-store", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["status"] != "ok" || got["version"] != "v1.4.2" {
		t.Errorf("body %s, want exactly status ok and the version", body)
	}
	// Without a configured version it still answers with one.
	_, body = get(t, newHandler(t, publicpage.Config{BaseURL: "https://app.example"}), http.MethodGet, "/health")
	if !regexp.MustCompile(`^\{"status":"ok","version":"[A-Za-z0-9._+-]+"\}$`).MatchString(body) {
		t.Errorf("body %s, want status ok and a build version", body)
	}
}

func TestRoutesAndMethods(t *testing.T) {
	t.Parallel()
	h := newHandler(t, publicpage.Config{BaseURL: "https://host.example/hp/"})
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/hp/epic/documentation", 200, ""},
		{"HEAD", "/hp/epic/documentation", 200, ""},
		{"GET", "/hp/health", 200, ""},
		{"HEAD", "/hp/health", 200, ""},
		{"POST", "/hp/health", 405, "GET, HEAD"},
		{"DELETE", "/hp/epic/documentation", 405, "GET, HEAD"},
		{"GET", "/epic/documentation", 404, ""},
		{"GET", "/hp/epic/documentation/", 404, ""},
		{"GET", "/hp/.well-known/smart-configuration", 200, ""},
		{"POST", "/hp/.well-known/smart-configuration", 405, "GET, HEAD"},
		{"GET", "/.well-known/smart-configuration", 404, ""},
		{"GET", "/hp/", 404, ""},
	} {
		res, body := get(t, h, tc.method, tc.path)
		if res.StatusCode != tc.status || res.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: got %d Allow %q, want %d %q", tc.method, tc.path, res.StatusCode, res.Header.Get("Allow"), tc.status, tc.allow)
		}
		if tc.method == "HEAD" && body != "" {
			t.Errorf("HEAD %s sent a body", tc.path)
		}
	}
	// Loopback http (make run) has no HSTS.
	res, _ := get(t, newHandler(t, publicpage.Config{BaseURL: "http://127.0.0.1:8080"}), "GET", "/health")
	if res.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain http")
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  publicpage.Config
		want string
	}{
		{"no base URL", publicpage.Config{Contact: contact}, "absolute URL"},
		{"relative base URL", publicpage.Config{BaseURL: "/hp", Contact: contact}, "absolute URL"},
		{"http off loopback", publicpage.Config{BaseURL: "http://app.example", Contact: contact}, "must use https"},
		{"other scheme", publicpage.Config{BaseURL: "ftp://app.example", Contact: contact}, "must use https"},
		{"query", publicpage.Config{BaseURL: "https://app.example/?x=1", Contact: contact}, "without user, query or fragment"},
		{"credentials", publicpage.Config{BaseURL: "https://user:pw@app.example", Contact: contact}, "without user, query or fragment"},
		{"no contact", publicpage.Config{BaseURL: "https://app.example"}, "plain email address"},
		{"contact with a name", publicpage.Config{BaseURL: "https://app.example", Contact: "Review <r@app.example>"}, "plain email address"},
	} {
		_, err := publicpage.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%s: the error repeats the URL's password: %v", tc.name, err)
		}
	}
}

// The page holds only what Config gives it, escaped; nothing else from the
// process (environment keys, DSNs) can reach it.
func TestNoSecretsAndEscaping(t *testing.T) {
	t.Setenv("P_KEY_TEST", "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----")
	t.Setenv("HP_DATABASE_URL", "postgres://app:hunter2@db/healthprep")
	h := newHandler(t, publicpage.Config{BaseURL: "https://app.example", AppName: `Prep<script>alert(1)</script>`, Version: "v1"})
	_, page := get(t, h, http.MethodGet, "/epic/documentation")
	_, health := get(t, h, http.MethodGet, "/health")
	for _, body := range []string{page, health} {
		for _, secret := range []string{"PRIVATE KEY", "MIIEvQ", "hunter2", "postgres://"} {
			if strings.Contains(body, secret) {
				t.Errorf("a public page contains %q", secret)
			}
		}
	}
	if strings.Contains(strings.ToLower(health), "database") || strings.Contains(strings.ToLower(health), "db") {
		t.Errorf("/health talks about the database: %s", health)
	}
	if strings.Contains(page, "<script>") || !strings.Contains(page, "Prep&lt;script&gt;") {
		t.Error("the app name was not escaped")
	}
}

// TestSmartConfiguration checks the client self-description matches what
// epicconfig tells admins to register, and says it is a client's.
func TestSmartConfiguration(t *testing.T) {
	t.Parallel()
	reg := epicconfig.New(nil, nil, epicconfig.Options{BaseURL: "https://app.example"}).Registration()
	res, body := get(t, newHandler(t, publicpage.Config{BaseURL: "https://app.example"}), http.MethodGet, "/.well-known/smart-configuration")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q, want 200 application/json", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var got struct {
		Role      string   `json:"healthprep_role"`
		Redirects []string `json:"redirect_uris"`
		JWKS      string   `json:"jwks_uri"`
		NonProd   string   `json:"nonproduction_jwks_uri"`
		Scopes    []string `json:"scopes_supported"`
		Algs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	if got.Role != "client" {
		t.Errorf("healthprep_role = %q, want client", got.Role)
	}
	if !slices.Equal(got.Redirects, []string{reg.RedirectURI}) || got.JWKS != reg.JWKSURL || got.NonProd != reg.NonProdJWKSURL {
		t.Errorf("redirects %v, jwks %q, nonprod %q; want %s, %s, %s", got.Redirects, got.JWKS, got.NonProd, reg.RedirectURI, reg.JWKSURL, reg.NonProdJWKSURL)
	}
	if !slices.Equal(got.Scopes, reg.Scopes) || !slices.Equal(got.Algs, []string{"RS384", "ES384"}) {
		t.Errorf("scopes %v algs %v; want %v and RS384, ES384", got.Scopes, got.Algs, reg.Scopes)
	}
}

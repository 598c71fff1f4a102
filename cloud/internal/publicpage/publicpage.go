// Package publicpage serves HealthPrep's public, unauthenticated pages:
// /epic/documentation, the page Epic's reviewers read before they approve
// the app (what it does, which FHIR resources and scopes it uses, the SMART
// flows, the redirect URI and JWKS URLs to register, and how data is
// handled), and /health, a liveness answer for load balancers.
//
// Both are rendered once, when the handler is built, from Config: they hold
// nothing per request, nothing from the database and no secret. The page is
// an embedded html/template with its stylesheet inline, no JavaScript, no
// images and no forms; its Content-Security-Policy allows exactly that one
// stylesheet (by hash) and nothing else.
//
// It also serves /.well-known/smart-configuration. HealthPrep is not a
// SMART authorization server (it is a client of each organisation's Epic,
// whose own <FHIR base>/.well-known/smart-configuration it reads), so this
// document describes the client instead, in SMART's vocabulary: the
// redirect URI, the JWKS URLs, the grant types and client authentication it
// uses and the scopes it asks for — what an Epic administrator registers.
// It carries "healthprep_role": "client" so no one mistakes it for an
// authorization server's.
//
// # Mounting
//
// The handler serves <path of BaseURL>/epic/documentation and
// <path of BaseURL>/health and answers 404 elsewhere; it needs no
// StripPrefix. With BaseURL https://app.example:
//
//	pub, err := publicpage.New(publicpage.Config{BaseURL: cfg.BaseURL, Contact: "epic@app.example"})
//	mux.Handle("GET /epic/documentation", pub)
//	mux.Handle("GET /health", pub)
//	mux.Handle("GET /.well-known/smart-configuration", pub)
package publicpage

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
)

// Paths of our endpoints under the base URL. They match package
// epicconfig's redirect URI and JWKS URLs and epic.JWKSHandler's routes.
const (
	DocumentationPath = "/epic/documentation"
	HealthPath        = "/health"
	SmartConfigPath   = "/.well-known/smart-configuration"
	CallbackPath      = "/epic/oauth/callback"
	JWKSPath          = "/.well-known/jwks.json"
	NonProdJWKSPath   = "/nonprod/.well-known/jwks.json"
)

// DefaultScopes are the SMART scopes the page lists when Config.Scopes is
// nil: the same set "Connect to Epic" asks for (epicconfig.DefaultScopes).
var DefaultScopes = []string{
	"openid", "fhirUser", "offline_access",
	"user/Patient.read", "user/Appointment.read", "user/Encounter.read", "user/Condition.read",
	"user/Observation.read", "user/Procedure.read", "user/DiagnosticReport.read",
	"user/DocumentReference.read", "user/Binary.read", "user/Immunization.read", "user/DocumentReference.write",
}

// Config is what the pages show.
type Config struct {
	// BaseURL is where our public endpoints are served: an absolute https
	// URL (http only on loopback), without query or fragment, e.g.
	// "https://app.example". Every URL on the page is built from it.
	BaseURL string
	// Contact is the email address reviewers and clinics write to.
	Contact string
	// Version is shown on the page and in /health; empty: the module
	// version or VCS revision from the build information, else "dev".
	Version string
	// AppName and AppDescription default to HealthPrep's.
	AppName, AppDescription string
	// Scopes default to DefaultScopes.
	Scopes []string
}

// cspFormat is the documentation page's Content-Security-Policy around the
// hash of its inline stylesheet (see Handler.CSP).
const cspFormat = "default-src 'none'; style-src '%s'; img-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

//go:embed templates/documentation.html templates/style.css
var files embed.FS

// Handler serves the public pages.
type Handler struct {
	prefix string
	csp    string
	page   []byte
	health []byte
	smart  []byte
	https  bool
}

// resource is one FHIR resource type the app uses.
type resource struct {
	Type, Use string
}

var resources = []resource{
	{"Patient", "Demographics of the patients on the schedule: name, birth date, sex, MRN, to identify them on the prep sheet."},
	{"Appointment", "The schedule: today and the next 14 days (configurable), which patients to prepare for."},
	{"Encounter", "Recent visits and hospital stays, for the lookback sections."},
	{"Condition", "Problems and diagnoses that decide which screenings apply."},
	{"Observation", "Labs and vitals (e.g. HbA1c, lipids, blood pressure, BMI) as screening evidence."},
	{"Procedure", "Completed screenings such as colonoscopy or mammography."},
	{"DiagnosticReport", "Imaging and lab reports and their dates."},
	{"DocumentReference", "Consult notes and hospital documents; with write-back on, the finalised prep sheet."},
	{"Binary", "The content of those documents."},
	{"Immunization", "Vaccines given, for immunisation screenings."},
}

// New checks cfg and renders the pages.
func New(cfg Config) (*Handler, error) {
	base, err := checkBase(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("building public pages: %w", err)
	}
	if a, err := mail.ParseAddress(cfg.Contact); err != nil || a.Name != "" || a.Address != cfg.Contact {
		return nil, errors.New("building public pages: the contact must be a plain email address")
	}
	if cfg.Version == "" {
		cfg.Version = buildVersion()
	}
	if cfg.AppName == "" {
		cfg.AppName = "HealthPrep"
	}
	if cfg.AppDescription == "" {
		cfg.AppDescription = "HealthPrep prepares clinic staff for patient visits. For every patient on the schedule it builds a " +
			"prep sheet: which preventive screenings are complete, due soon, due or overdue, with the evidence and the date each " +
			"was last done, plus the recent labs, imaging, consults and hospital documents that matter for the visit."
	}
	if cfg.Scopes == nil {
		cfg.Scopes = DefaultScopes
	}
	var read, write []string
	for _, s := range cfg.Scopes {
		if strings.HasSuffix(s, ".write") || strings.HasSuffix(s, ".cud") || strings.HasSuffix(s, ".*") {
			write = append(write, s)
		} else {
			read = append(read, s)
		}
	}

	css, err := files.ReadFile("templates/style.css")
	if err != nil {
		return nil, fmt.Errorf("building public pages: %w", err)
	}
	sum := sha256.Sum256(css)
	h := &Handler{
		prefix: strings.TrimRight(base.Path, "/"),
		csp:    fmt.Sprintf(cspFormat, "sha256-"+base64.StdEncoding.EncodeToString(sum[:])),
		https:  base.Scheme == "https",
	}
	root := strings.TrimRight(base.String(), "/")
	tmpl, err := template.ParseFS(files, "templates/documentation.html")
	if err != nil {
		return nil, fmt.Errorf("building public pages: %w", err)
	}
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, map[string]any{
		"App": cfg.AppName, "Description": cfg.AppDescription, "Version": cfg.Version, "Contact": cfg.Contact,
		"CSS":              template.CSS(css),
		"Resources":        resources,
		"ReadScopes":       read,
		"WriteScopes":      write,
		"RedirectURI":      root + CallbackPath,
		"JWKSURL":          root + JWKSPath,
		"NonProdJWKSURL":   root + NonProdJWKSPath,
		"DocumentationURL": root + DocumentationPath,
		"HealthURL":        root + HealthPath,
		"SmartConfigURL":   root + SmartConfigPath,
	})
	if err != nil {
		return nil, fmt.Errorf("building public pages: rendering: %w", err)
	}
	h.page = buf.Bytes()
	h.smart, err = json.Marshal(map[string]any{
		"healthprep_role":                       "client",
		"client_name":                           cfg.AppName,
		"redirect_uris":                         []string{root + CallbackPath},
		"jwks_uri":                              root + JWKSPath,
		"nonproduction_jwks_uri":                root + NonProdJWKSPath,
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt", "client_secret_basic"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"scopes_supported":  cfg.Scopes,
		"capabilities":      []string{"launch-standalone", "client-confidential-asymmetric", "client-confidential-symmetric", "permission-offline"},
		"documentation_uri": root + DocumentationPath,
	})
	if err != nil {
		return nil, fmt.Errorf("building public pages: %w", err)
	}
	h.health, err = json.Marshal(struct {
		Status  string `json:"status"`
		Version string `json:"version"`
	}{"ok", cfg.Version})
	if err != nil {
		return nil, fmt.Errorf("building public pages: %w", err)
	}
	return h, nil
}

// CSP returns the documentation page's Content-Security-Policy.
func (h *Handler) CSP() string { return h.csp }

func checkBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errors.New("the base URL must be an absolute URL without user, query or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return nil, errors.New("the base URL must use https (http only on loopback)")
		}
	default:
		return nil, errors.New("the base URL must use https (http only on loopback)")
	}
	return u, nil
}

var versionRe = regexp.MustCompile(`^[A-Za-z0-9._+-]{1,64}$`)

// buildVersion reads the binary's version from its build information.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" && versionRe.MatchString(v) {
		return v
	}
	i := slices.IndexFunc(bi.Settings, func(s debug.BuildSetting) bool { return s.Key == "vcs.revision" })
	if i >= 0 && len(bi.Settings[i].Value) >= 12 && versionRe.MatchString(bi.Settings[i].Value) {
		return bi.Settings[i].Value[:12]
	}
	return "dev"
}

// ServeHTTP serves the documentation page and the health answer.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if h.https {
		hd.Set("Strict-Transport-Security", "max-age=63072000")
	}
	var body []byte
	switch r.URL.Path {
	case h.prefix + DocumentationPath:
		hd.Set("Content-Security-Policy", h.csp)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "public, max-age=300")
		hd.Set("Content-Type", "text/html; charset=utf-8")
		body = h.page
	case h.prefix + SmartConfigPath:
		hd.Set("Cache-Control", "public, max-age=300")
		hd.Set("Content-Type", "application/json")
		body = h.smart
	case h.prefix + HealthPath:
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Type", "application/json")
		body = h.health
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Del("Content-Type")
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

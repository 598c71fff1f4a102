package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Sandbox. The zero value works.
type Config struct {
	// PublicURL is the server root as clients see it ("http://127.0.0.1:8090").
	// When empty it is taken from each request's Host.
	PublicURL string
	// Now is the clock (tokens, codes, assertions, JWKS cache, new
	// resources' meta.lastUpdated); nil means time.Now.
	Now func() time.Time
	// AccessTokenTTL is how long access tokens live (default 1 h).
	AccessTokenTTL time.Duration
	// CodeTTL is how long an authorization code can be exchanged (default 60 s).
	CodeTTL time.Duration
	// JWKSCacheTTL is how long a client's fetched JWKS is trusted before it
	// is fetched again (default 5 min). An unknown kid also triggers a fetch.
	JWKSCacheTTL time.Duration
	// HTTPClient fetches clients' JWKS (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Logger receives one line per request problem (never tokens or PHI);
	// nil discards.
	Logger *slog.Logger
}

// Sandbox is an in-memory FHIR R4 + SMART server. Create it with New, load
// data with LoadDir or Load, register OAuth clients, and serve Handler.
type Sandbox struct {
	cfg    Config
	store  *store
	faults faults
	auth   *authServer
	log    *slog.Logger
}

// New returns an empty sandbox.
func New(cfg Config) *Sandbox {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = time.Hour
	}
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = time.Minute
	}
	if cfg.JWKSCacheTTL == 0 {
		cfg.JWKSCacheTTL = 5 * time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Sandbox{cfg: cfg, store: newStore(), log: log}
	s.auth = newAuthServer(s)
	return s
}

func (s *Sandbox) now() time.Time { return s.cfg.Now() }

func (s *Sandbox) root(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Sandbox) fhirBase(r *http.Request) string { return s.root(r) + "/fhir" }

// Handler returns the sandbox's HTTP handler: /fhir/... (FHIR R4),
// /oauth2/... (authorization server), /.well-known/smart-configuration and
// /_sandbox/faults (fault control).
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/metadata", s.metadata)
	mux.HandleFunc("GET /fhir/.well-known/smart-configuration", s.smartConfiguration)
	mux.HandleFunc("GET /.well-known/smart-configuration", s.smartConfiguration)
	mux.Handle("/fhir/", s.fhir())
	mux.HandleFunc("GET /oauth2/authorize", s.auth.authorize)
	mux.HandleFunc("POST /oauth2/authorize", s.auth.decide)
	mux.HandleFunc("POST /oauth2/token", s.auth.token)
	mux.HandleFunc("POST /oauth2/revoke", s.auth.revoke)
	mux.HandleFunc("GET /oauth2/jwks", s.auth.serveJWKS)
	mux.HandleFunc("/_sandbox/faults", s.handleFaults)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

type faultKey struct{}

// fhir wraps the FHIR routes with fault injection and bearer checks.
func (s *Sandbox) fhir() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Binary/{id}", s.binary)
	mux.HandleFunc("GET /fhir/{type}", func(w http.ResponseWriter, r *http.Request) { s.search(w, r, r.PathValue("type")) })
	mux.HandleFunc("GET /fhir/{type}/{id}", s.read)
	mux.HandleFunc("POST /fhir/DocumentReference", s.create)
	mux.HandleFunc("PUT /fhir/DocumentReference/{id}", s.update)
	mux.HandleFunc("/fhir/", func(w http.ResponseWriter, r *http.Request) {
		writeOutcome(w, http.StatusNotFound, "error", "not-supported", "no such FHIR interaction in the sandbox")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, latency, err := s.pickFault(r, strings.TrimPrefix(r.URL.Path, "/fhir"))
		if err != nil {
			writeOutcome(w, http.StatusBadRequest, "error", "invalid", err.Error())
			return
		}
		wait := latency
		if f != nil && f.Kind == FaultSlow {
			wait += f.Delay
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if f != nil {
			switch f.Kind {
			case FaultRateLimit:
				w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
				writeOutcome(w, http.StatusTooManyRequests, "error", "throttled", "too many requests")
				return
			case FaultServerError:
				writeOutcome(w, http.StatusInternalServerError, "fatal", "exception", "injected server error")
				return
			case FaultExpiredToken:
				s.unauthorized(w, "the access token expired")
				return
			}
		}
		tok, problem := s.auth.check(r)
		if problem != "" {
			s.unauthorized(w, problem)
			return
		}
		if !tok.allows(r) {
			writeOutcome(w, http.StatusForbidden, "error", "forbidden", "the token's scopes do not allow this request")
			return
		}
		if f != nil {
			r = r.WithContext(context.WithValue(r.Context(), faultKey{}, f))
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Sandbox) unauthorized(w http.ResponseWriter, why string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="healthprep-sandbox", error="invalid_token", error_description="`+why+`"`)
	writeOutcome(w, http.StatusUnauthorized, "error", "login", why)
}

// writeFHIR writes a FHIR JSON body, spoiling it when the request carries a
// truncation or malformed-JSON fault.
func (s *Sandbox) writeFHIR(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	if f, _ := r.Context().Value(faultKey{}).(*Fault); f != nil {
		switch f.Kind {
		case FaultTruncated:
			body = body[:len(body)/2]
		case FaultMalformed:
			body = []byte(`{"resourceType": "Bundle", "entry": [ <html>Service Unavailable</html>`)
		}
	}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeOutcome writes an OperationOutcome with one issue.
func writeOutcome(w http.ResponseWriter, status int, severity, code, text string) {
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]any{
		"resourceType": "OperationOutcome",
		"issue": []any{map[string]any{
			"severity": severity, "code": code, "details": map[string]any{"text": text},
		}},
	})
}

func (s *Sandbox) read(w http.ResponseWriter, r *http.Request) {
	e := s.store.get(r.PathValue("type"), r.PathValue("id"))
	if e == nil {
		writeOutcome(w, http.StatusNotFound, "error", "not-found", "resource not found")
		return
	}
	w.Header().Set("ETag", `W/"`+strconv.Itoa(e.version)+`"`)
	s.writeFHIR(w, r, http.StatusOK, e.raw)
}

// binary serves Binary content: the Binary resource when the client asks for
// FHIR JSON, the raw bytes with their content type otherwise.
func (s *Sandbox) binary(w http.ResponseWriter, r *http.Request) {
	e := s.store.get("Binary", r.PathValue("id"))
	if e == nil {
		writeOutcome(w, http.StatusNotFound, "error", "not-found", "resource not found")
		return
	}
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "fhir+json") || strings.Contains(accept, "application/json") {
		s.writeFHIR(w, r, http.StatusOK, e.raw)
		return
	}
	var b struct {
		ContentType string `json:"contentType"`
		Data        []byte `json:"data"`
	}
	if err := json.Unmarshal(e.raw, &b); err != nil {
		writeOutcome(w, http.StatusInternalServerError, "error", "exception", "stored Binary is unreadable")
		return
	}
	if b.ContentType == "" {
		b.ContentType = "application/octet-stream"
	}
	w.Header().Set("Content-Type", b.ContentType)
	s.writeFHIR2(w, r, b.Data)
}

// writeFHIR2 writes raw content, honouring body faults like writeFHIR.
func (s *Sandbox) writeFHIR2(w http.ResponseWriter, r *http.Request, body []byte) {
	if f, _ := r.Context().Value(faultKey{}).(*Fault); f != nil && f.Kind == FaultTruncated {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

const maxWriteBody = 20 << 20

// create serves POST DocumentReference (write-back).
func (s *Sandbox) create(w http.ResponseWriter, r *http.Request) {
	obj, ok := s.decodeWrite(w, r, "DocumentReference")
	if !ok {
		return
	}
	if id, _ := obj["id"].(string); id != "" {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "a created resource must not carry an id")
		return
	}
	obj["id"] = newID()
	s.save(w, r, obj, http.StatusCreated)
}

// update serves PUT DocumentReference/{id}: replace, or create with that id.
func (s *Sandbox) update(w http.ResponseWriter, r *http.Request) {
	obj, ok := s.decodeWrite(w, r, "DocumentReference")
	if !ok {
		return
	}
	id := r.PathValue("id")
	if got, _ := obj["id"].(string); got != id {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "the resource id must match the URL")
		return
	}
	status := http.StatusOK
	if s.store.get("DocumentReference", id) == nil {
		status = http.StatusCreated
	}
	if m := r.Header.Get("If-Match"); m != "" {
		cur := s.store.get("DocumentReference", id)
		if cur == nil || m != `W/"`+strconv.Itoa(cur.version)+`"` {
			writeOutcome(w, http.StatusPreconditionFailed, "error", "conflict", "the resource changed since it was read")
			return
		}
	}
	s.save(w, r, obj, status)
}

func (s *Sandbox) decodeWrite(w http.ResponseWriter, r *http.Request, typ string) (map[string]any, bool) {
	var obj map[string]any
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWriteBody))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		writeOutcome(w, http.StatusBadRequest, "error", "structure", "the body is not a JSON resource")
		return nil, false
	}
	if rt, _ := obj["resourceType"].(string); rt != typ {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "resourceType must be "+typ)
		return nil, false
	}
	pid := patientOf(typ, "", obj)
	if pid == "" || s.store.get("Patient", pid) == nil {
		writeOutcome(w, http.StatusUnprocessableEntity, "error", "invalid", "subject must reference a known Patient")
		return nil, false
	}
	if st, _ := obj["status"].(string); !slices.Contains([]string{"current", "superseded", "entered-in-error"}, st) {
		writeOutcome(w, http.StatusUnprocessableEntity, "error", "invalid", "status must be current, superseded or entered-in-error")
		return nil, false
	}
	return obj, true
}

func (s *Sandbox) save(w http.ResponseWriter, r *http.Request, obj map[string]any, status int) {
	if m, ok := obj["meta"].(map[string]any); ok {
		delete(m, "lastUpdated")
		delete(m, "versionId")
	}
	s.store.mu.Lock()
	e, err := s.store.put(obj, s.now(), true)
	s.store.mu.Unlock()
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", "the resource could not be stored")
		return
	}
	w.Header().Set("Location", s.fhirBase(r)+"/"+e.typ+"/"+e.id+"/_history/"+strconv.Itoa(e.version))
	w.Header().Set("ETag", `W/"`+strconv.Itoa(e.version)+`"`)
	s.writeFHIR(w, r, status, e.raw)
}

func (s *Sandbox) metadata(w http.ResponseWriter, r *http.Request) {
	root := s.root(r)
	var resources []any
	types := make([]string, 0, len(searchable)+1)
	for t := range searchable {
		types = append(types, t)
	}
	types = append(types, "Binary")
	slices.Sort(types)
	for _, t := range types {
		inter := []any{map[string]any{"code": "read"}}
		if _, ok := searchable[t]; ok {
			inter = append(inter, map[string]any{"code": "search-type"})
		}
		if t == "DocumentReference" {
			inter = append(inter, map[string]any{"code": "create"}, map[string]any{"code": "update"})
		}
		var params []any
		for _, p := range append([]string{"_id", "_lastUpdated"}, searchable[t]...) {
			params = append(params, map[string]any{"name": p})
		}
		resources = append(resources, map[string]any{"type": t, "interaction": inter, "searchParam": params})
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         "2025-01-01",
		"kind":         "instance",
		"fhirVersion":  "4.0.1",
		"format":       []string{"application/fhir+json"},
		"software":     map[string]any{"name": "HealthPrep FHIR sandbox"},
		"rest": []any{map[string]any{
			"mode": "server",
			"security": map[string]any{
				"service": []any{map[string]any{"coding": []any{map[string]any{
					"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}}}},
				"extension": []any{map[string]any{
					"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
					"extension": []any{
						map[string]any{"url": "authorize", "valueUri": root + "/oauth2/authorize"},
						map[string]any{"url": "token", "valueUri": root + "/oauth2/token"},
						map[string]any{"url": "revoke", "valueUri": root + "/oauth2/revoke"},
					},
				}},
			},
			"resource": resources,
		}},
	}
	body, _ := json.Marshal(cs)
	s.writeFHIR(w, r, http.StatusOK, body)
}

func (s *Sandbox) smartConfiguration(w http.ResponseWriter, r *http.Request) {
	root := s.root(r)
	body, _ := json.Marshal(map[string]any{
		"issuer":                                root,
		"jwks_uri":                              root + "/oauth2/jwks",
		"authorization_endpoint":                root + "/oauth2/authorize",
		"token_endpoint":                        root + "/oauth2/token",
		"revocation_endpoint":                   root + "/oauth2/revoke",
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt", "client_secret_basic", "client_secret_post", "none"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"grant_types_supported":                            []string{"authorization_code", "refresh_token", "client_credentials"},
		"response_types_supported":                         []string{"code"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"scopes_supported": []string{"openid", "fhirUser", "launch/patient", "offline_access",
			"patient/*.read", "user/*.read", "system/*.read", "system/DocumentReference.write", "user/DocumentReference.write"},
		"capabilities": []string{"launch-standalone", "client-public", "client-confidential-symmetric",
			"client-confidential-asymmetric", "context-standalone-patient", "permission-offline",
			"permission-patient", "permission-user", "permission-v1", "sso-openid-connect"},
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}

// Server is a sandbox listening on a loopback port, speaking HTTP/1.1 and
// unencrypted HTTP/2.
type Server struct {
	// URL is the server root ("http://127.0.0.1:PORT"); the FHIR base is
	// URL + "/fhir".
	URL  string
	srv  *http.Server
	done chan error
	once sync.Once
	err  error
}

// FHIRBase returns the FHIR base URL.
func (s *Server) FHIRBase() string { return s.URL + "/fhir" }

// Start serves sb on addr ("127.0.0.1:0" picks a free port) until Close.
func Start(sb *Sandbox, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("starting sandbox: %w", err)
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: sb.Handler(), Protocols: p, ReadHeaderTimeout: 10 * time.Second}
	s := &Server{URL: "http://" + ln.Addr().String(), srv: srv, done: make(chan error, 1)}
	go func() { s.done <- srv.Serve(ln) }()
	return s, nil
}

// Close stops the server and waits for it.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close()
		}
		if err := <-s.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	})
	return s.err
}

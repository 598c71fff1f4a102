// Package epicconfig is each organisation's Epic connection: what its
// administrator registered with Epic (client ID, client secret — write-only
// and sealed with the org's envelope key —, FHIR base URL, environment,
// endpoints discovered from SMART configuration when not given, scopes, the
// FHIR rate limit, write-back settings), what we ask them to register
// (Registration), "Connect to Epic" (Start stores the PKCE verifier and
// state server-side; Callback is the OAuth redirect handler that exchanges
// the code and stores the tokens sealed), and the connection's status in
// words. Every change is audited; no error or log carries a secret or
// token.
package epicconfig

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/tenancy"
)

// Environments.
const (
	Sandbox    = "sandbox"
	Production = "production"
)

// DefaultScopes are asked for when the admin names none.
var DefaultScopes = []string{
	"openid", "fhirUser", "offline_access",
	"user/Patient.read", "user/Appointment.read", "user/Encounter.read", "user/Condition.read",
	"user/Observation.read", "user/Procedure.read", "user/DiagnosticReport.read",
	"user/DocumentReference.read", "user/Binary.read", "user/Immunization.read", "user/DocumentReference.write",
}

// ErrInvalid marks a refused update; the wrapping message names the field
// and what to do, never the value.
var ErrInvalid = errors.New("invalid Epic configuration")

// ErrNotConfigured is returned when an action needs settings the org has
// not entered yet.
var ErrNotConfigured = errors.New("the organisation has not configured Epic")

// ErrNotConnected is returned when the org has no usable Epic tokens.
var ErrNotConnected = errors.New("the organisation is not connected to Epic")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Config is an org's Epic configuration as shown to its admins.
type Config struct {
	ClientID            string
	ClientSecretSet     bool
	FHIRBaseURL         string
	Environment         string
	AuthorizeURL        string
	TokenURL            string
	EndpointsDiscovered bool
	Scopes              []string
	RateLimitPerHour    int
	WritebackEnabled    bool
	WritebackMaxPerDay  int
	WindowDays          int
	// ConnectionMode is how the jobs get tokens: AuthorizationCode (an
	// admin approves in a browser) or BackendServices (our signed JWT).
	ConnectionMode string
	UpdatedAt      time.Time
}

// Update changes some settings; nil fields stay as they are. An empty
// AuthorizeURL/TokenURL means "discover from the FHIR base URL".
type Update struct {
	ClientID           *string
	ClientSecret       *string // write-only; "" clears it
	FHIRBaseURL        *string
	Environment        *string
	AuthorizeURL       *string
	TokenURL           *string
	Scopes             []string // nil: unchanged
	RateLimitPerHour   *int
	WritebackEnabled   *bool
	WritebackMaxPerDay *int
	WindowDays         *int
	ConnectionMode     *string // AuthorizationCode or BackendServices
}

// Actor is who acts, for the audit log.
type Actor struct {
	UserID uuid.UUID
	Role   string
	IP     string
}

// Options configure the Service.
type Options struct {
	// BaseURL is where our public endpoints live ("https://app.example").
	BaseURL string
	// AppName and AppDescription are what Epic reviewers see.
	AppName, AppDescription string
	// HTTPClient talks to Epic (discovery, token endpoint).
	HTTPClient *http.Client
	Now        func() time.Time
	// StateTTL is how long a started "Connect to Epic" stays valid (10 min).
	StateTTL time.Duration
	// SigningKeys sign backend services client assertions (the keys our
	// JWKS endpoints publish, from epic.KeysFromEnviron).
	SigningKeys epic.Keys
}

// Service is the Epic configuration and connection service.
type Service struct {
	db   *tenancy.DB
	keys *envelope.Keys
	opt  Options
}

// New returns a Service.
func New(db *tenancy.DB, keys *envelope.Keys, opt Options) *Service {
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.StateTTL == 0 {
		opt.StateTTL = 10 * time.Minute
	}
	if opt.AppName == "" {
		opt.AppName = "HealthPrep"
	}
	if opt.AppDescription == "" {
		opt.AppDescription = "Prepares clinic staff for patient visits: which preventive screenings are due, with the evidence, " +
			"and the recent labs, imaging, consults and hospital documents. Reads the schedule and the scheduled patients' charts; " +
			"optionally files the finalised prep sheet back as a clinical document."
	}
	opt.BaseURL = strings.TrimSuffix(opt.BaseURL, "/")
	return &Service{db: db, keys: keys, opt: opt}
}

// CallbackPath is where Epic sends the browser back.
const CallbackPath = "/epic/oauth/callback"

// RedirectURL is our OAuth redirect URI.
func (s *Service) RedirectURL() string { return s.opt.BaseURL + CallbackPath }

// Registration is what an admin registers with Epic for our app.
type Registration struct {
	AppName, AppDescription string
	RedirectURI             string
	JWKSURL, NonProdJWKSURL string
	Scopes                  []string
	LaunchTypes             []string
}

// Registration returns what to register with Epic (same for every org).
func (s *Service) Registration() Registration {
	return Registration{
		AppName: s.opt.AppName, AppDescription: s.opt.AppDescription,
		RedirectURI:    s.RedirectURL(),
		JWKSURL:        s.opt.BaseURL + "/.well-known/jwks.json",
		NonProdJWKSURL: s.opt.BaseURL + "/nonprod/.well-known/jwks.json",
		Scopes:         slices.Clone(DefaultScopes),
		LaunchTypes:    []string{"standalone (authorization code + PKCE)", "backend services (client_credentials, private_key_jwt)"},
	}
}

func secretField(org tenancy.OrgID, col string) envelope.Field {
	return envelope.Field{Table: "epic_configs", Column: col, RowID: org.String()}
}

func tokenField(org tenancy.OrgID, col string) envelope.Field {
	return envelope.Field{Table: "epic_connections", Column: col, RowID: org.String()}
}

const configCols = `client_id, client_secret_enc IS NOT NULL, fhir_base_url, environment, authorize_url, token_url,
	endpoints_discovered, scopes, rate_limit_per_hour, writeback_enabled, writeback_max_per_day, window_days, updated_at, connection_mode`

func scanConfig(row pgx.Row) (Config, error) {
	var c Config
	err := row.Scan(&c.ClientID, &c.ClientSecretSet, &c.FHIRBaseURL, &c.Environment, &c.AuthorizeURL, &c.TokenURL,
		&c.EndpointsDiscovered, &c.Scopes, &c.RateLimitPerHour, &c.WritebackEnabled, &c.WritebackMaxPerDay, &c.WindowDays, &c.UpdatedAt, &c.ConnectionMode)
	return c, err
}

func defaults() Config {
	return Config{Environment: Sandbox, Scopes: slices.Clone(DefaultScopes), RateLimitPerHour: 20000, WritebackMaxPerDay: 3, WindowDays: 14,
		ConnectionMode: AuthorizationCode}
}

func getTx(ctx context.Context, tx pgx.Tx, org tenancy.OrgID) (Config, bool, error) {
	c, err := scanConfig(tx.QueryRow(ctx, `SELECT `+configCols+` FROM epic_configs WHERE org_id = $1`, org))
	if errors.Is(err, pgx.ErrNoRows) {
		return defaults(), false, nil
	}
	if err != nil {
		return Config{}, false, fmt.Errorf("reading Epic configuration: %w", err)
	}
	return c, true, nil
}

// Get returns org's configuration (defaults when none was saved). The
// client secret is never returned, only whether it is set.
func (s *Service) Get(ctx context.Context, org tenancy.OrgID) (Config, error) {
	var c Config
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var err error
		c, _, err = getTx(ctx, tx, org)
		return err
	})
	return c, err
}

var (
	clientIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,200}$`)
	scopeRe    = regexp.MustCompile(`^[A-Za-z0-9/._*:-]{1,100}$`)
)

// checkURL accepts https, and http only for a sandbox on loopback.
func checkURL(field, raw, env string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" {
		return invalid("%s must be an absolute URL without credentials or fragment", field)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		loop := host == "localhost" || (ip != nil && ip.IsLoopback())
		if env == Sandbox && loop {
			return nil
		}
		if env == Production {
			return invalid("%s must use https in production", field)
		}
		return invalid("%s must use https (http is allowed only for a sandbox on this machine's loopback address)", field)
	}
	return invalid("%s must be an https URL", field)
}

func (c *Config) apply(u Update) (fields []string, err error) {
	if u.FHIRBaseURL != nil && c.EndpointsDiscovered {
		// Endpoints found from the old base are rediscovered from the new one
		// unless given.
		if u.AuthorizeURL == nil {
			c.AuthorizeURL = ""
		}
		if u.TokenURL == nil {
			c.TokenURL = ""
		}
	}
	set := func(name string, dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
			fields = append(fields, name)
		}
	}
	set("client_id", &c.ClientID, u.ClientID)
	set("fhir_base_url", &c.FHIRBaseURL, u.FHIRBaseURL)
	set("environment", &c.Environment, u.Environment)
	set("authorize_url", &c.AuthorizeURL, u.AuthorizeURL)
	set("token_url", &c.TokenURL, u.TokenURL)
	if u.AuthorizeURL != nil || u.TokenURL != nil || u.FHIRBaseURL != nil {
		c.EndpointsDiscovered = false
	}
	c.FHIRBaseURL = strings.TrimSuffix(c.FHIRBaseURL, "/")
	if u.Scopes != nil {
		c.Scopes = nil
		for _, sc := range u.Scopes {
			if sc = strings.TrimSpace(sc); sc != "" && !slices.Contains(c.Scopes, sc) {
				c.Scopes = append(c.Scopes, sc)
			}
		}
		fields = append(fields, "scopes")
	}
	if u.RateLimitPerHour != nil {
		c.RateLimitPerHour = *u.RateLimitPerHour
		fields = append(fields, "rate_limit_per_hour")
	}
	if u.WritebackEnabled != nil {
		c.WritebackEnabled = *u.WritebackEnabled
		fields = append(fields, "writeback_enabled")
	}
	if u.WritebackMaxPerDay != nil {
		c.WritebackMaxPerDay = *u.WritebackMaxPerDay
		fields = append(fields, "writeback_max_per_day")
	}
	if u.WindowDays != nil {
		c.WindowDays = *u.WindowDays
		fields = append(fields, "window_days")
	}
	if u.ConnectionMode != nil {
		c.ConnectionMode = strings.TrimSpace(*u.ConnectionMode)
		fields = append(fields, "connection_mode")
	}
	if u.ClientSecret != nil {
		fields = append(fields, "client_secret")
	}
	return fields, c.validate(u)
}

func (c *Config) validate(u Update) error {
	if c.Environment != Sandbox && c.Environment != Production {
		return invalid("environment must be sandbox or production")
	}
	if c.ClientID != "" && !clientIDRe.MatchString(c.ClientID) {
		return invalid("client_id must be 1–200 letters, digits and . _ : -")
	}
	if u.ClientSecret != nil && len(*u.ClientSecret) > 4096 {
		return invalid("client_secret must be at most 4096 bytes")
	}
	for _, f := range []struct{ name, v string }{{"fhir_base_url", c.FHIRBaseURL}, {"authorize_url", c.AuthorizeURL}, {"token_url", c.TokenURL}} {
		if f.v == "" {
			continue
		}
		if len(f.v) > 2000 {
			return invalid("%s must be at most 2000 characters", f.name)
		}
		if err := checkURL(f.name, f.v, c.Environment); err != nil {
			return err
		}
	}
	if len(c.Scopes) == 0 || len(c.Scopes) > 60 {
		return invalid("scopes must list 1–60 scopes")
	}
	for _, sc := range c.Scopes {
		if !scopeRe.MatchString(sc) {
			return invalid("scopes must be SMART scopes (letters, digits and / . _ * : -)")
		}
	}
	if c.RateLimitPerHour < 1 || c.RateLimitPerHour > 100_000_000 {
		return invalid("rate_limit_per_hour must be from 1 to 100000000")
	}
	if c.WritebackMaxPerDay < 1 || c.WritebackMaxPerDay > 50 {
		return invalid("writeback_max_per_day must be from 1 to 50")
	}
	if c.WindowDays < 0 || c.WindowDays > 90 {
		return invalid("window_days must be from 0 to 90")
	}
	if c.ConnectionMode != AuthorizationCode && c.ConnectionMode != BackendServices {
		return invalid("connection_mode must be authorization_code or backend_services")
	}
	return nil
}

// Update validates and saves u for org, discovering the authorize and
// token endpoints from <FHIR base>/.well-known/smart-configuration when
// they are not given, and audits the change (field names only).
func (s *Service) Update(ctx context.Context, actor Actor, org tenancy.OrgID, u Update) (Config, error) {
	var c Config
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var err error
		c, _, err = getTx(ctx, tx, org)
		return err
	})
	if err != nil {
		return Config{}, err
	}
	fields, err := c.apply(u)
	if err != nil {
		return Config{}, err
	}
	if c.FHIRBaseURL != "" && (c.AuthorizeURL == "" || c.TokenURL == "") {
		sc, err := epic.Discover(ctx, s.opt.HTTPClient, c.FHIRBaseURL)
		if err != nil {
			return Config{}, invalid("the endpoints could not be discovered from the FHIR base URL (%v); enter the authorize and token URLs", err)
		}
		if c.AuthorizeURL == "" {
			c.AuthorizeURL = sc.AuthorizationEndpoint
		}
		if c.TokenURL == "" {
			c.TokenURL = sc.TokenEndpoint
		}
		c.EndpointsDiscovered = true
		if err := c.validate(Update{}); err != nil {
			return Config{}, fmt.Errorf("discovered endpoints: %w", err)
		}
	}
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO epic_configs (org_id, client_id, fhir_base_url, environment, authorize_url, token_url,
				endpoints_discovered, scopes, rate_limit_per_hour, writeback_enabled, writeback_max_per_day, window_days, updated_at, updated_by,
				connection_mode)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (org_id) DO UPDATE SET client_id = EXCLUDED.client_id, fhir_base_url = EXCLUDED.fhir_base_url,
				environment = EXCLUDED.environment, authorize_url = EXCLUDED.authorize_url, token_url = EXCLUDED.token_url,
				endpoints_discovered = EXCLUDED.endpoints_discovered, scopes = EXCLUDED.scopes,
				rate_limit_per_hour = EXCLUDED.rate_limit_per_hour, writeback_enabled = EXCLUDED.writeback_enabled,
				writeback_max_per_day = EXCLUDED.writeback_max_per_day, window_days = EXCLUDED.window_days,
				updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, connection_mode = EXCLUDED.connection_mode`,
			org, c.ClientID, c.FHIRBaseURL, c.Environment, c.AuthorizeURL, c.TokenURL, c.EndpointsDiscovered, c.Scopes,
			c.RateLimitPerHour, c.WritebackEnabled, c.WritebackMaxPerDay, c.WindowDays, s.opt.Now(), nullUUID(actor.UserID),
			c.ConnectionMode); err != nil {
			return fmt.Errorf("saving Epic configuration: %w", err)
		}
		if u.ClientSecret != nil {
			var enc []byte
			if *u.ClientSecret != "" {
				if enc, err = key.Seal(secretField(org, "client_secret_enc"), []byte(*u.ClientSecret)); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE epic_configs SET client_secret_enc = $2 WHERE org_id = $1`, org, enc); err != nil {
				return fmt.Errorf("saving Epic client secret: %w", err)
			}
		}
		if _, err := audit.Append(ctx, tx, org, audit.Event{
			ActorUserID: actor.UserID, ActorRole: actor.Role, Action: "epic.config.update", Outcome: audit.Success,
			TargetType: "epic_config", TargetID: org.String(), IP: actor.IP,
			Details: map[string]string{"fields": strings.Join(fields, ","), "environment": c.Environment},
		}); err != nil {
			return err
		}
		c, _, err = getTx(ctx, tx, org)
		return err
	})
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

func nullUUID(u uuid.UUID) *uuid.UUID {
	if u == (uuid.UUID{}) {
		return nil
	}
	return &u
}

func stateHash(state string) []byte {
	h := sha256.Sum256([]byte("healthprep epic oauth state\x00" + state))
	return h[:]
}

// authCode builds the colleague-facing OAuth client from a configuration.
func (s *Service) authCode(c Config, secret string) *epic.AuthCode {
	ac := &epic.AuthCode{
		ClientID: c.ClientID, ClientSecret: secret, AuthURL: c.AuthorizeURL, TokenURL: c.TokenURL,
		RedirectURL: s.RedirectURL(), Audience: c.FHIRBaseURL, HTTPClient: s.opt.HTTPClient, Now: s.opt.Now,
	}
	// An id_token is verified only when we know the issuer's keys (from
	// discovery); without them we do not ask for openid.
	for _, sc := range c.Scopes {
		if sc != "openid" && sc != "fhirUser" {
			ac.Scopes = append(ac.Scopes, sc)
		}
	}
	return ac
}

// Start begins "Connect to Epic" for org: it stores the PKCE verifier and
// state (hashed) server-side and returns the URL to send the admin's
// browser to. Audited.
func (s *Service) Start(ctx context.Context, actor Actor, org tenancy.OrgID) (string, error) {
	var authURL string
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		c, ok, err := getTx(ctx, tx, org)
		if err != nil {
			return err
		}
		if !ok || c.ClientID == "" || c.FHIRBaseURL == "" || c.AuthorizeURL == "" || c.TokenURL == "" {
			return fmt.Errorf("%w: enter the client ID and FHIR base URL first", ErrNotConfigured)
		}
		a, err := s.authCode(c, "").Start()
		if err != nil {
			return err
		}
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		id := uuid.New()
		ver, err := key.Seal(envelope.Field{Table: "epic_oauth_states", Column: "verifier_enc", RowID: id.String()}, []byte(a.Verifier))
		if err != nil {
			return err
		}
		now := s.opt.Now()
		if _, err := tx.Exec(ctx, `DELETE FROM epic_oauth_states WHERE org_id = $1 AND expires_at < $2`, org, now); err != nil {
			return fmt.Errorf("clearing old authorizations: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO epic_oauth_states (state_hash, id, org_id, verifier_enc, started_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, stateHash(a.State), id, org, ver, nullUUID(actor.UserID), now, now.Add(s.opt.StateTTL)); err != nil {
			return fmt.Errorf("saving the authorization: %w", err)
		}
		if _, err := audit.Append(ctx, tx, org, audit.Event{
			ActorUserID: actor.UserID, ActorRole: actor.Role, Action: "epic.connect.start", Outcome: audit.Success,
			TargetType: "epic_connection", TargetID: org.String(), IP: actor.IP,
		}); err != nil {
			return err
		}
		authURL = a.URL
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("starting Epic connection: %w", err)
	}
	return authURL, nil
}

// Credentials are what a job needs to call an org's Epic.
type Credentials struct {
	Config       Config
	ClientSecret string
	Token        *oauth2.Token // nil when not connected
}

// Credentials opens org's configuration, secret and tokens (for jobs; never
// for the API).
func (s *Service) Credentials(ctx context.Context, org tenancy.OrgID) (Credentials, error) {
	var cr Credentials
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		c, ok, err := getTx(ctx, tx, org)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotConfigured
		}
		cr.Config = c
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		var secret, access, refresh []byte
		var expiry *time.Time
		var scope string
		if err := tx.QueryRow(ctx, `SELECT client_secret_enc FROM epic_configs WHERE org_id = $1`, org).Scan(&secret); err != nil {
			return fmt.Errorf("reading client secret: %w", err)
		}
		sec, err := key.Open(secretField(org, "client_secret_enc"), secret)
		if err != nil {
			return fmt.Errorf("opening client secret: %w", err)
		}
		cr.ClientSecret = string(sec)
		err = tx.QueryRow(ctx, `SELECT access_token_enc, refresh_token_enc, token_expires_at, scope FROM epic_connections WHERE org_id = $1`, org).
			Scan(&access, &refresh, &expiry, &scope)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && access == nil) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tokens: %w", err)
		}
		at, err := key.Open(tokenField(org, "access_token_enc"), access)
		if err != nil {
			return fmt.Errorf("opening access token: %w", err)
		}
		rt, err := key.Open(tokenField(org, "refresh_token_enc"), refresh)
		if err != nil {
			return fmt.Errorf("opening refresh token: %w", err)
		}
		cr.Token = &oauth2.Token{AccessToken: string(at), RefreshToken: string(rt), TokenType: "Bearer"}
		if expiry != nil {
			cr.Token.Expiry = *expiry
		}
		return nil
	})
	if err != nil {
		return Credentials{}, err
	}
	return cr, nil
}

// AuthCode returns the OAuth client for org's credentials (for the token
// refresh job).
func (s *Service) AuthCode(cr Credentials) *epic.AuthCode {
	return s.authCode(cr.Config, cr.ClientSecret)
}

// SaveToken stores a token for org, sealed (after a code exchange or a
// refresh). A token without a refresh token keeps the stored one.
func (s *Service) SaveToken(ctx context.Context, org tenancy.OrgID, tok *oauth2.Token, connected bool) error {
	return s.db.WithOrg(ctx, org, func(tx pgx.Tx) error { return s.saveToken(ctx, tx, org, tok, connected) })
}

func (s *Service) saveToken(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, tok *oauth2.Token, connected bool) error {
	key, err := s.keys.ForOrg(ctx, tx, org)
	if err != nil {
		return err
	}
	at, err := key.SealString(tokenField(org, "access_token_enc"), tok.AccessToken)
	if err != nil {
		return err
	}
	rt, err := key.SealString(tokenField(org, "refresh_token_enc"), tok.RefreshToken)
	if err != nil {
		return err
	}
	var expiry *time.Time
	if !tok.Expiry.IsZero() {
		e := tok.Expiry.UTC()
		expiry = &e
	}
	scope, _ := tok.Extra("scope").(string)
	now := s.opt.Now()
	_, err = tx.Exec(ctx, `INSERT INTO epic_connections (org_id, access_token_enc, refresh_token_enc, token_expires_at, scope,
			connected_at, refreshed_at, last_error, last_error_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN $7::timestamptz END, $7, '', NULL, $7)
		ON CONFLICT (org_id) DO UPDATE SET access_token_enc = EXCLUDED.access_token_enc,
			refresh_token_enc = coalesce(EXCLUDED.refresh_token_enc, epic_connections.refresh_token_enc),
			token_expires_at = EXCLUDED.token_expires_at,
			scope = CASE WHEN EXCLUDED.scope <> '' THEN EXCLUDED.scope ELSE epic_connections.scope END,
			connected_at = coalesce(EXCLUDED.connected_at, epic_connections.connected_at),
			refreshed_at = EXCLUDED.refreshed_at, last_error = '', last_error_at = NULL, updated_at = EXCLUDED.updated_at`,
		org, at, rt, expiry, truncate(scope, 4000), connected, now)
	if err != nil {
		return fmt.Errorf("saving Epic tokens: %w", err)
	}
	return nil
}

// RecordSync notes a finished ingest (err nil) or its failure in words.
func (s *Service) RecordSync(ctx context.Context, org tenancy.OrgID, syncErr error) error {
	return s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		now := s.opt.Now()
		var err error
		if syncErr == nil {
			_, err = tx.Exec(ctx, `INSERT INTO epic_connections (org_id, last_sync_at, updated_at) VALUES ($1, $2, $2)
				ON CONFLICT (org_id) DO UPDATE SET last_sync_at = $2, updated_at = $2`, org, now)
		} else {
			err = setError(ctx, tx, org, now, "sync failed: "+syncErr.Error())
		}
		return err
	})
}

// RecordError notes a failure in words for the status page and audits it.
func (s *Service) RecordError(ctx context.Context, org tenancy.OrgID, action string, failure error) error {
	return s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		if err := setError(ctx, tx, org, s.opt.Now(), failure.Error()); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, org, audit.Event{
			Action: action, Outcome: audit.Failure, TargetType: "epic_connection", TargetID: org.String(),
			Details: map[string]string{"error": truncate(failure.Error(), 900)},
		})
		return err
	})
}

func setError(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, now time.Time, msg string) error {
	_, err := tx.Exec(ctx, `INSERT INTO epic_connections (org_id, last_error, last_error_at, updated_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (org_id) DO UPDATE SET last_error = $2, last_error_at = $3, updated_at = $3`, org, truncate(msg, 1000), now)
	if err != nil {
		return fmt.Errorf("recording Epic error: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Status is an org's connection as shown to its admins.
type Status struct {
	Configured     bool
	Connected      bool
	TokenExpiresAt time.Time
	ConnectedAt    time.Time
	LastSyncAt     time.Time
	LastError      string
	LastErrorAt    time.Time
}

// Status returns org's connection status.
func (s *Service) Status(ctx context.Context, org tenancy.OrgID) (Status, error) {
	var st Status
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		c, ok, err := getTx(ctx, tx, org)
		if err != nil {
			return err
		}
		st.Configured = ok && c.ClientID != "" && c.FHIRBaseURL != ""
		var expiry, connected, synced, errAt *time.Time
		var hasToken bool
		err = tx.QueryRow(ctx, `SELECT access_token_enc IS NOT NULL, token_expires_at, connected_at, last_sync_at, last_error, last_error_at
			FROM epic_connections WHERE org_id = $1`, org).Scan(&hasToken, &expiry, &connected, &synced, &st.LastError, &errAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading Epic status: %w", err)
		}
		st.Connected = hasToken
		for _, p := range []struct {
			src *time.Time
			dst *time.Time
		}{{expiry, &st.TokenExpiresAt}, {connected, &st.ConnectedAt}, {synced, &st.LastSyncAt}, {errAt, &st.LastErrorAt}} {
			if p.src != nil {
				*p.dst = *p.src
			}
		}
		return nil
	})
	return st, err
}

// ConnectedOrgs lists organisations with Epic tokens and when each token
// expires (for the jobs that enumerate orgs; platform scope).
func (s *Service) ConnectedOrgs(ctx context.Context) (map[tenancy.OrgID]time.Time, error) {
	out := map[tenancy.OrgID]time.Time{}
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT c.org_id, coalesce(c.token_expires_at, now() + interval '100 years')
			FROM epic_connections c JOIN organizations o ON o.id = c.org_id
			WHERE c.access_token_enc IS NOT NULL AND o.status <> 'suspended'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o tenancy.OrgID
			var t time.Time
			if err := rows.Scan(&o, &t); err != nil {
				return err
			}
			out[o] = t
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing connected organisations: %w", err)
	}
	return out, nil
}

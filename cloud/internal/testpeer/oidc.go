package testpeer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// OIDCConfig configures the OAuth 2 / OpenID Connect peer (the npm
// oidc-provider behind node/oidc.mjs).
type OIDCConfig struct {
	// Dir holds the generated configuration and the log.
	Dir string
	// Clients are oidc-provider client metadata, e.g. for a SMART
	// standalone launch:
	//
	//	{"client_id": "app", "token_endpoint_auth_method": "none",
	//	 "redirect_uris": ["http://127.0.0.1:1/cb"],
	//	 "grant_types": ["authorization_code", "refresh_token"],
	//	 "response_types": ["code"]}
	//
	// and for SMART Backend Services:
	//
	//	{"client_id": "svc", "token_endpoint_auth_method": "private_key_jwt",
	//	 "token_endpoint_auth_signing_alg": "RS384", "jwks": {"keys": [...]},
	//	 "grant_types": ["client_credentials"], "response_types": [],
	//	 "scope": "system/Patient.read"}
	//
	// (or "jwks_uri" instead of "jwks").
	Clients []map[string]any
	// Account is the subject the automatic login signs in; "test-user" when
	// empty.
	Account string
	// Resource is the resource indicator and access-token audience (the
	// FHIR base URL); "http://fhir.test/r4" when empty.
	Resource string
	// ResourceScopes are the scopes the resource accepts; SMART scopes for
	// Patient and Observation reads when empty.
	ResourceScopes []string
	// AccessTokenTTL is the access token lifetime; 5 minutes when zero.
	AccessTokenTTL time.Duration
}

// OIDC is a running OAuth 2 / OpenID Connect server. Its authorization
// endpoint logs the configured account in and consents automatically.
type OIDC struct {
	*Process
	// Issuer is the issuer URL; discovery is at
	// Issuer+"/.well-known/openid-configuration".
	Issuer   string
	Account  string
	Resource string
	// Endpoints are the issuer's main endpoints.
	AuthURL, TokenURL, JWKSURL, IntrospectionURL, RevocationURL string
}

// StartOIDC starts the OIDC peer on a free loopback port.
func StartOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	node, script, err := nodeScript("oidc.mjs")
	if err != nil {
		return nil, fmt.Errorf("starting oidc-provider: %w", err)
	}
	if _, _, err := nodeScript("node_modules/oidc-provider/package.json"); err != nil {
		return nil, fmt.Errorf("starting oidc-provider: %w", err)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("starting oidc-provider: OIDCConfig.Dir is empty")
	}
	if cfg.Account == "" {
		cfg.Account = "test-user"
	}
	if cfg.Resource == "" {
		cfg.Resource = "http://fhir.test/r4"
	}
	if len(cfg.ResourceScopes) == 0 {
		cfg.ResourceScopes = []string{"launch/patient", "patient/Patient.read", "patient/Observation.read",
			"system/Patient.read", "system/Observation.read"}
	}
	if cfg.AccessTokenTTL == 0 {
		cfg.AccessTokenTTL = 5 * time.Minute
	}
	if cfg.Clients == nil {
		cfg.Clients = []map[string]any{}
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("starting oidc-provider: %w", err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	confPath := filepath.Join(cfg.Dir, "oidc.json")
	proc, ps, err := startWithPorts(ctx, 1, func(ps []int) (spec, error) {
		conf, err := json.Marshal(map[string]any{
			"issuer":         "http://" + loopback(ps[0]),
			"port":           ps[0],
			"account":        cfg.Account,
			"resource":       cfg.Resource,
			"resourceScopes": cfg.ResourceScopes,
			"accessTokenTTL": int(cfg.AccessTokenTTL / time.Second),
			"clients":        cfg.Clients,
		})
		if err != nil {
			return spec{}, fmt.Errorf("starting oidc-provider: encoding config: %w", err)
		}
		if err := os.WriteFile(confPath, conf, 0o600); err != nil {
			return spec{}, fmt.Errorf("starting oidc-provider: %w", err)
		}
		return spec{
			name:  "oidc-provider",
			path:  node,
			args:  []string{script, confPath},
			dir:   cfg.Dir,
			env:   []string{"NODE_ENV=test"},
			ready: httpReady(client, "http://"+loopback(ps[0])+"/health"),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	issuer := "http://" + loopback(ps[0])
	var disc struct {
		Auth          string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
		JWKS          string `json:"jwks_uri"`
		Introspection string `json:"introspection_endpoint"`
		Revocation    string `json:"revocation_endpoint"`
	}
	if err := getJSON(ctx, client, issuer+"/.well-known/openid-configuration", &disc); err != nil {
		_ = proc.Stop()
		return nil, fmt.Errorf("starting oidc-provider: %w; log tail:\n%s", err, proc.LogTail())
	}
	return &OIDC{
		Process: proc, Issuer: issuer, Account: cfg.Account, Resource: cfg.Resource,
		AuthURL: disc.Auth, TokenURL: disc.Token, JWKSURL: disc.JWKS,
		IntrospectionURL: disc.Introspection, RevocationURL: disc.Revocation,
	}, nil
}

// NewOIDC starts the OIDC peer for a test and stops it when the test ends.
func NewOIDC(t testing.TB, cfg OIDCConfig) *OIDC {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	o, err := StartOIDC(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	cleanup(t, o.Process)
	return o
}

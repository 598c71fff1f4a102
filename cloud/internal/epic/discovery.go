package epic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// SMARTConfiguration is a server's /.well-known/smart-configuration.
type SMARTConfiguration struct {
	Issuer                       string   `json:"issuer"`
	JWKSURI                      string   `json:"jwks_uri"`
	AuthorizationEndpoint        string   `json:"authorization_endpoint"`
	TokenEndpoint                string   `json:"token_endpoint"`
	RevocationEndpoint           string   `json:"revocation_endpoint"`
	TokenEndpointAuthMethods     []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	GrantTypes                   []string `json:"grant_types_supported"`
	Scopes                       []string `json:"scopes_supported"`
	CodeChallengeMethods         []string `json:"code_challenge_methods_supported"`
	Capabilities                 []string `json:"capabilities"`
}

// SupportsPKCE reports whether the server advertises PKCE S256.
func (c *SMARTConfiguration) SupportsPKCE() bool {
	return slices.Contains(c.CodeChallengeMethods, "S256")
}

// Discover fetches <fhirBase>/.well-known/smart-configuration. The token
// endpoint must be present; every endpoint must be https (http is accepted
// only on loopback, for the sandbox).
func Discover(ctx context.Context, hc *http.Client, fhirBase string) (*SMARTConfiguration, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimSuffix(fhirBase, "/") + "/.well-known/smart-configuration"
	if err := checkEndpoint(u); err != nil {
		return nil, fmt.Errorf("discovering SMART configuration: FHIR base URL %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("discovering SMART configuration: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovering SMART configuration: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovering SMART configuration: the server answered HTTP %d", resp.StatusCode)
	}
	var c SMARTConfiguration
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&c); err != nil {
		return nil, fmt.Errorf("discovering SMART configuration: the document is not valid JSON")
	}
	if c.TokenEndpoint == "" {
		return nil, fmt.Errorf("discovering SMART configuration: no token_endpoint")
	}
	for name, e := range map[string]string{
		"token_endpoint": c.TokenEndpoint, "authorization_endpoint": c.AuthorizationEndpoint,
		"jwks_uri": c.JWKSURI, "revocation_endpoint": c.RevocationEndpoint,
	} {
		if e == "" {
			continue
		}
		if err := checkEndpoint(e); err != nil {
			return nil, fmt.Errorf("discovering SMART configuration: %s %w", name, err)
		}
	}
	return &c, nil
}

// checkEndpoint accepts absolute https URLs, and http on loopback.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("must use https")
	}
	return fmt.Errorf("must use https")
}

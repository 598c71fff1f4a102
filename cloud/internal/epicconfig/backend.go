package epicconfig

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/tenancy"
)

// Connection modes: how the jobs get their Epic tokens.
const (
	// AuthorizationCode is the SMART standalone launch: an admin approves
	// in a browser; the jobs refresh with the refresh token.
	AuthorizationCode = "authorization_code"
	// BackendServices is SMART Backend Services: client_credentials with a
	// private_key_jwt assertion signed by one of our published keys; a new
	// token is requested whenever one is needed, with no person involved.
	BackendServices = "backend_services"
)

// ErrConnect wraps a "Connect to Epic" that Epic refused; the message says
// why in words (OAuth error codes, never secrets).
var ErrConnect = errors.New("the Epic server refused the connection")

// ErrNoSigningKey is returned when backend services is chosen but this
// server has no signing key for the organisation's environment.
var ErrNoSigningKey = errors.New("no signing key is configured for this environment (NP_KEY_* for sandbox, P_KEY_* for production)")

// BackendScopes turns configured scopes into backend services scopes:
// user/ and patient/ scopes become system/ scopes, and scopes that only
// mean something with a person (openid, fhirUser, offline_access,
// launch...) are dropped.
func BackendScopes(scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		switch {
		case sc == "openid" || sc == "fhirUser" || sc == "offline_access" || strings.HasPrefix(sc, "launch"):
			continue
		case strings.HasPrefix(sc, "user/"):
			sc = "system/" + strings.TrimPrefix(sc, "user/")
		case strings.HasPrefix(sc, "patient/"):
			sc = "system/" + strings.TrimPrefix(sc, "patient/")
		}
		if !containsString(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// signingKey picks the key that signs for env: the first configured key
// (by name) of that environment. Rotation: add the new key with a name
// that sorts after the current one (NP_KEY_2026B after NP_KEY_2026A), so it
// is published at least epic.JWKSMaxAge before it signs anything, then
// remove the old one.
func (s *Service) signingKey(env string) (epic.Key, error) {
	keys := s.opt.SigningKeys.NonProduction
	if env == Production {
		keys = s.opt.SigningKeys.Production
	}
	if len(keys) == 0 {
		return epic.Key{}, ErrNoSigningKey
	}
	return keys[0], nil
}

// Backend returns the backend services client for org's credentials (for
// the jobs, and for Connect).
func (s *Service) Backend(cr Credentials) (*epic.Backend, error) {
	c := cr.Config
	if c.ClientID == "" || c.TokenURL == "" {
		return nil, fmt.Errorf("%w: enter the client ID and FHIR base URL first", ErrNotConfigured)
	}
	k, err := s.signingKey(c.Environment)
	if err != nil {
		return nil, err
	}
	return &epic.Backend{ClientID: c.ClientID, TokenURL: c.TokenURL, Key: k, Scopes: BackendScopes(c.Scopes),
		HTTPClient: s.opt.HTTPClient, Now: s.opt.Now}, nil
}

// Connection is the outcome of "Connect to Epic".
type Connection struct {
	// AuthorizeURL is where to send the admin's browser (authorization
	// code mode); empty in backend services mode.
	AuthorizeURL string
	// Connected is true when the connection is already made (backend
	// services: the token endpoint accepted our signed assertion).
	Connected bool
}

// Connect is "Connect to Epic" in the org's connection mode: in
// authorization code mode it is Start; in backend services mode it asks
// the token endpoint for a token with a signed assertion right away,
// stores it sealed, and audits the outcome (epic.connect). A refusal is
// recorded in the status and returned wrapping ErrConnect.
func (s *Service) Connect(ctx context.Context, actor Actor, org tenancy.OrgID) (Connection, error) {
	cfg, err := s.Get(ctx, org)
	if err != nil {
		return Connection{}, err
	}
	if cfg.ConnectionMode != BackendServices {
		u, err := s.Start(ctx, actor, org)
		return Connection{AuthorizeURL: u}, err
	}
	cr, err := s.Credentials(ctx, org)
	if err != nil {
		return Connection{}, err
	}
	b, err := s.Backend(cr)
	if err != nil {
		return Connection{}, err
	}
	tok, tokErr := b.Token(ctx)
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		ev := audit.Event{ActorUserID: actor.UserID, ActorRole: actor.Role, Action: "epic.connect", Outcome: audit.Success,
			TargetType: "epic_connection", TargetID: org.String(), IP: actor.IP,
			Details: map[string]string{"mode": BackendServices}}
		if tokErr != nil {
			ev.Outcome = audit.Failure
			ev.Details["error"] = truncate(tokErr.Error(), 900)
			if err := setError(ctx, tx, org, s.opt.Now(), "connect failed: "+tokErr.Error()); err != nil {
				return err
			}
		} else if err := s.saveToken(ctx, tx, org, tok, true); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, org, ev)
		return err
	})
	if err != nil {
		return Connection{}, err
	}
	if tokErr != nil {
		return Connection{}, fmt.Errorf("%w: %w", ErrConnect, tokErr)
	}
	return Connection{Connected: true}, nil
}

package epic

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// MaxAssertionLifetime is the longest a client assertion may live (SMART
// Backend Services: exp no more than five minutes ahead).
const MaxAssertionLifetime = 5 * time.Minute

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Backend gets tokens with SMART Backend Services: the client_credentials
// grant authenticated by a private_key_jwt client assertion.
type Backend struct {
	ClientID string
	TokenURL string
	// Key signs the assertions (RS384 or ES384); its KID goes in the header.
	Key    Key
	Scopes []string // e.g. "system/Patient.read"
	// HTTPClient calls the token endpoint (nil: http.DefaultClient).
	HTTPClient *http.Client
	// Now is the clock for exp and iat (nil: time.Now).
	Now func() time.Time
	// Lifetime of each assertion (default 4 min; at most MaxAssertionLifetime).
	Lifetime time.Duration
}

// Assertion returns a new signed client assertion: iss = sub = ClientID,
// aud = TokenURL, a random jti, exp = now + Lifetime, kid = Key.KID.
func (b *Backend) Assertion() (string, error) {
	if b.Key.Signer == nil {
		return "", fmt.Errorf("signing client assertion: %w", errNoKey)
	}
	life := b.Lifetime
	if life == 0 {
		life = 4 * time.Minute
	}
	if life > MaxAssertionLifetime {
		return "", fmt.Errorf("signing client assertion: lifetime %s is more than %s", life, MaxAssertionLifetime)
	}
	now := time.Now()
	if b.Now != nil {
		now = b.Now()
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(b.Key.Alg), Key: b.Key.Signer},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", b.Key.KID))
	if err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	var jti [18]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	claims := jwt.Claims{
		Issuer:   b.ClientID,
		Subject:  b.ClientID,
		Audience: jwt.Audience{b.TokenURL},
		ID:       base64.RawURLEncoding.EncodeToString(jti[:]),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(life)),
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	return s, nil
}

// Token requests a new access token with a fresh assertion.
func (b *Backend) Token(ctx context.Context) (*oauth2.Token, error) {
	if b.ClientID == "" || b.TokenURL == "" {
		return nil, errors.New("requesting a backend services token: client ID and token URL are required")
	}
	a, err := b.Assertion()
	if err != nil {
		return nil, err
	}
	cc := clientcredentials.Config{
		ClientID:  b.ClientID,
		TokenURL:  b.TokenURL,
		Scopes:    b.Scopes,
		AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{
			"client_assertion_type": {assertionType},
			"client_assertion":      {a},
		},
	}
	tok, err := cc.Token(withClient(ctx, b.HTTPClient))
	if err != nil {
		return nil, tokenError("requesting a backend services token", err)
	}
	if !strings.EqualFold(tok.Type(), "Bearer") {
		return nil, fmt.Errorf("requesting a backend services token: token type %q is not Bearer", tok.TokenType)
	}
	return tok, nil
}

// Tokens returns a cache that calls Token when it needs a new access token.
func (b *Backend) Tokens() *Tokens { return NewTokens(nil, b.Token) }

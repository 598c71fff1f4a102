package epic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// ErrAuthorization is wrapped by errors meaning the organisation must
// connect to Epic again: a refused, revoked or expired grant, or a client
// the server no longer accepts. Retrying will not help.
var ErrAuthorization = errors.New("the Epic authorization is no longer accepted")

// TokenSource is what the FHIR client needs from a token provider: a
// current access token, and a way to say the server rejected one.
type TokenSource interface {
	Token(ctx context.Context) (*oauth2.Token, error)
	// Invalidate drops tok if it is still the current token, so the next
	// Token call fetches a new one.
	Invalidate(tok *oauth2.Token)
}

// Tokens caches one access token and fetches a new one shortly before it
// expires (or after Invalidate). It is safe for concurrent use; concurrent
// callers share one fetch.
type Tokens struct {
	fetch func(ctx context.Context) (*oauth2.Token, error)
	now   func() time.Time
	// Early is how long before expiry a token is renewed (default 60 s).
	early time.Duration

	mu  sync.Mutex
	cur *oauth2.Token
}

// NewTokens returns a cache around fetch, starting with initial (may be nil).
func NewTokens(initial *oauth2.Token, fetch func(ctx context.Context) (*oauth2.Token, error)) *Tokens {
	return &Tokens{fetch: fetch, now: time.Now, early: time.Minute, cur: initial}
}

// Token returns the cached token or fetches a new one.
func (t *Tokens) Token(ctx context.Context) (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil && t.cur.AccessToken != "" && (t.cur.Expiry.IsZero() || t.now().Add(t.early).Before(t.cur.Expiry)) {
		return t.cur, nil
	}
	tok, err := t.fetch(ctx)
	if err != nil {
		return nil, err
	}
	t.cur = tok
	return tok, nil
}

// Invalidate implements TokenSource.
func (t *Tokens) Invalidate(tok *oauth2.Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == tok {
		t.cur = nil
	}
}

// tokenError turns an oauth2 error into one that names the server's OAuth
// error code (never the response body), wrapping ErrAuthorization when
// retrying cannot help.
func tokenError(doing string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		desc := re.ErrorDescription
		if len(desc) > 200 {
			desc = desc[:200]
		}
		switch {
		case re.ErrorCode != "" && desc != "":
			err = fmt.Errorf("the server refused: %s (%s)", re.ErrorCode, desc)
		case re.ErrorCode != "":
			err = fmt.Errorf("the server refused: %s", re.ErrorCode)
		default:
			err = fmt.Errorf("the token endpoint answered HTTP %d", status)
		}
		if re.ErrorCode == "invalid_grant" || re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client" ||
			status == http.StatusUnauthorized {
			err = fmt.Errorf("%w: %w", ErrAuthorization, err)
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// withClient puts hc into ctx for golang.org/x/oauth2.
func withClient(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

package epic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors a FHIR call's *Error wraps; test with errors.Is.
var (
	ErrUnauthorized = errors.New("the FHIR server rejected our access token")
	ErrForbidden    = errors.New("the FHIR server does not allow this request for our scopes")
	ErrNotFound     = errors.New("the FHIR resource does not exist")
	ErrBadRequest   = errors.New("the FHIR server rejected the request")
	ErrRateLimited  = errors.New("the FHIR server kept asking us to slow down")
	ErrServer       = errors.New("the FHIR server kept failing")
	ErrMalformed    = errors.New("the FHIR server sent a response that is not valid FHIR JSON")
	ErrTooLarge     = errors.New("the FHIR response is larger than allowed")
	// ErrIncomplete: the last page of a search had no next link although
	// the Bundle's total promised more matches than were sent (a server
	// that honours _count but does not page). The pages already delivered
	// are good; the search as a whole is not complete, so a caller must not
	// advance its _lastUpdated watermark.
	ErrIncomplete = errors.New("the FHIR server cut the search short: fewer results than its total and no next link")
)

// Error is a failed FHIR call. Its message names the operation, the HTTP
// status and the OperationOutcome's issue codes; it never carries query
// values, tokens or response text, which may hold PHI.
type Error struct {
	Op         string // "search Observation", "read Patient", "fetch Binary", "create DocumentReference"
	StatusCode int    // 0 when no response was read
	Issues     []Issue
	Attempts   int
	Kind       error // one of the sentinel errors
	Detail     string
}

// Issue is one OperationOutcome issue, codes only.
type Issue struct {
	Severity string // fatal, error, warning, information
	Code     string // FHIR issue type: invalid, not-found, throttled, ...
	// Details are the codes of issue.details.coding (Epic uses numeric codes).
	Details []string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "epic: %s: %v", e.Op, e.Kind)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.StatusCode)
		if e.Attempts > 1 {
			fmt.Fprintf(&b, " after %d attempts", e.Attempts)
		}
		b.WriteString(")")
	}
	for i, is := range e.Issues {
		if i == 0 {
			b.WriteString("; OperationOutcome:")
		}
		fmt.Fprintf(&b, " %s/%s", is.Severity, is.Code)
		if len(is.Details) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(is.Details, ","))
		}
	}
	if e.Detail != "" {
		b.WriteString("; " + e.Detail)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Kind }

// Limiter paces requests to one organisation's FHIR server. Wait blocks
// until one more request may be sent, or returns ctx's error. The Postgres
// implementation shares the budget across replicas.
type Limiter interface {
	Wait(ctx context.Context) error
}

// RetryPolicy bounds retries of 429 and 5xx answers and network errors.
// Waits grow exponentially from BaseDelay (with jitter: between half and all
// of the step) up to MaxDelay; a longer Retry-After is honoured up to
// MaxRetryAfter. A call gives up after MaxAttempts or when the next wait
// would take it past MaxElapsed.
type RetryPolicy struct {
	MaxAttempts   int
	BaseDelay     time.Duration
	MaxDelay      time.Duration
	MaxRetryAfter time.Duration
	MaxElapsed    time.Duration
}

// DefaultRetry is the policy used when Config.Retry is zero.
var DefaultRetry = RetryPolicy{MaxAttempts: 6, BaseDelay: 500 * time.Millisecond, MaxDelay: 30 * time.Second,
	MaxRetryAfter: 2 * time.Minute, MaxElapsed: 5 * time.Minute}

func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.BaseDelay << min(attempt-1, 30)
	if d > p.MaxDelay || d <= 0 {
		d = p.MaxDelay
	}
	half := d / 2
	return half + rand.N(half+1)
}

// Config configures a FHIR client.
type Config struct {
	// BaseURL is the FHIR R4 base ("https://host/api/FHIR/R4").
	BaseURL string
	Tokens  TokenSource
	// HTTPClient sends requests (nil: a client with a 60 s timeout
	// speaking HTTP/1.1 and HTTP/2).
	HTTPClient *http.Client
	// Limiter paces requests (nil: no pacing).
	Limiter Limiter
	Retry   RetryPolicy
	// MaxBody bounds one response body (default 64 MiB).
	MaxBody int64
	// Sleep waits between retries (nil: a timer honouring ctx). Tests
	// record waits with it instead of sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for the retry budget (nil: time.Now).
	Now func() time.Time
}

// Client is a FHIR R4 client for one organisation's server. It is safe for
// concurrent use.
type Client struct {
	base *url.URL
	cfg  Config
}

// NewClient checks cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/"))
	if err != nil || checkEndpoint(cfg.BaseURL) != nil {
		return nil, fmt.Errorf("creating FHIR client: base URL must be an absolute https URL (http only on loopback)")
	}
	if cfg.Tokens == nil {
		return nil, errors.New("creating FHIR client: a token source is required")
	}
	if cfg.HTTPClient == nil {
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			Protocols: p, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true,
		}}
	}
	if cfg.Retry == (RetryPolicy{}) {
		cfg.Retry = DefaultRetry
	}
	if cfg.Retry.MaxAttempts < 1 {
		cfg.Retry.MaxAttempts = 1
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{base: u, cfg: cfg}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Page is one searchset Bundle page.
type Page struct {
	// Resources are the entries' resources (search mode match, or no mode),
	// as sent. Checking each one is the caller's job, so one bad resource
	// can be quarantined without losing the page.
	Resources []json.RawMessage
	// Next is the next page's URL ("" on the last page). Save it to resume
	// a search after a crash (ResumePages).
	Next string
	// Total is the Bundle's total, or -1 when absent.
	Total int
}

// SearchPages runs a search and calls fn with each page, following next
// links until the last page, fn's error, or a failure. When the last page
// has no next link but the server's total says matches are missing, fn
// still gets that page and SearchPages returns an *Error wrapping
// ErrIncomplete: nothing is dropped silently.
func (c *Client) SearchPages(ctx context.Context, resourceType string, params url.Values, fn func(Page) error) error {
	if !validType(resourceType) {
		return fmt.Errorf("epic: search: %q is not a resource type", resourceType)
	}
	u := c.base.String() + "/" + resourceType
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	return c.pages(ctx, resourceType, u, true, fn)
}

// ResumePages continues a search from a saved Page.Next link. (It cannot
// check the total against what was sent: earlier pages came before.)
func (c *Client) ResumePages(ctx context.Context, next string, fn func(Page) error) error {
	typ, err := c.checkLink(next)
	if err != nil {
		return err
	}
	return c.pages(ctx, typ, next, false, fn)
}

// Search collects every resource a search returns, across pages.
func (c *Client) Search(ctx context.Context, resourceType string, params url.Values) ([]json.RawMessage, error) {
	var out []json.RawMessage
	err := c.SearchPages(ctx, resourceType, params, func(p Page) error {
		out = append(out, p.Resources...)
		return nil
	})
	return out, err
}

// UpdatedSince returns a copy of params with _lastUpdated=gt<since>, for an
// incremental search.
func UpdatedSince(params url.Values, since time.Time) url.Values {
	out := url.Values{}
	for k, v := range params {
		out[k] = v
	}
	out.Set("_lastUpdated", "gt"+since.UTC().Format(time.RFC3339Nano))
	return out
}

func (c *Client) pages(ctx context.Context, typ, u string, fromStart bool, fn func(Page) error) error {
	op := "search " + typ
	seen := 0
	for page := 0; u != ""; page++ {
		body, _, err := c.do(ctx, op, http.MethodGet, u, nil, "application/fhir+json", nil)
		if err != nil {
			return err
		}
		p, err := parseBundle(body)
		if err != nil {
			return &Error{Op: op, Kind: ErrMalformed, Detail: fmt.Sprintf("page %d: %v", page+1, err)}
		}
		if p.Next != "" {
			if _, err := c.checkLink(p.Next); err != nil {
				return err
			}
			if p.Next == u {
				return &Error{Op: op, Kind: ErrMalformed, Detail: "the next link points back to the same page"}
			}
		}
		seen += len(p.Resources)
		if err := fn(p); err != nil {
			return err
		}
		if p.Next == "" && fromStart && p.Total > seen {
			// Some servers (Medplum's FHIR router) honour _count but send
			// no next link: report the loss instead of ending quietly.
			return &Error{Op: op, Kind: ErrIncomplete, Detail: fmt.Sprintf("the server counted %d matches but sent %d", p.Total, seen)}
		}
		u = p.Next
	}
	return nil
}

// checkLink accepts only links under our FHIR base (a token never goes to
// another server) and returns the resource type they search.
func (c *Client) checkLink(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host || !strings.HasPrefix(u.Path, c.base.Path+"/") {
		return "", &Error{Op: "follow next link", Kind: ErrMalformed, Detail: "the link does not point under the FHIR base URL: refused"}
	}
	typ, _, _ := strings.Cut(strings.TrimPrefix(u.Path, c.base.Path+"/"), "/")
	if !validType(typ) {
		typ = "resources"
	}
	return typ, nil
}

func validType(t string) bool {
	if t == "" || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for _, r := range t {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func parseBundle(body []byte) (Page, error) {
	var b struct {
		ResourceType string `json:"resourceType"`
		Total        *int   `json:"total"`
		Link         []struct {
			Relation string `json:"relation"`
			URL      string `json:"url"`
		} `json:"link"`
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
			Search   struct {
				Mode string `json:"mode"`
			} `json:"search"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return Page{}, jsonProblem(err, len(body))
	}
	if b.ResourceType != "Bundle" {
		return Page{}, errors.New("the response is not a Bundle")
	}
	p := Page{Total: -1}
	if b.Total != nil {
		p.Total = *b.Total
	}
	for _, l := range b.Link {
		if l.Relation == "next" {
			p.Next = l.URL
		}
	}
	for _, e := range b.Entry {
		if e.Search.Mode != "" && e.Search.Mode != "match" {
			continue
		}
		if len(e.Resource) == 0 || e.Resource[0] != '{' {
			continue
		}
		p.Resources = append(p.Resources, e.Resource)
	}
	return p, nil
}

// jsonProblem describes a decoding failure by position only.
func jsonProblem(err error, size int) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		if syn.Offset >= int64(size) {
			return fmt.Errorf("JSON truncated at byte %d", size)
		}
		return fmt.Errorf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("unexpected JSON type at %s", typ.Field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("JSON truncated at byte %d", size)
	}
	return errors.New("malformed JSON")
}

// Read fetches one resource by type and id.
func (c *Client) Read(ctx context.Context, resourceType, id string) (json.RawMessage, error) {
	if !validType(resourceType) || !validID(id) {
		return nil, fmt.Errorf("epic: read: invalid resource type or id")
	}
	op := "read " + resourceType
	body, _, err := c.do(ctx, op, http.MethodGet, c.base.String()+"/"+resourceType+"/"+id, nil, "application/fhir+json", nil)
	if err != nil {
		return nil, err
	}
	if !json.Valid(body) {
		return nil, &Error{Op: op, Kind: ErrMalformed, Detail: jsonProblem(json.Unmarshal(body, new(any)), len(body)).Error()}
	}
	return body, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// Binary is the content of a Binary resource.
type Binary struct {
	ContentType string
	Data        []byte
}

// Binary fetches a Binary's raw content. ref is "Binary/<id>", "<id>" or
// an absolute URL under the FHIR base (as in an attachment's url).
func (c *Client) Binary(ctx context.Context, ref string) (*Binary, error) {
	u := ref
	if strings.Contains(ref, "://") {
		if typ, err := c.checkLink(ref); err != nil || typ != "Binary" {
			return nil, &Error{Op: "fetch Binary", Kind: ErrBadRequest, Detail: "the attachment URL is not a Binary under the FHIR base URL"}
		}
	} else {
		id := strings.TrimPrefix(ref, "Binary/")
		if !validID(id) {
			return nil, fmt.Errorf("epic: fetch Binary: invalid id")
		}
		u = c.base.String() + "/Binary/" + id
	}
	body, hdr, err := c.do(ctx, "fetch Binary", http.MethodGet, u, nil, "*/*", nil)
	if err != nil {
		return nil, err
	}
	ct := hdr.Get("Content-Type")
	if strings.HasPrefix(ct, "application/fhir+json") {
		var b struct {
			ContentType string `json:"contentType"`
			Data        []byte `json:"data"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, &Error{Op: "fetch Binary", Kind: ErrMalformed, Detail: jsonProblem(err, len(body)).Error()}
		}
		return &Binary{ContentType: b.ContentType, Data: b.Data}, nil
	}
	return &Binary{ContentType: ct, Data: body}, nil
}

// Written is the server's answer to a create or update.
type Written struct {
	ID        string
	VersionID string
	// Resource is the stored resource when the server returned it.
	Resource json.RawMessage
}

// Create posts a new resource (write-back). It is retried only on 429,
// never on 5xx, so one call cannot create two copies.
func (c *Client) Create(ctx context.Context, resourceType string, resource []byte) (*Written, error) {
	if !validType(resourceType) {
		return nil, fmt.Errorf("epic: create: %q is not a resource type", resourceType)
	}
	return c.write(ctx, "create "+resourceType, http.MethodPost, c.base.String()+"/"+resourceType, resource, "")
}

// Update replaces a resource by id; ifMatch ("W/\"3\"") makes it conditional
// on the version last read (empty: unconditional).
func (c *Client) Update(ctx context.Context, resourceType, id string, resource []byte, ifMatch string) (*Written, error) {
	if !validType(resourceType) || !validID(id) {
		return nil, fmt.Errorf("epic: update: invalid resource type or id")
	}
	return c.write(ctx, "update "+resourceType, http.MethodPut, c.base.String()+"/"+resourceType+"/"+id, resource, ifMatch)
}

func (c *Client) write(ctx context.Context, op, method, u string, resource []byte, ifMatch string) (*Written, error) {
	hdr := http.Header{"Content-Type": {"application/fhir+json"}, "Prefer": {"return=representation"}}
	if ifMatch != "" {
		hdr.Set("If-Match", ifMatch)
	}
	body, rh, err := c.do(ctx, op, method, u, resource, "application/fhir+json", hdr)
	if err != nil {
		return nil, err
	}
	w := &Written{}
	if loc := rh.Get("Location"); loc != "" {
		parts := strings.Split(strings.TrimSuffix(loc, "/"), "/")
		for i := range parts {
			if parts[i] == "_history" && i > 0 && i+1 < len(parts) {
				w.ID, w.VersionID = parts[i-1], parts[i+1]
			}
		}
		if w.ID == "" && len(parts) > 0 {
			w.ID = parts[len(parts)-1]
		}
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var r struct {
			ID   string `json:"id"`
			Meta struct {
				VersionID string `json:"versionId"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, &Error{Op: op, Kind: ErrMalformed, Detail: jsonProblem(err, len(body)).Error()}
		}
		w.Resource = body
		if r.ID != "" {
			w.ID = r.ID
		}
		if r.Meta.VersionID != "" {
			w.VersionID = r.Meta.VersionID
		}
	}
	return w, nil
}

// do sends one logical request: pacing, a bearer token (renewed once after a
// 401), and retries of 429/5xx and network errors within the retry budget.
func (c *Client) do(ctx context.Context, op, method, u string, body []byte, accept string, hdr http.Header) ([]byte, http.Header, error) {
	p := c.cfg.Retry
	start := c.cfg.Now()
	renewed := false
	for attempt := 1; ; attempt++ {
		if c.cfg.Limiter != nil {
			if err := c.cfg.Limiter.Wait(ctx); err != nil {
				return nil, nil, fmt.Errorf("epic: %s: waiting for the rate limit: %w", op, err)
			}
		}
		tok, err := c.cfg.Tokens.Token(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("epic: %s: getting an access token: %w", op, err)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, nil, fmt.Errorf("epic: %s: building the request: %w", op, err)
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)

		var wait time.Duration
		var fail *Error
		resp, err := c.cfg.HTTPClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, fmt.Errorf("epic: %s: %w", op, ctx.Err())
			}
			fail = &Error{Op: op, Kind: ErrServer, Attempts: attempt, Detail: "network error: " + netProblem(err)}
			if method == http.MethodPost {
				return nil, nil, fail // it may have been applied
			}
			wait = p.backoff(attempt)
		} else {
			data, rerr := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody+1))
			resp.Body.Close()
			switch {
			case rerr != nil:
				if ctx.Err() != nil {
					return nil, nil, fmt.Errorf("epic: %s: %w", op, ctx.Err())
				}
				return nil, nil, &Error{Op: op, StatusCode: resp.StatusCode, Kind: ErrMalformed, Attempts: attempt, Detail: "the response ended early: " + netProblem(rerr)}
			case int64(len(data)) > c.cfg.MaxBody:
				return nil, nil, &Error{Op: op, StatusCode: resp.StatusCode, Kind: ErrTooLarge, Attempts: attempt}
			case resp.StatusCode >= 200 && resp.StatusCode < 300:
				return data, resp.Header, nil
			case resp.StatusCode == http.StatusUnauthorized && !renewed:
				c.cfg.Tokens.Invalidate(tok)
				renewed = true
				attempt-- // a renewed token is not a retry
				continue
			}
			fail = &Error{Op: op, StatusCode: resp.StatusCode, Attempts: attempt, Issues: outcomeIssues(data), Kind: kindFor(resp.StatusCode)}
			retryable := resp.StatusCode == http.StatusTooManyRequests ||
				(resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented && method != http.MethodPost)
			if !retryable {
				return nil, nil, fail
			}
			wait = p.backoff(attempt)
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), c.cfg.Now()); ok {
				if ra > p.MaxRetryAfter {
					fail.Detail = fmt.Sprintf("the server asked us to wait %s, more than the %s allowed", ra.Round(time.Second), p.MaxRetryAfter)
					return nil, nil, fail
				}
				wait = max(wait, ra)
			}
		}
		if attempt >= p.MaxAttempts {
			fail.Detail = strings.TrimPrefix(fail.Detail+"; gave up after the retry budget", "; ")
			return nil, nil, fail
		}
		if c.cfg.Now().Sub(start)+wait > p.MaxElapsed {
			fail.Detail = strings.TrimPrefix(fail.Detail+"; the next wait would exceed the retry time budget", "; ")
			return nil, nil, fail
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return nil, nil, fmt.Errorf("epic: %s: %w", op, err)
		}
	}
}

func kindFor(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound || status == http.StatusGone:
		return ErrNotFound
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500:
		return ErrServer
	}
	return ErrBadRequest
}

// netProblem describes a transport error without the URL (which may carry
// search values).
func netProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed mid-response"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return "connection failed"
}

// outcomeIssues reads an OperationOutcome's issue codes (never its text).
func outcomeIssues(body []byte) []Issue {
	var oo struct {
		ResourceType string `json:"resourceType"`
		Issue        []struct {
			Severity string `json:"severity"`
			Code     string `json:"code"`
			Details  struct {
				Coding []struct {
					Code string `json:"code"`
				} `json:"coding"`
			} `json:"details"`
		} `json:"issue"`
	}
	if json.Unmarshal(body, &oo) != nil || oo.ResourceType != "OperationOutcome" {
		return nil
	}
	var out []Issue
	for _, is := range oo.Issue {
		i := Issue{Severity: safeCode(is.Severity), Code: safeCode(is.Code)}
		for _, c := range is.Details.Coding {
			i.Details = append(i.Details, safeCode(c.Code))
		}
		out = append(out, i)
	}
	return out
}

// safeCode keeps a code only if it looks like one.
func safeCode(s string) string {
	if len(s) > 40 {
		return "?"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return "?"
		}
	}
	return s
}

// retryAfter reads Retry-After: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

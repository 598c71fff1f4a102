package epicconfig_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/sandbox"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

const secret = "s3cr3t-client-secret-value"

type bundle struct {
	db       *tenancy.DB
	pgdb     *pgtest.DB
	svc      *epicconfig.Service
	keys     *envelope.Keys
	sb       *sandbox.Sandbox
	fhirBase string
	orgA     tenancy.OrgID
	orgB     tenancy.OrgID
	actor    epicconfig.Actor
}

func setup(t *testing.T) bundle {
	t.Helper()
	d := pg.NewDB(t)
	db := tenancy.New(d.AppPool(t))
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	kms, _ := envelope.NewLocalKMS(kek)
	keys := envelope.NewKeys(kms)

	sb := sandbox.New(sandbox.Config{})
	srv, err := sandbox.Start(sb, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	// Our own server: the OAuth callback.
	mux := http.NewServeMux()
	us := httptest.NewServer(mux)
	t.Cleanup(us.Close)
	svc := epicconfig.New(db, keys, epicconfig.Options{BaseURL: us.URL})
	mux.Handle(epicconfig.CallbackPath, svc.Callback())
	if err := sb.RegisterClient(sandbox.Client{ID: "hp-client", Secret: secret, RedirectURIs: []string{svc.RedirectURL()}}); err != nil {
		t.Fatal(err)
	}
	return bundle{db: db, pgdb: d, svc: svc, keys: keys, sb: sb, fhirBase: srv.FHIRBase(),
		orgA: createOrg(t, db, "clinic-a"), orgB: createOrg(t, db, "clinic-b"),
		actor: epicconfig.Actor{UserID: uuid.New(), Role: "admin", IP: "127.0.0.1"}}
}

func createOrg(t *testing.T, db *tenancy.DB, slug string) tenancy.OrgID {
	t.Helper()
	var id tenancy.OrgID
	err := db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `INSERT INTO organizations (name, slug) VALUES ($1, $1) RETURNING id`, slug).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ptr[T any](v T) *T { return &v }

func (b bundle) configure(t *testing.T, org tenancy.OrgID) epicconfig.Config {
	t.Helper()
	c, err := b.svc.Update(context.Background(), b.actor, org, epicconfig.Update{
		ClientID: ptr("hp-client"), ClientSecret: ptr(secret), FHIRBaseURL: ptr(b.fhirBase), Environment: ptr(epicconfig.Sandbox),
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return c
}

func TestUpdateDiscoversEndpointsAndHidesSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.configure(t, b.orgA)
	if !c.EndpointsDiscovered || !strings.HasSuffix(c.AuthorizeURL, "/oauth2/authorize") || !strings.HasSuffix(c.TokenURL, "/oauth2/token") {
		t.Errorf("endpoints = %q, %q (discovered %v); want the sandbox's, discovered", c.AuthorizeURL, c.TokenURL, c.EndpointsDiscovered)
	}
	if !c.ClientSecretSet {
		t.Error("ClientSecretSet = false after setting it")
	}
	got, err := b.svc.Get(context.Background(), b.orgA)
	if err != nil || !got.ClientSecretSet || got.ClientID != "hp-client" {
		t.Errorf("Get = %+v, %v", got, err)
	}
	// The secret is sealed at rest.
	super := pgtest.Pool(t, b.pgdb.SuperDSN)
	var dump string
	if err := super.QueryRow(context.Background(), `SELECT c::text FROM epic_configs c`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, secret) || strings.Contains(dump, "7333637233742d") {
		t.Error("epic_configs holds the client secret in clear")
	}
	// Org B sees none of it.
	if other, _ := b.svc.Get(context.Background(), b.orgB); other.ClientID != "" || other.ClientSecretSet {
		t.Errorf("org B's configuration = %+v; want defaults", other)
	}
	if _, err := b.svc.Credentials(context.Background(), b.orgB); !errors.Is(err, epicconfig.ErrNotConfigured) {
		t.Errorf("org B credentials: %v; want ErrNotConfigured", err)
	}
}

func TestUpdateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	before := b.configure(t, b.orgA)
	tests := []struct {
		name string
		u    epicconfig.Update
		want string
	}{
		{"production needs https", epicconfig.Update{Environment: ptr(epicconfig.Production), ClientSecret: ptr(secret)}, "fhir_base_url must use https in production"},
		{"http only on loopback", epicconfig.Update{FHIRBaseURL: ptr("http://epic.example.org/fhir"), ClientSecret: ptr(secret)}, "http is allowed only for a sandbox"},
		{"credentials in URL", epicconfig.Update{FHIRBaseURL: ptr("https://u:" + secret + "@epic.example.org/")}, "without credentials"},
		{"environment", epicconfig.Update{Environment: ptr("staging")}, "environment must be sandbox or production"},
		{"rate limit", epicconfig.Update{RateLimitPerHour: ptr(0)}, "rate_limit_per_hour"},
		{"scopes", epicconfig.Update{Scopes: []string{"patient/*.read; DROP"}}, "scopes must be SMART scopes"},
		{"client id", epicconfig.Update{ClientID: ptr("has space")}, "client_id"},
		{"undiscoverable", epicconfig.Update{FHIRBaseURL: ptr(b.fhirBase + "/nowhere"), ClientSecret: ptr(secret)}, "could not be discovered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.svc.Update(context.Background(), b.actor, b.orgA, tt.u)
			if !errors.Is(err, epicconfig.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want ErrInvalid saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains the secret", err)
			}
			after, _ := b.svc.Get(context.Background(), b.orgA)
			if after.Environment != before.Environment || after.FHIRBaseURL != before.FHIRBaseURL || after.RateLimitPerHour != before.RateLimitPerHour {
				t.Errorf("a refused update changed the configuration: %+v", after)
			}
		})
	}
}

// connect drives the browser part: open the authorize URL, allow on the
// sandbox's consent page, follow the redirect to our callback.
func connect(t *testing.T, authURL string) (int, string, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var lastCallback string
	hc := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		lastCallback = r.URL.String()
		return nil
	}}
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="request" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("consent page has no request id: %s", body)
	}
	u, _ := url.Parse(authURL)
	resp, err = hc.PostForm(u.Scheme+"://"+u.Host+u.Path, url.Values{"request": {string(m[1])}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body), lastCallback
}

func TestConnectToEpic(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	if _, err := b.svc.Start(ctx, b.actor, b.orgA); !errors.Is(err, epicconfig.ErrNotConfigured) {
		t.Errorf("Start before configuring: %v; want ErrNotConfigured", err)
	}
	b.configure(t, b.orgA)
	authURL, err := b.svc.Start(ctx, b.actor, b.orgA)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := url.Parse(authURL)
	if q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("state") == "" || q.Query().Get("redirect_uri") != b.svc.RedirectURL() {
		t.Errorf("authorize URL lacks PKCE, state or the exact redirect: %s", authURL)
	}
	status, body, callback := connect(t, authURL)
	if status != http.StatusOK || !strings.Contains(body, "Connected to Epic") {
		t.Fatalf("callback answered %d: %s", status, body)
	}
	st, err := b.svc.Status(ctx, b.orgA)
	if err != nil || !st.Connected || st.TokenExpiresAt.IsZero() || st.LastError != "" {
		t.Errorf("status = %+v, %v; want connected with an expiry", st, err)
	}
	cr, err := b.svc.Credentials(ctx, b.orgA)
	if err != nil || cr.Token == nil || cr.Token.AccessToken == "" || cr.ClientSecret != secret {
		t.Fatalf("credentials: %v; want the token and secret back", err)
	}
	super := pgtest.Pool(t, b.pgdb.SuperDSN)
	var dump string
	_ = super.QueryRow(ctx, `SELECT c::text FROM epic_connections c`).Scan(&dump)
	if strings.Contains(dump, cr.Token.AccessToken) {
		t.Error("epic_connections holds the access token in clear")
	}
	if st, _ := b.svc.Status(ctx, b.orgB); st.Connected {
		t.Error("org B shows connected")
	}

	// Replaying the callback (same state and code) is refused and changes nothing.
	resp, err := http.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	replay, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(replay), "already used") {
		t.Errorf("replayed callback: %d %s; want 400 naming a used link", resp.StatusCode, replay)
	}
	// An unknown state is refused.
	cu, _ := url.Parse(callback)
	cq := cu.Query()
	cq.Set("state", "forged")
	cu.RawQuery = cq.Encode()
	resp, err = http.Get(cu.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("forged state: %d; want 400", resp.StatusCode)
	}
	var actions []string
	_ = b.db.WithOrg(ctx, b.orgA, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT action || ':' || outcome FROM audit_log ORDER BY seq`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var a string
			_ = rows.Scan(&a)
			actions = append(actions, a)
		}
		return rows.Err()
	})
	if got, want := strings.Join(actions, " "), "epic.config.update:success epic.connect.start:success epic.connect:success"; got != want {
		t.Errorf("audit = %s; want %s", got, want)
	}
}

func TestConnectDeniedShowsError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.configure(t, b.orgA)
	authURL, err := b.svc.Start(context.Background(), b.actor, b.orgA)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	cb := b.svc.RedirectURL() + "?" + url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}.Encode()
	resp, err := http.Get(cb)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "did not grant access") {
		t.Errorf("denied: %d %s", resp.StatusCode, body)
	}
	st, _ := b.svc.Status(context.Background(), b.orgA)
	if st.Connected || !strings.Contains(st.LastError, "declined") {
		t.Errorf("status after denial = %+v; want not connected and the reason in words", st)
	}
}

func TestRegistration(t *testing.T) {
	t.Parallel()
	svc := epicconfig.New(nil, nil, epicconfig.Options{BaseURL: "https://app.healthprep.example/"})
	r := svc.Registration()
	if r.RedirectURI != "https://app.healthprep.example/epic/oauth/callback" ||
		r.JWKSURL != "https://app.healthprep.example/.well-known/jwks.json" ||
		r.NonProdJWKSURL != "https://app.healthprep.example/nonprod/.well-known/jwks.json" || len(r.Scopes) == 0 || r.AppName == "" {
		t.Errorf("registration = %+v", r)
	}
}

package epicconfig_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/sandbox"
)

// newKey makes a non-production ES384 signing key as NP_KEY_* would hold it.
func newKey(t *testing.T, name string) epic.Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	key, err := epic.ParseKey(name, epic.NonProduction, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestBackendScopes(t *testing.T) {
	t.Parallel()
	got := epicconfig.BackendScopes([]string{"openid", "fhirUser", "offline_access", "launch/patient", "user/Patient.read",
		"patient/Patient.read", "system/Observation.read", "user/DocumentReference.write"})
	want := []string{"system/Patient.read", "system/Observation.read", "system/DocumentReference.write"}
	if !slices.Equal(got, want) {
		t.Errorf("BackendScopes = %v; want %v", got, want)
	}
}

// TestConnectWithBackendServices connects an org in backend services mode:
// the sandbox checks our signed assertion against the JWKS we publish, the
// token is stored sealed, and the connection is audited; a server without
// a key for the environment, or a client the sandbox does not know, gets
// the reason in words and stays disconnected.
func TestConnectWithBackendServices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	keys := epic.Keys{NonProduction: []epic.Key{newKey(t, "NP_KEY_A")}}
	jwks, err := epic.JWKSHandler(keys)
	if err != nil {
		t.Fatal(err)
	}
	pub := httptest.NewServer(jwks)
	t.Cleanup(pub.Close)
	if err := b.sb.RegisterClient(sandbox.Client{ID: "hp-backend", JWKSURL: pub.URL + "/nonprod/.well-known/jwks.json"}); err != nil {
		t.Fatal(err)
	}
	svc := epicconfig.New(b.db, b.keys, epicconfig.Options{BaseURL: pub.URL, SigningKeys: keys})
	noKeys := epicconfig.New(b.db, b.keys, epicconfig.Options{BaseURL: pub.URL})

	if _, err := svc.Update(ctx, b.actor, b.orgA, epicconfig.Update{ConnectionMode: ptr("robot")}); !errors.Is(err, epicconfig.ErrInvalid) ||
		!strings.Contains(err.Error(), "connection_mode must be authorization_code or backend_services") {
		t.Errorf("bad mode: %v; want ErrInvalid in words", err)
	}
	c, err := svc.Update(ctx, b.actor, b.orgA, epicconfig.Update{
		ClientID: ptr("hp-backend"), FHIRBaseURL: ptr(b.fhirBase), ConnectionMode: ptr(epicconfig.BackendServices),
	})
	if err != nil || c.ConnectionMode != epicconfig.BackendServices {
		t.Fatalf("Update: %+v, %v", c, err)
	}
	if _, err := noKeys.Connect(ctx, b.actor, b.orgA); !errors.Is(err, epicconfig.ErrNoSigningKey) {
		t.Errorf("Connect without a key: %v; want ErrNoSigningKey", err)
	}
	conn, err := svc.Connect(ctx, b.actor, b.orgA)
	if err != nil || !conn.Connected || conn.AuthorizeURL != "" {
		t.Fatalf("Connect = %+v, %v; want connected without a browser", conn, err)
	}
	st, _ := svc.Status(ctx, b.orgA)
	if !st.Connected || st.TokenExpiresAt.IsZero() || st.LastError != "" {
		t.Errorf("status = %+v; want connected with an expiry", st)
	}
	cr, err := svc.Credentials(ctx, b.orgA)
	if err != nil || cr.Token == nil || cr.Token.AccessToken == "" {
		t.Fatalf("credentials: %v", err)
	}
	// The token works for a system-scoped read.
	bk, err := svc.Backend(cr)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(bk.Scopes, "system/Patient.read") || slices.Contains(bk.Scopes, "offline_access") {
		t.Errorf("backend scopes = %v; want system/ scopes only", bk.Scopes)
	}
	req, _ := http.NewRequest(http.MethodGet, b.fhirBase+"/Patient?_count=1", nil)
	req.Header.Set("Authorization", "Bearer "+cr.Token.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("FHIR read with the backend token: %d; want 200", resp.StatusCode)
	}

	// Org B names a client the sandbox does not know: refused, in words.
	if _, err := svc.Update(ctx, b.actor, b.orgB, epicconfig.Update{
		ClientID: ptr("unknown-client"), FHIRBaseURL: ptr(b.fhirBase), ConnectionMode: ptr(epicconfig.BackendServices),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Connect(ctx, b.actor, b.orgB)
	if !errors.Is(err, epicconfig.ErrConnect) || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("unknown client: %v; want ErrConnect naming invalid_client", err)
	}
	if st, _ := svc.Status(ctx, b.orgB); st.Connected || !strings.Contains(st.LastError, "invalid_client") {
		t.Errorf("org B status = %+v; want not connected with the reason", st)
	}
	var outcomes []string
	_ = b.db.WithOrg(ctx, b.orgB, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT outcome FROM audit_log WHERE action = 'epic.connect' ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o string
			_ = rows.Scan(&o)
			outcomes = append(outcomes, o)
		}
		return rows.Err()
	})
	if !slices.Equal(outcomes, []string{"failure"}) {
		t.Errorf("org B epic.connect audit = %v; want one failure", outcomes)
	}
}

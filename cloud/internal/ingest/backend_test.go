package ingest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/sandbox"
)

// TestJobsWithBackendServices connects an org in backend services mode
// (our signed assertion, checked by the sandbox against the JWKS we
// publish), lets the schedule ingest it, and renews its token with a new
// assertion: no person, no refresh token.
func TestJobsWithBackendServices(t *testing.T) {
	t.Parallel()
	rb := setupRun(t, genData(4, 10, time.Now().UTC()), clientOpts{})
	ctx := context.Background()
	if err := ingest.MigrateRiver(ctx, pgtest.Pool(t, rb.pgdb.OwnerDSN)); err != nil {
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keys, err := epic.KeysFromEnviron([]string{"NP_KEY_A=" + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))})
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := epic.JWKSHandler(keys)
	pub := httptest.NewServer(jwks)
	t.Cleanup(pub.Close)
	if err := rb.sb.RegisterClient(sandbox.Client{ID: "hp-backend", JWKSURL: pub.URL + "/nonprod/.well-known/jwks.json"}); err != nil {
		t.Fatal(err)
	}
	conns := epicconfig.New(rb.db, rb.keys, epicconfig.Options{BaseURL: pub.URL, SigningKeys: keys})
	s := func(v string) *string { return &v }
	actor := epicconfig.Actor{UserID: uuid.New(), Role: "admin", IP: "127.0.0.1"}
	if _, err := conns.Update(ctx, actor, rb.orgA, epicconfig.Update{ClientID: s("hp-backend"), FHIRBaseURL: s(rb.srv.FHIRBase()),
		ConnectionMode: s(epicconfig.BackendServices)}); err != nil {
		t.Fatal(err)
	}
	if cn, err := conns.Connect(ctx, actor, rb.orgA); err != nil || !cn.Connected {
		t.Fatalf("connect: %+v, %v", cn, err)
	}
	before, _ := conns.Credentials(ctx, rb.orgA)

	jobs := ingest.NewJobs(rb.db, rb.store, conns, ingest.JobsConfig{})
	c, err := jobs.Client(rb.pgdb.AppPool(t))
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := c.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	t.Cleanup(cancel)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = c.Stop(sctx)
	})
	if got := waitKinds(t, events, "epic_ingest"); got[len(got)-1] != string(river.EventKindJobCompleted) {
		t.Fatalf("ingest ended %v", got)
	}
	n, err := rb.store.Count(ctx, rb.orgA)
	if err != nil || n.Patients != 4 || n.ChartResources != 40 {
		t.Errorf("after the job: %+v, %v; want 4 patients, 40 resources", n, err)
	}
	if _, err := c.Insert(ctx, ingest.RefreshArgs{OrgID: rb.orgA.String()}, nil); err != nil {
		t.Fatal(err)
	}
	if got := waitKinds(t, events, "epic_token_refresh"); got[len(got)-1] != string(river.EventKindJobCompleted) {
		t.Fatalf("refresh ended %v", got)
	}
	after, _ := conns.Credentials(ctx, rb.orgA)
	if after.Token == nil || after.Token.AccessToken == before.Token.AccessToken {
		t.Error("the refresh job did not get a new token with a new assertion")
	}
	if st, _ := conns.Status(ctx, rb.orgA); !st.Connected || st.LastError != "" || st.LastSyncAt.IsZero() {
		t.Errorf("status = %+v; want connected, synced, no error", st)
	}
}

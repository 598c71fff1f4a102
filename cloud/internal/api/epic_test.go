package api

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// TestEpicServiceOverRealStores calls EpicService over HTTP/2 with the real
// Epic configuration and ingest stores on Postgres (sessions from the fake
// authenticator): the secret is write-only, validation speaks in words,
// and a PHI lookup is audited.
func TestEpicServiceOverRealStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := pg.NewDB(t)
	db := tenancy.New(d.AppPool(t))
	for _, o := range []tenancy.OrgID{orgA, orgB} {
		if err := db.WithPlatform(ctx, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, slug) VALUES ($1, 'Clinic', $2)`, o, "clinic-"+o.String()[:2])
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	kms, _ := envelope.NewLocalKMS(kek)
	keys := envelope.NewKeys(kms)
	store := ingest.NewStore(db, keys)
	h, _ := Handler(Services{Authenticator: fakeAuthn{}, EpicConfigs: epicconfig.New(db, keys, epicconfig.Options{BaseURL: "https://hp.example"}),
		Ingest: store}, Options{})
	url, hc := serveH2C(t, h)
	cl := c.NewEpicServiceClient(hc, url)
	as := func(token string, r interface{ Header() http.Header }) {
		r.Header().Set("Authorization", "Bearer "+token)
	}

	secret := "super-secret-value"
	bad := connect.NewRequest(&v1.UpdateEpicConfigRequest{
		ClientId: ptrTo("hp"), ClientSecret: &secret, FhirBaseUrl: ptrTo("http://epic.example.org/fhir"),
		Environment: v1.EpicEnvironment_EPIC_ENVIRONMENT_PRODUCTION, AuthorizeUrl: ptrTo("https://epic.example.org/a"), TokenUrl: ptrTo("https://epic.example.org/t"),
	})
	as("admin", bad)
	_, err := cl.UpdateEpicConfig(ctx, bad)
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "must use https in production") || strings.Contains(err.Error(), secret) {
		t.Errorf("production over http: %v; want InvalidArgument in words, without the secret", err)
	}
	good := connect.NewRequest(&v1.UpdateEpicConfigRequest{
		ClientId: ptrTo("hp"), ClientSecret: &secret, FhirBaseUrl: ptrTo("https://epic.example.org/fhir"),
		Environment: v1.EpicEnvironment_EPIC_ENVIRONMENT_PRODUCTION, AuthorizeUrl: ptrTo("https://epic.example.org/a"), TokenUrl: ptrTo("https://epic.example.org/t"),
	})
	as("admin", good)
	res, err := cl.UpdateEpicConfig(ctx, good)
	if err != nil || !res.Msg.GetConfig().GetClientSecretSet() {
		t.Fatalf("update: %v", err)
	}
	get := connect.NewRequest(&v1.GetEpicConfigRequest{})
	as("admin", get)
	got, err := cl.GetEpicConfig(ctx, get)
	if err != nil || strings.Contains(got.Msg.String(), secret) || got.Msg.GetConfig().GetClientId() != "hp" {
		t.Errorf("get: %v %v; want the config without the secret", got, err)
	}
	other := connect.NewRequest(&v1.GetEpicConfigRequest{OrgId: orgB.String()})
	as("root", other)
	if o, err := cl.GetEpicConfig(ctx, other); err != nil || o.Msg.GetConfig().GetClientId() != "" {
		t.Errorf("root reading org B: %v %v; want org B's empty config", o, err)
	}

	p, err := ingest.Parse([]byte(`{"resourceType":"Patient","id":"p9","identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"M-9"}],"name":[{"text":"Pat Nine"}]}`), "Patient")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Apply(ctx, orgA, ingest.Batch{Resources: []ingest.Resource{p}}); err != nil {
		t.Fatal(err)
	}
	find := connect.NewRequest(&v1.FindPatientByMrnRequest{Mrn: "m9"})
	as("nurse", find)
	fr, err := cl.FindPatientByMrn(ctx, find)
	if err != nil || len(fr.Msg.GetPatients()) != 1 || fr.Msg.GetPatients()[0].GetName() != "Pat Nine" {
		t.Fatalf("find by MRN: %v %v", fr, err)
	}
	var reads int
	_ = db.WithOrg(ctx, orgA, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'phi.read' AND patient_ref = 'Patient/p9' AND actor_user_id = $1`,
			tokens["nurse"].UserID).Scan(&reads)
	})
	if reads != 1 {
		t.Errorf("PHI reads audited = %d; want 1", reads)
	}
	// The status shows what ingest holds and how write-back goes.
	stReq := connect.NewRequest(&v1.GetEpicStatusRequest{})
	as("admin", stReq)
	st, err := cl.GetEpicStatus(ctx, stReq)
	if err != nil || st.Msg.GetIngest().GetPatients() != 1 || st.Msg.GetWriteback() == nil || st.Msg.GetWriteback().GetFailed() != 0 {
		t.Errorf("status = %v, %v; want 1 patient ingested and an empty write-back summary", st, err)
	}
	// Backend services mode: chosen through the API; connecting on a
	// server without a signing key says what is missing.
	mode := connect.NewRequest(&v1.UpdateEpicConfigRequest{ConnectionMode: v1.EpicConnectionMode_EPIC_CONNECTION_MODE_BACKEND_SERVICES})
	as("admin", mode)
	if res, err := cl.UpdateEpicConfig(ctx, mode); err != nil ||
		res.Msg.GetConfig().GetConnectionMode() != v1.EpicConnectionMode_EPIC_CONNECTION_MODE_BACKEND_SERVICES {
		t.Errorf("choosing backend services: %v, %v", res, err)
	}
	start := connect.NewRequest(&v1.StartEpicConnectRequest{})
	as("admin", start)
	if _, err := cl.StartEpicConnect(ctx, start); connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "signing key") {
		t.Errorf("connect without a key: %v; want FailedPrecondition naming the signing key", err)
	}

	// Org B's nurse-equivalent (root naming org B) finds nothing of org A's.
	findB := connect.NewRequest(&v1.FindPatientByMrnRequest{OrgId: orgB.String(), Mrn: "M-9"})
	as("root", findB)
	if fb, err := cl.FindPatientByMrn(ctx, findB); err != nil || len(fb.Msg.GetPatients()) != 0 {
		t.Errorf("org B lookup: %v %v; want none", fb, err)
	}
}

func ptrTo[T any](v T) *T { return &v }

package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/pgstore"
	"healthprep.dev/cloud/internal/syncfeed/syncfeedtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

type bundle struct {
	db    *tenancy.DB
	keys  *envelope.Keys
	store *pgstore.Store
	a, b  tenancy.OrgID
}

func setup(t *testing.T) bundle {
	t.Helper()
	db := tenancy.New(pg.NewDB(t).AppPool(t))
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	kms, err := envelope.NewLocalKMS(kek)
	if err != nil {
		t.Fatal(err)
	}
	keys := envelope.NewKeys(kms)
	return bundle{db: db, keys: keys, store: pgstore.New(db, keys), a: createOrg(t, db, "clinic-a"), b: createOrg(t, db, "clinic-b")}
}

func createOrg(t *testing.T, db *tenancy.DB, slug string) tenancy.OrgID {
	t.Helper()
	var id tenancy.OrgID
	err := db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `INSERT INTO organizations (name, slug, timezone) VALUES ($1, $1, 'UTC') RETURNING id`, slug).Scan(&id)
	})
	if err != nil {
		t.Fatalf("creating org: %v", err)
	}
	return id
}

func TestConformance(t *testing.T) {
	t.Parallel()
	syncfeedtest.Run(t, func(t *testing.T) syncfeedtest.Harness {
		b := setup(t)
		return syncfeedtest.Harness{Store: b.store, Publish: b.store.Publish, A: b.a, B: b.b}
	})
}

// TestIngestInFeed checks that what ingest stores travels in the feed, in
// sequence order with the feed's own records, as the FHIR JSON ingest
// received, and that each page's patients are recorded as PHI reads.
func TestIngestInFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	patient := json.RawMessage(`{"resourceType":"Patient","id":"p1","meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05Z"},"name":[{"family":"Lovelace","given":["Ada"]}],"birthDate":"1970-02-28"}`)
	obs := json.RawMessage(`{"resourceType":"Observation","id":"o1","meta":{"lastUpdated":"2026-01-02T03:04:05Z"},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2025-12-01","valueQuantity":{"value":7.1}}`)
	var res []ingest.Resource
	for _, raw := range []json.RawMessage{patient, obs} {
		r, err := ingest.Parse(raw, "")
		if err != nil {
			t.Fatalf("parsing: %v", err)
		}
		res = append(res, r)
	}
	st := ingest.NewStore(b.db, b.keys)
	if _, err := st.Apply(ctx, b.a, ingest.Batch{Resources: res[:1]}); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if _, err := b.store.Publish(ctx, b.a, syncfeed.KindConfig, "org", syncfeed.OpUpsert, []byte(`{"timezone":"UTC"}`)); err != nil {
		t.Fatalf("publish: %v", err)
	}
	if _, err := st.Apply(ctx, b.a, ingest.Batch{Resources: res[1:]}); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	f := syncfeed.New(b.store, syncfeed.Options{})
	actor := syncfeed.Actor{UserID: uuid.New(), Role: "nurse", IP: "127.0.0.1", DeviceID: "ws-1"}
	p, err := f.Pull(ctx, b.a, actor, "", 10, syncfeed.ProtocolVersion)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	type got struct {
		kind syncfeed.Kind
		id   string
		seq  int64
	}
	var gs []got
	for _, c := range p.Changes {
		gs = append(gs, got{c.Kind, c.ID, c.Seq})
	}
	want := []got{{syncfeed.KindPatient, "p1", 1}, {syncfeed.KindConfig, "org", 2}, {syncfeed.KindChartResource, "Observation/o1", 3}}
	if len(gs) != len(want) {
		t.Fatalf("feed = %v; want %v", gs, want)
	}
	for i := range want {
		if gs[i] != want[i] {
			t.Errorf("change %d = %v; want %v", i, gs[i], want[i])
		}
	}
	if string(p.Changes[0].Payload) != string(patient) {
		t.Errorf("patient payload = %s; want the ingested JSON", p.Changes[0].Payload)
	}
	var reads int
	err = b.db.WithOrg(ctx, b.a, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'phi.read' AND patient_ref = 'Patient/p1'`, b.a).Scan(&reads)
	})
	if err != nil {
		t.Fatalf("reading audit: %v", err)
	}
	if reads != 1 {
		t.Errorf("PHI reads recorded for the page = %d; want 1", reads)
	}
	// The other organisation sees none of it.
	p, err = f.Pull(ctx, b.b, actor, "", 10, syncfeed.ProtocolVersion)
	if err != nil || len(p.Changes) != 0 {
		t.Errorf("org B pull: %d changes, %v; want none", len(p.Changes), err)
	}
}

package ingest_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

type storeBundle struct {
	db    *tenancy.DB
	pgdb  *pgtest.DB
	kms   *envelope.LocalKMS
	keys  *envelope.Keys
	store *ingest.Store
	orgA  tenancy.OrgID
	orgB  tenancy.OrgID
}

func setupStore(t testing.TB) storeBundle {
	t.Helper()
	d := pg.NewDB(t)
	db := tenancy.New(d.AppPool(t))
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	kms, err := envelope.NewLocalKMS(kek)
	if err != nil {
		t.Fatal(err)
	}
	keys := envelope.NewKeys(kms)
	return storeBundle{db: db, pgdb: d, kms: kms, keys: keys, store: ingest.NewStore(db, keys),
		orgA: createOrg(t, db, "clinic-a"), orgB: createOrg(t, db, "clinic-b")}
}

func createOrg(t testing.TB, db *tenancy.DB, slug string) tenancy.OrgID {
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

func patientJSON(id, mrn, name, updated string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"meta":{"versionId":"1","lastUpdated":%q},
		"identifier":[{"type":{"coding":[{"code":"MR"}]},"value":%q}],
		"name":[{"use":"official","family":%q,"given":["Ada"]}],"gender":"female","birthDate":"1970-02-28",
		"address":[{"line":["1 Main St"],"city":"Springfield","state":"IL","postalCode":"62701"}],
		"telecom":[{"system":"phone","value":"555-0100"}]}`, id, updated, mrn, name))
}

func obsJSON(id, patient, updated, date string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"resourceType":"Observation","id":%q,"meta":{"lastUpdated":%q},"status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"subject":{"reference":"Patient/%s"},
		"effectiveDateTime":%q,"valueQuantity":{"value":7.1}}`, id, updated, patient, date))
}

func mustParse(t testing.TB, raw json.RawMessage) ingest.Resource {
	t.Helper()
	r, err := ingest.Parse(raw, "")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

func TestParse(t *testing.T) {
	t.Parallel()
	p := mustParse(t, patientJSON("p1", "MRN-1", "Lovelace", "2025-01-01T00:00:00Z"))
	if p.Name != "Ada Lovelace" || p.MRN != "MRN-1" || p.BirthDate != "1970-02-28" || p.Phone != "555-0100" ||
		p.Address != "1 Main St, Springfield, IL 62701" || p.PatientID != "p1" {
		t.Errorf("patient = %+v", p)
	}
	o := mustParse(t, obsJSON("o1", "p1", "2025-01-02T00:00:00Z", "2024-12-01"))
	if o.PatientID != "p1" || o.Date.String() != "2024-12-01" || o.LastUpdated.Year() != 2025 {
		t.Errorf("observation = %+v", o)
	}
	own := mustParse(t, json.RawMessage(`{"resourceType":"DocumentReference","id":"d1","status":"current",
		"identifier":[{"system":"`+ingest.OwnIdentifierSystem+`","value":"x"}],"subject":{"reference":"Patient/p1"},"date":"2025-01-01T00:00:00Z"}`))
	if !own.Ours {
		t.Error("our own DocumentReference not recognised")
	}
	bad := []struct {
		name, raw, want string
	}{
		{"not JSON", `{"resourceType":`, "not a JSON object"},
		{"no id", `{"resourceType":"Observation","subject":{"reference":"Patient/p1"}}`, "missing id"},
		{"bad id", `{"resourceType":"Observation","id":"a b","subject":{"reference":"Patient/p1"}}`, "not a FHIR id"},
		{"bad lastUpdated", `{"resourceType":"Observation","id":"o","meta":{"lastUpdated":"yesterday"}}`, "meta.lastUpdated"},
		{"no subject", `{"resourceType":"Observation","id":"o"}`, "subject is not a Patient reference"},
		{"bad date hides the value", `{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/p1"},"effectiveDateTime":"1970-13-45"}`, "effectiveDateTime"},
		{"bad birth date hides the value", `{"resourceType":"Patient","id":"p","birthDate":"1970-13-45"}`, "birthDate"},
		{"wrong type", `{"resourceType":"Observation","id":"o"}`, "expected Patient"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := ""
			if tt.name == "wrong type" {
				want = "Patient"
			}
			_, err := ingest.Parse(json.RawMessage(tt.raw), want)
			var inv *ingest.Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("Parse: %v; want *Invalid", err)
			}
			if !strings.Contains(inv.Reason, tt.want) {
				t.Errorf("reason %q; want it to mention %q", inv.Reason, tt.want)
			}
			if strings.Contains(inv.Reason, "1970") {
				t.Errorf("reason %q quotes a value from the resource", inv.Reason)
			}
		})
	}
}

func TestApplyIsIdempotentAndStampsChangeSeq(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := context.Background()
	batch := ingest.Batch{Resources: []ingest.Resource{
		mustParse(t, patientJSON("p1", "MRN-1", "Lovelace", "2025-01-01T00:00:00Z")),
		mustParse(t, obsJSON("o1", "p1", "2025-01-01T00:00:00Z", "2024-12-01")),
		mustParse(t, obsJSON("o2", "p1", "2025-01-01T00:00:00Z", "2024-12-02")),
	}}
	got, err := b.store.Apply(ctx, b.orgA, batch)
	if err != nil {
		t.Fatal(err)
	}
	if got.Written != 3 || got.LastSeq != 3 {
		t.Errorf("first apply: %+v; want 3 written, seq 3", got)
	}
	again, err := b.store.Apply(ctx, b.orgA, batch)
	if err != nil {
		t.Fatal(err)
	}
	if again.Written != 0 || again.Unchanged != 3 || again.LastSeq != 0 {
		t.Errorf("second apply: %+v; want nothing written, no seq taken", again)
	}
	// A newer version replaces; an older one is ignored.
	newer := mustParse(t, obsJSON("o1", "p1", "2025-02-01T00:00:00Z", "2024-12-05"))
	older := mustParse(t, obsJSON("o2", "p1", "2024-06-01T00:00:00Z", "2024-01-01"))
	got, err = b.store.Apply(ctx, b.orgA, ingest.Batch{Resources: []ingest.Resource{newer, older}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Written != 1 || got.Unchanged != 1 || got.LastSeq != 4 {
		t.Errorf("newer+older apply: %+v; want 1 written (seq 4), 1 ignored", got)
	}
	changes, err := b.store.Changes(ctx, b.orgA, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []string
	for _, c := range changes {
		seqs = append(seqs, fmt.Sprintf("%d:%s/%s", c.Seq, c.ResourceType, c.FHIRID))
	}
	if got, want := strings.Join(seqs, " "), "1:Patient/p1 3:Observation/o2 4:Observation/o1"; got != want {
		t.Errorf("changes = %s; want %s (compacted, ordered by seq)", got, want)
	}
	if page, _ := b.store.Changes(ctx, b.orgA, 3, 100); len(page) != 1 || page[0].Seq != 4 {
		t.Errorf("changes after 3 = %+v; want only seq 4", page)
	}
}

func TestStoreIsTenantScoped(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := context.Background()
	rd := ingest.Reader{UserID: uuid.New(), Role: "nurse", IP: "127.0.0.1"}
	// The same FHIR ids in two orgs are two rows each, sealed with each
	// org's own key.
	for _, org := range []tenancy.OrgID{b.orgA, b.orgB} {
		_, err := b.store.Apply(ctx, org, ingest.Batch{Resources: []ingest.Resource{
			mustParse(t, patientJSON("p1", "MRN-1", "Org"+org.String()[:4], "2025-01-01T00:00:00Z")),
			mustParse(t, obsJSON("o1", "p1", "2025-01-01T00:00:00Z", "2024-12-01")),
		}, Invalid: []*ingest.Invalid{{Type: "Observation", ID: "bad", Reason: "r"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	pa, err := b.store.GetPatient(ctx, b.orgA, rd, "p1")
	if err != nil || !strings.HasSuffix(pa.Name, b.orgA.String()[:4]) {
		t.Errorf("org A reads p1 = %q, %v; want its own patient", pa.Name, err)
	}
	third := createOrg(t, b.db, "clinic-c")
	checks := []struct {
		name string
		fn   func() error
	}{
		{"GetPatient", func() error {
			_, err := b.store.GetPatient(ctx, third, rd, "p1")
			if !errors.Is(err, ingest.ErrNotFound) {
				return fmt.Errorf("got %v; want ErrNotFound", err)
			}
			return nil
		}},
		{"FindPatientsByMRN", func() error {
			ps, err := b.store.FindPatientsByMRN(ctx, third, rd, "MRN-1")
			if err != nil || len(ps) != 0 {
				return fmt.Errorf("got %d patients, %v; want none", len(ps), err)
			}
			return nil
		}},
		{"PatientResources", func() error {
			rs, err := b.store.PatientResources(ctx, third, rd, "p1")
			if err != nil || len(rs) != 0 {
				return fmt.Errorf("got %d resources, %v; want none", len(rs), err)
			}
			return nil
		}},
		{"Changes", func() error {
			cs, err := b.store.Changes(ctx, third, 0, 10)
			if err != nil || len(cs) != 0 {
				return fmt.Errorf("got %d changes, %v; want none", len(cs), err)
			}
			return nil
		}},
		{"Quarantine", func() error {
			qs, err := b.store.Quarantine(ctx, third, 10)
			if err != nil || len(qs) != 0 {
				return fmt.Errorf("got %d, %v; want none", len(qs), err)
			}
			return nil
		}},
		{"Count", func() error {
			c, err := b.store.Count(ctx, third)
			if err != nil || c.Patients+c.ChartResources+c.Quarantined != 0 {
				return fmt.Errorf("got %+v, %v; want zero", c, err)
			}
			return nil
		}},
		{"Checkpoint", func() error {
			if err := b.store.SetCheckpoint(ctx, b.orgA, "Observation", "p1", pa.LastUpdated); err != nil {
				return err
			}
			_, ok, err := b.store.Checkpoint(ctx, third, "Observation", "p1")
			if err != nil || ok {
				return fmt.Errorf("org C sees A's checkpoint: %v %v", ok, err)
			}
			return nil
		}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.fn(); err != nil {
				t.Errorf("another org: %v", err)
			}
		})
	}
	// A row copied from org A into org B (an attacker with database access)
	// does not open with B's key: the AAD names the org and row.
	super := pgtest.Pool(t, b.pgdb.SuperDSN)
	_, err = super.Exec(ctx, `UPDATE patients SET name_enc = (SELECT name_enc FROM patients WHERE org_id = $1) WHERE org_id = $2`, b.orgA, b.orgB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.GetPatient(ctx, b.orgB, rd, "p1"); !errors.Is(err, envelope.ErrOpen) {
		t.Errorf("reading a ciphertext moved from org A: %v; want ErrOpen", err)
	}
}

func TestPHIReadsAreAuditedAndMRNUsesBlindIndex(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := context.Background()
	_, err := b.store.Apply(ctx, b.orgA, ingest.Batch{Resources: []ingest.Resource{
		mustParse(t, patientJSON("p1", "MRN-77", "Lovelace", "2025-01-01T00:00:00Z")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	rd := ingest.Reader{UserID: uuid.New(), Role: "nurse", IP: "10.0.0.1"}
	ps, err := b.store.FindPatientsByMRN(ctx, b.orgA, rd, " mrn-77 ")
	if err != nil || len(ps) != 1 || ps[0].FHIRID != "p1" || ps[0].MRN != "MRN-77" {
		t.Fatalf("FindPatientsByMRN = %+v, %v; want p1", ps, err)
	}
	var n int
	var patientRef string
	err = b.db.WithOrg(ctx, b.orgA, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*), max(patient_ref) FROM audit_log WHERE action = $1 AND actor_user_id = $2`,
			audit.ActionPHIRead, rd.UserID).Scan(&n, &patientRef)
	})
	if err != nil || n != 1 || patientRef != "Patient/p1" {
		t.Errorf("phi.read entries = %d (%q), %v; want 1 for Patient/p1", n, patientRef, err)
	}
	// Nothing in clear: the stored row holds no MRN or name bytes.
	super := pgtest.Pool(t, b.pgdb.SuperDSN)
	var dump string
	if err := super.QueryRow(ctx, `SELECT p::text FROM patients p`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"MRN-77", "Lovelace", "1970-02-28", "555-0100", "Springfield"} {
		if strings.Contains(dump, s) || strings.Contains(dump, fmt.Sprintf("%x", s)) {
			t.Errorf("stored patient row contains %q in clear", s)
		}
	}
	// A reader who cannot be audited gets nothing.
	if _, err := b.store.FindPatientsByMRN(ctx, b.orgA, ingest.Reader{}, "MRN-77"); err == nil {
		t.Error("an unattributed PHI read succeeded; want refused")
	}
}

func TestShreddedOrgIngestFails(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := context.Background()
	if _, err := b.store.Apply(ctx, b.orgA, ingest.Batch{Resources: []ingest.Resource{
		mustParse(t, patientJSON("p1", "MRN-1", "Lovelace", "2025-01-01T00:00:00Z")),
	}}); err != nil {
		t.Fatal(err)
	}
	if err := b.db.WithOrg(ctx, b.orgA, func(tx pgx.Tx) error { return b.keys.Shred(ctx, tx, b.orgA) }); err != nil {
		t.Fatal(err)
	}
	rd := ingest.Reader{UserID: uuid.New(), IP: "127.0.0.1"}
	if _, err := ingest.NewStore(b.db, envelope.NewKeys(b.kms)).GetPatient(ctx, b.orgA, rd, "p1"); !errors.Is(err, envelope.ErrShredded) {
		t.Errorf("reading after shred: %v; want ErrShredded", err)
	}
}

package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

type bundle struct {
	db   *tenancy.DB
	keys *envelope.Keys
	kms  *envelope.LocalKMS
	orgA tenancy.OrgID
	orgB tenancy.OrgID
	dsn  *pgtest.DB
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, envelope.DataKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func setup(t *testing.T) bundle {
	t.Helper()
	d := pg.NewDB(t)
	db := tenancy.New(d.AppPool(t))
	kms, err := envelope.NewLocalKMS(randomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	b := bundle{db: db, keys: envelope.NewKeys(kms), kms: kms, dsn: d}
	b.orgA = createOrg(t, db, "clinic-a")
	b.orgB = createOrg(t, db, "clinic-b")
	return b
}

func createOrg(t *testing.T, db *tenancy.DB, slug string) tenancy.OrgID {
	t.Helper()
	var id tenancy.OrgID
	err := db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `INSERT INTO organizations (name, slug) VALUES ($1, $1) RETURNING id`, slug).Scan(&id)
	})
	if err != nil {
		t.Fatalf("creating org: %v", err)
	}
	return id
}

// key returns org's key through a tenant transaction.
func (b bundle) key(t *testing.T, keys *envelope.Keys, org tenancy.OrgID) (*envelope.OrgKey, error) {
	t.Helper()
	var k *envelope.OrgKey
	err := b.db.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
		var err error
		k, err = keys.ForOrg(context.Background(), tx, org)
		return err
	})
	return k, err
}

func TestSealOpenBindsOrgTableColumnRow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ka, err := b.key(t, b.keys, b.orgA)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.key(t, b.keys, b.orgB)
	if err != nil {
		t.Fatal(err)
	}
	f := envelope.Field{Table: "patients", Column: "name_enc", RowID: "r1"}
	ct, err := ka.Seal(f, []byte("Ada Lovelace"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("Ada")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if got, err := ka.OpenString(f, ct); err != nil || got != "Ada Lovelace" {
		t.Fatalf("Open = %q, %v; want the plaintext", got, err)
	}
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name string
		key  *envelope.OrgKey
		f    envelope.Field
		ct   []byte
	}{
		{"another org", kb, f, ct},
		{"another table", ka, envelope.Field{Table: "appointments", Column: f.Column, RowID: f.RowID}, ct},
		{"another column", ka, envelope.Field{Table: f.Table, Column: "mrn_enc", RowID: f.RowID}, ct},
		{"another row", ka, envelope.Field{Table: f.Table, Column: f.Column, RowID: "r2"}, ct},
		{"tampered", ka, f, tampered},
		{"truncated", ka, f, ct[:10]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tt.key.Open(tt.f, tt.ct); !errors.Is(err, envelope.ErrOpen) {
				t.Errorf("Open: error %v; want ErrOpen", err)
			}
		})
	}
}

func TestForOrgMakesOneKeyUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 8
	keys := make([]*envelope.OrgKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Separate Keys per goroutine: as if on separate replicas.
			keys[i], errs[i] = b.key(t, envelope.NewKeys(b.kms), b.orgA)
		})
	}
	wg.Wait()
	f := envelope.Field{Table: "t", Column: "c", RowID: "1"}
	ct, err := keys[0].Seal(f, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if _, err := keys[i].Open(f, ct); err != nil {
			t.Errorf("replica %d cannot open replica 0's ciphertext: %v; want one key per org", i, err)
		}
	}
	var count int
	err = b.db.WithOrg(context.Background(), b.orgA, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM org_data_keys`).Scan(&count)
	})
	if err != nil || count != 1 {
		t.Errorf("org A sees %d key rows (%v); want 1", count, err)
	}
}

func TestKeyRowsAreTenantScoped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.key(t, b.keys, b.orgA); err != nil {
		t.Fatal(err)
	}
	var count int
	err := b.db.WithOrg(context.Background(), b.orgB, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM org_data_keys`).Scan(&count)
	})
	if err != nil || count != 0 {
		t.Errorf("org B sees %d key rows (%v); want 0 (org A's key is not its business)", count, err)
	}
	// Asking for org A's key inside org B's transaction finds nothing and
	// cannot insert a key for A either.
	err = b.db.WithOrg(context.Background(), b.orgB, func(tx pgx.Tx) error {
		_, err := envelope.NewKeys(b.kms).ForOrg(context.Background(), tx, b.orgA)
		return err
	})
	if err == nil {
		t.Error("ForOrg(A) inside B's transaction succeeded; want a row-level security refusal")
	}
}

func TestShredMakesDataUnreadable(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ka, err := b.key(t, b.keys, b.orgA)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.key(t, b.keys, b.orgB)
	if err != nil {
		t.Fatal(err)
	}
	f := envelope.Field{Table: "patients", Column: "name_enc", RowID: "r1"}
	ctA, _ := ka.Seal(f, []byte("Ada"))
	ctB, _ := kb.Seal(f, []byte("Bob"))

	err = b.db.WithOrg(context.Background(), b.orgA, func(tx pgx.Tx) error {
		return b.keys.Shred(context.Background(), tx, b.orgA)
	})
	if err != nil {
		t.Fatalf("Shred: %v", err)
	}
	// The key handed out before the shred is dead in this process...
	if _, err := ka.Open(f, ctA); !errors.Is(err, envelope.ErrShredded) {
		t.Errorf("old handle Open after shred: %v; want ErrShredded", err)
	}
	// ...and no process (a fresh Keys, same KMS) can get it back.
	for name, keys := range map[string]*envelope.Keys{"same replica": b.keys, "other replica": envelope.NewKeys(b.kms)} {
		if _, err := b.key(t, keys, b.orgA); !errors.Is(err, envelope.ErrShredded) {
			t.Errorf("%s: ForOrg after shred: %v; want ErrShredded (no new key for a shredded org)", name, err)
		}
	}
	// Org B is untouched.
	if got, err := kb.OpenString(f, ctB); err != nil || got != "Bob" {
		t.Errorf("org B after A's shred: %q, %v; want Bob", got, err)
	}
	// The application role cannot undo a shred, nor delete the tombstone.
	err = b.db.WithOrg(context.Background(), b.orgA, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE org_data_keys SET wrapped = '\x0102030405060708090a0b0c0d0e0f10', destroyed_at = NULL`)
		return err
	})
	if err == nil {
		t.Error("restoring a shredded key succeeded; want refused")
	}
	err = b.db.WithOrg(context.Background(), b.orgA, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `DELETE FROM org_data_keys`)
		return err
	})
	if err == nil {
		t.Error("deleting the shredded key's row succeeded; want refused")
	}
}

func TestBlindIndex(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ka, _ := b.key(t, b.keys, b.orgA)
	kb, _ := b.key(t, b.keys, b.orgB)
	tests := []struct {
		name      string
		x, y      string
		keyY      *envelope.OrgKey
		wantEqual bool
	}{
		{"same value", "MRN-001", "MRN-001", ka, true},
		{"typed differently", " mrn 001", "MRN-001", ka, true},
		{"another value", "MRN-001", "MRN-002", ka, false},
		{"another org", "MRN-001", "MRN-001", kb, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x, y := ka.BlindIndex("mrn", tt.x), tt.keyY.BlindIndex("mrn", tt.y)
			if got := bytes.Equal(x, y); got != tt.wantEqual {
				t.Errorf("indexes equal = %v; want %v", got, tt.wantEqual)
			}
			if len(x) != 32 {
				t.Errorf("index is %d bytes; want 32", len(x))
			}
		})
	}
	if bytes.Equal(ka.BlindIndex("mrn", "1"), ka.BlindIndex("phone", "1")) {
		t.Error("indexes of different kinds are equal; want them separated")
	}
}

func TestLocalKMS(t *testing.T) {
	t.Parallel()
	old, cur := randomKey(t), randomKey(t)
	ctx := context.Background()
	kctx := map[string]string{"healthprep_org": "a"}
	before, err := envelope.NewLocalKMS(old)
	if err != nil {
		t.Fatal(err)
	}
	pt, wrapped, kek, err := before.GenerateDataKey(ctx, kctx)
	if err != nil || len(pt) != 32 || kek == "" {
		t.Fatalf("GenerateDataKey: %d bytes, kek %q, %v", len(pt), kek, err)
	}
	rotated, err := envelope.NewLocalKMS(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Decrypt(ctx, wrapped, kctx); err != nil || !bytes.Equal(got, pt) {
		t.Errorf("after rotation, Decrypt of an old key: %v; want the key", err)
	}
	if _, err := rotated.Decrypt(ctx, wrapped, map[string]string{"healthprep_org": "b"}); !errors.Is(err, envelope.ErrUnwrap) {
		t.Errorf("Decrypt with another context: %v; want ErrUnwrap", err)
	}
	other, _ := envelope.NewLocalKMS(cur)
	if _, err := other.Decrypt(ctx, wrapped, kctx); !errors.Is(err, envelope.ErrUnwrap) {
		t.Errorf("Decrypt without the old KEK: %v; want ErrUnwrap", err)
	}
	if _, err := envelope.NewLocalKMS([]byte("short")); err == nil {
		t.Error("NewLocalKMS accepted a 5-byte key")
	}
}

package tenancy_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// TestCatalogue finds every table with an org_id column (and organizations,
// whose id is its tenant key) and fails unless row-level security is both
// enabled and forced and at least one policy exists, so a future table
// cannot forget.
func TestCatalogue(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	pool := pgtest.Pool(t, db.SuperDSN)
	rows, err := pool.Query(context.Background(), `
		SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
		       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
		  AND (c.relname = 'organizations' OR EXISTS (
		       SELECT 1 FROM pg_attribute a
		       WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped))`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		var enabled, forced bool
		var policies int
		if err := rows.Scan(&name, &enabled, &forced, &policies); err != nil {
			t.Fatal(err)
		}
		n++
		if !enabled || !forced || policies == 0 {
			t.Errorf("table %s: row level security enabled=%v forced=%v policies=%d; want enabled, forced, ≥1 policy", name, enabled, forced, policies)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Errorf("catalogue found %d tenant tables; want at least 6 (organizations, users, sessions, ...)", n)
	}
}

// TestAppRoleCannotBypass checks the role the product connects as.
func TestAppRoleCannotBypass(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	pool := db.AppPool(t)
	var super, bypass bool
	err := pool.QueryRow(context.Background(),
		`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&super, &bypass)
	if err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("application role: superuser=%v bypassrls=%v; want neither", super, bypass)
	}
}

func createOrg(t *testing.T, tdb *tenancy.DB, slug string) tenancy.OrgID {
	t.Helper()
	var id tenancy.OrgID
	err := tdb.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(),
			`INSERT INTO organizations (name, slug) VALUES ($1, $1) RETURNING id`, slug).Scan(&id)
	})
	if err != nil {
		t.Fatalf("creating org %s: %v", slug, err)
	}
	return id
}

// TestSettingNeverLeaks proves that on a pool of one connection the org of a
// committed or rolled-back transaction is gone for the next one, and that a
// query outside WithOrg sees no tenant rows at all.
func TestSettingNeverLeaks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pg.NewDB(t)
	cfg, err := pgxpool.ParseConfig(db.AppDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	tdb := tenancy.New(pool)
	a := createOrg(t, tdb, "clinic-a")

	countVisible := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM organizations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	setting := func() string {
		var s *string
		if err := pool.QueryRow(ctx, `SELECT current_setting('app.org_id', true)`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s == nil {
			return "<null>"
		}
		return *s
	}

	if err := tdb.WithOrg(ctx, a, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM organizations`).Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("inside WithOrg(a): %d organisations visible; want 1", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := setting(); got != "" && got != "<null>" {
		t.Errorf("after commit, app.org_id = %q on the pooled connection; want empty", got)
	}
	if got := countVisible(); got != 0 {
		t.Errorf("after commit, a bare query sees %d organisations; want 0", got)
	}

	boom := errors.New("boom")
	if err := tdb.WithOrg(ctx, a, func(pgx.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("WithOrg error = %v; want boom", err)
	}
	if got := setting(); got != "" && got != "<null>" {
		t.Errorf("after rollback, app.org_id = %q; want empty", got)
	}
	if err := tdb.WithPlatform(ctx, func(pgx.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := countVisible(); got != 0 {
		t.Errorf("after a platform transaction, a bare query sees %d organisations; want 0", got)
	}
}

func TestWithOrgRejectsZeroOrg(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	tdb := tenancy.New(db.AppPool(t))
	called := false
	err := tdb.WithOrg(context.Background(), tenancy.OrgID{}, func(pgx.Tx) error { called = true; return nil })
	if !errors.Is(err, tenancy.ErrNoOrg) || called {
		t.Fatalf("WithOrg(zero) = %v, called=%v; want ErrNoOrg and fn not called", err, called)
	}
}

// TestOrgCannotTouchOtherOrg is the raw-SQL form of the isolation promise:
// inside org A's transaction, org B's rows can be neither read, updated,
// deleted nor inserted.
func TestOrgCannotTouchOtherOrg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pg.NewDB(t)
	tdb := tenancy.New(db.AppPool(t))
	a, b := createOrg(t, tdb, "clinic-a"), createOrg(t, tdb, "clinic-b")
	err := tdb.WithOrg(ctx, a, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM organizations WHERE id = $1`, b).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("org A reads org B: %d rows", n)
		}
		tag, err := tx.Exec(ctx, `UPDATE organizations SET name = 'pwned' WHERE id = $1`, b)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 0 {
			t.Errorf("org A updated %d of org B's rows", tag.RowsAffected())
		}
		tag, err = tx.Exec(ctx, `DELETE FROM organizations WHERE id = $1`, b)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 0 {
			t.Errorf("org A deleted %d of org B's rows", tag.RowsAffected())
		}
		// The failing insert runs in a savepoint so the rest can commit.
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		_, err = sp.Exec(ctx, `INSERT INTO users (org_id, email, role) VALUES ($1, 'x@example.org', 'nurse')`, b)
		if err == nil {
			t.Errorf("org A inserted a user into org B")
		}
		return sp.Rollback(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	var name string
	if err := tdb.WithOrg(ctx, b, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT name FROM organizations`).Scan(&name)
	}); err != nil {
		t.Fatal(err)
	}
	if name != "clinic-b" {
		t.Errorf("org B's name = %q after org A's attempts; want clinic-b", name)
	}
}

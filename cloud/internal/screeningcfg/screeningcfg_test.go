package screeningcfg_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/screeningcfg"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/preset"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

type bundle struct {
	db    *tenancy.DB
	store *screeningcfg.Store
	a, b  tenancy.OrgID
	admin screeningcfg.Actor
}

func setup(t *testing.T) bundle {
	t.Helper()
	db := tenancy.New(pg.NewDB(t).AppPool(t))
	st, err := screeningcfg.New(db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return bundle{db: db, store: st, a: createOrg(t, db, "clinic-a"), b: createOrg(t, db, "clinic-b"),
		admin: screeningcfg.Actor{UserID: uuid.New(), Role: "admin", IP: "127.0.0.1"}}
}

func createOrg(t *testing.T, db *tenancy.DB, slug string) tenancy.OrgID {
	t.Helper()
	var id tenancy.OrgID
	err := db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `INSERT INTO organizations (name, slug, timezone) VALUES ($1, $1, 'UTC') RETURNING id`, slug).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func auditCount(t *testing.T, b bundle, org tenancy.OrgID) int {
	t.Helper()
	var n int
	err := b.db.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'screening.settings.update'`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func firstTypeID(t *testing.T, s *screeningcfg.Store) string {
	t.Helper()
	return s.Library().Types[0].ID
}

func TestSaveReadAndConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := firstTypeID(t, b.store)

	got, err := b.store.Get(ctx, b.a)
	if err != nil || got.Version != 0 || len(got.Org.Disabled) != 0 {
		t.Fatalf("Get before any save = %+v, %v; want version 0, no changes", got, err)
	}
	saved, err := b.store.Update(ctx, b.admin, b.a, preset.OrgSettings{Disabled: []string{id}}, 0)
	if err != nil || saved.Version != 1 {
		t.Fatalf("first Update = %+v, %v; want version 1", saved, err)
	}
	got, err = b.store.Get(ctx, b.a)
	if err != nil || got.Version != 1 || len(got.Org.Disabled) != 1 || got.Org.Disabled[0] != id || got.UpdatedBy != b.admin.UserID {
		t.Fatalf("Get after save = %+v, %v; want version 1 with %q disabled by the admin", got, err, id)
	}
	// A second editor who read version 0 loses, and nothing changes.
	for _, stale := range []int64{0, 5} {
		if _, err := b.store.Update(ctx, b.admin, b.a, preset.OrgSettings{}, stale); !errors.Is(err, screeningcfg.ErrConflict) {
			t.Errorf("Update at stale version %d: err %v; want ErrConflict", stale, err)
		}
	}
	if got, _ := b.store.Get(ctx, b.a); got.Version != 1 || len(got.Org.Disabled) != 1 {
		t.Errorf("after conflicts: %+v; want version 1 unchanged", got)
	}
	if saved, err := b.store.Update(ctx, b.admin, b.a, preset.OrgSettings{}, 1); err != nil || saved.Version != 2 {
		t.Errorf("Update at version 1 = %+v, %v; want version 2", saved, err)
	}
	if n := auditCount(t, b, b.a); n != 2 {
		t.Errorf("audit entries = %d; want 2 (one per save)", n)
	}
	// Tenant isolation: the other organisation sees nothing.
	if got, err := b.store.Get(ctx, b.b); err != nil || got.Version != 0 {
		t.Errorf("other org Get = %+v, %v; want version 0", got, err)
	}
	vs, err := b.store.Versions(ctx)
	if err != nil || vs[b.a] != 2 || len(vs) != 1 {
		t.Errorf("Versions = %v, %v; want only org a at 2", vs, err)
	}
}

func TestInvalidSettingsAreRefusedWithASentence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id := firstTypeID(t, b.store)
	tests := []struct {
		name    string
		in      preset.OrgSettings
		version int64
		want    string
	}{
		{"unknown type turned off", preset.OrgSettings{Disabled: []string{"no-such-type"}}, 0, `disabled type "no-such-type" is not in the library`},
		{"unknown type changed", preset.OrgSettings{Types: map[string]preset.TypeSettings{"nope": {MinAge: "40y"}}}, 0, `type "nope" is not in the library`},
		{"unknown evidence rule", preset.OrgSettings{Types: map[string]preset.TypeSettings{id: {Intervals: map[string]chart.Period{"nope": {N: 1, Unit: chart.Years}}}}}, 0, `has no evidence rule "nope"`},
		{"negative version", preset.OrgSettings{}, -1, "version: must be 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.store.Update(ctx, b.admin, b.a, tt.in, tt.version)
			var ie *screeningcfg.InvalidError
			if !errors.As(err, &ie) || !strings.Contains(ie.Message, tt.want) {
				t.Fatalf("Update: err %v; want an InvalidError containing %q", err, tt.want)
			}
		})
	}
	if got, _ := b.store.Get(ctx, b.a); got.Version != 0 {
		t.Errorf("after refused saves: version %d; want 0", got.Version)
	}
	if n := auditCount(t, b, b.a); n != 0 {
		t.Errorf("audit entries = %d; want 0", n)
	}
}

package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func hpctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errb, http.DefaultClient)
	return code, out.String(), errb.String()
}

// TestAuditVerifyDirect verifies every chain straight from Postgres, then
// plays an attacker with superuser access who edits an entry: hpctl reports
// it and exits non-zero.
func TestAuditVerifyDirect(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	store := org.NewStore(tenancy.New(db.AppPool(t)), time.Now)
	for _, slug := range []string{"clinic-a", "clinic-b"} {
		if _, err := store.Create(context.Background(), org.Actor{Role: "root_admin"}, org.NewOrg{Name: slug, Slug: slug}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := hpctl(t, "audit", "verify", "-dsn", db.AppDSN)
	if code != 0 || !strings.Contains(out, "audit verify: ok: 2 chain(s)") {
		t.Fatalf("verify intact log: exit %d, out %q, err %q; want 0 and ok for 2 chains", code, out, errs)
	}

	attacker := pgtest.Pool(t, db.SuperDSN)
	_, err := attacker.Exec(context.Background(), `
		BEGIN;
		SET LOCAL session_replication_role = replica;
		UPDATE audit_log SET details = '{"slug":"evil"}' WHERE seq = 1 AND details->>'slug' = 'clinic-a';
		COMMIT;`)
	if err != nil {
		t.Fatalf("tampering: %v", err)
	}
	code, out, errs = hpctl(t, "audit", "verify", "-dsn", db.AppDSN)
	if code != 1 || !strings.Contains(out, "TAMPERED") || !strings.Contains(errs, "tampered with") {
		t.Errorf("verify tampered log: exit %d, out %q, err %q; want 1 and TAMPERED", code, out, errs)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{nil, 2, "usage: hpctl"},
		{[]string{"frobnicate"}, 2, "usage: hpctl"},
		{[]string{"invite", "-role", "root"}, 2, "-role must be admin, nurse or ma"},
		{[]string{"-server", "http://127.0.0.1:1", "org", "list"}, 1, "(unavailable)"},
	}
	for _, tt := range tests {
		code, _, errs := hpctl(t, tt.args...)
		if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
			t.Errorf("hpctl %v: exit %d, stderr %q; want %d and %q", tt.args, code, errs, tt.wantCode, tt.wantErr)
		}
	}
}

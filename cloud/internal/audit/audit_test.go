package audit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// fixture is what most tests need: a fresh database, the product's door to
// it (as the application role) and two organisations.
type fixture struct {
	db   *pgtest.DB
	tdb  *tenancy.DB
	a, b tenancy.OrgID
}

func setup(t testing.TB) fixture {
	t.Helper()
	db := pg.NewDB(t)
	tdb := tenancy.New(db.AppPool(t))
	return fixture{db: db, tdb: tdb, a: createOrg(t, tdb, "clinic-a"), b: createOrg(t, tdb, "clinic-b")}
}

func createOrg(t testing.TB, tdb *tenancy.DB, slug string) tenancy.OrgID {
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

// t0 is the time of the first entry tests append; entry i is i minutes later.
var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// event returns a plausible sign-in event numbered i.
func event(i int) audit.Event {
	return audit.Event{
		At:          t0.Add(time.Duration(i) * time.Minute),
		ActorUserID: uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", i%3+1)),
		ActorRole:   "nurse",
		Action:      "auth.signin",
		Outcome:     audit.Success,
		IP:          "192.0.2.10",
		DeviceID:    "ws-1",
		Details:     map[string]string{"method": "password"},
	}
}

// appendN appends n events made by mk, each in its own transaction, and
// returns the stored entries.
func appendN(t testing.TB, tdb *tenancy.DB, org tenancy.OrgID, n int, mk func(i int) audit.Event) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for i := 1; i <= n; i++ {
		err := tdb.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
			en, err := audit.Append(context.Background(), tx, org, mk(i))
			out = append(out, en)
			return err
		})
		if err != nil {
			t.Fatalf("appending entry %d: %v", i, err)
		}
	}
	return out
}

// countEntries counts org's entries as the application sees them.
func countEntries(t testing.TB, tdb *tenancy.DB, org tenancy.OrgID) int {
	t.Helper()
	var n int
	err := tdb.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FROM audit_log`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAppendBuildsALinearChain(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ens := appendN(t, f.tdb, f.a, 5, event)
	for i, en := range ens {
		if want := int64(i + 1); en.Seq != want {
			t.Errorf("entry %d: seq = %d; want %d", i, en.Seq, want)
		}
		prev := make([]byte, 32)
		if i > 0 {
			prev = ens[i-1].Hash
		}
		if string(en.PrevHash) != string(prev) {
			t.Errorf("entry %d: prev_hash does not point at entry %d's hash", en.Seq, en.Seq-1)
		}
	}
	// What was stored is what was hashed (times to the microsecond, details).
	p, err := audit.List(context.Background(), f.tdb, f.a, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.Entries); got != 5 {
		t.Fatalf("listed %d entries; want 5", got)
	}
	for _, en := range p.Entries {
		if got := en.ComputeHash(); string(got) != string(en.Hash) {
			t.Errorf("entry %d read back hashes differently from when it was written", en.Seq)
		}
	}
}

// TestAppendRejectsBadEvents shows the error a caller sees, that it names
// the field without echoing the value, and that nothing was written.
func TestAppendRejectsBadEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ok := event(1)
	cases := []struct {
		name    string
		mutate  func(e *audit.Event)
		wantMsg string
	}{
		{"no action", func(e *audit.Event) { e.Action = "" }, "action must be"},
		{"action with spaces", func(e *audit.Event) { e.Action = "read Jane Doe" }, "action must be"},
		{"unknown outcome", func(e *audit.Event) { e.Outcome = "maybe" }, "outcome must be"},
		{"control character", func(e *audit.Event) { e.TargetID = "Jane\x00Doe" }, "target id contains a control character"},
		{"invalid UTF-8", func(e *audit.Event) { e.DeviceID = "Jane\xffDoe" }, "device id is not valid UTF-8"},
		{"oversized", func(e *audit.Event) { e.PatientRef = strings.Repeat("J", 201) }, "patient ref is longer than 200 bytes"},
		{"bad details key", func(e *audit.Event) { e.Details = map[string]string{"Jane Doe": "x"} }, "details keys must be"},
		{"details value with newline", func(e *audit.Event) { e.Details = map[string]string{"note": "Jane\nDoe"} }, "a details value contains a control character"},
		{"time out of range", func(e *audit.Event) { e.At = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) }, "time must be between"},
	}
	for _, tc := range cases {
		e := ok
		e.Details = map[string]string{}
		tc.mutate(&e)
		err := f.tdb.WithOrg(context.Background(), f.a, func(tx pgx.Tx) error {
			_, err := audit.Append(context.Background(), tx, f.a, e)
			return err
		})
		t.Logf("%s: %v", tc.name, err)
		if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("%s: error = %v; want ErrInvalid saying %q", tc.name, err, tc.wantMsg)
		}
		if err != nil && strings.Contains(err.Error(), "Jane") {
			t.Errorf("%s: error %q echoes the rejected value", tc.name, err)
		}
	}
	if n := countEntries(t, f.tdb, f.a); n != 0 {
		t.Errorf("after rejected events the chain has %d entries; want 0", n)
	}
}

// TestAppRoleCannotRewriteTheLog plays a compromised application: as the
// application role it tries to change, remove or side-step the chain. Each
// attempt fails with the error shown, and the chain still verifies.
func TestAppRoleCannotRewriteTheLog(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ens := appendN(t, f.tdb, f.a, 3, event)
	zero := make([]byte, 32)
	cases := []struct {
		name     string
		sql      string
		args     []any
		wantCode string
	}{
		{"update an entry", `UPDATE audit_log SET action = 'auth.signout' WHERE seq = 2`, nil, "42501"},
		{"delete an entry", `DELETE FROM audit_log WHERE seq = 2`, nil, "42501"},
		{"truncate the log", `TRUNCATE audit_log`, nil, "42501"},
		{"rewind the head", `UPDATE audit_heads SET seq = 1`, nil, "42501"},
		{"delete the head", `DELETE FROM audit_heads`, nil, "42501"},
		{"truncate the heads", `TRUNCATE audit_heads`, nil, "42501"},
		{"insert a second head", `INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, 0, $2)`, []any{f.b, zero}, "42501"},
		{"insert beyond the head", `INSERT INTO audit_log (org_id, seq, id, at, action, outcome, prev_hash, hash)
			VALUES ($1, 9, gen_random_uuid(), now(), 'auth.signin', 'success', $2, $3)`, []any{f.a, ens[2].Hash, zero}, "23514"},
		{"fork the chain", `INSERT INTO audit_log (org_id, seq, id, at, action, outcome, prev_hash, hash)
			VALUES ($1, 4, gen_random_uuid(), now(), 'auth.signin', 'success', $2, $3)`, []any{f.a, ens[0].Hash, zero}, "23514"},
		{"reuse a seq", `INSERT INTO audit_log (org_id, seq, id, at, action, outcome, prev_hash, hash)
			VALUES ($1, 2, gen_random_uuid(), now(), 'auth.signin', 'success', $2, $3)`, []any{f.a, ens[0].Hash, zero}, "23514"},
	}
	for _, tc := range cases {
		err := f.tdb.WithOrg(context.Background(), f.a, func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), tc.sql, tc.args...)
			return err
		})
		t.Logf("%s: %v", tc.name, err)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != tc.wantCode {
			t.Errorf("%s: error = %v; want SQLSTATE %s", tc.name, err, tc.wantCode)
		}
	}
	r, err := audit.Verify(context.Background(), f.tdb, f.a)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Entries() != 3 {
		t.Errorf("after the attempts: ok=%v entries=%d problems=%v; want ok and 3 entries", r.OK(), r.Entries(), r.Problems)
	}
}

// TestConcurrentAppendsStayLinear appends from many goroutines to one org
// whose chain does not exist yet (so they also race to create it).
func TestConcurrentAppendsStayLinear(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const workers, each = 8, 25
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < each; i++ {
				err := f.tdb.WithOrg(context.Background(), f.a, func(tx pgx.Tx) error {
					_, err := audit.Append(context.Background(), tx, f.a, event(w*each+i))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for w := 0; w < workers; w++ {
		if err := <-errs; err != nil {
			t.Errorf("concurrent append: %v", err)
		}
	}
	var n, distinct, maxSeq int64
	err := f.tdb.WithOrg(context.Background(), f.a, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(),
			`SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM audit_log`).Scan(&n, &distinct, &maxSeq)
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(workers * each); n != want || distinct != want || maxSeq != want {
		t.Errorf("entries=%d distinct seqs=%d max seq=%d; want %d of each", n, distinct, maxSeq, want)
	}
	r, err := audit.Verify(context.Background(), f.tdb, f.a)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Errorf("chain after concurrent appends: problems %v; want none", r.Problems)
	}
}

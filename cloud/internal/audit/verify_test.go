package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

// attacker connects as superuser with triggers off: someone with direct
// database access trying to rewrite history.
type attacker struct {
	t    *testing.T
	conn *pgx.Conn
	org  tenancy.OrgID
	ens  []audit.Entry // the chain as written
}

func newAttacker(t *testing.T, db *pgtest.DB, org tenancy.OrgID, ens []audit.Entry) *attacker {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.SuperDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	return &attacker{t: t, conn: conn, org: org, ens: ens}
}

// exec runs sql with $1 bound to the org, then args.
func (a *attacker) exec(sql string, args ...any) {
	a.t.Helper()
	if _, err := a.conn.Exec(context.Background(), sql, append([]any{a.org}, args...)...); err != nil {
		a.t.Fatalf("attacker: %s: %v", sql, err)
	}
}

// insert writes en as a raw row.
func (a *attacker) insert(en audit.Entry) {
	a.t.Helper()
	a.exec(`INSERT INTO audit_log (org_id, seq, id, at, actor_user_id, actor_role, action, outcome,
		target_type, target_id, patient_ref, ip, device_id, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		en.Seq, en.ID, en.At, en.ActorUserID, en.ActorRole, en.Action, string(en.Outcome),
		en.TargetType, en.TargetID, en.PatientRef, en.IP, en.DeviceID, en.Details, en.PrevHash, en.Hash)
}

// forge returns a new entry at seq chained to prev, with a correct hash: an
// attacker who knows the algorithm.
func (a *attacker) forge(seq int64, prev []byte) audit.Entry {
	en := a.ens[0]
	en.ID = uuid.New()
	en.Seq = seq
	en.PrevHash = prev
	en.Action = "auth.signout"
	en.At = t0.Add(time.Hour)
	en.Hash = en.ComputeHash()
	return en
}

func (a *attacker) swapSeq(x, y int64) {
	a.exec(`UPDATE audit_log SET seq = 1000000 WHERE org_id = $1 AND seq = $2`, x)
	a.exec(`UPDATE audit_log SET seq = $2 WHERE org_id = $1 AND seq = $3`, x, y)
	a.exec(`UPDATE audit_log SET seq = $2 WHERE org_id = $1 AND seq = 1000000`, y)
}

// TestVerifyFindsEveryTampering writes a chain of ten entries, lets an
// attacker with superuser rights and triggers disabled change it, and
// checks Verify names exactly the entries concerned and what happened.
// Org B's untouched chain verifies clean alongside.
func TestVerifyFindsEveryTampering(t *testing.T) {
	t.Parallel()
	type want struct {
		kind               audit.Kind
		seq, last, written int64
	}
	cases := []struct {
		name   string
		tamper func(a *attacker)
		want   []want
	}{
		{"untouched", func(a *attacker) {}, nil},
		{"field modified", func(a *attacker) {
			a.exec(`UPDATE audit_log SET action = 'auth.signout' WHERE org_id = $1 AND seq = 4`)
		}, []want{{audit.Modified, 4, 4, 0}}},
		{"details modified", func(a *attacker) {
			a.exec(`UPDATE audit_log SET details = '{"method": "totp"}' WHERE org_id = $1 AND seq = 6`)
		}, []want{{audit.Modified, 6, 6, 0}}},
		{"time modified", func(a *attacker) {
			a.exec(`UPDATE audit_log SET at = at - interval '1 day' WHERE org_id = $1 AND seq = 3`)
		}, []want{{audit.Modified, 3, 3, 0}}},
		{"actor removed", func(a *attacker) {
			a.exec(`UPDATE audit_log SET actor_user_id = NULL WHERE org_id = $1 AND seq = 10`)
		}, []want{{audit.Modified, 10, 10, 0}}},
		{"modified and re-hashed", func(a *attacker) {
			en := a.ens[4]
			en.Outcome = audit.Failure
			a.exec(`UPDATE audit_log SET outcome = 'failure', hash = $2 WHERE org_id = $1 AND seq = 5`, en.ComputeHash())
		}, []want{{audit.Unlinked, 6, 6, 0}}},
		{"middle entry deleted", func(a *attacker) {
			a.exec(`DELETE FROM audit_log WHERE org_id = $1 AND seq = 5`)
		}, []want{{audit.Deleted, 5, 5, 0}}},
		{"run of entries deleted", func(a *attacker) {
			a.exec(`DELETE FROM audit_log WHERE org_id = $1 AND seq BETWEEN 4 AND 6`)
		}, []want{{audit.Deleted, 4, 6, 0}}},
		{"first entry deleted", func(a *attacker) {
			a.exec(`DELETE FROM audit_log WHERE org_id = $1 AND seq = 1`)
		}, []want{{audit.Deleted, 1, 1, 0}}},
		{"neighbours swapped", func(a *attacker) { a.swapSeq(4, 5) },
			[]want{{audit.Reordered, 4, 4, 5}, {audit.Reordered, 5, 5, 4}}},
		{"distant entries swapped", func(a *attacker) { a.swapSeq(2, 8) },
			[]want{{audit.Reordered, 2, 2, 8}, {audit.Reordered, 8, 8, 2}}},
		{"first and last swapped", func(a *attacker) { a.swapSeq(1, 10) },
			[]want{{audit.Reordered, 1, 1, 10}, {audit.Reordered, 10, 10, 1}}},
		{"tail deleted", func(a *attacker) {
			a.exec(`DELETE FROM audit_log WHERE org_id = $1 AND seq >= 9`)
		}, []want{{audit.Truncated, 9, 10, 0}}},
		{"every entry deleted", func(a *attacker) {
			a.exec(`DELETE FROM audit_log WHERE org_id = $1`)
		}, []want{{audit.Truncated, 1, 10, 0}}},
		{"forged entry beyond the head", func(a *attacker) {
			a.insert(a.forge(11, a.ens[9].Hash))
		}, []want{{audit.BeyondHead, 11, 11, 0}}},
		{"forged entry replaces one", func(a *attacker) {
			a.exec(`DELETE FROM audit_log WHERE org_id = $1 AND seq = 5`)
			a.insert(a.forge(5, a.ens[3].Hash))
		}, []want{{audit.Unlinked, 6, 6, 0}}},
		{"forged entry chained to an old one, head advanced", func(a *attacker) {
			en := a.forge(11, a.ens[2].Hash)
			a.insert(en)
			a.exec(`UPDATE audit_heads SET seq = 11, hash = $2 WHERE org_id = $1`, en.Hash)
		}, []want{{audit.Unlinked, 11, 11, 0}}},
		{"forged entry with a made-up hash, head advanced", func(a *attacker) {
			en := a.forge(11, a.ens[9].Hash)
			en.Hash = make([]byte, 32)
			en.Hash[0] = 1
			a.insert(en)
			a.exec(`UPDATE audit_heads SET seq = 11, hash = $2 WHERE org_id = $1`, en.Hash)
		}, []want{{audit.Modified, 11, 11, 0}}},
		{"head rewound", func(a *attacker) {
			a.exec(`UPDATE audit_heads SET seq = 8, hash = $2 WHERE org_id = $1`, a.ens[7].Hash)
		}, []want{{audit.BeyondHead, 9, 10, 0}}},
		{"head hash rewritten", func(a *attacker) {
			a.exec(`UPDATE audit_heads SET hash = $2 WHERE org_id = $1`, a.ens[3].Hash)
		}, []want{{audit.HeadMismatch, 10, 10, 0}}},
		{"head removed", func(a *attacker) {
			a.exec(`DELETE FROM audit_heads WHERE org_id = $1`)
		}, []want{{audit.NoHead, 1, 10, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			ens := appendN(t, f.tdb, f.a, 10, event)
			appendN(t, f.tdb, f.b, 3, event)
			tc.tamper(newAttacker(t, f.db, f.a, ens))

			r, err := audit.Verify(context.Background(), f.tdb, f.a)
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, p := range r.Problems {
				got = append(got, want{p.Kind, p.Seq, p.LastSeq, p.WrittenSeq})
				if p.Org != f.a {
					t.Errorf("problem %v names org %s; want %s", p, p.Org, f.a)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("problems = %v; want %v", got, tc.want)
			}
			var out strings.Builder
			ok, err := audit.WriteVerifyReport(&out, r)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("report:\n%s", out.String())
			if ok != (len(tc.want) == 0) {
				t.Errorf("WriteVerifyReport ok = %v; want %v", ok, len(tc.want) == 0)
			}
			if strings.Contains(out.String(), "192.0.2.10") || strings.Contains(out.String(), "password") {
				t.Errorf("report carries entry contents:\n%s", out.String())
			}

			all, err := audit.VerifyAll(context.Background(), f.tdb)
			if err != nil {
				t.Fatal(err)
			}
			if len(all.Chains) != 2 || len(all.Problems) != len(tc.want) {
				t.Errorf("VerifyAll: %d chains, %d problems; want 2 chains and %d problems (org B untouched)",
					len(all.Chains), len(all.Problems), len(tc.want))
			}
		})
	}
}

func TestWriteVerifyReport(t *testing.T) {
	t.Parallel()
	org := tenancy.OrgID(uuid.MustParse("11111111-2222-4333-8444-555555555555"))
	cases := []struct {
		name   string
		report audit.Report
		want   string
		wantOK bool
	}{
		{"clean", audit.Report{Chains: []audit.Chain{{Org: org, Entries: 12, HeadSeq: 12}}},
			"audit verify: ok: 1 chain(s), 12 entries, 0 problem(s)\n", true},
		{"tampered", audit.Report{
			Chains: []audit.Chain{{Org: org, Entries: 9, HeadSeq: 12, Problems: 3}},
			Problems: []audit.Problem{
				{Org: org, Kind: audit.Modified, Seq: 2, LastSeq: 2},
				{Org: org, Kind: audit.Reordered, Seq: 4, LastSeq: 4, WrittenSeq: 7},
				{Org: org, Kind: audit.Truncated, Seq: 10, LastSeq: 12},
			}},
			"org 11111111-2222-4333-8444-555555555555: entry 2 was modified: its contents no longer match its hash\n" +
				"org 11111111-2222-4333-8444-555555555555: entry 4 was moved: it was written as entry 7\n" +
				"org 11111111-2222-4333-8444-555555555555: entries 10–12 were removed from the end: the chain head records entry 12, the last entry is 9\n" +
				"audit verify: TAMPERED: 1 chain(s), 9 entries, 3 problem(s)\n", false},
	}
	for _, tc := range cases {
		var out strings.Builder
		ok, err := audit.WriteVerifyReport(&out, tc.report)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want || ok != tc.wantOK {
			t.Errorf("%s: got ok=%v\n%s\nwant ok=%v\n%s", tc.name, ok, out.String(), tc.wantOK, tc.want)
		}
	}
}

// TestAnchorsCatchConsistentRewrites plays an attacker who knows the hash
// algorithm and rewrites the tail and the head consistently: the chain alone
// verifies (the limit of an unkeyed chain), an anchor taken from an earlier
// clean report does not.
func TestAnchorsCatchConsistentRewrites(t *testing.T) {
	t.Parallel()
	type want struct {
		kind audit.Kind
		seq  int64
	}
	cases := []struct {
		name   string
		tamper func(a *attacker)
		want   want
	}{
		{"tail rewritten and re-hashed", func(a *attacker) {
			e9, e10 := a.ens[8], a.ens[9]
			e9.Outcome = audit.Failure
			e9.Hash = e9.ComputeHash()
			e10.PrevHash = e9.Hash
			e10.Hash = e10.ComputeHash()
			a.exec(`UPDATE audit_log SET outcome = 'failure', hash = $2 WHERE org_id = $1 AND seq = 9`, e9.Hash)
			a.exec(`UPDATE audit_log SET prev_hash = $2, hash = $3 WHERE org_id = $1 AND seq = 10`, e10.PrevHash, e10.Hash)
			a.exec(`UPDATE audit_heads SET hash = $2 WHERE org_id = $1`, e10.Hash)
		}, want{audit.AnchorMismatch, 10}},
		{"tail and head removed", func(a *attacker) {
			a.exec(`DELETE FROM audit_log WHERE org_id = $1 AND seq >= 9`)
			a.exec(`UPDATE audit_heads SET seq = 8, hash = $2 WHERE org_id = $1`, a.ens[7].Hash)
		}, want{audit.AnchorMissing, 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			ctx := context.Background()
			ens := appendN(t, f.tdb, f.a, 10, event)
			clean, err := audit.Verify(ctx, f.tdb, f.a)
			if err != nil || !clean.OK() {
				t.Fatalf("clean chain: %v, %v", clean.Problems, err)
			}
			c := clean.Chains[0]
			anchors := []audit.Anchor{
				{Org: c.Org, Seq: c.HeadSeq, Hash: c.HeadHash},
				{Org: f.b, Seq: 99, Hash: []byte("another org's anchor is ignored")},
			}
			tc.tamper(newAttacker(t, f.db, f.a, ens))

			r, err := audit.Verify(ctx, f.tdb, f.a)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK() {
				t.Errorf("without anchors: problems %v; this rewrite was expected to go unseen", r.Problems)
			}
			for _, verify := range []func() (audit.Report, error){
				func() (audit.Report, error) { return audit.Verify(ctx, f.tdb, f.a, anchors...) },
				func() (audit.Report, error) { return audit.VerifyAll(ctx, f.tdb, anchors[0]) },
			} {
				r, err := verify()
				if err != nil {
					t.Fatal(err)
				}
				var got []want
				for _, p := range r.Problems {
					got = append(got, want{p.Kind, p.Seq})
					t.Log(p)
				}
				if fmt.Sprint(got) != fmt.Sprint([]want{tc.want}) {
					t.Errorf("with the anchor: problems %v; want %v", got, []want{tc.want})
				}
			}
		})
	}
}

package audit_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
)

// BenchmarkAppend measures one audited transaction per entry (the way the
// product records events), for one org, as the application role.
func BenchmarkAppend(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	e := event(1)
	b.ResetTimer()
	for b.Loop() {
		err := f.tdb.WithOrg(ctx, f.a, func(tx pgx.Tx) error {
			_, err := audit.Append(ctx, tx, f.a, e)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAppendContended appends to one org from parallel goroutines: the
// chain head serialises them, so this is the ceiling for one busy clinic.
func BenchmarkAppendContended(b *testing.B) {
	f := setup(b)
	ctx := context.Background()
	e := event(1)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := f.tdb.WithOrg(ctx, f.a, func(tx pgx.Tx) error {
				_, err := audit.Append(ctx, tx, f.a, e)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkVerify verifies a chain of 20,000 entries.
func BenchmarkVerify(b *testing.B) {
	const n = 20000
	f := setup(b)
	ctx := context.Background()
	for done := 0; done < n; done += 500 {
		err := f.tdb.WithOrg(ctx, f.a, func(tx pgx.Tx) error {
			for i := 0; i < 500; i++ {
				if _, err := audit.Append(ctx, tx, f.a, mixed(done+i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := audit.Verify(ctx, f.tdb, f.a)
		if err != nil {
			b.Fatal(err)
		}
		if !r.OK() || r.Entries() != n {
			b.Fatalf("ok=%v entries=%d; want an intact chain of %d", r.OK(), r.Entries(), n)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
}

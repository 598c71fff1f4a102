package syncstore_test

import (
	"context"
	"fmt"
	"testing"

	"healthprep.dev/desktop/internal/syncagent"
)

// BenchmarkApplyPage applies pages of 500 feed changes as an initial sync
// does (per patient: the Patient, an appointment and 98 chart resources),
// reporting records per second. The 2,000-patient target (~200k records
// in ≤ 30 s over loopback) needs ≥ 6,700 records/s here plus the wire.
func BenchmarkApplyPage(b *testing.B) {
	ctx := context.Background()
	s := setup(b)
	const perPage = 500
	n := 0
	next := func() syncagent.Change {
		n++
		pid := fmt.Sprintf("p%d", n/100)
		switch n % 100 {
		case 0:
			return syncagent.Change{Kind: "patient", ID: pid, Payload: patientJSON(pid, "Ann"), Seq: int64(n)}
		case 1:
			return syncagent.Change{Kind: "appointment", ID: fmt.Sprint("a", n), Payload: fmt.Appendf(nil,
				`{"resourceType":"Appointment","id":"a%d","status":"booked","start":"2026-03-02T09:30:00Z","participant":[{"actor":{"reference":"Patient/%s"}}]}`, n, pid), Seq: int64(n)}
		}
		return syncagent.Change{Kind: "chart_resource", ID: fmt.Sprint("Observation/o", n), Payload: fmt.Appendf(nil,
			`{"resourceType":"Observation","id":"o%d","status":"final","subject":{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"effectiveDateTime":"2025-11-01","valueQuantity":{"value":6.1,"unit":"%%"}}`, n, pid), Seq: int64(n)}
	}
	cur := ""
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := syncagent.Page{From: cur, Next: fmt.Sprint("c", i)}
		for range perPage {
			p.Changes = append(p.Changes, next())
		}
		if err := s.ApplyPage(ctx, p); err != nil {
			b.Fatal(err)
		}
		cur = p.Next
	}
	b.ReportMetric(float64(b.N*perPage)/b.Elapsed().Seconds(), "records/s")
}

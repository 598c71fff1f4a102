package api

import (
	"context"
	"io"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/tenancy"
)

// AuditStore is the AuditLog on Postgres (package audit): every call is
// scoped to the one organisation the filter names, which RBAC has checked.
type AuditStore struct{ DB *tenancy.DB }

var _ AuditLog = AuditStore{}

func (f AuditFilter) audit() audit.Filter {
	return audit.Filter{
		ActorUserID: f.ActorUserID, Action: f.Action, PatientRef: f.PatientRef, Outcome: f.Outcome,
		Since: f.Since, Until: f.Until,
	}
}

// Query implements AuditLog.
func (s AuditStore) Query(ctx context.Context, f AuditFilter, page org.Page) ([]audit.Entry, string, error) {
	p, err := audit.List(ctx, s.DB, f.Org, audit.Query{Filter: f.audit(), After: audit.Cursor(page.After), Limit: page.Size})
	if err != nil {
		return nil, "", err
	}
	return p.Entries, string(p.Next), nil
}

// ExportCSV implements AuditLog.
func (s AuditStore) ExportCSV(ctx context.Context, f AuditFilter, w io.Writer) error {
	return audit.ExportCSV(ctx, s.DB, f.Org, f.audit(), w)
}

// Verify implements AuditLog.
func (s AuditStore) Verify(ctx context.Context, o tenancy.OrgID) (ChainReport, error) {
	r, err := audit.Verify(ctx, s.DB, o)
	if err != nil {
		return ChainReport{}, err
	}
	cr := ChainReport{Org: o, OK: r.OK(), Checked: r.Entries()}
	if len(r.Problems) > 0 {
		cr.FirstBadSeq, cr.Problem = r.Problems[0].Seq, r.Problems[0].String()
	}
	return cr, nil
}

package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/shared/screening"
)

// Store is the ingest store: patients, appointments, chart resources,
// quarantine and checkpoints, every PHI field sealed with the org's data
// key. Every function runs in one tenancy.WithOrg transaction.
type Store struct {
	db   *tenancy.DB
	keys *envelope.Keys

	// The screening engine write-back assembles sheets with (the default
	// presets), compiled on first use.
	engineOnce sync.Once
	engine     *screening.Engine
	engineErr  error
}

// NewStore returns a Store.
func NewStore(db *tenancy.DB, keys *envelope.Keys) *Store { return &Store{db: db, keys: keys} }

// rowNS namespaces deterministic row ids.
var rowNS = uuid.MustParse("6f1d2c38-4a52-4d8e-9b0e-8d6a0c7f5e11")

// RowID is the deterministic id of a stored resource: the same org, type
// and FHIR id always give the same row, so concurrent upserts agree on
// the row whose id is bound into every sealed field.
func RowID(org tenancy.OrgID, typ, fhirID string) uuid.UUID {
	return uuid.NewSHA1(rowNS, []byte(org.String()+"|"+typ+"|"+fhirID))
}

func quarantineID(org tenancy.OrgID, typ, fhirID string) uuid.UUID {
	if fhirID == "" {
		return uuid.New()
	}
	return uuid.NewSHA1(rowNS, []byte(org.String()+"|quarantine|"+typ+"|"+fhirID))
}

// Batch is what one transaction writes: valid resources and quarantined
// ones (typically one FHIR page).
type Batch struct {
	Resources []Resource
	Invalid   []*Invalid
}

// Applied says what a batch changed.
type Applied struct {
	Written     int   // rows inserted or changed
	Unchanged   int   // identical or older than what is stored
	Ours        int   // our own written-back documents, skipped
	Quarantined int   // resources quarantined
	LastSeq     int64 // the org's change sequence after the batch (0 when nothing was written)
}

type existing struct {
	mac         []byte
	lastUpdated *time.Time
}

func table(typ string) string {
	switch typ {
	case "Patient":
		return "patients"
	case "Appointment":
		return "appointments"
	}
	return "chart_resources"
}

// Apply writes b for org in one transaction: each resource is inserted or
// updated only when its content changed and it is not older than the
// stored version; every written row takes the next change sequence.
// Resources already quarantined are resolved when a valid version arrives.
func (s *Store) Apply(ctx context.Context, org tenancy.OrgID, b Batch) (Applied, error) {
	var out Applied
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = Applied{}
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		// Decide what changed.
		byTable := map[string][]string{}
		for _, r := range b.Resources {
			if r.Ours {
				continue
			}
			byTable[table(r.Type)] = append(byTable[table(r.Type)], RowID(org, r.Type, r.ID).String())
		}
		have := map[string]existing{}
		for tbl, ids := range byTable {
			rows, err := tx.Query(ctx, `SELECT id::text, content_mac, last_updated FROM `+tbl+` WHERE org_id = $1 AND id = ANY($2::uuid[])`, org, ids)
			if err != nil {
				return fmt.Errorf("reading stored versions: %w", err)
			}
			for rows.Next() {
				var id string
				var e existing
				if err := rows.Scan(&id, &e.mac, &e.lastUpdated); err != nil {
					rows.Close()
					return fmt.Errorf("reading stored versions: %w", err)
				}
				have[id] = e
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("reading stored versions: %w", err)
			}
		}
		var todo []Resource
		var macs [][]byte
		seen := map[string]bool{}
		for _, r := range b.Resources {
			if r.Ours {
				out.Ours++
				continue
			}
			id := RowID(org, r.Type, r.ID).String()
			mac := key.BlindIndex("resource/"+r.Type, string(r.Raw))
			e, ok := have[id]
			switch {
			case seen[id]:
				out.Unchanged++
				continue
			case ok && bytes.Equal(e.mac, mac):
				out.Unchanged++
				continue
			case ok && e.lastUpdated != nil && !r.LastUpdated.IsZero() && r.LastUpdated.Before(*e.lastUpdated):
				out.Unchanged++ // stale: we hold a newer version
				continue
			}
			seen[id] = true
			todo = append(todo, r)
			macs = append(macs, mac)
		}
		if len(todo)+len(b.Invalid) > 0 {
			batch := &pgx.Batch{}
			var seq int64
			if n := len(todo); n > 0 {
				// Quarantined resources are not part of the sync feed and
				// take no sequence number.
				var last int64
				if err := tx.QueryRow(ctx, `UPDATE organizations SET change_seq = change_seq + $2 WHERE id = $1 RETURNING change_seq`,
					org, n).Scan(&last); err != nil {
					return fmt.Errorf("taking change sequence: %w", err)
				}
				out.LastSeq = last
				seq = last - int64(n)
			}
			var resolved []string
			for i, r := range todo {
				seq++
				if err := queueUpsert(batch, key, org, r, macs[i], seq); err != nil {
					return err
				}
				resolved = append(resolved, quarantineID(org, r.Type, r.ID).String())
			}
			for _, inv := range b.Invalid {
				if err := queueQuarantine(batch, key, org, inv); err != nil {
					return err
				}
			}
			if len(resolved) > 0 {
				batch.Queue(`UPDATE ingest_quarantine SET resolved_at = now()
					WHERE org_id = $1 AND id = ANY($2::uuid[]) AND resolved_at IS NULL`, org, resolved)
			}
			if err := tx.SendBatch(ctx, batch).Close(); err != nil {
				return fmt.Errorf("writing resources: %w", err)
			}
			out.Written, out.Quarantined = len(todo), len(b.Invalid)
		}
		return nil
	})
	if err != nil {
		return Applied{}, fmt.Errorf("storing ingested resources: %w", err)
	}
	return out, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func queueUpsert(b *pgx.Batch, key *envelope.OrgKey, org tenancy.OrgID, r Resource, mac []byte, seq int64) error {
	id := RowID(org, r.Type, r.ID)
	tbl := table(r.Type)
	seal := func(col string, v []byte) ([]byte, error) {
		return key.Seal(envelope.Field{Table: tbl, Column: col, RowID: id.String()}, v)
	}
	raw, err := seal("resource_enc", r.Raw)
	if err != nil {
		return err
	}
	// Only a newer-or-equal version replaces a stored one, even if a
	// concurrent transaction stored it after we looked.
	const guard = ` WHERE %[1]s.last_updated IS NULL OR EXCLUDED.last_updated IS NULL OR EXCLUDED.last_updated >= %[1]s.last_updated`
	switch tbl {
	case "patients":
		var f [5][]byte
		for i, c := range []struct{ col, v string }{
			{"name_enc", r.Name}, {"birth_date_enc", r.BirthDate}, {"mrn_enc", r.MRN}, {"address_enc", r.Address}, {"phone_enc", r.Phone},
		} {
			if f[i], err = key.SealString(envelope.Field{Table: tbl, Column: c.col, RowID: id.String()}, c.v); err != nil {
				return err
			}
		}
		var bidx []byte
		if r.MRN != "" {
			bidx = key.BlindIndex("mrn", r.MRN)
		}
		b.Queue(fmt.Sprintf(`INSERT INTO patients (org_id, id, fhir_id, version_id, last_updated, name_enc, birth_date_enc, mrn_enc,
				address_enc, phone_enc, resource_enc, content_mac, mrn_bidx, change_seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (org_id, id) DO UPDATE SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
				name_enc = EXCLUDED.name_enc, birth_date_enc = EXCLUDED.birth_date_enc, mrn_enc = EXCLUDED.mrn_enc,
				address_enc = EXCLUDED.address_enc, phone_enc = EXCLUDED.phone_enc, resource_enc = EXCLUDED.resource_enc,
				content_mac = EXCLUDED.content_mac, mrn_bidx = EXCLUDED.mrn_bidx, change_seq = EXCLUDED.change_seq,
				ingested_at = now()`+guard, "patients"),
			org, id, r.ID, r.VersionID, nullTime(r.LastUpdated), f[0], f[1], f[2], f[3], f[4], raw, mac, bidx, seq)
	case "appointments":
		b.Queue(fmt.Sprintf(`INSERT INTO appointments (org_id, id, fhir_id, version_id, last_updated, status, start_at, end_at,
				patient_fhir_id, resource_enc, content_mac, change_seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (org_id, id) DO UPDATE SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
				status = EXCLUDED.status, start_at = EXCLUDED.start_at, end_at = EXCLUDED.end_at,
				patient_fhir_id = EXCLUDED.patient_fhir_id, resource_enc = EXCLUDED.resource_enc,
				content_mac = EXCLUDED.content_mac, change_seq = EXCLUDED.change_seq, ingested_at = now()`+guard, "appointments"),
			org, id, r.ID, r.VersionID, nullTime(r.LastUpdated), r.Status, nullTime(r.Start), nullTime(r.End), r.PatientID, raw, mac, seq)
	default:
		var date *time.Time
		if !r.Date.IsZero() {
			t := r.Date.Time()
			date = &t
		}
		b.Queue(fmt.Sprintf(`INSERT INTO chart_resources (org_id, id, resource_type, fhir_id, version_id, last_updated,
				patient_fhir_id, effective_date, resource_enc, content_mac, change_seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8::date, $9, $10, $11)
			ON CONFLICT (org_id, id) DO UPDATE SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
				patient_fhir_id = EXCLUDED.patient_fhir_id, effective_date = EXCLUDED.effective_date,
				resource_enc = EXCLUDED.resource_enc, content_mac = EXCLUDED.content_mac, change_seq = EXCLUDED.change_seq,
				ingested_at = now()`+guard, "chart_resources"),
			org, id, r.Type, r.ID, r.VersionID, nullTime(r.LastUpdated), r.PatientID, date, raw, mac, seq)
	}
	return nil
}

func queueQuarantine(b *pgx.Batch, key *envelope.OrgKey, org tenancy.OrgID, inv *Invalid) error {
	id := quarantineID(org, inv.Type, inv.ID)
	var raw []byte
	if len(inv.Raw) > 0 {
		r := inv.Raw
		if len(r) > 1<<20 {
			r = r[:1<<20]
		}
		var err error
		if raw, err = key.Seal(envelope.Field{Table: "ingest_quarantine", Column: "raw_enc", RowID: id.String()}, r); err != nil {
			return err
		}
	}
	typ := inv.Type
	if len(typ) > 64 {
		typ = typ[:64]
	}
	reason := inv.Reason
	if reason == "" {
		reason = "unreadable"
	}
	b.Queue(`INSERT INTO ingest_quarantine (org_id, id, resource_type, fhir_id, reason, raw_enc)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id, id) DO UPDATE SET reason = EXCLUDED.reason, raw_enc = EXCLUDED.raw_enc,
			occurrences = ingest_quarantine.occurrences + 1, last_seen_at = now(), resolved_at = NULL`,
		org, id, typ, inv.ID, truncateReason(reason), raw)
	return nil
}

func truncateReason(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

// ErrNotFound is returned when a looked-up row does not exist in the org.
var ErrNotFound = errors.New("ingest: not found")

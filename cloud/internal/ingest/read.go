package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/tenancy"
)

// Reader is the person (or workstation) a PHI read is for: every read
// function that returns PHI records one audit.RecordPHIAccess per patient
// in the transaction that reads it, so data never leaves unaudited.
type Reader struct {
	UserID   uuid.UUID
	Role     string
	IP       string
	DeviceID string
	Channel  string // api, web, desktop, sync
}

func (rd Reader) record(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, patientFHIRID, resource, resourceID string, fields string) error {
	details := map[string]string{"channel": rd.Channel, "fields": fields}
	if rd.Channel == "" {
		details["channel"] = "api"
	}
	_, err := audit.RecordPHIAccess(ctx, tx, org, audit.PHIAccess{
		ActorUserID: rd.UserID, ActorRole: rd.Role, PatientRef: "Patient/" + patientFHIRID,
		Resource: resource, ResourceID: resourceID, IP: rd.IP, DeviceID: rd.DeviceID, Details: details,
	})
	if err != nil {
		return fmt.Errorf("recording PHI read: %w", err)
	}
	return nil
}

// Patient is a stored patient with its PHI opened.
type Patient struct {
	FHIRID      string
	VersionID   string
	LastUpdated time.Time
	Name        string
	BirthDate   string
	MRN         string
	Address     string
	Phone       string
	ChangeSeq   int64
}

const patientCols = `id::text, fhir_id, version_id, coalesce(last_updated, 'epoch'), name_enc, birth_date_enc, mrn_enc, address_enc, phone_enc, change_seq`

func scanPatient(row pgx.Row, key *envelope.OrgKey) (Patient, error) {
	var p Patient
	var id string
	var enc [5][]byte
	if err := row.Scan(&id, &p.FHIRID, &p.VersionID, &p.LastUpdated, &enc[0], &enc[1], &enc[2], &enc[3], &enc[4], &p.ChangeSeq); err != nil {
		return Patient{}, err
	}
	for i, c := range []struct {
		col string
		dst *string
	}{{"name_enc", &p.Name}, {"birth_date_enc", &p.BirthDate}, {"mrn_enc", &p.MRN}, {"address_enc", &p.Address}, {"phone_enc", &p.Phone}} {
		v, err := key.OpenString(envelope.Field{Table: "patients", Column: c.col, RowID: id}, enc[i])
		if err != nil {
			return Patient{}, fmt.Errorf("opening patient field %s: %w", c.col, err)
		}
		*c.dst = v
	}
	return p, nil
}

// FindPatientsByMRN returns the org's patients whose MRN matches (through
// the blind index; the MRN itself is never compared in clear), recording a
// PHI read for each one returned.
func (s *Store) FindPatientsByMRN(ctx context.Context, org tenancy.OrgID, rd Reader, mrn string) ([]Patient, error) {
	var out []Patient
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = nil
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+patientCols+` FROM patients WHERE org_id = $1 AND mrn_bidx = $2 ORDER BY fhir_id LIMIT 20`,
			org, key.BlindIndex("mrn", mrn))
		if err != nil {
			return err
		}
		for rows.Next() {
			p, err := scanPatient(rows, key)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, p := range out {
			if err := rd.record(ctx, tx, org, p.FHIRID, "patient", "", "demographics"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding patients by MRN: %w", err)
	}
	return out, nil
}

// GetPatient returns one patient by FHIR id, recording the read.
func (s *Store) GetPatient(ctx context.Context, org tenancy.OrgID, rd Reader, fhirID string) (Patient, error) {
	var p Patient
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		p, err = scanPatient(tx.QueryRow(ctx, `SELECT `+patientCols+` FROM patients WHERE org_id = $1 AND fhir_id = $2`, org, fhirID), key)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return rd.record(ctx, tx, org, p.FHIRID, "patient", "", "demographics")
	})
	if err != nil {
		return Patient{}, fmt.Errorf("reading patient: %w", err)
	}
	return p, nil
}

// StoredResource is a stored FHIR resource with its JSON opened.
type StoredResource struct {
	Type, FHIRID, PatientID string
	VersionID               string
	LastUpdated             time.Time
	ChangeSeq               int64
	JSON                    json.RawMessage
}

// PatientResources returns every stored chart resource of one patient,
// recording the read.
func (s *Store) PatientResources(ctx context.Context, org tenancy.OrgID, rd Reader, patientFHIRID string) ([]StoredResource, error) {
	var out []StoredResource
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = nil
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id::text, resource_type, fhir_id, patient_fhir_id, version_id,
				coalesce(last_updated, 'epoch'), change_seq, resource_enc
			FROM chart_resources WHERE org_id = $1 AND patient_fhir_id = $2 ORDER BY resource_type, fhir_id`, org, patientFHIRID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r StoredResource
			var id string
			var enc []byte
			if err := rows.Scan(&id, &r.Type, &r.FHIRID, &r.PatientID, &r.VersionID, &r.LastUpdated, &r.ChangeSeq, &enc); err != nil {
				return err
			}
			if r.JSON, err = key.Open(envelope.Field{Table: "chart_resources", Column: "resource_enc", RowID: id}, enc); err != nil {
				return fmt.Errorf("opening resource: %w", err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return rd.record(ctx, tx, org, patientFHIRID, "chart", "", "chart")
	})
	if err != nil {
		return nil, fmt.Errorf("reading patient resources: %w", err)
	}
	return out, nil
}

// Change is one entry of the org's change feed (the changes view).
type Change struct {
	Seq          int64
	Entity       string // patient, appointment, chart_resource
	ResourceType string
	FHIRID       string
	PatientID    string
}

// Changes pages the org's change feed: entries with seq > after, oldest
// first. It carries ids only, no PHI; the sync feed opens what it sends.
func (s *Store) Changes(ctx context.Context, org tenancy.OrgID, after int64, limit int) ([]Change, error) {
	var out []Change
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT seq, entity, resource_type, fhir_id, patient_fhir_id
			FROM changes WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, org, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c Change
			if err := rows.Scan(&c.Seq, &c.Entity, &c.ResourceType, &c.FHIRID, &c.PatientID); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("reading changes: %w", err)
	}
	return out, nil
}

// Quarantined is a resource that could not be ingested.
type Quarantined struct {
	ID           uuid.UUID
	ResourceType string
	FHIRID       string
	Reason       string
	Occurrences  int
	FirstSeen    time.Time
	LastSeen     time.Time
}

// Quarantine lists the org's unresolved quarantined resources, most
// recently seen first. It carries no PHI (reasons never quote values).
func (s *Store) Quarantine(ctx context.Context, org tenancy.OrgID, limit int) ([]Quarantined, error) {
	var out []Quarantined
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT id, resource_type, fhir_id, reason, occurrences, first_seen_at, last_seen_at
			FROM ingest_quarantine WHERE org_id = $1 AND resolved_at IS NULL ORDER BY last_seen_at DESC, id LIMIT $2`, org, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var q Quarantined
			if err := rows.Scan(&q.ID, &q.ResourceType, &q.FHIRID, &q.Reason, &q.Occurrences, &q.FirstSeen, &q.LastSeen); err != nil {
				return err
			}
			out = append(out, q)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing quarantine: %w", err)
	}
	return out, nil
}

// Counts are how many rows of each kind an org holds (for status pages
// and tests).
type Counts struct {
	Patients, Appointments, ChartResources, Quarantined int
	ByType                                              map[string]int
}

// Count returns org's row counts.
func (s *Store) Count(ctx context.Context, org tenancy.OrgID) (Counts, error) {
	c := Counts{ByType: map[string]int{}}
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM appointments),
				(SELECT count(*) FROM ingest_quarantine WHERE resolved_at IS NULL)`).
			Scan(&c.Patients, &c.Appointments, &c.Quarantined); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT resource_type, count(*) FROM chart_resources GROUP BY 1`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			var n int
			if err := rows.Scan(&t, &n); err != nil {
				return err
			}
			c.ByType[t] = n
			c.ChartResources += n
		}
		return rows.Err()
	})
	if err != nil {
		return Counts{}, fmt.Errorf("counting ingested rows: %w", err)
	}
	return c, nil
}

// Checkpoint returns the watermark of the last complete search of typ
// for patient ("" for org-wide), and whether there is one.
func (s *Store) Checkpoint(ctx context.Context, org tenancy.OrgID, typ, patient string) (time.Time, bool, error) {
	var w time.Time
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT watermark FROM ingest_checkpoints WHERE org_id = $1 AND resource_type = $2 AND patient_fhir_id = $3`,
			org, typ, patient).Scan(&w)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading checkpoint: %w", err)
	}
	return w, true, nil
}

// SetCheckpoint records that a search of typ for patient was stored in
// full up to watermark. A checkpoint never moves backwards.
func (s *Store) SetCheckpoint(ctx context.Context, org tenancy.OrgID, typ, patient string, watermark time.Time) error {
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO ingest_checkpoints (org_id, resource_type, patient_fhir_id, watermark)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, resource_type, patient_fhir_id) DO UPDATE
			SET watermark = greatest(ingest_checkpoints.watermark, EXCLUDED.watermark), updated_at = now()`,
			org, typ, patient, watermark)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing checkpoint: %w", err)
	}
	return nil
}

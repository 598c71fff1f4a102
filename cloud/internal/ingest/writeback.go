package ingest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/tenancy"
)

// DocumentWriter is what write-back needs from an org's FHIR server
// (*epic.Client).
type DocumentWriter interface {
	Search(ctx context.Context, resourceType string, params url.Values) ([]json.RawMessage, error)
	Read(ctx context.Context, resourceType, id string) (json.RawMessage, error)
	Create(ctx context.Context, resourceType string, resource []byte) (*epic.Written, error)
	Update(ctx context.Context, resourceType, id string, resource []byte, ifMatch string) (*epic.Written, error)
}

// Write-back outcomes.
const (
	WritebackCreated   = "created"   // a new DocumentReference
	WritebackUpdated   = "updated"   // our DocumentReference for the visit, replaced
	WritebackUnchanged = "unchanged" // the sheet is what Epic already has: nothing sent
	WritebackCapped    = "capped"    // the patient's daily limit was reached: nothing sent
)

// WritebackResult says what one write-back did.
type WritebackResult struct {
	Outcome    string
	DocumentID string
	VersionID  string
}

// WritebackLimits are the org's write-back settings.
type WritebackLimits struct {
	MaxPerDay int // writes per patient per local day (epic_configs.writeback_max_per_day)
}

// visitChart reads what a visit's sheet needs. No person reads it: the job
// sends it to the org's own Epic, and WriteBack audits that disclosure
// (epic.writeback, with the patient) instead of a phi.read.
func (s *Store) visitChart(ctx context.Context, org tenancy.OrgID, appointmentID string) (visitChart, error) {
	var vc visitChart
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		vc = visitChart{}
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		open := func(tbl, id string, enc []byte) (json.RawMessage, error) {
			return key.Open(envelope.Field{Table: tbl, Column: "resource_enc", RowID: id}, enc)
		}
		var id string
		var enc []byte
		err = tx.QueryRow(ctx, `SELECT id::text, patient_fhir_id, resource_enc FROM appointments WHERE org_id = $1 AND fhir_id = $2`,
			org, appointmentID).Scan(&id, &vc.PatientID, &enc)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if vc.Appointment, err = open("appointments", id, enc); err != nil {
			return fmt.Errorf("opening appointment: %w", err)
		}
		err = tx.QueryRow(ctx, `SELECT id::text, resource_enc FROM patients WHERE org_id = $1 AND fhir_id = $2`, org, vc.PatientID).Scan(&id, &enc)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if vc.Patient, err = open("patients", id, enc); err != nil {
			return fmt.Errorf("opening patient: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT id::text, resource_enc FROM chart_resources WHERE org_id = $1 AND patient_fhir_id = $2
			ORDER BY resource_type, fhir_id`, org, vc.PatientID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(&id, &enc); err != nil {
				return err
			}
			raw, err := open("chart_resources", id, enc)
			if err != nil {
				return fmt.Errorf("opening resource: %w", err)
			}
			vc.Chart = append(vc.Chart, raw)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return visitChart{}, fmt.Errorf("reading the visit's chart: %w", err)
	}
	return vc, nil
}

type writebackRow struct {
	docID, version string
	mac            []byte
	status         string
}

// WriteBack writes the prep sheet of one visit (appointment) to the org's
// Epic through w: created the first time, then replaced in place (an
// update with If-Match on the version we wrote), never a second copy. An
// unchanged sheet is not sent again; at most lim.MaxPerDay sheets per
// patient reach Epic per local day (the rest wait, status capped). The
// outcome is recorded in the visit's write-back row and audited
// (epic.writeback); a failure is recorded in words and returned, for the
// job to retry.
func (s *Store) WriteBack(ctx context.Context, org tenancy.OrgID, w DocumentWriter, appointmentID string, lim WritebackLimits, now time.Time) (WritebackResult, error) {
	if !idRe.MatchString(appointmentID) {
		return WritebackResult{}, fmt.Errorf("writing back: %q is not an appointment id", appointmentID)
	}
	s.engineOnce.Do(func() { s.engine, s.engineErr = defaultEngine() })
	if s.engineErr != nil {
		return WritebackResult{}, s.engineErr
	}
	loc, err := s.orgLocation(ctx, org)
	if err != nil {
		return WritebackResult{}, err
	}
	vc, err := s.visitChart(ctx, org, appointmentID)
	if err != nil {
		return WritebackResult{}, err
	}
	doc, err := buildPrepDocument(s.engine, vc, loc, now)
	if err != nil {
		return WritebackResult{}, err
	}
	local := now.In(loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)

	// 1. Decide, and reserve a slot of the patient's daily limit.
	var row writebackRow
	var mac []byte
	var result WritebackResult
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		mac = key.BlindIndex("writeback/sheet", hex.EncodeToString(doc.SheetHash[:]))
		row = writebackRow{}
		err = tx.QueryRow(ctx, `SELECT document_fhir_id, version_id, content_mac, status FROM prep_sheet_writebacks
			WHERE org_id = $1 AND appointment_fhir_id = $2 FOR UPDATE`, org, appointmentID).Scan(&row.docID, &row.version, &row.mac, &row.status)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if row.status == "written" && string(row.mac) == string(mac) {
			result = WritebackResult{Outcome: WritebackUnchanged, DocumentID: row.docID, VersionID: row.version}
			return nil
		}
		var used int
		err = tx.QueryRow(ctx, `INSERT INTO prep_sheet_writes_daily (org_id, patient_fhir_id, day, writes) VALUES ($1, $2, $3, 0)
			ON CONFLICT (org_id, patient_fhir_id, day) DO UPDATE SET writes = prep_sheet_writes_daily.writes
			RETURNING writes`, org, vc.PatientID, day).Scan(&used)
		if err != nil {
			return err
		}
		if used >= lim.MaxPerDay {
			result = WritebackResult{Outcome: WritebackCapped, DocumentID: row.docID, VersionID: row.version}
			msg := fmt.Sprintf("the limit of %d prep sheets per patient per day is reached; the latest sheet is written tomorrow", lim.MaxPerDay)
			_, err := tx.Exec(ctx, `INSERT INTO prep_sheet_writebacks (org_id, appointment_fhir_id, patient_fhir_id, status, last_error, updated_at)
				VALUES ($1, $2, $3, 'capped', $4, $5)
				ON CONFLICT (org_id, appointment_fhir_id) DO UPDATE SET status = 'capped', last_error = $4, updated_at = $5`,
				org, appointmentID, vc.PatientID, msg, now)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE prep_sheet_writes_daily SET writes = writes + 1 WHERE org_id = $1 AND patient_fhir_id = $2 AND day = $3`,
			org, vc.PatientID, day); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO prep_sheet_writebacks (org_id, appointment_fhir_id, patient_fhir_id, attempts, last_attempt_at, updated_at)
			VALUES ($1, $2, $3, 1, $4, $4)
			ON CONFLICT (org_id, appointment_fhir_id) DO UPDATE SET attempts = prep_sheet_writebacks.attempts + 1,
				last_attempt_at = $4, updated_at = $4`, org, appointmentID, vc.PatientID, now)
		return err
	})
	if err != nil {
		return WritebackResult{}, fmt.Errorf("writing back: %w", err)
	}
	if result.Outcome != "" {
		return result, nil
	}

	// 2. Send it to Epic.
	result, sendErr := sendDocument(ctx, w, row, vc.PatientID, appointmentID, doc, now)

	// 3. Record the outcome (and give the slot back on failure).
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		ev := audit.Event{Action: "epic.writeback", Outcome: audit.Success, ActorRole: "system",
			TargetType: "appointment", TargetID: appointmentID, PatientRef: "Patient/" + vc.PatientID,
			Details: map[string]string{"operation": result.Outcome, "document": result.DocumentID, "version": result.VersionID}}
		if sendErr != nil {
			ev.Outcome = audit.Failure
			ev.Details = map[string]string{"error": truncateReason(sendErr.Error())}
			if _, err := tx.Exec(ctx, `UPDATE prep_sheet_writes_daily SET writes = greatest(writes - 1, 0)
				WHERE org_id = $1 AND patient_fhir_id = $2 AND day = $3`, org, vc.PatientID, day); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE prep_sheet_writebacks SET status = 'failed', last_error = $3, updated_at = $4
				WHERE org_id = $1 AND appointment_fhir_id = $2`, org, appointmentID, truncate1000(sendErr.Error()), now); err != nil {
				return err
			}
		} else if _, err := tx.Exec(ctx, `UPDATE prep_sheet_writebacks SET status = 'written', document_fhir_id = $3, version_id = $4,
				content_mac = $5, writes = writes + 1, last_error = '', written_at = $6, updated_at = $6
			WHERE org_id = $1 AND appointment_fhir_id = $2`, org, appointmentID, result.DocumentID, result.VersionID, mac, now); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, org, ev)
		return err
	})
	if err != nil {
		return WritebackResult{}, fmt.Errorf("recording the write-back: %w", err)
	}
	if sendErr != nil {
		return WritebackResult{}, fmt.Errorf("writing back the prep sheet: %w", sendErr)
	}
	return result, nil
}

func truncate1000(s string) string {
	if len(s) > 1000 {
		return s[:1000]
	}
	return s
}

// sendDocument creates or replaces our DocumentReference for the visit.
// Without a stored id it first looks for ours among the patient's
// documents (by our identifier), so a create that reached Epic but whose
// answer was lost is updated, not duplicated.
func sendDocument(ctx context.Context, w DocumentWriter, row writebackRow, patientID, appointmentID string, doc prepDocument, now time.Time) (WritebackResult, error) {
	id, version := row.docID, row.version
	if id == "" {
		found, ver, err := findOurs(ctx, w, patientID, appointmentID)
		if err != nil {
			return WritebackResult{}, err
		}
		id, version = found, ver
	}
	if id != "" {
		for try := 0; ; try++ {
			body, err := documentReference(id, patientID, appointmentID, doc, now)
			if err != nil {
				return WritebackResult{}, err
			}
			ifMatch := ""
			if version != "" {
				ifMatch = `W/"` + version + `"`
			}
			wr, err := w.Update(ctx, "DocumentReference", id, body, ifMatch)
			var fe *epic.Error
			switch {
			case err == nil:
				return WritebackResult{Outcome: WritebackUpdated, DocumentID: wr.ID, VersionID: wr.VersionID}, nil
			case errors.As(err, &fe) && fe.StatusCode == http.StatusPreconditionFailed && try == 0:
				// Changed in Epic since we wrote it: take its current
				// version and replace it once more.
				if version, err = currentVersion(ctx, w, id); err != nil {
					return WritebackResult{}, err
				}
				continue
			case errors.Is(err, epic.ErrNotFound):
				id = "" // deleted in Epic: write a new one
			default:
				return WritebackResult{}, err
			}
			break
		}
	}
	body, err := documentReference("", patientID, appointmentID, doc, now)
	if err != nil {
		return WritebackResult{}, err
	}
	wr, err := w.Create(ctx, "DocumentReference", body)
	if err != nil {
		return WritebackResult{}, err
	}
	return WritebackResult{Outcome: WritebackCreated, DocumentID: wr.ID, VersionID: wr.VersionID}, nil
}

type docHead struct {
	ID   string `json:"id"`
	Meta struct {
		VersionID string `json:"versionId"`
	} `json:"meta"`
	Status     string `json:"status"`
	Identifier []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
}

func findOurs(ctx context.Context, w DocumentWriter, patientID, appointmentID string) (string, string, error) {
	docs, err := w.Search(ctx, "DocumentReference", url.Values{"patient": {"Patient/" + patientID}, "_count": {"100"}})
	if err != nil && !errors.Is(err, epic.ErrIncomplete) {
		return "", "", fmt.Errorf("looking for our earlier prep sheet: %w", err)
	}
	for _, raw := range docs {
		var h docHead
		if json.Unmarshal(raw, &h) != nil || h.Status == "entered-in-error" {
			continue
		}
		for _, id := range h.Identifier {
			if id.System == OwnIdentifierSystem && id.Value == visitIdentifier(appointmentID) {
				return h.ID, h.Meta.VersionID, nil
			}
		}
	}
	return "", "", nil
}

func currentVersion(ctx context.Context, w DocumentWriter, id string) (string, error) {
	raw, err := w.Read(ctx, "DocumentReference", id)
	if err != nil {
		return "", fmt.Errorf("reading our prep sheet's current version: %w", err)
	}
	var h docHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", fmt.Errorf("reading our prep sheet's current version: %w", err)
	}
	return h.Meta.VersionID, nil
}

// Writeback is one visit's write-back state, for admins (no PHI: FHIR ids,
// counts and errors in words).
type Writeback struct {
	AppointmentID string
	PatientID     string
	DocumentID    string
	VersionID     string
	Status        string // pending, written, failed, capped
	Attempts      int
	Writes        int
	LastError     string
	LastAttemptAt time.Time
	WrittenAt     time.Time
}

// WritebackSummary counts an org's write-backs by status and lists the
// ones that need attention (failed or capped), most recent first.
type WritebackSummary struct {
	Written, Failed, Capped, Pending int
	Problems                         []Writeback
}

// Writebacks summarises org's write-backs, listing at most limit problems.
func (s *Store) Writebacks(ctx context.Context, org tenancy.OrgID, limit int) (WritebackSummary, error) {
	var out WritebackSummary
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = WritebackSummary{}
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'written'), count(*) FILTER (WHERE status = 'failed'),
				count(*) FILTER (WHERE status = 'capped'), count(*) FILTER (WHERE status = 'pending')
			FROM prep_sheet_writebacks WHERE org_id = $1`, org).Scan(&out.Written, &out.Failed, &out.Capped, &out.Pending); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT appointment_fhir_id, patient_fhir_id, document_fhir_id, version_id, status, attempts, writes,
				last_error, coalesce(last_attempt_at, 'epoch'), coalesce(written_at, 'epoch')
			FROM prep_sheet_writebacks WHERE org_id = $1 AND status IN ('failed', 'capped')
			ORDER BY updated_at DESC, appointment_fhir_id LIMIT $2`, org, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var w Writeback
			if err := rows.Scan(&w.AppointmentID, &w.PatientID, &w.DocumentID, &w.VersionID, &w.Status, &w.Attempts, &w.Writes,
				&w.LastError, &w.LastAttemptAt, &w.WrittenAt); err != nil {
				return err
			}
			w.LastAttemptAt, w.WrittenAt = unEpoch(w.LastAttemptAt), unEpoch(w.WrittenAt)
			out.Problems = append(out.Problems, w)
		}
		return rows.Err()
	})
	if err != nil {
		return WritebackSummary{}, fmt.Errorf("reading write-backs: %w", err)
	}
	return out, nil
}

// Writeback returns one visit's write-back row.
func (s *Store) Writeback(ctx context.Context, org tenancy.OrgID, appointmentID string) (Writeback, error) {
	var w Writeback
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT appointment_fhir_id, patient_fhir_id, document_fhir_id, version_id, status, attempts, writes,
				last_error, coalesce(last_attempt_at, 'epoch'), coalesce(written_at, 'epoch')
			FROM prep_sheet_writebacks WHERE org_id = $1 AND appointment_fhir_id = $2`, org, appointmentID).
			Scan(&w.AppointmentID, &w.PatientID, &w.DocumentID, &w.VersionID, &w.Status, &w.Attempts, &w.Writes,
				&w.LastError, &w.LastAttemptAt, &w.WrittenAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Writeback{}, ErrNotFound
	}
	if err != nil {
		return Writeback{}, fmt.Errorf("reading write-back: %w", err)
	}
	w.LastAttemptAt, w.WrittenAt = unEpoch(w.LastAttemptAt), unEpoch(w.WrittenAt)
	return w, nil
}

// unEpoch turns the 'epoch' a NULL time was coalesced to back into zero.
func unEpoch(t time.Time) time.Time {
	if t.Unix() == 0 {
		return time.Time{}
	}
	return t
}

// visitsToWrite lists the appointments of the org's current local day
// that a sheet is written for (not cancelled, missed or entered in error).
func (s *Store) visitsToWrite(ctx context.Context, org tenancy.OrgID, now time.Time) ([]string, error) {
	loc, err := s.orgLocation(ctx, org)
	if err != nil {
		return nil, err
	}
	local := now.In(loc)
	from := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	var out []string
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT fhir_id FROM appointments WHERE org_id = $1 AND start_at >= $2 AND start_at < $3
			AND status NOT IN ('cancelled', 'noshow', 'entered-in-error') ORDER BY start_at, fhir_id`, org, from, from.AddDate(0, 0, 1))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing today's visits: %w", err)
	}
	return out, nil
}

// WritebackArgs writes one visit's prep sheet back to Epic.
type WritebackArgs struct {
	OrgID         string `json:"org_id"`
	AppointmentID string `json:"appointment_id"`
}

// Kind implements river.JobArgs.
func (WritebackArgs) Kind() string { return "epic_writeback" }

// InsertOpts: one write-back per visit queued or running; retried with
// River's backoff.
func (WritebackArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: openStates}}
}

type writebackWorker struct {
	river.WorkerDefaults[WritebackArgs]
	j *Jobs
}

// Work writes the visit's sheet when the org has write-back on. Failures
// are retried by River; one that needs an admin (authorization, scopes, a
// document Epic refuses) is cancelled, its reason left in the status.
func (w *writebackWorker) Work(ctx context.Context, job *river.Job[WritebackArgs]) error {
	org, err := tenancy.ParseOrgID(job.Args.OrgID)
	if err != nil {
		return river.JobCancel(err)
	}
	cr, err := w.j.conns.Credentials(ctx, org)
	if err != nil {
		return err
	}
	if !cr.Config.WritebackEnabled {
		return nil // turned off since it was queued
	}
	client, err := w.j.fhirClient(ctx, org)
	if err != nil {
		return err
	}
	_, err = w.j.store.WriteBack(ctx, org, client, job.Args.AppointmentID, WritebackLimits{MaxPerDay: cr.Config.WritebackMaxPerDay}, w.j.cfg.Now())
	var fe *epic.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, errNoSheet), errors.Is(err, epic.ErrAuthorization), errors.Is(err, epic.ErrForbidden):
		return river.JobCancel(err)
	case errors.As(err, &fe) && fe.StatusCode >= 400 && fe.StatusCode < 500 &&
		fe.StatusCode != http.StatusTooManyRequests && fe.StatusCode != http.StatusConflict && fe.StatusCode != http.StatusPreconditionFailed:
		return river.JobCancel(err)
	}
	return err
}

// enqueueWritebacks queues a write-back for each of today's visits when
// the org has write-back on (after a successful ingest: the sheets are as
// fresh as the data).
func (j *Jobs) enqueueWritebacks(ctx context.Context, org tenancy.OrgID, enabled bool) error {
	if !enabled {
		return nil
	}
	ids, err := j.store.visitsToWrite(ctx, org, j.cfg.Now())
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, 0, len(ids))
	for _, id := range ids {
		params = append(params, river.InsertManyParams{Args: WritebackArgs{OrgID: org.String(), AppointmentID: id}})
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params); err != nil {
		return fmt.Errorf("enqueuing write-backs: %w", err)
	}
	return nil
}

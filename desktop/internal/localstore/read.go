package localstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"healthprep.dev/shared/chart"
)

// openJSON opens a sealed body and decodes it into v.
func openJSON(k *keys, sealed []byte, v any, table, column string, id, patient []byte) error {
	b, err := k.open(sealed, rowAAD(table, column, id, patient))
	if err != nil {
		return fmt.Errorf("opening %s.%s: %w", table, column, err)
	}
	defer clear(b)
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decoding %s.%s: %w", table, column, err)
	}
	return nil
}

// Patient returns the patient with id, or ErrNotFound.
func (s *Store) Patient(ctx context.Context, id string) (chart.Patient, error) {
	var p chart.Patient
	err := s.withKeys(func(k *keys) error {
		var err error
		p, err = readPatient(ctx, s.r, k, id)
		return err
	})
	if err != nil {
		return chart.Patient{}, fmt.Errorf("reading a patient: %w", err)
	}
	return p, nil
}

func readPatient(ctx context.Context, q querier, k *keys, id string) (chart.Patient, error) {
	var p chart.Patient
	blind := k.id(string(KindPatient), id)
	var body []byte
	err := q.QueryRowContext(ctx, `SELECT body FROM patients WHERE id = ?`, blind).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	err = openJSON(k, body, &p, "patients", "body", blind, nil)
	return p, err
}

// PatientByMRN returns the patient whose MRN is mrn, or ErrNotFound.
func (s *Store) PatientByMRN(ctx context.Context, mrn string) (chart.Patient, error) {
	var found chart.Patient
	err := s.withKeys(func(k *keys) error {
		rows, err := s.r.QueryContext(ctx, `SELECT id, body FROM patients WHERE mrn = ?`, k.id("mrn", mrn))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, body []byte
			if err := rows.Scan(&id, &body); err != nil {
				return err
			}
			var p chart.Patient
			if err := openJSON(k, body, &p, "patients", "body", id, nil); err != nil {
				return err
			}
			if p.MRN == mrn { // the index column is not authenticated; the body is
				found = p
				return nil
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return ErrNotFound
	})
	if err != nil {
		return chart.Patient{}, fmt.Errorf("finding a patient by MRN: %w", err)
	}
	return found, nil
}

// Appointments returns the appointments starting in [from, to), by start
// time then id.
func (s *Store) Appointments(ctx context.Context, from, to time.Time) ([]Appointment, error) {
	var out []Appointment
	err := s.withKeys(func(k *keys) error {
		rows, err := s.r.QueryContext(ctx, `SELECT id, patient, body FROM appointments WHERE day BETWEEN ? AND ?`,
			dayOf(from), dayOf(to))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, patient, body []byte
			if err := rows.Scan(&id, &patient, &body); err != nil {
				return err
			}
			var a Appointment
			if err := openJSON(k, body, &a, "appointments", "body", id, patient); err != nil {
				return err
			}
			if !a.Start.Before(from) && a.Start.Before(to) {
				out = append(out, a)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing appointments: %w", err)
	}
	slices.SortFunc(out, func(a, b Appointment) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// querier is a pool or a read transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// patientRows decodes every row of table for patientID into T, sorted by
// key.
func patientRows[T any](ctx context.Context, s *Store, table, column, patientID string, key func(T) string) ([]T, error) {
	var out []T
	err := s.withKeys(func(k *keys) error {
		var err error
		out, err = readPatientRows(ctx, s.r, k, table, column, patientID, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", table, err)
	}
	return out, nil
}

func readPatientRows[T any](ctx context.Context, q querier, k *keys, table, column, patientID string, key func(T) string) ([]T, error) {
	var out []T
	patient := k.id(string(KindPatient), patientID)
	// table and column are our constants, never input.
	rows, err := q.QueryContext(ctx, `SELECT id, `+column+` FROM `+table+` WHERE patient = ?`, patient)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		var v T
		if err := openJSON(k, body, &v, table, column, id, patient); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	return out, nil
}

// ChartItems returns a patient's chart items, by id.
func (s *Store) ChartItems(ctx context.Context, patientID string) ([]ChartItem, error) {
	return patientRows(ctx, s, "chart_items", "body", patientID, func(c ChartItem) string { return c.ID })
}

// Overrides returns a patient's overrides, by id.
func (s *Store) Overrides(ctx context.Context, patientID string) ([]Override, error) {
	return patientRows(ctx, s, "overrides", "body", patientID, func(o Override) string { return o.ID })
}

// Documents returns a patient's documents without their content, by id.
func (s *Store) Documents(ctx context.Context, patientID string) ([]Document, error) {
	return patientRows(ctx, s, "documents", "meta", patientID, func(d Document) string { return d.ID })
}

// DocumentContent returns the content blob of document id.
func (s *Store) DocumentContent(ctx context.Context, id string) ([]byte, error) {
	var out []byte
	err := s.withKeys(func(k *keys) error {
		blind := k.id(string(KindDocument), id)
		var patient, content []byte
		err := s.r.QueryRowContext(ctx, `SELECT patient, content FROM documents WHERE id = ?`, blind).Scan(&patient, &content)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = k.open(content, rowAAD("documents", "content", blind, patient))
		if err != nil {
			return fmt.Errorf("opening documents.content: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading a document's content: %w", err)
	}
	return out, nil
}

// PrepSheet returns the cached prep sheet of an appointment, or
// ErrNotFound.
func (s *Store) PrepSheet(ctx context.Context, appointmentID string) (PrepSheet, error) {
	var p PrepSheet
	err := s.withKeys(func(k *keys) error {
		blind := k.id(string(KindPrepSheet), appointmentID)
		var patient, body []byte
		err := s.r.QueryRowContext(ctx, `SELECT patient, body FROM prep_sheets WHERE id = ?`, blind).Scan(&patient, &body)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return openJSON(k, body, &p, "prep_sheets", "body", blind, patient)
	})
	if err != nil {
		return PrepSheet{}, fmt.Errorf("reading a prep sheet: %w", err)
	}
	return p, nil
}

// Record returns everything cached about a patient as the screening engine
// reads it: the patient, their chart items and their documents' redacted
// text, all from one snapshot (a page applied meanwhile is seen whole or
// not at all). It fails with ErrNotFound for an unknown patient.
func (s *Store) Record(ctx context.Context, patientID string) (chart.Record, error) {
	var rec chart.Record
	err := s.withKeys(func(k *keys) error {
		tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if rec.Patient, err = readPatient(ctx, tx, k, patientID); err != nil {
			return err
		}
		items, err := readPatientRows(ctx, tx, k, "chart_items", "body", patientID, func(c ChartItem) string { return c.ID })
		if err != nil {
			return err
		}
		docs, err := readPatientRows(ctx, tx, k, "documents", "meta", patientID, func(d Document) string { return d.ID })
		if err != nil {
			return err
		}
		for _, it := range items {
			rec.Items = append(rec.Items, it.Item)
		}
		for _, d := range docs {
			rec.Documents = append(rec.Documents, chart.Document{Ref: "DocumentReference/" + d.ID, Title: d.Title, Date: d.Date, Text: d.Text})
		}
		return nil
	})
	if err != nil {
		return chart.Record{}, fmt.Errorf("reading a patient's record: %w", err)
	}
	return rec, nil
}

// Outbox returns up to limit entries in the order they were enqueued.
func (s *Store) Outbox(ctx context.Context, limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.withKeys(func(k *keys) error {
		rows, err := s.r.QueryContext(ctx, `SELECT id, kind, payload, created_at, attempts FROM outbox ORDER BY seq LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e       OutboxEntry
				payload []byte
				created int64
			)
			if err := rows.Scan(&e.ID, &e.Kind, &payload, &created, &e.Attempts); err != nil {
				return err
			}
			if e.Payload, err = k.open(payload, outboxAAD(e.ID, e.Kind)); err != nil {
				return fmt.Errorf("opening outbox.payload: %w", err)
			}
			e.CreatedAt = time.UnixMilli(created)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	return out, nil
}

// MarkAttempted counts one more push attempt for each entry.
func (s *Store) MarkAttempted(ctx context.Context, ids ...string) error {
	return s.outboxExec(ctx, "marking outbox attempts", `UPDATE outbox SET attempts = attempts + 1 WHERE id = ?`, ids)
}

// Ack removes entries the cloud acknowledged. Unknown ids (an
// acknowledgement seen twice) are ignored.
func (s *Store) Ack(ctx context.Context, ids ...string) error {
	return s.outboxExec(ctx, "acknowledging outbox entries", `DELETE FROM outbox WHERE id = ?`, ids)
}

func (s *Store) outboxExec(ctx context.Context, what, query string, ids []string) error {
	return s.Update(ctx, func(t *Tx) error {
		for _, id := range ids {
			if _, err := t.tx.ExecContext(ctx, query, id); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		return nil
	})
}

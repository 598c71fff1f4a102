package localstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/shared/chart"
)

// Tx is a write transaction: everything done through it commits together or
// not at all. It is valid only inside the function given to Update.
type Tx struct {
	ctx context.Context
	tx  *sql.Tx
	k   *keys
	now func() time.Time
}

// testHookChange, when set by a test, runs before each change of a page.
var testHookChange func(i int)

// Update runs fn in one write transaction: it commits when fn returns nil
// and rolls back otherwise. Use it to record a local result together with
// its outbox entry.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.withKeys(func(k *keys) error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("beginning a write: %w", err)
		}
		defer tx.Rollback()
		if err := fn(&Tx{ctx: ctx, tx: tx, k: k, now: s.opts.Now}); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("committing a write: %w", err)
		}
		return nil
	})
}

// ApplyPage applies a page of the change feed and stores next as the new
// cursor in ONE transaction: after a crash or an error, either the whole
// page and its cursor are there, or neither is. A page whose From is not
// the stored cursor (a duplicated or stale response) fails with
// ErrCursorMismatch and changes nothing.
func (s *Store) ApplyPage(ctx context.Context, page Page, next Cursor) error {
	err := s.Update(ctx, func(t *Tx) error {
		cur, err := t.cursor()
		if err != nil {
			return err
		}
		if cur != page.From {
			return ErrCursorMismatch
		}
		for i, c := range page.Changes {
			if testHookChange != nil {
				testHookChange(i)
			}
			if c.apply == nil {
				return fmt.Errorf("change %d: empty change", i)
			}
			if err := c.apply(t); err != nil {
				return fmt.Errorf("change %d: %w", i, err)
			}
		}
		return t.setCursor(next)
	})
	if err != nil {
		return fmt.Errorf("applying a sync page: %w", err)
	}
	return nil
}

// Cursor returns the stored sync cursor ("" before the first page).
func (s *Store) Cursor(ctx context.Context) (Cursor, error) {
	var c Cursor
	err := s.withKeys(func(k *keys) error {
		var sealed []byte
		err := s.r.QueryRowContext(ctx, `SELECT cursor FROM sync_state WHERE one = 1`).Scan(&sealed)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		c, err = openCursor(k, sealed)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("reading the sync cursor: %w", err)
	}
	return c, nil
}

func openCursor(k *keys, sealed []byte) (Cursor, error) {
	b, err := k.open(sealed, aad("sync_state", "cursor", nil))
	if err != nil {
		return "", err
	}
	return Cursor(b), nil
}

func (t *Tx) cursor() (Cursor, error) {
	var sealed []byte
	err := t.tx.QueryRowContext(t.ctx, `SELECT cursor FROM sync_state WHERE one = 1`).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the sync cursor: %w", err)
	}
	c, err := openCursor(t.k, sealed)
	if err != nil {
		return "", fmt.Errorf("reading the sync cursor: %w", err)
	}
	return c, nil
}

func (t *Tx) setCursor(c Cursor) error {
	sealed, err := t.k.seal([]byte(c), aad("sync_state", "cursor", nil))
	if err != nil {
		return fmt.Errorf("storing the sync cursor: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO sync_state (one, cursor) VALUES (1, ?)
		ON CONFLICT (one) DO UPDATE SET cursor = excluded.cursor`, sealed); err != nil {
		return fmt.Errorf("storing the sync cursor: %w", err)
	}
	return nil
}

// sealJSON marshals v and seals it for (table, column, id, patient).
func (t *Tx) sealJSON(v any, table, column string, id, patient []byte) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", table, err)
	}
	defer clear(b)
	return t.k.seal(b, rowAAD(table, column, id, patient))
}

// rowAAD binds a value to its table, column, row and patient, so that
// neither moving a value nor re-pointing a row at another patient goes
// unnoticed.
func rowAAD(table, column string, id, patient []byte) []byte {
	return aad(table, column, append(append(append([]byte(nil), id...), 0), patient...))
}

func need(what, v string) error {
	if v == "" {
		return fmt.Errorf("%s is empty", what)
	}
	return nil
}

// PutPatient inserts or replaces a patient (name, MRN, birth date and the
// rest sealed together; the MRN also gets a keyed lookup hash).
func (t *Tx) PutPatient(p chart.Patient) error {
	if err := need("patient id", p.ID); err != nil {
		return fmt.Errorf("storing a patient: %w", err)
	}
	id := t.k.id(string(KindPatient), p.ID)
	var mrn []byte
	if p.MRN != "" {
		mrn = t.k.id("mrn", p.MRN)
	}
	body, err := t.sealJSON(p, "patients", "body", id, nil)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO patients (id, mrn, body) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET mrn = excluded.mrn, body = excluded.body`, id, mrn, body); err != nil {
		return fmt.Errorf("storing a patient: %w", err)
	}
	return nil
}

// dayOf is the UTC day number of t, the appointments' range index.
func dayOf(t time.Time) int64 { return t.UTC().Unix() / 86400 }

// PutAppointment inserts or replaces an appointment.
func (t *Tx) PutAppointment(a Appointment) error {
	if err := errors.Join(need("appointment id", a.ID), need("patient id", a.PatientID)); err != nil {
		return fmt.Errorf("storing an appointment: %w", err)
	}
	if a.Start.IsZero() {
		return errors.New("storing an appointment: start time is empty")
	}
	id, patient := t.k.id(string(KindAppointment), a.ID), t.k.id(string(KindPatient), a.PatientID)
	body, err := t.sealJSON(a, "appointments", "body", id, patient)
	if err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO appointments (id, patient, day, body) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET patient = excluded.patient, day = excluded.day, body = excluded.body`,
		id, patient, dayOf(a.Start), body); err != nil {
		return fmt.Errorf("storing an appointment: %w", err)
	}
	return nil
}

// putPatientRow writes a sealed body into one of the per-patient tables.
func (t *Tx) putPatientRow(kind Kind, table, what, rowID, patientID string, v any) error {
	if err := errors.Join(need(what+" id", rowID), need("patient id", patientID)); err != nil {
		return fmt.Errorf("storing %s: %w", what, err)
	}
	id, patient := t.k.id(string(kind), rowID), t.k.id(string(KindPatient), patientID)
	body, err := t.sealJSON(v, table, "body", id, patient)
	if err != nil {
		return err
	}
	// table is one of our constants, never input.
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO `+table+` (id, patient, body) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET patient = excluded.patient, body = excluded.body`, id, patient, body); err != nil {
		return fmt.Errorf("storing %s: %w", what, err)
	}
	return nil
}

// PutChartItem inserts or replaces a chart item.
func (t *Tx) PutChartItem(c ChartItem) error {
	return t.putPatientRow(KindChartItem, "chart_items", "a chart item", c.ID, c.PatientID, c)
}

// PutPrepSheet inserts or replaces the prep sheet of an appointment.
func (t *Tx) PutPrepSheet(p PrepSheet) error {
	return t.putPatientRow(KindPrepSheet, "prep_sheets", "a prep sheet", p.AppointmentID, p.PatientID, p)
}

// PutOverride inserts or replaces an override.
func (t *Tx) PutOverride(o Override) error {
	return t.putPatientRow(KindOverride, "overrides", "an override", o.ID, o.PatientID, o)
}

// PutDocument inserts or replaces a document and its content.
func (t *Tx) PutDocument(d Document) error {
	if err := errors.Join(need("document id", d.ID), need("patient id", d.PatientID)); err != nil {
		return fmt.Errorf("storing a document: %w", err)
	}
	id, patient := t.k.id(string(KindDocument), d.ID), t.k.id(string(KindPatient), d.PatientID)
	meta, err := t.sealJSON(d, "documents", "meta", id, patient)
	if err != nil {
		return err
	}
	content, err := t.k.seal(d.Content, rowAAD("documents", "content", id, patient))
	if err != nil {
		return fmt.Errorf("storing a document: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO documents (id, patient, meta, content) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET patient = excluded.patient, meta = excluded.meta, content = excluded.content`,
		id, patient, meta, content); err != nil {
		return fmt.Errorf("storing a document: %w", err)
	}
	return nil
}

// Delete removes the row of kind with id; a patient takes everything cached
// about them along. A missing row is not an error.
func (t *Tx) Delete(kind Kind, id string) error {
	table, ok := kind.table()
	if !ok {
		return fmt.Errorf("deleting: unknown kind %q", kind)
	}
	if err := need(string(kind)+" id", id); err != nil {
		return fmt.Errorf("deleting: %w", err)
	}
	blind := t.k.id(string(kind), id)
	if kind == KindPatient {
		for _, tb := range []string{"appointments", "chart_items", "documents", "prep_sheets", "overrides"} {
			if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM `+tb+` WHERE patient = ?`, blind); err != nil {
				return fmt.Errorf("deleting a patient's %s: %w", tb, err)
			}
		}
	}
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM `+table+` WHERE id = ?`, blind); err != nil {
		return fmt.Errorf("deleting a %s: %w", kind, err)
	}
	return nil
}

// Enqueue adds an entry to the outbox and returns its id (generated when
// e.ID is empty). Together with a Put in the same Update, the local result
// and its outbox entry commit together.
func (t *Tx) Enqueue(e OutboxEntry) (string, error) {
	if e.ID == "" {
		e.ID = uuid.NewString()
	} else if _, err := uuid.Parse(e.ID); err != nil {
		return "", fmt.Errorf("enqueueing: id is not a UUID")
	}
	if e.Kind == "" {
		return "", errors.New("enqueueing: kind is empty")
	}
	payload, err := t.k.seal(e.Payload, outboxAAD(e.ID, e.Kind))
	if err != nil {
		return "", fmt.Errorf("enqueueing: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO outbox (id, kind, payload, created_at) VALUES (?, ?, ?, ?)`,
		e.ID, e.Kind, payload, t.now().UnixMilli()); err != nil {
		return "", fmt.Errorf("enqueueing: %w", err)
	}
	return e.ID, nil
}

func outboxAAD(id, kind string) []byte {
	return aad("outbox", "payload", []byte(id+"\x00"+kind))
}

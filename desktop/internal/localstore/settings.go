package localstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Setting is one sealed value that is not a patient's row: the
// organisation's configuration, a screening type, sync bookkeeping. Its key
// is stored in the clear and must not carry PHI.
type Setting struct {
	Key   string
	Value []byte
}

func settingAAD(key string) []byte { return aad("settings", "value", []byte(key)) }

// PutSetting inserts or replaces the setting key.
func (t *Tx) PutSetting(key string, value []byte) error {
	if err := need("setting key", key); err != nil {
		return fmt.Errorf("storing a setting: %w", err)
	}
	sealed, err := t.k.seal(value, settingAAD(key))
	if err != nil {
		return fmt.Errorf("storing a setting: %w", err)
	}
	if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO settings (k, value) VALUES (?, ?)
		ON CONFLICT (k) DO UPDATE SET value = excluded.value`, key, sealed); err != nil {
		return fmt.Errorf("storing a setting: %w", err)
	}
	return nil
}

// DeleteSetting removes the setting key; a missing one is not an error.
func (t *Tx) DeleteSetting(key string) error {
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM settings WHERE k = ?`, key); err != nil {
		return fmt.Errorf("deleting a setting: %w", err)
	}
	return nil
}

// Setting returns the value of the setting key inside the transaction, or
// ErrNotFound.
func (t *Tx) Setting(key string) ([]byte, error) {
	v, err := readSetting(t.ctx, t.tx, t.k, key)
	if err != nil {
		return nil, fmt.Errorf("reading a setting: %w", err)
	}
	return v, nil
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readSetting(ctx context.Context, q rowQuerier, k *keys, key string) ([]byte, error) {
	var sealed []byte
	err := q.QueryRowContext(ctx, `SELECT value FROM settings WHERE k = ?`, key).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return k.open(sealed, settingAAD(key))
}

// Setting returns the value of the setting key, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.withKeys(func(k *keys) error {
		var err error
		v, err = readSetting(ctx, s.r, k, key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading a setting: %w", err)
	}
	return v, nil
}

// Settings returns the settings whose key starts with prefix, by key.
func (s *Store) Settings(ctx context.Context, prefix string) ([]Setting, error) {
	var out []Setting
	err := s.withKeys(func(k *keys) error {
		rows, err := s.r.QueryContext(ctx, `SELECT k, value FROM settings WHERE substr(k, 1, ?) = ? ORDER BY k`, len(prefix), prefix)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var st Setting
			var sealed []byte
			if err := rows.Scan(&st.Key, &sealed); err != nil {
				return err
			}
			if !strings.HasPrefix(st.Key, prefix) {
				continue
			}
			if st.Value, err = k.open(sealed, settingAAD(st.Key)); err != nil {
				return err
			}
			out = append(out, st)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing settings: %w", err)
	}
	return out, nil
}

// UpsertSetting inserts or replaces a setting as part of a page.
func UpsertSetting(key string, value []byte) Change {
	return Change{func(t *Tx) error { return t.PutSetting(key, value) }}
}

// DeleteSetting removes a setting as part of a page.
func DeleteSetting(key string) Change {
	return Change{func(t *Tx) error { return t.DeleteSetting(key) }}
}

// Func is a change computed inside the page's transaction (it may read
// what earlier changes of the page wrote). fn must not keep t.
func Func(fn func(t *Tx) error) Change { return Change{fn} }

// RemoveUser destroys userID's password wrap inside the transaction (the
// cloud revoked the user; see Store.RemoveUser): once it commits, the user
// can no longer unlock this workstation offline, and UnlockWithPassword
// for them fails with ErrUnknownUser until they sign in online again.
func (t *Tx) RemoveUser(userID string) error {
	if _, err := t.tx.ExecContext(t.ctx, `DELETE FROM key_wraps WHERE kind = 'user' AND subject = ?`, userID); err != nil {
		return fmt.Errorf("removing a user's key: %w", err)
	}
	return nil
}

// CheckPassword reports whether password unwraps userID's data key, like
// UnlockWithPassword (ErrWrongPassword, ErrUnknownUser) but without
// unlocking or locking anything. Sign-in uses it to tell a stale wrap (the
// cloud refuses a password this workstation still accepts) from a typo.
func (s *Store) CheckPassword(ctx context.Context, userID, password string) error {
	var (
		wrapped, salt []byte
		p             KDFParams
	)
	err := s.w.QueryRowContext(ctx, `SELECT wrapped, kdf_salt, kdf_time, kdf_mem_kib, kdf_threads
		FROM key_wraps WHERE kind = 'user' AND subject = ?`, userID).Scan(&wrapped, &salt, &p.Time, &p.MemoryKiB, &p.Threads)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("checking a password: %w", ErrUnknownUser)
	}
	if err != nil {
		return fmt.Errorf("checking a password: %w", err)
	}
	if err := p.validStored(); err != nil {
		return fmt.Errorf("checking a password: %w", err)
	}
	kek := p.derive(password, salt)
	defer clear(kek)
	dk, err := unwrap(kek, wrapped, s.wrapAAD("user", userID, p))
	if err != nil {
		return fmt.Errorf("checking a password: %w", ErrWrongPassword)
	}
	clear(dk)
	return nil
}

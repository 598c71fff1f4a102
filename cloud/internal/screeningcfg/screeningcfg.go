// Package screeningcfg keeps each organisation's changes to the shared
// default screening library (a preset.OrgSettings: types turned off,
// changed ages and intervals, its own types) in Postgres under row-level
// security. Saves are validated with the shared preset rules, guarded by
// a version (optimistic concurrency: a save names the version it edited)
// and audited in the same transaction.
package screeningcfg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// ErrConflict is returned by Update when the settings changed since the
// version the caller edited.
var ErrConflict = errors.New("screening settings changed since they were read")

// InvalidError is settings the shared preset rules refuse. Message is a
// sentence for the person who edited them (no PHI: settings hold none).
type InvalidError struct{ Message string }

func (e *InvalidError) Error() string { return e.Message }

// Settings are an organisation's saved changes. Version 0 means none were
// ever saved (the default library as is).
type Settings struct {
	Org       preset.OrgSettings
	Version   int64
	UpdatedBy uuid.UUID
	UpdatedAt time.Time
}

// Actor is who saves, for the audit log.
type Actor struct {
	UserID uuid.UUID
	Role   string
	IP     string
}

// Store reads and writes organisations' screening settings.
type Store struct {
	db  *tenancy.DB
	now func() time.Time
	lib screening.Library
}

// New returns a Store validating against the shared default library.
func New(db *tenancy.DB, now func() time.Time) (*Store, error) {
	lib, err := preset.Default()
	if err != nil {
		return nil, fmt.Errorf("loading the default screening library: %w", err)
	}
	return &Store{db: db, now: now, lib: lib}, nil
}

// Library returns the default library the settings apply to.
func (s *Store) Library() screening.Library { return s.lib }

// Validate checks org against the shared preset rules and returns an
// *InvalidError saying what is wrong.
func (s *Store) Validate(org preset.OrgSettings) error {
	if _, err := preset.Apply(s.lib, org); err != nil {
		msg := strings.TrimPrefix(err.Error(), "org settings: ")
		return &InvalidError{Message: "the screening library refuses these settings: " + msg}
	}
	return nil
}

// Get returns the organisation's settings (Version 0 when none were saved).
func (s *Store) Get(ctx context.Context, org tenancy.OrgID) (Settings, error) {
	var out Settings
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var raw []byte
		err := tx.QueryRow(ctx, `SELECT settings, version, updated_by, updated_at FROM screening_settings WHERE org_id = $1`, org).
			Scan(&raw, &out.Version, &out.UpdatedBy, &out.UpdatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &out.Org)
	})
	if err != nil {
		return Settings{}, fmt.Errorf("reading screening settings: %w", err)
	}
	return out, nil
}

// Update replaces the organisation's settings with org when the stored
// version is still version (0 for "never saved"); otherwise it returns
// ErrConflict and changes nothing. Invalid settings get an *InvalidError.
func (s *Store) Update(ctx context.Context, actor Actor, org tenancy.OrgID, settings preset.OrgSettings, version int64) (Settings, error) {
	if version < 0 {
		return Settings{}, &InvalidError{Message: "version: must be 0 or more"}
	}
	if err := s.Validate(settings); err != nil {
		return Settings{}, err
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return Settings{}, fmt.Errorf("encoding screening settings: %w", err)
	}
	out := Settings{Org: settings, Version: version + 1, UpdatedBy: actor.UserID, UpdatedAt: s.now().UTC()}
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var tag interface{ RowsAffected() int64 }
		if version == 0 {
			ct, err := tx.Exec(ctx, `INSERT INTO screening_settings (org_id, settings, version, updated_by, updated_at)
				VALUES ($1, $2, 1, $3, $4) ON CONFLICT (org_id) DO NOTHING`, org, raw, actor.UserID, out.UpdatedAt)
			if err != nil {
				return err
			}
			tag = ct
		} else {
			ct, err := tx.Exec(ctx, `UPDATE screening_settings SET settings = $2, version = version + 1, updated_by = $3, updated_at = $4
				WHERE org_id = $1 AND version = $5`, org, raw, actor.UserID, out.UpdatedAt, version)
			if err != nil {
				return err
			}
			tag = ct
		}
		if tag.RowsAffected() != 1 {
			return ErrConflict
		}
		_, err := audit.Append(ctx, tx, org, audit.Event{ActorUserID: actor.UserID, ActorRole: actor.Role, IP: actor.IP,
			Action: "screening.settings.update", Outcome: audit.Success, TargetType: "screening_settings", TargetID: org.String(),
			Details: map[string]string{
				"version":       fmt.Sprint(out.Version),
				"disabled":      fmt.Sprint(len(settings.Disabled)),
				"changed_types": fmt.Sprint(len(settings.Types)),
				"added_types":   fmt.Sprint(len(settings.Added)),
			}})
		return err
	})
	if errors.Is(err, ErrConflict) {
		return Settings{}, err
	}
	if err != nil {
		return Settings{}, fmt.Errorf("saving screening settings: %w", err)
	}
	return out, nil
}

// Versions returns the saved version of every organisation that has
// settings (platform scope: for the publisher enumerating organisations).
func (s *Store) Versions(ctx context.Context) (map[tenancy.OrgID]int64, error) {
	out := map[tenancy.OrgID]int64{}
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT org_id, version FROM screening_settings`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id tenancy.OrgID
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				return err
			}
			out[id] = v
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing screening settings versions: %w", err)
	}
	return out, nil
}

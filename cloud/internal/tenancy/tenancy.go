// Package tenancy is the only door to tenant data in Postgres. Every
// transaction is opened for one organisation with set_config('app.org_id',
// …, true), so the row-level security policies of every tenant table admit
// that organisation's rows and nothing else; the setting dies with the
// transaction and never leaks to the next user of a pooled connection.
package tenancy

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OrgID identifies an organisation (a tenant).
type OrgID uuid.UUID

// ParseOrgID parses the canonical text form of an organisation ID.
func ParseOrgID(s string) (OrgID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return OrgID{}, fmt.Errorf("invalid organisation id: %w", err)
	}
	return OrgID(u), nil
}

// NewOrgID returns a new random organisation ID.
func NewOrgID() OrgID { return OrgID(uuid.New()) }

// String returns the canonical text form.
func (o OrgID) String() string { return uuid.UUID(o).String() }

// IsZero reports whether o is the zero ID.
func (o OrgID) IsZero() bool { return o == OrgID{} }

// Value lets pgx and database/sql send an OrgID as uuid.
func (o OrgID) Value() (driver.Value, error) { return o.String(), nil }

// Scan lets pgx read a uuid column into an OrgID.
func (o *OrgID) Scan(src any) error {
	var u uuid.UUID
	if err := u.Scan(src); err != nil {
		return fmt.Errorf("scanning organisation id: %w", err)
	}
	*o = OrgID(u)
	return nil
}

// ErrNoOrg is returned when a tenant transaction is asked for the zero org.
var ErrNoOrg = errors.New("tenancy: no organisation given")

// DB holds the application's connection pool. The pool is unexported: tenant
// data is reachable only through WithOrg and WithPlatform.
type DB struct {
	pool *pgxpool.Pool
}

// New wraps a pool connected as the application role.
func New(pool *pgxpool.Pool) *DB { return &DB{pool: pool} }

// Open connects to dsn (the application role) and returns a DB.
func Open(ctx context.Context, dsn string) (*DB, error) {
	p, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database pool: %w", err)
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("connecting to database: %w", err)
	}
	return &DB{pool: p}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// Ping checks the database is reachable (for health checks).
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// WithOrg runs fn in a transaction scoped to org: row-level security admits
// only org's rows for reads and writes. fn's error rolls the transaction
// back; otherwise it commits.
func (db *DB) WithOrg(ctx context.Context, org OrgID, fn func(pgx.Tx) error) error {
	if org.IsZero() {
		return ErrNoOrg
	}
	return db.inTx(ctx, "app.org_id", org.String(), fn)
}

// WithPlatform runs fn in a transaction with platform scope, which the
// policies admit across organisations. Only three kinds of caller may use
// it: sign-in and token lookups (the organisation is not yet known), the
// root administrator's RPCs (after RBAC has checked the role), and
// background jobs that enumerate organisations. Everything else uses WithOrg.
func (db *DB) WithPlatform(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.inTx(ctx, "app.platform", "on", fn)
}

func (db *DB) inTx(ctx context.Context, setting, value string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", setting, value); err != nil {
			return fmt.Errorf("scoping transaction: %w", err)
		}
		return fn(tx)
	})
}

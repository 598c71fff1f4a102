// Package migrations holds HealthPrep's Postgres schema as numbered goose SQL
// files and applies them. Every tenant table carries org_id with row-level
// security enabled and forced; the application role (healthprep_app) gets
// only the privileges granted here.
//
// Numbering: 00001–00099 foundation (tenancy, identity, audit); later
// capabilities take the next free hundred.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed sql/*.sql
var files embed.FS

// AppRole is the role the application connects as (through a login role
// granted membership in production). It is neither superuser nor BYPASSRLS.
const AppRole = "healthprep_app"

// FS returns the migration files.
func FS() fs.FS {
	sub, err := fs.Sub(files, "sql")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}

// Up applies every pending migration to db, which must be connected as the
// role that owns the schema (never the application role).
func Up(ctx context.Context, db *sql.DB) error {
	// Capabilities own numbered ranges (see the package doc), so a database
	// migrated before a lower-numbered file landed must still take it.
	p, err := goose.NewProvider(goose.DialectPostgres, db, FS(), goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("loading migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("applying migrations: %w", err)
	}
	return nil
}

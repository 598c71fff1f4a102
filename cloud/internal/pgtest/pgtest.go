// Package pgtest is the Postgres test harness: one private PostgreSQL
// cluster per test binary (Debian's binaries, a temporary directory, loopback
// only), migrations applied once into a template database, and a fresh
// database cloned from it for every test. Tests connect as the application
// role, which is neither superuser nor BYPASSRLS, so row-level security is
// exercised exactly as in production.
//
// Use it from TestMain:
//
//	var pg *pgtest.Server
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }
//
// and in a test: db := pg.NewDB(t).
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"healthprep.dev/cloud/internal/pgcluster"
	"healthprep.dev/migrations"
)

// Role names and passwords of the test cluster. The passwords only guard a
// loopback server that lives as long as one test binary.
const (
	OwnerRole     = "healthprep_owner"
	ownerPassword = "owner-test-password"
	AppRole       = migrations.AppRole
	appPassword   = "app-test-password"
	templateDB    = "hp_template"
)

// Server is a running test cluster with a migrated template database.
type Server struct {
	cluster *pgcluster.Cluster
	dir     string

	mu sync.Mutex // serialises CREATE DATABASE … TEMPLATE
	n  int
}

// Main starts a server, stores it in *srv, runs the tests and stops the
// server by PID. It returns the exit code for os.Exit.
func Main(m *testing.M, srv **Server) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	*srv = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
	}
	return code
}

// Start initialises and starts a cluster in a temporary directory, creates
// the owner and application roles, and migrates the template database.
func Start(ctx context.Context) (*Server, error) {
	dir, err := os.MkdirTemp("", "hp-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("creating cluster directory: %w", err)
	}
	c, err := pgcluster.Start(ctx, pgcluster.Config{Dir: dir})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{cluster: c, dir: dir}
	if err := s.prepare(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) prepare(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.cluster.SuperDSN("postgres"))
	if err != nil {
		return fmt.Errorf("connecting as superuser: %w", err)
	}
	defer conn.Close(ctx)
	stmts := []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' NOSUPERUSER NOBYPASSRLS CREATEROLE`, OwnerRole, ownerPassword),
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE`, AppRole, appPassword),
		fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, templateDB, OwnerRole),
	}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("preparing test cluster (%s): %w", q[:20], err)
		}
	}
	db, err := sql.Open("pgx", s.cluster.DSN(templateDB, OwnerRole, ownerPassword))
	if err != nil {
		return fmt.Errorf("opening template database: %w", err)
	}
	defer db.Close()
	if err := migrations.Up(ctx, db); err != nil {
		return fmt.Errorf("migrating template: %w", err)
	}
	return nil
}

// Stop stops the cluster by PID and removes its directory.
func (s *Server) Stop() error {
	err := s.cluster.Stop()
	os.RemoveAll(s.dir)
	return err
}

// Port is the cluster's loopback port.
func (s *Server) Port() int { return s.cluster.Port() }

// DB is one test's private database.
type DB struct {
	Name string
	// AppDSN connects as the application role: what the product uses.
	AppDSN string
	// OwnerDSN connects as the schema owner (the migrating role).
	OwnerDSN string
	// SuperDSN connects as superuser. Only for tests that play an attacker
	// with direct database access (tampering with the audit log) or read
	// the catalogue; never to make a product test pass.
	SuperDSN string
}

// NewDB clones the migrated template into a new database for t and drops it
// when t ends.
func (s *Server) NewDB(t testing.TB) *DB {
	t.Helper()
	ctx := context.Background()
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("t%d", s.n)
	conn, err := pgx.Connect(ctx, s.cluster.SuperDSN("postgres"))
	if err == nil {
		_, err = conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s OWNER %s`, name, templateDB, OwnerRole))
		conn.Close(ctx)
	}
	s.mu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, s.cluster.SuperDSN("postgres"))
		if err != nil {
			t.Errorf("pgtest: connecting to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE %s WITH (FORCE)`, name)); err != nil {
			t.Errorf("pgtest: dropping %s: %v", name, err)
		}
	})
	return &DB{
		Name:     name,
		AppDSN:   s.cluster.DSN(name, AppRole, appPassword),
		OwnerDSN: s.cluster.DSN(name, OwnerRole, ownerPassword),
		SuperDSN: s.cluster.SuperDSN(name),
	}
}

// Pool opens a pool on dsn that closes when t ends.
func Pool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgtest: opening pool: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// AppPool is Pool(t, db.AppDSN).
func (db *DB) AppPool(t testing.TB) *pgxpool.Pool { return Pool(t, db.AppDSN) }

package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the migrations

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/pgcluster"
	"healthprep.dev/cloud/internal/syncfeed/pgstore"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/migrations"
)

// pgFeed is the Postgres mode: a private cluster under a directory, the
// real schema (migrations), the one organisation, and the feed read by
// pgstore as the application role (row-level security on) from what
// ingest's Store wrote.
type pgFeed struct {
	cluster *pgcluster.Cluster
	db      *tenancy.DB
	store   *pgstore.Store
	dir     string
}

func (p *pgFeed) Close() {
	if p.db != nil {
		p.db.Close()
	}
	_ = p.cluster.Stop()
	_ = os.RemoveAll(p.dir)
}

// startPostgres starts a throwaway cluster in a new directory under parent
// and seeds patients × perPatient records through ingest (1 Patient, 1
// Appointment in the next days, the rest Observations and Conditions),
// as the Epic ingest would store them.
func startPostgres(ctx context.Context, parent string, patients, perPatient int, logf func(string, ...any)) (_ *pgFeed, err error) {
	dir, err := os.MkdirTemp(parent, "syncdev-pg-")
	if err != nil {
		return nil, err
	}
	// As root, Postgres runs as the postgres user, who must reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	c, err := pgcluster.Start(ctx, pgcluster.Config{Dir: filepath.Join(dir, "pg"), Port: port})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p := &pgFeed{cluster: c, dir: dir}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	const owner, app, pw = "syncdev_owner", "syncdev_app", "syncdev-loopback-only"
	conn, err := pgx.Connect(ctx, c.SuperDSN("postgres"))
	if err != nil {
		return nil, err
	}
	for _, q := range []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' NOSUPERUSER NOBYPASSRLS CREATEROLE`, owner, pw),
		`CREATE ROLE healthprep_app NOLOGIN NOSUPERUSER NOBYPASSRLS`,
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s' NOSUPERUSER NOBYPASSRLS IN ROLE healthprep_app`, app, pw),
		fmt.Sprintf(`CREATE DATABASE healthprep OWNER %s`, owner),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("preparing the database: %w", err)
		}
	}
	conn.Close(ctx)
	sdb, err := sql.Open("pgx", c.DSN("healthprep", owner, pw))
	if err != nil {
		return nil, err
	}
	err = migrations.Up(ctx, sdb)
	sdb.Close()
	if err != nil {
		return nil, err
	}
	if p.db, err = tenancy.Open(ctx, c.DSN("healthprep", app, pw)); err != nil {
		return nil, err
	}
	kek := make([]byte, envelope.DataKeySize)
	_, _ = rand.Read(kek)
	kms, err := envelope.NewLocalKMS(kek)
	if err != nil {
		return nil, err
	}
	keys := envelope.NewKeys(kms)
	p.store = pgstore.New(p.db, keys)
	err = p.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, slug, status, timezone) VALUES ($1, 'Syncdev Clinic', 'syncdev', 'live', 'UTC')`, Org)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating the organisation: %w", err)
	}
	start := time.Now()
	if err := seed(ctx, ingest.NewStore(p.db, keys), patients, perPatient); err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	logf("syncdev: seeded %d patients, %d records in Postgres in %.1f s", patients, patients*perPatient, time.Since(start).Seconds())
	return p, nil
}

// seed stores synthetic FHIR through ingest, 500 resources per batch.
func seed(ctx context.Context, st *ingest.Store, patients, perPatient int) error {
	var batch []ingest.Resource
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := st.Apply(ctx, Org, ingest.Batch{Resources: batch})
		batch = batch[:0]
		return err
	}
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for i := range patients {
		pid := fmt.Sprintf("p%d", i)
		raws := [][]byte{fmt.Appendf(nil, `{"resourceType":"Patient","id":%q,"meta":{"versionId":"1","lastUpdated":"2026-01-02T03:04:05Z"},"gender":"female","birthDate":"1960-02-28","identifier":[{"system":"urn:mrn","value":"MRN%06d"}],"name":[{"family":"Seed","given":["Ann%d"]}]}`, pid, i, i)}
		if perPatient > 1 {
			start := day.Add(time.Duration(i%14)*24*time.Hour + time.Duration(8*60+30*(i%16))*time.Minute)
			raws = append(raws, fmt.Appendf(nil, `{"resourceType":"Appointment","id":"a%d","meta":{"lastUpdated":"2026-01-02T03:04:05Z"},"status":"booked","start":%q,"end":%q,"participant":[{"actor":{"reference":"Patient/%s"}}]}`,
				i, start.Format(time.RFC3339), start.Add(30*time.Minute).Format(time.RFC3339), pid))
		}
		for j := 2; j < perPatient; j++ {
			if j%10 == 0 {
				raws = append(raws, fmt.Appendf(nil, `{"resourceType":"Condition","id":"c%d-%d","meta":{"lastUpdated":"2026-01-02T03:04:05Z"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006","display":"Diabetes mellitus type 2"}]},"subject":{"reference":"Patient/%s"},"onsetDateTime":"2019-05-01"}`, i, j, pid))
				continue
			}
			raws = append(raws, fmt.Appendf(nil, `{"resourceType":"Observation","id":"o%d-%d","meta":{"lastUpdated":"2026-01-02T03:04:05Z"},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2025-%02d-%02dT09:00:00Z","valueQuantity":{"value":%d.%d,"unit":"%%","system":"http://unitsofmeasure.org","code":"%%"}}`,
				i, j, pid, 1+j%12, 1+j%28, 5+j%4, j%10))
		}
		for _, raw := range raws {
			r, err := ingest.Parse(raw, "")
			if err != nil {
				return err
			}
			batch = append(batch, r)
			if len(batch) == 500 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/device"
	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/pgcluster"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/pgstore"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/migrations"
)

// productState is what -product keeps in DIR/syncdev.json so that a
// restart finds its durable cluster, database and keys again.
type productState struct {
	PGPort        int    `json:"pg_port"`
	CloudAddr     string `json:"cloud_addr"`
	OwnerPassword string `json:"owner_password"`
	AppPassword   string `json:"app_password"`
	KeyringKey    string `json:"keyring_key"`
	EmailHashKey  string `json:"email_hash_key"`
	WebCSRFKey    string `json:"web_csrf_key"`
	KEK           string `json:"kek"`
}

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func loadProductState(dir string) (*productState, bool, error) {
	path := filepath.Join(dir, "syncdev.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		port, err := pgcluster.FreePort()
		if err != nil {
			return nil, false, err
		}
		cport, err := pgcluster.FreePort()
		if err != nil {
			return nil, false, err
		}
		s := &productState{PGPort: port, CloudAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cport)),
			OwnerPassword: "syncdev-" + randomB64(9), AppPassword: "syncdev-" + randomB64(9),
			KeyringKey: randomB64(32), EmailHashKey: randomB64(32), WebCSRFKey: randomB64(32), KEK: randomB64(32)}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, false, err
		}
		b, _ := json.Marshal(s)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, false, err
		}
		return s, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	var s productState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", path, err)
	}
	return &s, false, nil
}

func (s *productState) appDSN() string {
	// The password is escaped: a generated one may hold '/', '+' or '@'.
	u := url.URL{Scheme: "postgres", User: url.UserPassword("syncdev_app", s.AppPassword),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.PGPort)), Path: "/healthprep", RawQuery: "sslmode=disable"}
	return u.String()
}

func (s *productState) keys() (*envelope.Keys, error) {
	kek, err := base64.StdEncoding.DecodeString(s.KEK)
	if err != nil {
		return nil, err
	}
	kms, err := envelope.NewLocalKMS(kek)
	if err != nil {
		return nil, err
	}
	return envelope.NewKeys(kms), nil
}

// runProduct is the -product mode: the PRODUCT cloud (cloudBin serve) on a
// durable private Postgres under dir. The first start creates the
// cluster, migrates, creates the organisation, ingests the seed patients
// and prints an enrolment code; a restart (after the cloud was killed)
// starts the same cluster from its directory (crash recovery) and the
// cloud on the same address. It prints "syncdev: cloud pid N" and
// "syncdev: listening on URL", and ends, stopping Postgres, when the cloud
// process ends (killed) or on SIGTERM.
func runProduct(ctx context.Context, dir, cloudBin string, patients int) error {
	if cloudBin == "" {
		return errors.New("-product needs -cloud-bin (the healthprep-cloud binary)")
	}
	st, fresh, err := loadProductState(dir)
	if err != nil {
		return err
	}
	// As root, Postgres runs as the postgres user, who must reach dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	c, err := pgcluster.Start(ctx, pgcluster.Config{Dir: filepath.Join(dir, "pg"), Port: st.PGPort, Durable: true})
	if err != nil {
		return err
	}
	defer func() { _ = c.Stop() }()
	if fresh {
		if err := prepareProduct(ctx, c, st, patients); err != nil {
			return err
		}
	}
	env := append(os.Environ(),
		"HP_BASE_URL=http://"+st.CloudAddr+"/web",
		"HP_LISTEN_ADDR="+st.CloudAddr,
		"HP_DATABASE_URL="+st.appDSN(),
		"HP_KEYRING_KEY="+st.KeyringKey,
		"HP_EMAIL_HASH_KEY="+st.EmailHashKey,
		"HP_WEB_CSRF_KEY="+st.WebCSRFKey,
		"HP_KMS_LOCAL_KEK="+st.KEK,
		"HP_MAIL_FROM=Syncdev <no-reply@syncdev.test>",
		"HP_MAIL_TRANSPORT=smtp",
		"HP_SMTP_ADDR=127.0.0.1:1",
	)
	cmd := exec.Command(cloudBin, "serve")
	cmd.Env = env
	logFile, err := os.OpenFile(filepath.Join(dir, "cloud.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The cloud dies with this process (SIGKILL of syncdev leaves nothing).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the cloud: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	fmt.Printf("syncdev: cloud pid %d\n", cmd.Process.Pid)
	if err := waitServing(ctx, "http://"+st.CloudAddr+"/health", done); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	fmt.Printf("syncdev: listening on http://%s\n", st.CloudAddr)
	select {
	case err := <-done:
		return fmt.Errorf("the cloud ended: %v", err)
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		return nil
	}
}

func waitServing(ctx context.Context, url string, done <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			return fmt.Errorf("the cloud ended before serving: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("the cloud did not serve within 60 s")
}

// prepareProduct creates the roles and database, migrates, creates the
// organisation, ingests the seed patients and prints an enrolment code.
func prepareProduct(ctx context.Context, c *pgcluster.Cluster, st *productState, patients int) error {
	conn, err := pgx.Connect(ctx, c.SuperDSN("postgres"))
	if err != nil {
		return err
	}
	for _, q := range []string{
		fmt.Sprintf(`CREATE ROLE syncdev_owner LOGIN PASSWORD '%s' NOSUPERUSER NOBYPASSRLS CREATEROLE`, st.OwnerPassword),
		`CREATE ROLE healthprep_app NOLOGIN NOSUPERUSER NOBYPASSRLS`,
		fmt.Sprintf(`CREATE ROLE syncdev_app LOGIN PASSWORD '%s' NOSUPERUSER NOBYPASSRLS IN ROLE healthprep_app`, st.AppPassword),
		`CREATE DATABASE healthprep OWNER syncdev_owner`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			return fmt.Errorf("preparing the database: %w", err)
		}
	}
	conn.Close(ctx)
	sdb, err := sql.Open("pgx", c.DSN("healthprep", "syncdev_owner", st.OwnerPassword))
	if err != nil {
		return err
	}
	err = migrations.Up(ctx, sdb)
	sdb.Close()
	if err != nil {
		return err
	}
	db, err := tenancy.Open(ctx, st.appDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := st.keys()
	if err != nil {
		return err
	}
	err = db.WithPlatform(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, slug, status, timezone) VALUES ($1, 'Syncdev Clinic', 'syncdev', 'live', 'UTC')`, Org)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating the organisation: %w", err)
	}
	if err := seed(ctx, ingest.NewStore(db, keys), patients, 1); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	code, _, err := device.New(db, time.Now).IssueCode(ctx, device.Actor{UserID: uuid.MustParse("5e000000-0000-4000-8000-0000000000ad"), Role: "admin", IP: "127.0.0.1"}, Org, time.Hour)
	if err != nil {
		return err
	}
	fmt.Printf("syncdev: seeded %d patients; enrolment code %s\n", patients, code)
	return nil
}

// dumpProduct prints the cloud's state as the kill test reads it (the
// shape of the state file's): every record of the organisation's feed
// (what a workstation pulls, payloads decrypted) and every receipt.
func dumpProduct(ctx context.Context, dir string) error {
	st, fresh, err := loadProductState(dir)
	if err != nil || fresh {
		return errors.Join(err, errors.New("no -product state in "+dir))
	}
	db, err := tenancy.Open(ctx, st.appDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := st.keys()
	if err != nil {
		return err
	}
	type receipt struct {
		Ack struct{ ClientID string }
	}
	type orgState struct {
		Seq      int64             `json:"seq"`
		Records  []syncfeed.Change `json:"records"`
		Receipts []receipt         `json:"receipts"`
	}
	var o orgState
	// The reads are audited as PHI reads by syncdev's own (test) user.
	store := pgstore.New(db, keys)
	reader := syncfeed.Actor{UserID: uuid.MustParse("5e000000-0000-4000-8000-0000000000ad"), Role: "admin", IP: "127.0.0.1"}
	for after := int64(0); ; {
		cs, latest, err := store.Changes(ctx, Org, reader, after, 1000, syncfeed.ProtocolVersion)
		if err != nil {
			return err
		}
		o.Records, o.Seq = append(o.Records, cs...), latest
		if len(cs) == 0 || cs[len(cs)-1].Seq >= latest {
			break
		}
		after = cs[len(cs)-1].Seq
	}
	err = db.WithOrg(ctx, Org, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT client_id::text FROM sync_receipts ORDER BY client_id`)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, id := range ids {
			var r receipt
			r.Ack.ClientID = id
			o.Receipts = append(o.Receipts, r)
		}
		return err
	})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"orgs": map[string]orgState{Org.String(): o}})
}

// Command healthprep-cloud is the HealthPrep cloud core: one stateless
// binary, run as N replicas, each in role api (serves healthprep.v1 over
// Connect, gRPC and gRPC-Web on HTTP/2, with gRPC health and reflection) or
// worker (background jobs).
//
// This file is the one wiring place: it builds the typed Config, constructs
// every component explicitly and starts them. Nothing imports it.
//
//	healthprep-cloud [serve] [-role api|worker]   serve (the default)
//	healthprep-cloud migrate                      apply migrations as the owner role
//	healthprep-cloud bootstrap-root EMAIL         create the first root admin (password on stdin)
//
// Configuration is read from HP_* environment variables (see package
// config); migrate reads only HP_MIGRATE_DATABASE_URL, the schema owner's
// DSN, which the serving process never has.
package main

import (
	"bufio"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // organisations' time zones resolve on minimal images

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for migrate

	"healthprep.dev/cloud/internal/api"
	"healthprep.dev/cloud/internal/config"
	"healthprep.dev/cloud/internal/device"
	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/keyring"
	"healthprep.dev/cloud/internal/mail"
	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/publicpage"
	"healthprep.dev/cloud/internal/publish"
	"healthprep.dev/cloud/internal/screeningcfg"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/pgstore"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/cloud/internal/web"
	"healthprep.dev/migrations"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Environ(), os.Stdin, os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it. ready, when not nil,
// receives the listening address once the server accepts connections.
func run(ctx context.Context, args []string, env config.LookupFunc, environ []string, stdin io.Reader, stdout, stderr io.Writer, ready chan<- string) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, env, environ, log, ready)
	case "migrate":
		err = migrate(ctx, env)
	case "bootstrap-root":
		err = bootstrapRoot(ctx, args, env, stdin, stdout)
	default:
		err = fmt.Errorf("unknown command %q: want serve, migrate or bootstrap-root", cmd)
	}
	if err != nil {
		fmt.Fprintf(stderr, "healthprep-cloud %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func loadConfig(ctx context.Context, env config.LookupFunc) (config.Config, error) {
	secrets, err := config.SecretsProvider(ctx, env)
	if err != nil {
		return config.Config{}, err
	}
	return config.Load(ctx, env, secrets)
}

// mailer adapts a mail sender to identity's Mailer.
type mailer struct {
	send func(context.Context, mail.Message) error
}

func (m mailer) Send(ctx context.Context, msg identity.Message) error {
	return m.send(ctx, mail.Message{To: msg.To, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML})
}

func newMailer(ctx context.Context, c config.Mail) (mailer, error) {
	switch c.Transport {
	case config.MailSES:
		s, err := mail.NewSES(ctx, mail.SESConfig{From: c.From, Region: c.SESRegion, Endpoint: c.SESEndpoint})
		if err != nil {
			return mailer{}, err
		}
		return mailer{send: s.Send}, nil
	default:
		tlsMode := mail.StartTLSWhenOffered
		if c.SMTPImplicitTLS {
			tlsMode = mail.ImplicitTLS
		}
		s, err := mail.NewSMTP(mail.SMTPConfig{
			Addr: c.SMTPAddr, From: c.From, Username: c.SMTPUsername, Password: c.SMTPPassword.Reveal(), TLS: tlsMode,
		})
		if err != nil {
			return mailer{}, err
		}
		return mailer{send: s.Send}, nil
	}
}

// components is everything a process runs, built from the Config.
type components struct {
	db       *tenancy.DB
	identity *identity.Service
	handler  http.Handler
	jobs     *ingest.Jobs // Epic jobs, run by the worker role
	// publisher puts every org's configuration into its sync feed (worker role).
	publisher *publish.Publisher
}

// newKMS builds the key-encryption provider for envelope encryption:
// HP_KMS_PROVIDER=aws uses AWS KMS (HP_KMS_KEY_ID, optional
// HP_KMS_AWS_REGION / HP_KMS_AWS_ENDPOINT); the default, local, wraps data
// keys with HP_KMS_LOCAL_KEK (base64, 32 bytes) or, when that is absent,
// a key derived from HP_KEYRING_KEY (development).
func newKMS(ctx context.Context, cfg config.Config, env config.LookupFunc) (envelope.KMS, error) {
	get := func(n string) string { v, _ := env(n); return v }
	switch get("HP_KMS_PROVIDER") {
	case "aws":
		return envelope.NewAWSKMS(ctx, envelope.AWSOptions{
			KeyID: get("HP_KMS_KEY_ID"), Region: get("HP_KMS_AWS_REGION"), Endpoint: get("HP_KMS_AWS_ENDPOINT")})
	case "", "local":
		if v := get("HP_KMS_LOCAL_KEK"); v != "" {
			k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
			if err != nil {
				return nil, errors.New("configuration: HP_KMS_LOCAL_KEK is malformed: must be standard base64 of 32 bytes")
			}
			return envelope.NewLocalKMS(k)
		}
		k, err := hkdf.Key(sha256.New, cfg.KeyringKey, nil, "healthprep local kek v1", envelope.DataKeySize)
		if err != nil {
			return nil, fmt.Errorf("deriving the local key-encryption key: %w", err)
		}
		return envelope.NewLocalKMS(k)
	default:
		return nil, errors.New("configuration: HP_KMS_PROVIDER is malformed: must be local or aws")
	}
}

// build constructs every component of a serving process. environ is the
// process environment, read only for the signing keys (P_KEY_*, NP_KEY_*:
// PEM private keys whose public halves the JWKS endpoints publish).
// build wires the services; closing draining (at shutdown) ends the API's
// open streams.
func build(ctx context.Context, cfg config.Config, env config.LookupFunc, environ []string, log *slog.Logger, draining <-chan struct{}) (*components, error) {
	db, err := tenancy.Open(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return nil, err
	}
	keys, err := keyring.NewLocal(cfg.KeyringKey, cfg.KeyringPrevious...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("building keyring: %w", err)
	}
	m, err := newMailer(ctx, cfg.Mail)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("building mailer: %w", err)
	}
	ids, err := identity.New(db, keys, m, time.Now, identity.Config{BaseURL: cfg.BaseURL, EmailHashKey: cfg.EmailHashKey,
		Outbox: identity.OutboxConfig{Logger: log}})
	if err != nil {
		db.Close()
		return nil, err
	}
	kms, err := newKMS(ctx, cfg, env)
	if err != nil {
		db.Close()
		return nil, err
	}
	envKeys := envelope.NewKeys(kms)
	// Public endpoints (OAuth callback, JWKS, the page for Epic reviewers)
	// live at the origin of HP_BASE_URL; the web pages under its path.
	origin := originOf(cfg.BaseURL)
	signing, err := epic.KeysFromEnviron(environ)
	if err != nil {
		db.Close()
		return nil, err
	}
	// The keys the JWKS endpoints publish also sign backend services
	// assertions (Connect on the api role, token renewal on the worker).
	epicConfigs := epicconfig.New(db, envKeys, epicconfig.Options{BaseURL: origin, SigningKeys: signing})
	ingestStore := ingest.NewStore(db, envKeys)
	idAPI := api.Identity{Svc: ids}
	feedStore := pgstore.New(db, envKeys)
	screenings, err := screeningcfg.New(db, time.Now)
	if err != nil {
		db.Close()
		return nil, err
	}
	publisher, err := publish.New(org.NewStore(db, time.Now), feedStore, publish.Options{DB: db, Screenings: screenings, Logger: log})
	if err != nil {
		db.Close()
		return nil, err
	}
	rpc, services := api.Handler(api.Services{
		Authenticator: idAPI,
		Orgs:          org.NewStore(db, time.Now),
		Users:         idAPI,
		Auth:          idAPI,
		Audit:         api.AuditStore{DB: db},
		EpicConfigs:   epicConfigs,
		Ingest:        ingestStore,
		Sync:          syncfeed.New(feedStore, syncfeed.Options{}),
		Devices:       device.New(db, time.Now),
		Screenings:    screenings,
	}, api.Options{MaxRequestBytes: cfg.MaxRequestBytes, TrustForwardedFor: cfg.TrustForwardedFor, Logger: log, Draining: draining})

	pages, err := web.New(ids, web.Config{BaseURL: cfg.BaseURL, CSRFKey: cfg.WebCSRFKey, TrustForwardedFor: cfg.TrustForwardedFor, Logger: log})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("building web pages: %w", err)
	}

	jwks, err := epic.JWKSHandler(signing)
	if err != nil {
		db.Close()
		return nil, err
	}
	public, err := publicpage.New(publicpage.Config{BaseURL: origin, Contact: cfg.Contact})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("building public pages: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/", rpc)
	mux.Handle("GET /.well-known/jwks.json", jwks)
	mux.Handle("GET /nonprod/.well-known/jwks.json", jwks)
	mux.Handle("GET /epic/documentation", public)
	mux.Handle("GET /health", public)
	mux.Handle("GET /.well-known/smart-configuration", public)
	if cb, err := url.Parse(epicConfigs.RedirectURL()); err == nil {
		mux.Handle(cb.Path, epicConfigs.Callback())
	}
	// The pages route on the path of HP_BASE_URL (e.g. https://host/web).
	if p := pagesPrefix(cfg.BaseURL); p != "/" {
		mux.Handle(p, pages)
	}
	mux.Handle(grpchealth.NewHandler(&health{db: db, services: services}))
	reflector := grpcreflect.NewStaticReflector(services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	jobs := ingest.NewJobs(db, ingestStore, epicConfigs, ingest.JobsConfig{Logger: log})
	return &components{db: db, identity: ids, handler: mux, jobs: jobs, publisher: publisher}, nil
}

// health reports SERVING while the database answers.
type health struct {
	db       *tenancy.DB
	services []string
}

func (h *health) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if req.Service != "" {
		known := false
		for _, s := range h.services {
			known = known || s == req.Service
		}
		if !known {
			return nil, grpchealthNotFound(req.Service)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := h.db.Ping(ctx); err != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

func serve(ctx context.Context, args []string, env config.LookupFunc, environ []string, log *slog.Logger, ready chan<- string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	role := fs.String("role", "", "api or worker (overrides HP_ROLE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(ctx, env)
	if err != nil {
		return err
	}
	if *role != "" {
		if *role != string(config.RoleAPI) && *role != string(config.RoleWorker) {
			return errors.New("-role must be api or worker")
		}
		cfg.Role = config.Role(*role)
	}
	// Shutdown waits for every call; workstations' Watch streams never end
	// on their own, so they are ended (cleanly; the clients reconnect) as
	// soon as shutdown begins, while unary calls finish.
	draining := make(chan struct{})
	c, err := build(ctx, cfg, env, environ, log, draining)
	if err != nil {
		return err
	}
	defer c.db.Close()
	// Reset and invite mail leaves through identity's outbox. Every replica
	// (api and worker) runs it: rows are claimed with FOR UPDATE SKIP LOCKED.
	outboxCtx, stopOutbox := context.WithCancel(ctx)
	outboxDone := make(chan struct{})
	go func() { defer close(outboxDone); c.identity.MailOutbox().Run(outboxCtx) }()
	defer func() { stopOutbox(); <-outboxDone }()

	handler := c.handler
	if cfg.Role == config.RoleWorker {
		// Jobs arrive with their issues; a worker serves only health checks.
		mux := http.NewServeMux()
		mux.Handle(grpchealth.NewHandler(&health{db: c.db}))
		handler = mux
		// River works the Epic jobs on its own pool (its tables are not
		// tenant tables).
		pool, err := pgxpool.New(ctx, cfg.DatabaseURL.Reveal())
		if err != nil {
			return fmt.Errorf("opening the job pool: %w", err)
		}
		defer pool.Close()
		rc, err := c.jobs.Client(pool)
		if err != nil {
			return err
		}
		if err := rc.Start(ctx); err != nil {
			return fmt.Errorf("starting jobs: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = rc.Stop(sctx)
		}()
		// Every org's configuration and screening library into its feed:
		// each minute, and within a second of a settings change.
		pubCtx, stopPub := context.WithCancel(ctx)
		pubDone := make(chan struct{})
		go func() { defer close(pubDone); _ = c.publisher.Run(pubCtx) }()
		defer func() { stopPub(); <-pubDone }()
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(sync.OnceFunc(func() { close(draining) }))
	p := new(http.Protocols)
	p.SetHTTP1(true)
	tlsOn := cfg.TLSCertFile != ""
	if tlsOn {
		p.SetHTTP2(true)
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	srv.Protocols = p

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.ListenAddr, err)
	}
	log.Info("serving", "role", cfg.Role, "addr", ln.Addr().String(), "tls", tlsOn)
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

func migrate(ctx context.Context, env config.LookupFunc) error {
	secrets, err := config.SecretsProvider(ctx, env)
	if err != nil {
		return err
	}
	dsn, err := config.MigrateDSN(ctx, secrets)
	if err != nil {
		return err
	}
	db, err := sql.Open("pgx", dsn.Reveal())
	if err != nil {
		return fmt.Errorf("opening database: %w", err)
	}
	defer db.Close()
	if err := migrations.Up(ctx, db); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, dsn.Reveal())
	if err != nil {
		return fmt.Errorf("opening database: %w", err)
	}
	defer pool.Close()
	return ingest.MigrateRiver(ctx, pool)
}

func bootstrapRoot(ctx context.Context, args []string, env config.LookupFunc, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: healthprep-cloud bootstrap-root EMAIL (password on standard input)")
	}
	cfg, err := loadConfig(ctx, env)
	if err != nil {
		return err
	}
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading password: %w", err)
	}
	c, err := build(ctx, cfg, env, nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer c.db.Close()
	if _, err := org.NewStore(c.db, time.Now).EnsurePlatform(ctx); err != nil {
		return err
	}
	id, err := c.identity.CreateRootAdmin(ctx, args[0], strings.TrimRight(pw, "\r\n"), "Root administrator")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "root admin created: %s\n", id)
	return nil
}

func grpchealthNotFound(service string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %s", service))
}

// pagesPrefix is the mux pattern of the web pages: the path of the base URL
// with a trailing slash. A base URL without a path would put the pages at
// "/", where the Connect API lives, so the pages are not mounted then.
func pagesPrefix(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil || u.Path == "" || u.Path == "/" {
		return "/"
	}
	return strings.TrimRight(u.Path, "/") + "/"
}

// originOf returns scheme://host of a base URL.
func originOf(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return baseURL
	}
	return u.Scheme + "://" + u.Host
}

// Command healthprep-dev is what `make run` starts: the whole product on
// loopback for a developer or a demo. It keeps its state under .run/ (a
// durable private Postgres cluster, generated secrets, captured mail), so a
// second run is fast and finds the same data:
//
//   - a private PostgreSQL cluster in .run/pg (Debian's binaries),
//   - maildev capturing every mail the cloud sends (invites, resets),
//   - the cloud core (healthprep-cloud, built by make into .run/bin), migrated,
//   - a root administrator and a demo organisation with an admin invite and a
//     signed-up nurse, created through the public API like an operator would,
//   - the FHIR/SMART sandbox (Epic's stand-in) with 200 synthetic patients
//     and a schedule from today; the demo organisation is connected to it
//     through the API in backend services mode (a client registered with
//     the sandbox whose JWKS URL is the cloud's /nonprod/.well-known/jwks.json,
//     signed by a generated key kept in .run/secrets.json and given to the
//     cloud as NP_KEY_DEV),
//   - a second cloud process in the worker role running the Epic jobs; the
//     summary waits for the first ingest and says how much it brought in.
//
// It prints where to reach everything and stops it all, by PID, on Ctrl-C.
//
//	healthprep-dev [-dir .run] [-port 8080] [-worker-port 8081] [-pg-port 54329] [-sandbox-port 8090] [-once]
//
// -once sets everything up, prints the summary and stops (for tests and CI).
//
//	healthprep-dev -smoke [-data DIR] [-bin DIR] [-keep]
//
// -smoke is `make smoke`: the same start in a fresh temporary directory on
// free ports, then a headless desktop enrols, syncs and opens every prep
// sheet of the schedule; see smoke.go.
//
//	healthprep-dev -window DIR [-bin DIR] [-keep]
//
// -window is the real window's part of `make screenshots`: the same start,
// then the real `healthprep gui` on $DISPLAY, driven with xdotool, its
// screens captured into DIR and checked by OCR; see window.go.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp/totp"

	"healthprep.dev/cloud/internal/pgcluster"
	"healthprep.dev/cloud/internal/testpeer"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "healthprep-dev: %v\n", err)
		os.Exit(1)
	}
}

// secrets are generated once per .run directory and reused.
type secrets struct {
	OwnerPassword string `json:"owner_password"`
	AppPassword   string `json:"app_password"`
	KeyringKey    string `json:"keyring_key"`
	EmailHashKey  string `json:"email_hash_key"`
	WebCSRFKey    string `json:"web_csrf_key"`
	RootEmail     string `json:"root_email"`
	RootPassword  string `json:"root_password"`
	RootTOTP      string `json:"root_totp_secret,omitempty"`
	DemoOrgID     string `json:"demo_org_id,omitempty"`
	NurseEmail    string `json:"nurse_email"`
	NursePassword string `json:"nurse_password"`
	AdminEmail    string `json:"admin_email"`
	AdminInvite   string `json:"admin_invite_link,omitempty"`
	// EpicSigningKey (PEM, EC P-384) signs the cloud's backend services
	// assertions; the cloud publishes its public half in its JWKS.
	EpicSigningKey string `json:"epic_signing_key,omitempty"`
}

// backendClientID is the backend services client registered with the
// sandbox for the demo organisation.
const backendClientID = "healthprep-demo-backend"

// demoNurseName is the demo nurse's display name: WhoAmI returns it and the
// window's status bar shows it.
const demoNurseName = "Demo Nurse"

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("healthprep-dev", flag.ContinueOnError)
	dir := fs.String("dir", ".run", "state directory")
	port := fs.Int("port", 8080, "cloud core port on 127.0.0.1")
	pgPort := fs.Int("pg-port", 54329, "Postgres port on 127.0.0.1")
	sandboxPort := fs.Int("sandbox-port", 8090, "FHIR/SMART sandbox port on 127.0.0.1")
	workerPort := fs.Int("worker-port", 8081, "cloud worker (Epic jobs) health port on 127.0.0.1")
	once := fs.Bool("once", false, "set up, print the summary and stop")
	smoke := fs.Bool("smoke", false, "end-to-end smoke in a fresh temporary state directory, on free ports, with a headless desktop (see smoke.go)")
	data := fs.String("data", os.Getenv("SMOKE_DATA"), "with -smoke: a directory of FHIR R4 JSON to load instead of the demo data (default $SMOKE_DATA)")
	bin := fs.String("bin", "", "with -smoke or -window: directory of the built binaries (default: this program's directory)")
	keep := fs.Bool("keep", false, "with -smoke or -window: keep the temporary state directory (logs) on success too")
	windowDir := fs.String("window", "", "like -smoke, then drive the real window on $DISPLAY and save its screenshots into this directory (see window.go)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *windowDir != "" {
		return runWindow(ctx, windowConfig{Out: *windowDir, BinDir: *bin, Keep: *keep}, out)
	}
	if *smoke {
		return runSmoke(ctx, smokeConfig{BinDir: *bin, Data: *data, Keep: *keep}, out)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	st, err := up(ctx, upConfig{Dir: abs, BinDir: filepath.Join(abs, "bin"), Port: *port, PGPort: *pgPort,
		SandboxPort: *sandboxPort, WorkerPort: *workerPort, Durable: true, Sandbox: []string{"-demo", "-tz", clinicZone}}, out)
	if err != nil {
		return err
	}
	defer st.stop()
	printSummary(out, st.base, st.sandboxURL, st.pg, st.mailDev, st.sec, st.ing)
	if *once {
		return nil
	}
	window, open, err := desktopForRun(ctx, st, filepath.Join(abs, "bin"), abs, out)
	if err != nil {
		return err
	}
	if window != nil {
		defer window.stop()
	}
	if open != "" {
		fmt.Fprintf(out, "  desktop (sign in as the demo nurse above)    %s\n", open)
	}
	fmt.Fprintln(out, "\nrunning; press Ctrl-C to stop everything")
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "stopping")
		return nil
	case err := <-st.api.done:
		return fmt.Errorf("the cloud core exited: %v (log: %s)", err, filepath.Join(abs, "cloud.log"))
	case err := <-st.worker.done:
		return fmt.Errorf("the cloud worker exited: %v (log: %s)", err, filepath.Join(abs, "worker.log"))
	}
}

// upConfig says where and how up starts the product.
type upConfig struct {
	Dir, BinDir                           string
	Port, PGPort, SandboxPort, WorkerPort int
	Durable                               bool
	// Sandbox is what the sandbox loads: "-demo", or "-data", "DIR,...".
	Sandbox []string
}

// stack is everything up started, and what it found.
type stack struct {
	base, sandboxURL string
	pg               *pgcluster.Cluster
	mailDev          *testpeer.MailDev
	sec              *secrets
	root             *rootSession
	api, worker      *process
	ing              ingestCounts
	// stops end what was started, in order of start; pids are their PIDs.
	stops []func()
	pids  []int
}

// stop ends everything up started, last started first, by PID.
func (s *stack) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// up starts Postgres, mail capture, the sandbox and the cloud api, seeds
// and connects the demo organisation, starts the worker and waits for the
// first ingest. On error, everything started is stopped.
func up(ctx context.Context, cfg upConfig, out io.Writer) (_ *stack, err error) {
	st := &stack{}
	defer func() {
		if err != nil {
			st.stop()
		}
	}()
	sec, err := loadSecrets(filepath.Join(cfg.Dir, "secrets.json"))
	if err != nil {
		return nil, err
	}
	st.sec = sec

	fmt.Fprintln(out, "starting Postgres in", filepath.Join(cfg.Dir, "pg"))
	pg, err := pgcluster.Start(ctx, pgcluster.Config{Dir: filepath.Join(cfg.Dir, "pg"), Port: cfg.PGPort, Durable: cfg.Durable})
	if err != nil {
		return nil, err
	}
	st.pg = pg
	st.stops, st.pids = append(st.stops, func() { _ = pg.Stop() }), append(st.pids, pg.PID())
	if err := prepareDatabase(ctx, pg, sec); err != nil {
		return nil, err
	}
	appDSN := pg.DSN("healthprep", "healthprep_app_login", sec.AppPassword)
	ownerDSN := pg.DSN("healthprep", "healthprep_owner", sec.OwnerPassword)

	mailDev, err := testpeer.StartMailDev(ctx, testpeer.MailDevConfig{Dir: filepath.Join(cfg.Dir, "mail")})
	if err != nil {
		return nil, fmt.Errorf("starting mail capture: %w", err)
	}
	st.mailDev = mailDev
	st.stops, st.pids = append(st.stops, func() { _ = mailDev.Stop() }), append(st.pids, mailDev.PID())

	base := fmt.Sprintf("http://127.0.0.1:%d", cfg.Port)
	st.base = base
	sandboxURL, sandbox, err := startSandbox(ctx, cfg.Dir, cfg.BinDir, cfg.SandboxPort, base, cfg.Sandbox)
	if err != nil {
		return nil, err
	}
	st.sandboxURL = sandboxURL
	st.stops, st.pids = append(st.stops, sandbox.stop), append(st.pids, sandbox.cmd.Process.Pid)

	bin := filepath.Join(cfg.BinDir, "healthprep-cloud")
	env := cloudEnv(base, appDSN, ownerDSN, sec, mailDev)
	if err := runCmd(ctx, env, nil, bin, "migrate"); err != nil {
		return nil, fmt.Errorf("migrating: %w", err)
	}
	if sec.RootTOTP == "" {
		err := runCmd(ctx, env, strings.NewReader(sec.RootPassword+"\n"), bin, "bootstrap-root", sec.RootEmail)
		if err != nil {
			return nil, fmt.Errorf("creating the root administrator: %w", err)
		}
	}
	api, err := startCloud(ctx, cfg.Dir, "cloud", bin, withListen(env, cfg.Port), "serve")
	if err != nil {
		return nil, err
	}
	st.api = api
	st.stops, st.pids = append(st.stops, api.stop), append(st.pids, api.cmd.Process.Pid)

	save := func() error { return saveSecrets(filepath.Join(cfg.Dir, "secrets.json"), sec) }
	root, err := signInRoot(ctx, base, sec, save)
	if err != nil {
		return nil, err
	}
	st.root = root
	if err := seedDemo(ctx, root, sec, mailDev); err != nil {
		return nil, fmt.Errorf("creating the demo organisation: %w", err)
	}
	if err := save(); err != nil {
		return nil, err
	}
	started := time.Now()
	if err := connectEpic(ctx, root, sec, sandboxURL); err != nil {
		return nil, fmt.Errorf("connecting the demo organisation to the sandbox: %w", err)
	}
	// The worker starts once the org is connected: its schedule runs at
	// start and queues the first ingest at once.
	worker, err := startCloud(ctx, cfg.Dir, "worker", bin, withListen(env, cfg.WorkerPort), "serve", "-role", "worker")
	if err != nil {
		return nil, err
	}
	st.worker = worker
	st.stops, st.pids = append(st.stops, worker.stop), append(st.pids, worker.cmd.Process.Pid)
	st.ing, err = waitIngest(ctx, root, sec, started, worker.done)
	if err != nil {
		return nil, fmt.Errorf("%w (logs: %s, %s)", err, filepath.Join(cfg.Dir, "cloud.log"), filepath.Join(cfg.Dir, "worker.log"))
	}
	return st, nil
}

// cloudEnv is the environment both cloud processes (api and worker) run
// with, including the Epic signing key.
func cloudEnv(base, appDSN, ownerDSN string, sec *secrets, mailDev *testpeer.MailDev) []string {
	return append(os.Environ(),
		"HP_BASE_URL="+base+"/web",
		"HP_DATABASE_URL="+appDSN,
		"HP_MIGRATE_DATABASE_URL="+ownerDSN,
		"HP_KEYRING_KEY="+sec.KeyringKey,
		"HP_EMAIL_HASH_KEY="+sec.EmailHashKey,
		"HP_WEB_CSRF_KEY="+sec.WebCSRFKey,
		"HP_MAIL_FROM=HealthPrep Demo <no-reply@healthprep.test>",
		"HP_MAIL_TRANSPORT=smtp",
		"HP_SMTP_ADDR="+mailDev.SMTPAddr,
		"NP_KEY_DEV="+sec.EpicSigningKey,
	)
}

func withListen(env []string, port int) []string {
	return append(append([]string{}, env...), fmt.Sprintf("HP_LISTEN_ADDR=127.0.0.1:%d", port))
}

// process is a started cloud process.
type process struct {
	cmd  *exec.Cmd
	done chan error
}

// stop ends the process by its PID: SIGTERM, then SIGKILL after 10 s.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// startCloud starts bin with args, logging to dir/name.log, and waits until
// it answers health checks.
func startCloud(ctx context.Context, dir, name, bin string, env []string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	addr := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "HP_LISTEN_ADDR="); ok {
			addr = v
		}
	}
	if err := waitHealthy(ctx, "http://"+addr, p.done); err != nil {
		p.stop()
		return nil, fmt.Errorf("the %s: %w (log: %s)", name, err, logPath)
	}
	return p, nil
}

func randomKey(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b)
}

func randomPassword() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return "demo-" + hex.EncodeToString(b)
}

func loadSecrets(path string) (*secrets, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		key, err := newSigningKey()
		if err != nil {
			return nil, err
		}
		return &secrets{
			EpicSigningKey: key,
			OwnerPassword:  randomPassword(), AppPassword: randomPassword(),
			KeyringKey: randomKey(32), EmailHashKey: randomKey(32), WebCSRFKey: randomKey(32),
			RootEmail: "root@healthprep.test", RootPassword: randomPassword(),
			NurseEmail: "nurse@demo-clinic.test", NursePassword: randomPassword(),
			AdminEmail: "admin@demo-clinic.test",
		}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var s secrets
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w (delete the .run directory to start afresh)", path, err)
	}
	if s.EpicSigningKey == "" { // a .run from before the Epic connection
		if s.EpicSigningKey, err = newSigningKey(); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

// newSigningKey makes the demo's Epic signing key: EC P-384 (ES384), PKCS#8 PEM.
func newSigningKey() (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generating the Epic signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("encoding the Epic signing key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

func saveSecrets(path string, s *secrets) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// prepareDatabase creates the schema owner, the application login (a member
// of healthprep_app, neither superuser nor BYPASSRLS) and the database, once.
func prepareDatabase(ctx context.Context, pg *pgcluster.Cluster, s *secrets) error {
	conn, err := pgx.Connect(ctx, pg.SuperDSN("postgres"))
	if err != nil {
		return fmt.Errorf("connecting to Postgres: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = 'healthprep')`).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	for _, q := range []string{
		fmt.Sprintf(`CREATE ROLE healthprep_owner LOGIN PASSWORD '%s' NOSUPERUSER NOBYPASSRLS CREATEROLE`, s.OwnerPassword),
		`CREATE ROLE healthprep_app NOLOGIN NOSUPERUSER NOBYPASSRLS`,
		fmt.Sprintf(`CREATE ROLE healthprep_app_login LOGIN PASSWORD '%s' NOSUPERUSER NOBYPASSRLS IN ROLE healthprep_app`, s.AppPassword),
		`CREATE DATABASE healthprep OWNER healthprep_owner`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("preparing the database: %w", err)
		}
	}
	return nil
}

func runCmd(ctx context.Context, env []string, stdin io.Reader, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Stdin = stdin
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), args[0], err, buf.String())
	}
	return nil
}

func waitHealthy(ctx context.Context, base string, done <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/grpc.health.v1.Health/Check", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			return fmt.Errorf("the cloud core exited during start-up: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("the cloud core did not become healthy in 30 s")
}

type bearer struct{ token string }

func (b *bearer) interceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if b.token != "" {
				req.Header().Set("Authorization", "Bearer "+b.token)
			}
			return next(ctx, req)
		}
	}
}

// rootSession is the root administrator signed in to the API.
type rootSession struct {
	base string
	b    *bearer
	opts connect.ClientOption
}

// signInRoot signs the root administrator in, enrolling TOTP the first time.
func signInRoot(ctx context.Context, base string, s *secrets, save func() error) (*rootSession, error) {
	b := &bearer{}
	opts := connect.WithInterceptors(b.interceptor())
	auth := c.NewAuthServiceClient(http.DefaultClient, base, opts)
	in, err := auth.SignIn(ctx, connect.NewRequest(&v1.SignInRequest{Email: s.RootEmail, Password: s.RootPassword, ClientKind: v1.ClientKind_CLIENT_KIND_API, DeviceId: "healthprep-dev"}))
	if err != nil {
		return nil, fmt.Errorf("signing in as root: %w", err)
	}
	b.token = in.Msg.SessionToken
	switch {
	case in.Msg.TotpEnrolmentRequired:
		en, err := auth.StartTotpEnrolment(ctx, connect.NewRequest(&v1.StartTotpEnrolmentRequest{}))
		if err != nil {
			return nil, fmt.Errorf("enrolling root TOTP: %w", err)
		}
		code, err := totp.GenerateCode(en.Msg.Secret, time.Now())
		if err != nil {
			return nil, err
		}
		if _, err := auth.ConfirmTotpEnrolment(ctx, connect.NewRequest(&v1.ConfirmTotpEnrolmentRequest{TotpCode: code})); err != nil {
			return nil, fmt.Errorf("confirming root TOTP: %w", err)
		}
		s.RootTOTP = en.Msg.Secret
		if err := save(); err != nil {
			return nil, err
		}
	case in.Msg.SecondFactorRequired:
		// A half-finished earlier run may have used this step's code: use
		// the next step's, which the server accepts (±1 step) and has not seen.
		code, err := totp.GenerateCode(s.RootTOTP, time.Now().Add(30*time.Second))
		if err != nil {
			return nil, err
		}
		v, err := auth.VerifySecondFactor(ctx, connect.NewRequest(&v1.VerifySecondFactorRequest{Code: &v1.VerifySecondFactorRequest_TotpCode{TotpCode: code}}))
		if err != nil {
			return nil, fmt.Errorf("verifying root TOTP: %w", err)
		}
		b.token = v.Msg.SessionToken
	}
	return &rootSession{base: base, b: b, opts: opts}, nil
}

// seedDemo creates the demo organisation, invites its admin and a nurse,
// and accepts the nurse's invite with a known password. It is idempotent:
// what exists is left alone.
func seedDemo(ctx context.Context, root *rootSession, s *secrets, mailDev *testpeer.MailDev) error {
	if s.DemoOrgID != "" {
		return nil
	}
	auth := c.NewAuthServiceClient(http.DefaultClient, root.base, root.opts)
	orgs := c.NewOrgServiceClient(http.DefaultClient, root.base, root.opts)
	users := c.NewUserServiceClient(http.DefaultClient, root.base, root.opts)
	{
		o, err := orgs.CreateOrg(ctx, connect.NewRequest(&v1.CreateOrgRequest{Name: "Demo Family Clinic", Slug: "demo-clinic", MaxUsers: 25}))
		if err != nil {
			return fmt.Errorf("creating the demo organisation: %w", err)
		}
		s.DemoOrgID = o.Msg.Organization.Id
		if _, err := orgs.SetOrgStatus(ctx, connect.NewRequest(&v1.SetOrgStatusRequest{OrgId: s.DemoOrgID, Status: v1.OrgStatus_ORG_STATUS_TRIAL, Reason: "demo"})); err != nil {
			return fmt.Errorf("starting the demo trial: %w", err)
		}
		for _, inv := range []struct {
			email string
			role  v1.Role
		}{{s.AdminEmail, v1.Role_ROLE_ADMIN}, {s.NurseEmail, v1.Role_ROLE_NURSE}} {
			if _, err := users.InviteUser(ctx, connect.NewRequest(&v1.InviteUserRequest{OrgId: s.DemoOrgID, Email: inv.email, Role: inv.role})); err != nil {
				return fmt.Errorf("inviting %s: %w", inv.email, err)
			}
		}
		links, err := inviteLinks(ctx, mailDev, 2)
		if err != nil {
			return err
		}
		s.AdminInvite = links[s.AdminEmail]
		tok := strings.SplitN(links[s.NurseEmail], "token=", 2)
		if len(tok) != 2 {
			return errors.New("the nurse's invite mail has no link")
		}
		if _, err := auth.AcceptInvite(ctx, connect.NewRequest(&v1.AcceptInviteRequest{Token: tok[1], Password: s.NursePassword, DisplayName: demoNurseName, ClientKind: v1.ClientKind_CLIENT_KIND_API, DeviceId: "healthprep-dev"})); err != nil {
			return fmt.Errorf("accepting the nurse's invite: %w", err)
		}
	}
	return nil
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+token=[A-Za-z0-9_\-]+`)

// inviteLinks reads the invite links out of the captured mail, by recipient.
func inviteLinks(ctx context.Context, mailDev *testpeer.MailDev, n int) (map[string]string, error) {
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	msgs, err := mailDev.WaitMessages(wctx, n)
	if err != nil {
		return nil, fmt.Errorf("waiting for invite mail: %w", err)
	}
	links := map[string]string{}
	for _, m := range msgs {
		if l := linkRE.FindString(m.Text); l != "" {
			for _, to := range m.To {
				links[strings.ToLower(to.Address)] = l
			}
		}
	}
	return links, nil
}

// connectEpic configures the demo organisation's Epic settings through the
// API (the sandbox, its environment, backend services with our client, a
// rate limit a local sandbox can take) and connects: the cloud asks the
// sandbox for a token with an assertion signed by NP_KEY_DEV, which the
// sandbox checks against the cloud's published JWKS. Run again, it
// reconnects (the sandbox forgets its tokens when it stops).
func connectEpic(ctx context.Context, root *rootSession, s *secrets, sandboxURL string) error {
	epicAPI := c.NewEpicServiceClient(http.DefaultClient, root.base, root.opts)
	clientID, base := backendClientID, sandboxURL+"/fhir"
	limit := int32(1_000_000)
	if _, err := epicAPI.UpdateEpicConfig(ctx, connect.NewRequest(&v1.UpdateEpicConfigRequest{
		OrgId: s.DemoOrgID, ClientId: &clientID, FhirBaseUrl: &base,
		Environment:      v1.EpicEnvironment_EPIC_ENVIRONMENT_SANDBOX,
		ConnectionMode:   v1.EpicConnectionMode_EPIC_CONNECTION_MODE_BACKEND_SERVICES,
		RateLimitPerHour: &limit,
	})); err != nil {
		return fmt.Errorf("configuring Epic: %w", err)
	}
	res, err := epicAPI.StartEpicConnect(ctx, connect.NewRequest(&v1.StartEpicConnectRequest{OrgId: s.DemoOrgID}))
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	if !res.Msg.GetConnected() {
		return errors.New("connecting: the cloud did not connect in backend services mode")
	}
	return nil
}

// ingestCounts is what the first ingest brought in.
type ingestCounts struct {
	Patients, Appointments, Records int64
}

// waitIngest waits (at most 5 minutes) until the demo organisation's Epic
// status shows a sync finished after since, and returns what ingest holds.
// A sync failure is returned in the status's words. When an earlier run
// has synced already, the worker's schedule ingests again once the last
// sync is 15 minutes old: the counts are returned at once.
func waitIngest(ctx context.Context, root *rootSession, s *secrets, since time.Time, workerDone <-chan error) (ingestCounts, error) {
	epicAPI := c.NewEpicServiceClient(http.DefaultClient, root.base, root.opts)
	deadline := time.Now().Add(5 * time.Minute)
	for first := true; time.Now().Before(deadline); first = false {
		st, err := epicAPI.GetEpicStatus(ctx, connect.NewRequest(&v1.GetEpicStatusRequest{OrgId: s.DemoOrgID}))
		if err != nil {
			return ingestCounts{}, fmt.Errorf("reading the Epic status: %w", err)
		}
		m := st.Msg
		switch {
		case m.GetLastSyncAt() != nil && (first || !m.GetLastSyncAt().AsTime().Before(since.Truncate(time.Second))):
			in := m.GetIngest()
			return ingestCounts{Patients: in.GetPatients(), Appointments: in.GetAppointments(),
				Records: in.GetPatients() + in.GetAppointments() + in.GetChartResources()}, nil
		case m.GetLastError() != "" && m.GetLastErrorAt() != nil && m.GetLastErrorAt().AsTime().After(since):
			return ingestCounts{}, fmt.Errorf("the first ingest failed: %s", m.GetLastError())
		}
		select {
		case err := <-workerDone:
			return ingestCounts{}, fmt.Errorf("the cloud worker exited during the first ingest: %v", err)
		case <-ctx.Done():
			return ingestCounts{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return ingestCounts{}, errors.New("the first ingest did not finish in 5 minutes")
}

func printSummary(out io.Writer, base, sandboxURL string, pg *pgcluster.Cluster, mailDev *testpeer.MailDev, s *secrets, ing ingestCounts) {
	fmt.Fprintf(out, `
HealthPrep is running on loopback.

  cloud API (Connect, gRPC, gRPC-Web)  %[1]s
  health                               %[1]s/grpc.health.v1.Health/Check
  web pages (invite, sign-in, reset)   %[1]s/web/signin
  FHIR/SMART sandbox (200 demo pts)    %[11]s/fhir  (Epic stand-in; SMART config at %[11]s/fhir/.well-known/smart-configuration)
  Epic connection                      demo organisation, backend services as %[12]s (JWKS %[1]s/nonprod/.well-known/jwks.json)
  first ingest                         %[13]d patients scheduled (%[14]d appointments), %[15]d records ingested
  captured mail (maildev)              %[2]s
  Postgres                             127.0.0.1:%[3]d (state in .run/pg)

  root administrator   %[4]s / %[5]s
                       TOTP secret %[6]s (add it to an authenticator app)
  demo organisation    Demo Family Clinic (%[7]s)
  demo nurse           %[8]s / %[9]s
  demo admin invite    %[10]s

Try:  HP_SERVER=%[1]s .run/bin/hpctl signin %[4]s
`, base, mailDev.WebURL, pg.Port(), s.RootEmail, s.RootPassword, s.RootTOTP, s.DemoOrgID, s.NurseEmail, s.NursePassword, s.AdminInvite, sandboxURL,
		backendClientID, ing.Patients, ing.Appointments, ing.Records)
	fmt.Fprintf(out, "%d patients scheduled, %d records ingested\n", ing.Patients, ing.Records)
}

// startSandbox runs the FHIR + SMART sandbox (Epic's stand-in) loaded with
// source (-demo: the synthetic demo clinic, its schedule starting today;
// or -data DIR,...), with our two OAuth clients registered: the
// authorization code client (redirect to the cloud's callback) and the
// backend services client (the cloud's non-production JWKS).
func startSandbox(ctx context.Context, dir, binDir string, port int, cloudBase string, source []string) (string, *process, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append(append([]string{}, source...), "-addr", addr,
		"-redirect-uri", cloudBase+"/epic/oauth/callback",
		"-backend-client-id", backendClientID, "-backend-jwks-url", cloudBase+"/nonprod/.well-known/jwks.json")
	cmd := exec.Command(filepath.Join(binDir, "healthprep-sandbox"), args...)
	logFile, err := os.OpenFile(filepath.Join(dir, "sandbox.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return "", nil, fmt.Errorf("starting the FHIR sandbox: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/fhir/metadata"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, p, nil
			}
		}
		select {
		case err := <-p.done:
			return "", nil, fmt.Errorf("the FHIR sandbox exited during start-up: %v (log: %s)", err, filepath.Join(dir, "sandbox.log"))
		case <-ctx.Done():
			p.stop()
			return "", nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.stop()
	return "", nil, errors.New("the FHIR sandbox did not answer in 60 s")
}

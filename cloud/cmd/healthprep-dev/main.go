// Command healthprep-dev is what `make run` starts: the whole product on
// loopback for a developer or a demo. It keeps its state under .run/ (a
// durable private Postgres cluster, generated secrets, captured mail), so a
// second run is fast and finds the same data:
//
//   - a private PostgreSQL cluster in .run/pg (Debian's binaries),
//   - maildev capturing every mail the cloud sends (invites, resets),
//   - the cloud core (healthprep-cloud, built by make into .run/bin), migrated,
//   - a root administrator and a demo organisation with an admin invite and a
//     signed-up nurse, created through the public API like an operator would.
//
// It prints where to reach everything and stops it all, by PID, on Ctrl-C.
//
//	healthprep-dev [-dir .run] [-port 8080] [-pg-port 54329] [-once]
//
// -once sets everything up, prints the summary and stops (for tests and CI).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("healthprep-dev", flag.ContinueOnError)
	dir := fs.String("dir", ".run", "state directory")
	port := fs.Int("port", 8080, "cloud core port on 127.0.0.1")
	pgPort := fs.Int("pg-port", 54329, "Postgres port on 127.0.0.1")
	sandboxPort := fs.Int("sandbox-port", 8090, "FHIR/SMART sandbox port on 127.0.0.1")
	once := fs.Bool("once", false, "set up, print the summary and stop")
	if err := fs.Parse(args); err != nil {
		return err
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	*dir = abs
	sec, err := loadSecrets(filepath.Join(*dir, "secrets.json"))
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "starting Postgres in", filepath.Join(*dir, "pg"))
	pg, err := pgcluster.Start(ctx, pgcluster.Config{Dir: filepath.Join(*dir, "pg"), Port: *pgPort, Durable: true})
	if err != nil {
		return err
	}
	defer pg.Stop()
	if err := prepareDatabase(ctx, pg, sec); err != nil {
		return err
	}
	appDSN := pg.DSN("healthprep", "healthprep_app_login", sec.AppPassword)
	ownerDSN := pg.DSN("healthprep", "healthprep_owner", sec.OwnerPassword)

	mailDev, err := testpeer.StartMailDev(ctx, testpeer.MailDevConfig{Dir: filepath.Join(*dir, "mail")})
	if err != nil {
		return fmt.Errorf("starting mail capture: %w", err)
	}
	defer mailDev.Stop()

	sandboxURL, stopSandbox, err := startSandbox(ctx, *dir, *sandboxPort, *port)
	if err != nil {
		return err
	}
	defer stopSandbox()

	bin := filepath.Join(*dir, "bin", "healthprep-cloud")
	base := fmt.Sprintf("http://127.0.0.1:%d", *port)
	web := base + "/web"
	env := append(os.Environ(),
		"HP_BASE_URL="+web,
		"HP_LISTEN_ADDR="+fmt.Sprintf("127.0.0.1:%d", *port),
		"HP_DATABASE_URL="+appDSN,
		"HP_MIGRATE_DATABASE_URL="+ownerDSN,
		"HP_KEYRING_KEY="+sec.KeyringKey,
		"HP_EMAIL_HASH_KEY="+sec.EmailHashKey,
		"HP_WEB_CSRF_KEY="+sec.WebCSRFKey,
		"HP_MAIL_FROM=HealthPrep Demo <no-reply@healthprep.test>",
		"HP_MAIL_TRANSPORT=smtp",
		"HP_SMTP_ADDR="+mailDev.SMTPAddr,
	)
	if err := runCmd(ctx, env, nil, bin, "migrate"); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	if sec.RootTOTP == "" {
		err := runCmd(ctx, env, strings.NewReader(sec.RootPassword+"\n"), bin, "bootstrap-root", sec.RootEmail)
		if err != nil {
			return fmt.Errorf("creating the root administrator: %w", err)
		}
	}

	server := exec.Command(bin, "serve")
	server.Env = env
	logFile, err := os.OpenFile(filepath.Join(*dir, "cloud.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	server.Stdout, server.Stderr = logFile, logFile
	server.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := server.Start(); err != nil {
		return fmt.Errorf("starting the cloud core: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- server.Wait() }()
	defer func() {
		_ = server.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = server.Process.Kill()
		}
	}()
	if err := waitHealthy(ctx, base, done); err != nil {
		return fmt.Errorf("%w (log: %s)", err, filepath.Join(*dir, "cloud.log"))
	}

	save := func() error { return saveSecrets(filepath.Join(*dir, "secrets.json"), sec) }
	if err := seedDemo(ctx, base, sec, mailDev, save); err != nil {
		return fmt.Errorf("creating the demo organisation: %w", err)
	}
	if err := save(); err != nil {
		return err
	}
	printSummary(out, base, sandboxURL, pg, mailDev, sec)
	if *once {
		return nil
	}
	fmt.Fprintln(out, "\nrunning; press Ctrl-C to stop everything")
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "stopping")
		return nil
	case err := <-done:
		return fmt.Errorf("the cloud core exited: %v (log: %s)", err, filepath.Join(*dir, "cloud.log"))
	}
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
		return &secrets{
			OwnerPassword: randomPassword(), AppPassword: randomPassword(),
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
	return &s, nil
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

// seedDemo signs the root administrator in (enrolling TOTP the first time),
// creates the demo organisation, invites its admin and a nurse, and accepts
// the nurse's invite with a known password. It is idempotent: what exists
// is left alone.
func seedDemo(ctx context.Context, base string, s *secrets, mailDev *testpeer.MailDev, save func() error) error {
	if s.DemoOrgID != "" {
		return nil
	}
	b := &bearer{}
	opts := connect.WithInterceptors(b.interceptor())
	auth := c.NewAuthServiceClient(http.DefaultClient, base, opts)
	orgs := c.NewOrgServiceClient(http.DefaultClient, base, opts)
	users := c.NewUserServiceClient(http.DefaultClient, base, opts)

	in, err := auth.SignIn(ctx, connect.NewRequest(&v1.SignInRequest{Email: s.RootEmail, Password: s.RootPassword, ClientKind: v1.ClientKind_CLIENT_KIND_API, DeviceId: "healthprep-dev"}))
	if err != nil {
		return fmt.Errorf("signing in as root: %w", err)
	}
	b.token = in.Msg.SessionToken
	switch {
	case in.Msg.TotpEnrolmentRequired:
		en, err := auth.StartTotpEnrolment(ctx, connect.NewRequest(&v1.StartTotpEnrolmentRequest{}))
		if err != nil {
			return fmt.Errorf("enrolling root TOTP: %w", err)
		}
		code, err := totp.GenerateCode(en.Msg.Secret, time.Now())
		if err != nil {
			return err
		}
		if _, err := auth.ConfirmTotpEnrolment(ctx, connect.NewRequest(&v1.ConfirmTotpEnrolmentRequest{TotpCode: code})); err != nil {
			return fmt.Errorf("confirming root TOTP: %w", err)
		}
		s.RootTOTP = en.Msg.Secret
		if err := save(); err != nil {
			return err
		}
	case in.Msg.SecondFactorRequired:
		// A half-finished earlier run may have used this step's code: use
		// the next step's, which the server accepts (±1 step) and has not seen.
		code, err := totp.GenerateCode(s.RootTOTP, time.Now().Add(30*time.Second))
		if err != nil {
			return err
		}
		v, err := auth.VerifySecondFactor(ctx, connect.NewRequest(&v1.VerifySecondFactorRequest{Code: &v1.VerifySecondFactorRequest_TotpCode{TotpCode: code}}))
		if err != nil {
			return fmt.Errorf("verifying root TOTP: %w", err)
		}
		b.token = v.Msg.SessionToken
	}

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
		if _, err := auth.AcceptInvite(ctx, connect.NewRequest(&v1.AcceptInviteRequest{Token: tok[1], Password: s.NursePassword, DisplayName: "Demo Nurse", ClientKind: v1.ClientKind_CLIENT_KIND_API, DeviceId: "healthprep-dev"})); err != nil {
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

func printSummary(out io.Writer, base, sandboxURL string, pg *pgcluster.Cluster, mailDev *testpeer.MailDev, s *secrets) {
	fmt.Fprintf(out, `
HealthPrep is running on loopback.

  cloud API (Connect, gRPC, gRPC-Web)  %[1]s
  health                               %[1]s/grpc.health.v1.Health/Check
  web pages (invite, sign-in, reset)   %[1]s/web/signin
  FHIR/SMART sandbox (200 demo pts)    %[11]s/fhir  (Epic stand-in; SMART config at %[11]s/fhir/.well-known/smart-configuration)
  captured mail (maildev)              %[2]s
  Postgres                             127.0.0.1:%[3]d (state in .run/pg)

  root administrator   %[4]s / %[5]s
                       TOTP secret %[6]s (add it to an authenticator app)
  demo organisation    Demo Family Clinic (%[7]s)
  demo nurse           %[8]s / %[9]s
  demo admin invite    %[10]s

Try:  HP_SERVER=%[1]s .run/bin/hpctl signin %[4]s
`, base, mailDev.WebURL, pg.Port(), s.RootEmail, s.RootPassword, s.RootTOTP, s.DemoOrgID, s.NurseEmail, s.NursePassword, s.AdminInvite, sandboxURL)
}

// startSandbox runs the FHIR + SMART sandbox (Epic's stand-in) loaded with
// the synthetic demo clinic, its schedule starting today.
func startSandbox(ctx context.Context, dir string, port, cloudPort int) (string, func(), error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(filepath.Join(dir, "bin", "healthprep-sandbox"), "-demo", "-addr", addr,
		"-redirect-uri", fmt.Sprintf("http://127.0.0.1:%d/epic/callback", cloudPort))
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
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logFile.Close() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/fhir/metadata"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, stop, nil
			}
		}
		select {
		case err := <-done:
			return "", nil, fmt.Errorf("the FHIR sandbox exited during start-up: %v (log: %s)", err, filepath.Join(dir, "sandbox.log"))
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	return "", nil, errors.New("the FHIR sandbox did not answer in 60 s")
}

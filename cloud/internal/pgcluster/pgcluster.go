// Package pgcluster runs a private PostgreSQL cluster from Debian's binaries:
// initdb into a directory, a postmaster listening on loopback only, and a stop
// by PID. The test harness uses it with a temporary directory; `make run` uses
// it with a directory under .run/ that survives restarts.
package pgcluster

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the name of the cluster's bootstrap superuser.
const Superuser = "postgres"

// Config says where the cluster lives and how it runs.
type Config struct {
	// Dir holds the data directory ("data"), the log and the password file.
	Dir string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Password of the superuser; generated when empty and the cluster is new.
	Password string
	// Durable keeps fsync on. Tests leave it off: a test cluster is
	// disposable and fsync only slows it down.
	Durable bool
	// BinDir holds initdb and postgres; found automatically when empty.
	BinDir string

	// freePort picks the port when Port is 0; FreePort when nil. Tests
	// set it to hand out a taken port first.
	freePort func() (int, error)
}

// Cluster is a running private PostgreSQL server.
type Cluster struct {
	cfg  Config
	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit error, valid after done is closed
}

// FindBinDir returns the directory of Debian's newest PostgreSQL server
// binaries, honouring PG_BINDIR when set.
func FindBinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(matches, func(i, j int) bool { return pgVersion(matches[i]) > pgVersion(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[0]), nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("postgres server binaries not found: install Debian's postgresql package (make deps) or set PG_BINDIR")
}

func pgVersion(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start initialises the cluster in cfg.Dir if it is new and starts it.
// When the process runs as root, the server runs as the postgres user, since
// PostgreSQL refuses to run as root.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Dir == "" {
		return nil, errors.New("pgcluster: Config.Dir is empty")
	}
	if cfg.BinDir == "" {
		d, err := FindBinDir()
		if err != nil {
			return nil, err
		}
		cfg.BinDir = d
	}
	pickPort := cfg.Port == 0
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating cluster directory: %w", err)
	}
	if cred != nil {
		if err := os.Chown(cfg.Dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("handing cluster directory to postgres: %w", err)
		}
	}
	data := filepath.Join(cfg.Dir, "data")
	pwPath := filepath.Join(cfg.Dir, "superuser.pw")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if cfg.Password == "" {
			cfg.Password = randomHex(16)
		}
		if err := os.WriteFile(pwPath, []byte(cfg.Password+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("writing password file: %w", err)
		}
		if cred != nil {
			_ = os.Chown(pwPath, int(cred.Uid), int(cred.Gid))
		}
		if err := initdb(ctx, cfg, data, pwPath, cred); err != nil {
			return nil, err
		}
	} else if cfg.Password == "" {
		b, err := os.ReadFile(pwPath)
		if err != nil {
			return nil, fmt.Errorf("reading superuser password of existing cluster: %w", err)
		}
		cfg.Password = strings.TrimSpace(string(b))
	}

	// A port picked here can be taken by another process before the
	// server binds it; then the server exits at once and another port is
	// tried.
	for attempt := 1; ; attempt++ {
		if pickPort {
			pick := cfg.freePort
			if pick == nil {
				pick = FreePort
			}
			p, err := pick()
			if err != nil {
				return nil, err
			}
			cfg.Port = p
		}
		c, err := launch(ctx, cfg, data, cred)
		if errors.Is(err, errPortInUse) && pickPort && attempt < 5 {
			continue
		}
		return c, err
	}
}

// errPortInUse: the server could not bind its port.
var errPortInUse = errors.New("pgcluster: port in use")

// launch starts the server on cfg.Port and waits until it accepts
// connections.
func launch(ctx context.Context, cfg Config, data string, cred *syscall.Credential) (*Cluster, error) {
	logPath := filepath.Join(cfg.Dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening server log: %w", err)
	}
	var logStart int64
	if fi, err := logFile.Stat(); err == nil {
		logStart = fi.Size()
	}
	args := []string{"-D", data, "-p", strconv.Itoa(cfg.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=300",
		"-c", "shared_buffers=128MB",
	}
	if !cfg.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(cfg.BinDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server dies with this process even when it is killed, so no test
	// run leaves a postmaster behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	logFile.Close()
	c := &Cluster{cfg: cfg, cmd: cmd, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop()
		if portInUse(logPath, logStart) {
			return nil, fmt.Errorf("%w: %d", errPortInUse, cfg.Port)
		}
		return nil, err
	}
	return c, nil
}

// portInUse reports whether the server log, from offset on, says the
// server could not bind its address.
func portInUse(logPath string, offset int64) bool {
	b, err := os.ReadFile(logPath)
	if err != nil || int64(len(b)) < offset {
		return false
	}
	return bytes.Contains(b[offset:], []byte("Address already in use"))
}

func initdb(ctx context.Context, cfg Config, data, pwPath string, cred *syscall.Credential) error {
	cmd := exec.CommandContext(ctx, filepath.Join(cfg.BinDir, "initdb"),
		"-D", data, "-U", Superuser, "--pwfile", pwPath,
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions", "-N")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out.String())
	}
	return nil
}

// serverCredential returns the postgres user's credential when running as
// root, and nil otherwise.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres system user (install Debian's postgresql): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Each attempt is bounded: whatever else holds the port may accept
		// the connection and never answer.
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(actx, c.DSN("postgres", Superuser, c.cfg.Password))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited during start-up (%v); log: %s", c.err, c.tailLog())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after 30s: %v; log: %s", err, c.tailLog())
		}
	}
}

func (c *Cluster) tailLog() string {
	b, _ := os.ReadFile(filepath.Join(c.cfg.Dir, "postgres.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Port is the loopback port the server listens on.
func (c *Cluster) Port() int { return c.cfg.Port }

// PID is the postmaster's process ID.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// SuperuserPassword is the bootstrap superuser's password.
func (c *Cluster) SuperuserPassword() string { return c.cfg.Password }

// DSN is a connection string for database db as user with password.
func (c *Cluster) DSN(db, user, password string) string {
	// User and password are escaped: a generated password may hold '/',
	// '+' or '@', which would otherwise break the URL.
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password),
		Host: fmt.Sprintf("127.0.0.1:%d", c.cfg.Port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// SuperDSN connects to db as the bootstrap superuser. Only harnesses and
// the dev runner use it; the application never does.
func (c *Cluster) SuperDSN(db string) string { return c.DSN(db, Superuser, c.cfg.Password) }

// Stop shuts the server down by PID (fast shutdown, then immediate, then
// kill) and waits for it to exit.
func (c *Cluster) Stop() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 10 * time.Second}, {syscall.SIGQUIT, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}}
	for _, s := range steps {
		if err := c.cmd.Process.Signal(s.sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("signalling postgres %d: %w", c.PID(), err)
		}
		select {
		case <-c.done:
			return nil
		case <-time.After(s.wait):
		}
	}
	return fmt.Errorf("postgres %d did not stop", c.PID())
}

// Done is closed when the server process has exited.
func (c *Cluster) Done() <-chan struct{} { return c.done }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%x", b)
}

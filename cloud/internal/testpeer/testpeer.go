// Package testpeer runs real third-party servers on loopback for tests: mail
// capture (maildev for SMTP, aws-ses-v2-local for the SES v2 API),
// stripe-mock, an S3-compatible server (versitygw), an OAuth 2 / OpenID
// Connect provider (the npm oidc-provider) and a FHIR R4 server (Medplum's
// FHIR router). It follows package pgcluster: a free loopback port, the
// process's state in a temporary directory, a health wait with a deadline, a
// stop by PID (the whole process group), and Pdeathsig so that no peer
// outlives a killed test binary.
//
// Every peer has a Start function taking a context and a config, and a New
// function for tests that starts the peer in t.TempDir(), fails the test with
// the peer's log tail when it cannot start, and stops it in t.Cleanup.
//
// Peers are installed by `make deps`: Go tools into .tools/bin at the
// repository root, npm packages into this package's node/node_modules. A
// missing peer is an error naming that target, never a skipped test.
package testpeer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long a peer may take to answer its health check.
const StartTimeout = 60 * time.Second

// ErrNotInstalled is wrapped by the error a Start function returns when the
// peer's program is not installed.
var ErrNotInstalled = errors.New("test peer not installed (run: make deps)")

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Process is a running peer: one child process in its own process group,
// logging to a file in its state directory.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // exit error, valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

// spec says how to run one peer.
type spec struct {
	name string   // for messages: "maildev"
	path string   // program to run
	args []string // its arguments
	dir  string   // state directory: working directory, HOME, TMPDIR and log
	env  []string // extra environment (KEY=VALUE); the rest is minimal
	// ready reports nil once the peer answers; it is polled until the
	// deadline.
	ready func(ctx context.Context) error
}

// start runs the peer and waits until ready answers, the process exits, or
// the deadline passes. On failure the process is stopped and the error
// carries the tail of its log.
func start(ctx context.Context, s spec) (*Process, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s state directory: %w", s.name, err)
	}
	logPath := filepath.Join(s.dir, s.name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", s.name, err)
	}
	defer logFile.Close()

	cmd := exec.Command(s.path, s.args...)
	cmd.Dir = s.dir
	// A minimal environment: nothing from the developer's shell (proxy
	// settings, MAILDEV_*, SMTP_TRANSPORT, AWS_*) changes how a peer runs.
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + s.dir,
		"TMPDIR=" + s.dir,
		"LANG=C.UTF-8",
		"NO_COLOR=1",
	}, s.env...)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group so Stop reaches any children; SIGKILL when this
	// process dies so a killed test binary leaves nothing behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", s.name, err)
	}
	p := &Process{name: s.name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()

	if err := p.waitReady(ctx, s.ready); err != nil {
		_ = p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Process) waitReady(ctx context.Context, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		err := ready(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up (%v); log tail:\n%s", p.name, p.err, p.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %v; log tail:\n%s", p.name, StartTimeout, err, p.LogTail())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// PID is the peer's process ID (also its process group ID).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the peer process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// LogTail returns the last 4 KiB of the peer's log.
func (p *Process) LogTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Stop ends the peer's process group by PID (SIGTERM, then SIGKILL) and
// waits for the peer to exit. It is safe to call more than once.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Process) stop() error {
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}}
	for _, s := range steps {
		select {
		case <-p.done:
			// The leader is gone; make sure no child of it lingers.
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
			return nil
		default:
		}
		if err := syscall.Kill(-p.PID(), s.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("signalling %s %d: %w", p.name, p.PID(), err)
		}
		select {
		case <-p.done:
			_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
			return nil
		case <-time.After(s.wait):
		}
	}
	return fmt.Errorf("%s %d did not stop", p.name, p.PID())
}

// cleanup registers Stop with t.Cleanup, reporting a failed stop.
func cleanup(t testing.TB, p *Process) {
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stopping %s: %v", p.name, err)
		}
	})
}

// repoRoot finds the repository root (the directory holding go.work) from
// the working directory upwards; HEALTHPREP_ROOT overrides it.
func repoRoot() (string, error) {
	if r := os.Getenv("HEALTHPREP_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding the repository root: no go.work above the working directory (set HEALTHPREP_ROOT)")
		}
		dir = parent
	}
}

// goTool returns the path of a Go tool installed by `make deps` into
// .tools/bin, falling back to PATH.
func goTool(name string) (string, error) {
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".tools", "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in .tools/bin or PATH: %w", name, ErrNotInstalled)
}

// nodeDir is the folder holding package.json and node_modules of the npm
// peers.
func nodeDir() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "cloud", "internal", "testpeer", "node"), nil
}

// nodeScript returns node's path and the absolute path of a script inside
// the peer folder (relative, e.g. "node_modules/maildev/dist/bin/maildev.js"
// or "oidc.js").
func nodeScript(rel string) (node, script string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("node not found on PATH (Node.js ≥ 20.19 is needed): %w", ErrNotInstalled)
	}
	dir, err := nodeDir()
	if err != nil {
		return "", "", err
	}
	script = filepath.Join(dir, filepath.FromSlash(rel))
	if _, err := os.Stat(script); err != nil {
		return "", "", fmt.Errorf("%s missing: %w", rel, ErrNotInstalled)
	}
	return node, script, nil
}

// httpReady returns a ready function that succeeds when GET url answers
// with one of the wanted status codes (200 when none is given).
func httpReady(client *http.Client, url string, want ...int) func(context.Context) error {
	if len(want) == 0 {
		want = []int{http.StatusOK}
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		for _, w := range want {
			if res.StatusCode == w {
				return nil
			}
		}
		return fmt.Errorf("GET %s: status %d", url, res.StatusCode)
	}
}

// tcpReady succeeds once something accepts connections on addr.
func tcpReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// both succeeds when every check succeeds.
func both(checks ...func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		for _, c := range checks {
			if err := c(ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// ports returns n distinct free loopback ports.
func ports(n int) ([]int, error) {
	out := make([]int, 0, n)
	seen := map[int]bool{}
	for len(out) < n {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// startWithPorts picks n free ports and starts the peer, trying again with
// new ports when the peer exits during start-up (another process may have
// taken a port between the pick and the bind).
func startWithPorts(ctx context.Context, n int, build func(ports []int) (spec, error)) (*Process, []int, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ps, err := ports(n)
		if err != nil {
			return nil, nil, err
		}
		s, err := build(ps)
		if err != nil {
			return nil, nil, err
		}
		p, err := start(ctx, s)
		if err == nil {
			return p, ps, nil
		}
		lastErr = err
		if ctx.Err() != nil || !strings.Contains(err.Error(), "exited during start-up") {
			break
		}
	}
	return nil, nil, lastErr
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// getJSON fetches url and decodes its JSON body into v.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading %s: %w", url, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: status %d: %.200s", url, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}

// Package printertest runs a private CUPS scheduler for tests: the
// Debian cupsd, as the current user, listening only on a free loopback
// port, with its own configuration, spool, log, cache and state under the
// test's temporary directory, stopped by PID when the test ends. Its
// queues print to files, so a test reads what a printer would have
// received. Point the CUPS commands at it with Env (CUPS_SERVER).
//
// The queues are not raw queues: CUPS 2.4 deprecates them, and a raw queue
// with a file: device hands the job to no filter at all, so nothing is
// written. Each queue instead has a small PPD whose only filter is CUPS's
// own gziptoany, which passes the PDF through unchanged (it is what CUPS
// uses for raw file: queues where it still supports them). The printer
// "does its own copies" (cupsManualCopies False), as office printers
// do, so the file holds the PDF once and the number of copies the job
// asked for is read from the scheduler's log (JobCopies).
//
// It needs the Debian packages cups-daemon, cups-client and
// cups-core-drivers (gziptoany); Missing says what is not installed.
package printertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// filterDirs are where CUPS distributions keep their filters (ServerBin).
var filterDirs = []string{"/usr/lib/cups/filter", "/usr/libexec/cups/filter"}

// Missing names what the private scheduler needs and this machine lacks,
// or "" when nothing is missing.
func Missing() string {
	for _, c := range []string{"cupsd", "lpadmin", "lpstat", "lp", "cupsdisable", "cupsreject"} {
		if _, err := exec.LookPath(c); err != nil {
			return c + " (apt: cups-daemon cups-client)"
		}
	}
	for _, d := range filterDirs {
		if _, err := os.Stat(filepath.Join(d, "gziptoany")); err == nil {
			return ""
		}
	}
	return "the gziptoany filter (apt: cups-core-drivers)"
}

// Require stops the test when Missing names something: a skip on a
// developer's machine, a failure under CI (CI=true), where the Makefile's
// apt target has installed CUPS and a skip would hide untested printing.
func Require(tb testing.TB) {
	tb.Helper()
	m := Missing()
	if m == "" {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("the private CUPS scheduler needs %s", m)
	}
	tb.Skipf("the private CUPS scheduler needs %s (the Makefile's apt target installs it)", m)
}

// CUPS is a running private scheduler.
type CUPS struct {
	// Addr is host:port of the scheduler.
	Addr string
	dir  string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a scheduler with no queues and stops it when t ends. It
// fails t when Missing is not "".
func Start(t testing.TB) *CUPS {
	t.Helper()
	if m := Missing(); m != "" {
		t.Fatalf("a private CUPS scheduler needs %s", m)
	}
	dir := t.TempDir()
	// Started by root, cupsd runs its filters as the lp user, who must be
	// able to reach the spooled files under the test's directory.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := &CUPS{dir: dir, log: filepath.Join(dir, "log", "error_log"), done: make(chan struct{})}
	for _, d := range []string{"conf", "spool/tmp", "log", "cache", "state", "out"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c.Addr = "127.0.0.1:" + strconv.Itoa(port)
	conf := filepath.Join(dir, "conf", "cupsd.conf")
	files := filepath.Join(dir, "conf", "cups-files.conf")
	write(t, conf, fmt.Sprintf(`Listen %s
Browsing No
BrowseLocalProtocols none
DefaultAuthType None
WebInterface No
LogLevel debug
MaxLogSize 0
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
`, c.Addr))
	write(t, files, fmt.Sprintf(`FileDevice Yes
ServerRoot %[1]s/conf
RequestRoot %[1]s/spool
TempDir %[1]s/spool/tmp
CacheDir %[1]s/cache
StateDir %[1]s/state
ErrorLog %[1]s/log/error_log
AccessLog %[1]s/log/access_log
PageLog %[1]s/log/page_log
Printcap %[1]s/state/printcap
SystemGroup root
`, dir))
	write(t, filepath.Join(dir, "conf", "pdf.ppd"), ppd)

	c.cmd = exec.Command("cupsd", "-f", "-c", conf, "-s", files)
	var stderr bytes.Buffer
	c.cmd.Stdout, c.cmd.Stderr = &stderr, &stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting cupsd: %v", err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", c.Addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case <-c.done:
			t.Fatalf("cupsd exited: %s%s", stderr.String(), c.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("cupsd did not listen on %s within 15 s: %s", c.Addr, c.Log())
		}
	}
	return c
}

// stop stops the scheduler by its PID and waits for it.
func (c *CUPS) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// Env is the environment that points the CUPS commands at the
// scheduler.
func (c *CUPS) Env() []string { return []string{"CUPS_SERVER=" + c.Addr} }

// Log is the scheduler's error log so far, for failure messages.
func (c *CUPS) Log() string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

// admin runs a CUPS administration command against the scheduler.
func (c *CUPS) admin(t testing.TB, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, append([]string{"-h", c.Addr}, args...)...)
	cmd.Env = append(os.Environ(), append(c.Env(), "LC_ALL=C")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v: %s", name, args, err, out)
	}
}

// AddQueue adds an enabled printer that accepts jobs and writes what it
// prints to Output(name).
func (c *CUPS) AddQueue(t testing.TB, name string) {
	t.Helper()
	c.admin(t, "lpadmin", "-p", name, "-E", "-v", "file://"+c.Output(name), "-P", filepath.Join(c.dir, "conf", "pdf.ppd"))
}

// SetDefault makes name the scheduler's default printer.
func (c *CUPS) SetDefault(t testing.TB, name string) {
	t.Helper()
	c.admin(t, "lpadmin", "-d", name)
}

// Pause stops (disables) the printer: jobs would wait in its queue.
func (c *CUPS) Pause(t testing.TB, name string) {
	t.Helper()
	c.admin(t, "cupsdisable", "-r", "out of paper", name)
}

// Reject makes the printer refuse new jobs.
func (c *CUPS) Reject(t testing.TB, name string) {
	t.Helper()
	c.admin(t, "cupsreject", name)
}

// Output is the file the printer name writes to.
func (c *CUPS) Output(name string) string {
	return filepath.Join(c.dir, "out", name+".pdf")
}

// WaitOutput waits (up to 20 s) until the printer name has written at
// least n bytes and returns them.
func (c *CUPS) WaitOutput(t testing.TB, name string, n int) []byte {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(c.Output(name))
		if err == nil && len(b) >= n {
			return b
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("printer %s wrote %d bytes in 20 s, want %d; scheduler log:\n%s", name, len(b), n, c.Log())
		}
		select {
		case <-c.done:
			t.Fatalf("cupsd exited while printing: %s", c.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var argvLine = regexp.MustCompile(`\[Job (\d+)\] argv\[(0|4)\]="([^"]*)"`)

// JobCopies are the numbers of copies of the jobs the printer name
// started, in order, as the scheduler handed them to the printer (the
// fifth argument of its filter).
func (c *CUPS) JobCopies(name string) []int {
	printer := map[string]string{}
	var order []string
	copies := map[string]int{}
	for _, m := range argvLine.FindAllStringSubmatch(c.Log(), -1) {
		job := m[1]
		if m[2] == "0" {
			if _, ok := printer[job]; !ok {
				order = append(order, job)
			}
			printer[job] = m[3]
			continue
		}
		copies[job], _ = strconv.Atoi(m[3])
	}
	var out []int
	for _, job := range order {
		if printer[job] == name {
			out = append(out, copies[job])
		}
	}
	return out
}

func write(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freePort asks the kernel for a free loopback TCP port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ppd describes a PDF printer that does its own copies; CUPS passes the
// PDF through its gziptoany filter unchanged.
const ppd = `*PPD-Adobe: "4.3"
*FormatVersion: "4.3"
*FileVersion: "1.0"
*LanguageVersion: English
*LanguageEncoding: ISOLatin1
*PCFileName: "HPTEST.PPD"
*Manufacturer: "HealthPrep"
*Product: "(Test PDF Printer)"
*ModelName: "HealthPrep Test PDF Printer"
*ShortNickName: "HealthPrep Test PDF Printer"
*NickName: "HealthPrep Test PDF Printer"
*PSVersion: "(3010.000) 0"
*cupsVersion: 2.4
*cupsManualCopies: False
*cupsFilter2: "application/pdf application/vnd.cups-pdf 0 gziptoany"
*OpenUI *PageSize/Media Size: PickOne
*DefaultPageSize: Letter
*PageSize Letter/US Letter: ""
*CloseUI: *PageSize
*DefaultPaperDimension: Letter
*PaperDimension Letter/US Letter: "612 792"
*DefaultImageableArea: Letter
*ImageableArea Letter/US Letter: "0 0 612 792"
`

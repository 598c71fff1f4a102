package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/syncagent"
)

// TestUsage checks what a person sees for bad usage.
func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage: healthprep [gui]|enrol|agent|sheets"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"agent", "-token-env", "T"}, "-profile: required"},
		{[]string{"agent", "-profile", t.TempDir(), "-token-env", "T"}, "-server: required (this workstation is not enrolled)"},
		{[]string{"agent", "-profile", t.TempDir()}, "this workstation is not enrolled: run healthprep enrol first"},
		{[]string{"agent", "-server", "http://127.0.0.1:1", "-profile", "p", "-token-env", "T", "-token-file", "f"}, "give at most one of -token-file and -token-env"},
		{[]string{"agent", "-server", "http://cloud.example.org", "-profile", "p", "-token-env", "T"}, "plain http is allowed only on loopback; use https"},
		{[]string{"agent", "-profile", "p", "-keystore", "plaintext"}, "-keystore: want os or insecure-file-for-tests"},
		{[]string{"enrol", "-profile", "p", "-server", "https://cloud.example.org", "-name", "x"}, "-code: required"},
		{[]string{"sheets", "-profile", "p", "-days", "0"}, "-days: must be 1–366"},
		{[]string{"sheets", "-profile", "p", "-from", "tomorrow"}, "-from: want YYYY-MM-DD"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("healthprep %v: exit %d, stderr %q; want 2 and %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

// proc is a started binary whose stdout lines arrive on a channel.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
}

func start(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	// Its standard error is kept and shown when the test fails, so a
	// process that dies early says why.
	var stderr bytes.Buffer
	lw := &lockedWriter{w: &stderr}
	cmd.Stderr = lw
	t.Cleanup(func() {
		if t.Failed() {
			lw.mu.Lock()
			defer lw.mu.Unlock()
			t.Logf("%s stderr:\n%s", filepath.Base(bin), stderr.String())
		}
	})
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", filepath.Base(bin), err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 10000)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL to this process (by PID) and reaps it.
func (p *proc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// waitLine waits for a line containing want and returns it.
func (p *proc) waitLine(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("process ended before printing %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line with %q within 60 s", want)
		}
	}
}

func build(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	return out
}

// cloudState is the part of syncdev's state file the test reads.
type cloudState struct {
	Orgs map[string]struct {
		Seq     int64 `json:"seq"`
		Records []struct {
			Kind    string `json:"Kind"`
			ID      string `json:"ID"`
			Op      int    `json:"Op"`
			Payload []byte `json:"Payload"`
			Seq     int64  `json:"Seq"`
		} `json:"records"`
		Receipts []struct {
			Ack struct {
				ClientID string `json:"ClientID"`
				Status   int    `json:"Status"`
			} `json:"Ack"`
		} `json:"receipts"`
	} `json:"orgs"`
}

// TestAgentAndCloudSurviveKill runs the agent and a sync cloud as separate
// processes on loopback, kills each with SIGKILL in the middle of a sync,
// restarts it, and checks that the workstation ends up with exactly the
// cloud's data and the cloud with every workstation result, once.
func TestAgentAndCloudSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries; skipped with -short")
	}
	t.Parallel()
	dir := t.TempDir()
	cloudBin := build(t, dir, "healthprep.dev/cloud/internal/syncfeed/syncdev")
	agentBin := build(t, dir, "healthprep.dev/desktop/cmd/healthprep")
	profile := filepath.Join(dir, "profile")
	if err := os.MkdirAll(profile, 0o700); err != nil {
		t.Fatal(err)
	}
	// Results recorded on the workstation before it first syncs.
	pf := profileFlags{Dir: profile, Keystore: string(keystore.BackendInsecureFile)}
	local, err := openProfile(context.Background(), pf, true)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 30 {
		e := syncagent.Entry{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), Kind: "print_event", Payload: fmt.Appendf(nil, `{"sheet":%d}`, i)}
		if i%3 == 0 {
			e.Kind, e.RecordID = "override", fmt.Sprintf("o%d", i)
			e.Payload = fmt.Appendf(nil, `{"id":"o%d","patient_id":"p1"}`, i)
		}
		if _, err := local.sync.Enqueue(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	local.Close()
	state := filepath.Join(dir, "cloud.json")
	const records = 3000
	cloudArgs := func(addr string) []string {
		return []string{"-addr", addr, "-state", state, "-token", "tok", "-seed-records", fmt.Sprint(records)}
	}
	cloud := start(t, nil, cloudBin, cloudArgs("127.0.0.1:0")...)
	line := cloud.waitLine(t, "listening on ")
	url := line[strings.Index(line, "http://"):]
	addr := strings.TrimPrefix(url, "http://")
	agentArgs := []string{"agent", "-server", url, "-profile", profile, "-keystore", string(keystore.BackendInsecureFile), "-token-env", "HP_TOKEN", "-page-size", "25"}
	env := []string{"HP_TOKEN=tok"}

	agent := start(t, env, agentBin, agentArgs...)
	agent.waitLine(t, "changes applied")
	agent.kill() // mid-sync
	agent = start(t, env, agentBin, agentArgs...)
	agent.waitLine(t, "changes applied")
	cloud.kill() // mid-sync
	cloud = start(t, nil, cloudBin, cloudArgs(addr)...)
	cloud.waitLine(t, "listening on ")

	// Converged: the agent's store holds exactly the cloud's records, its
	// outbox is empty, and every result reached the cloud once.
	deadline := time.Now().Add(90 * time.Second)
	var problem string
	for time.Now().Before(deadline) {
		if problem = converged(t, state, pf, ids); problem == "" {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling files with a deadline
	}
	if problem != "" {
		t.Fatalf("not converged after kills: %s", problem)
	}
	agent.kill()
	cloud.kill()
}

// converged compares the workstation's encrypted store (opened as a
// second reader beside the running agent) with the cloud's state file.
func converged(t *testing.T, cloudFile string, pf profileFlags, ids []string) string {
	t.Helper()
	ctx := context.Background()
	var cs cloudState
	b, err := os.ReadFile(cloudFile)
	if err != nil || json.Unmarshal(b, &cs) != nil {
		return "cloud state unreadable"
	}
	local, err := openProfile(ctx, pf, false)
	if err != nil {
		return "local store unreadable: " + err.Error()
	}
	defer local.Close()
	if es, err := local.sync.Outbox(ctx, 100); err != nil || len(es) > 0 {
		return fmt.Sprintf("%d results still in the outbox (%v)", len(es), err)
	}
	for _, o := range cs.Orgs {
		have := map[string]bool{}
		for _, r := range o.Receipts {
			have[r.Ack.ClientID] = true
		}
		for _, id := range ids {
			if !have[id] {
				return "result " + id + " missing in the cloud"
			}
		}
		overrides := 0
		for _, r := range o.Records {
			switch r.Kind {
			case "patient":
				var fp struct {
					Name []struct {
						Given []string `json:"given"`
					} `json:"name"`
				}
				_ = json.Unmarshal(r.Payload, &fp)
				p, err := local.local.Patient(ctx, r.ID)
				if err != nil || p.Name != fp.Name[0].Given[0]+" Seed" {
					return fmt.Sprintf("patient %s: local %q, %v", r.ID, p.Name, err)
				}
			case "override":
				overrides++
				if seq, err := local.sync.BaseSeq(ctx, r.ID); err != nil || seq != r.Seq {
					return fmt.Sprintf("override %s at local seq %d (%v), cloud %d", r.ID, seq, err, r.Seq)
				}
			}
		}
		if ovs, err := local.local.Overrides(ctx, "p1"); err != nil || len(ovs) != overrides {
			return fmt.Sprintf("local store holds %d overrides (%v); cloud %d", len(ovs), err, overrides)
		}
	}
	return ""
}

// lockedWriter serialises writes from the process's stderr copier with the
// final read in t.Cleanup.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/syncagent"
)

// TestAgentAndProductCloudSurviveKill is TestAgentAndCloudSurviveKill
// against the PRODUCT cloud: the real healthprep-cloud serve binary on a
// durable private Postgres (run by syncdev -product, which this test
// execs: the desktop never imports cloud packages). The workstation
// enrols with a real code; the agent is killed mid-sync and restarted;
// then the cloud process is killed mid-sync (its Postgres stops and
// restarts from its durable directory) and restarted on the same address.
// Converged: the workstation holds exactly the cloud's records, its
// outbox is empty, and the cloud holds every result once.
func TestAgentAndProductCloudSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries and runs Postgres; skipped with -short")
	}
	t.Parallel()
	dir := t.TempDir()
	// As root, Postgres runs as the postgres user, who must reach its
	// directory under the test's temporary directory.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	devBin := build(t, dir, "healthprep.dev/cloud/internal/syncfeed/syncdev")
	cloudBin := build(t, dir, "healthprep.dev/cloud/cmd/healthprep-cloud")
	agentBin := build(t, dir, "healthprep.dev/desktop/cmd/healthprep")
	state := filepath.Join(dir, "cloud")
	const patients = 3000
	cloudArgs := []string{"-product", state, "-cloud-bin", cloudBin, "-seed-patients", strconv.Itoa(patients)}

	cloud := start(t, nil, devBin, cloudArgs...)
	line := cloud.waitLine(t, "enrolment code ")
	code := line[strings.LastIndex(line, " ")+1:]
	cloudPID := pidOf(t, cloud.waitLine(t, "cloud pid "))
	line = cloud.waitLine(t, "listening on ")
	url := line[strings.Index(line, "http://"):]

	profile := filepath.Join(dir, "profile")
	ks := []string{"-profile", profile, "-keystore", string(keystore.BackendInsecureFile)}
	if c, out, errs := runCmd(append([]string{"enrol", "-server", url, "-code", code, "-name", "Kill Room"}, ks...)...); c != 0 {
		t.Fatalf("enrol: exit %d, %s%s", c, out, errs)
	}
	// Results recorded on the workstation before it first syncs.
	pf := profileFlags{Dir: profile, Keystore: string(keystore.BackendInsecureFile)}
	local, err := openProfile(context.Background(), pf, false)
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

	agentArgs := append([]string{"agent", "-page-size", "25"}, ks...)
	agent := start(t, nil, agentBin, agentArgs...)
	t.Logf("agent killed after %q", agent.waitLine(t, "changes applied"))
	agent.kill() // mid-sync
	agent = start(t, nil, agentBin, agentArgs...)
	t.Logf("cloud killed after the restarted agent's %q", agent.waitLine(t, "changes applied"))
	// kill -9 of the cloud process mid-sync; syncdev then stops Postgres
	// and ends, and a new syncdev recovers the same database.
	if err := syscall.Kill(cloudPID, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the cloud: %v", err)
	}
	for range cloud.lines {
	}
	cloud.kill()
	cloud = start(t, nil, devBin, cloudArgs...)
	cloudPID = pidOf(t, cloud.waitLine(t, "cloud pid "))
	if l := cloud.waitLine(t, "listening on "); !strings.HasSuffix(l, url) {
		t.Fatalf("restarted cloud %q; want it at %s", l, url)
	}

	dump := filepath.Join(dir, "cloud.json")
	deadline := time.Now().Add(120 * time.Second)
	problem := "not checked"
	for time.Now().Before(deadline) {
		out, err := exec.Command(devBin, "-product", state, "-dump").Output()
		if err != nil {
			problem = "dumping the cloud: " + err.Error()
		} else if err := os.WriteFile(dump, out, 0o600); err != nil {
			t.Fatal(err)
		} else if problem = converged(t, dump, pf, ids); problem == "" {
			break
		}
		time.Sleep(500 * time.Millisecond) // polling the cloud with a deadline
	}
	if problem != "" {
		t.Fatalf("not converged after kills: %s", problem)
	}
	var cs cloudState
	if b, err := os.ReadFile(dump); err != nil || json.Unmarshal(b, &cs) != nil {
		t.Fatalf("reading the cloud's state: %v", err)
	}
	for _, o := range cs.Orgs {
		kinds := map[string]int{}
		for _, r := range o.Records {
			kinds[r.Kind]++
		}
		t.Logf("converged: the cloud's feed at seq %d holds %v, %d receipts; the workstation holds exactly those records", o.Seq, kinds, len(o.Receipts))
		if kinds["patient"] != patients || kinds["override"] != 10 || len(o.Receipts) != len(ids) {
			t.Errorf("cloud holds %d patients, %d overrides, %d receipts; want %d, 10, %d", kinds["patient"], kinds["override"], len(o.Receipts), patients, len(ids))
		}
	}
	agent.kill()
	_ = syscall.Kill(cloudPID, syscall.SIGKILL)
	for range cloud.lines {
	}
	cloud.kill()
}

// pidOf reads the pid at the end of a "syncdev: cloud pid N" line.
func pidOf(t *testing.T, line string) int {
	t.Helper()
	pid, err := strconv.Atoi(line[strings.LastIndex(line, " ")+1:])
	if err != nil {
		t.Fatalf("cloud pid in %q: %v", line, err)
	}
	return pid
}

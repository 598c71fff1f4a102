package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/pgcluster"
)

// TestOnceSetsUpTheDemoAndIsIdempotent is `make run` without the waiting:
// the real cloud binary (api and worker), a durable Postgres, mail capture,
// the sandbox, the demo organisation seeded and connected to the sandbox
// through the public API, its first ingest done; then a second run over
// the same state directory finds everything in place.
func TestOnceSetsUpTheDemoAndIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	// When the tests run as root, Postgres runs as the postgres user, who
	// must be able to reach the cluster directory inside the test's.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin")+"/", "healthprep.dev/cloud/cmd/healthprep-cloud", "healthprep.dev/cloud/cmd/healthprep-sandbox")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building healthprep-cloud: %v\n%s", err, out)
	}
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pgPort, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	sbPort, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	workerPort, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-dir", dir, "-port", itoa(port), "-pg-port", itoa(pgPort), "-sandbox-port", itoa(sbPort),
		"-worker-port", itoa(workerPort), "-once"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var first bytes.Buffer
	if err := run(ctx, args, &first); err != nil {
		t.Fatalf("first run: %v\n%s", err, first.String())
	}
	for _, want := range []string{"HealthPrep is running on loopback", "root@healthprep.test", "Demo Family Clinic", "nurse@demo-clinic.test", "/web/invite/accept?token=", "/fhir"} {
		if !strings.Contains(first.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, first.String())
		}
	}
	// The demo organisation is connected to the sandbox and the worker
	// ingested its schedule.
	ingested := regexp.MustCompile(`(?m)^(\d+) patients scheduled, (\d+) records ingested$`).FindStringSubmatch(first.String())
	if ingested == nil {
		t.Fatalf("no ingest line in the summary:\n%s", first.String())
	}
	t.Log(ingested[0])
	if n, _ := strconv.Atoi(ingested[1]); n == 0 {
		t.Errorf("patients scheduled = %s; want some", ingested[1])
	}
	if m, _ := strconv.Atoi(ingested[2]); m == 0 {
		t.Errorf("records ingested = %s; want some", ingested[2])
	}
	org := regexp.MustCompile(`Demo Family Clinic \(([0-9a-f-]{36})\)`).FindStringSubmatch(first.String())
	if org == nil {
		t.Fatalf("no demo organisation id in the summary:\n%s", first.String())
	}

	var second bytes.Buffer
	if err := run(ctx, args, &second); err != nil {
		t.Fatalf("second run over the same state: %v\n%s", err, second.String())
	}
	if !strings.Contains(second.String(), org[1]) {
		t.Errorf("second run shows another organisation; want the same %s:\n%s", org[1], second.String())
	}
	if info, err := os.Stat(filepath.Join(dir, "secrets.json")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("secrets.json: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

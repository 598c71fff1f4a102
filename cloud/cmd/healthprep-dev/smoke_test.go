package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// synthea is the Synthea sample the smoke is tried with (read in place).
const synthea = "/work/shared/data/synthea-dev"

var smokeLine = regexp.MustCompile(`^smoke: (\d+) patients scheduled, (\d+) sheets on the desktop, (\d+) records synced in (\d+\.\d) s$`)

// buildSmoke builds what `make smoke` builds into one directory: the cloud,
// the sandbox, healthprep-dev itself and the desktop's healthprep.
func buildSmoke(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, b := range []struct {
		cgo  string
		pkgs []string
	}{
		{"", []string{"healthprep.dev/cloud/cmd/healthprep-cloud", "healthprep.dev/cloud/cmd/healthprep-sandbox", "healthprep.dev/cloud/cmd/healthprep-dev"}},
		{"CGO_ENABLED=0", []string{"healthprep.dev/desktop/cmd/healthprep"}},
	} {
		cmd := exec.Command("go", append([]string{"build", "-o", bin + "/"}, b.pkgs...)...)
		if b.cgo != "" {
			cmd.Env = append(os.Environ(), b.cgo)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %v: %v\n%s", b.pkgs, err, out)
		}
	}
	return bin
}

// TestSmoke runs `make smoke` as make does (the built healthprep-dev
// -smoke, as a process) with the demo data and with a Synthea directory:
// it exits 0 and its last line says every scheduled patient has a prep
// sheet on the desktop, and it leaves no state directory behind.
func TestSmoke(t *testing.T) {
	bin := buildSmoke(t)
	tests := []struct {
		name string
		args []string
		need string // a directory the case needs
	}{
		{"demo data", nil, ""},
		{"synthea directory with appointments synthesised", []string{"-data", synthea}, synthea},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.need != "" {
				if _, err := os.Stat(tt.need); err != nil {
					t.Skipf("%s is not on this machine (the shared data sets are outside the repository): %v", tt.need, err)
				}
			}
			tmp := t.TempDir()
			// As root, Postgres runs as the postgres user, who must reach
			// the smoke's state directory inside the test's.
			for _, d := range []string{filepath.Dir(tmp), tmp} {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(bin, "healthprep-dev"), append([]string{"-smoke"}, tt.args...)...)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "SMOKE_DATA=")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if err != nil {
				t.Fatalf("healthprep-dev -smoke: %v; want exit 0\n%s%s", err, stdout.String(), stderr.String())
			}
			lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
			last := lines[len(lines)-1]
			m := smokeLine.FindStringSubmatch(last)
			if m == nil {
				t.Fatalf("last line %q; want %s\n%s", last, smokeLine, stdout.String())
			}
			t.Log(last)
			if m[1] == "0" || m[1] != m[2] {
				t.Errorf("%s patients scheduled, %s sheets on the desktop; want as many sheets as patients, some", m[1], m[2])
			}
			if n := strings.Count(stdout.String(), "\nsmoke: "); n != 1 {
				t.Errorf("%d smoke: lines; want exactly one", n)
			}
			left, _ := os.ReadDir(tmp)
			for _, e := range left {
				t.Errorf("the smoke left %s behind in its temporary directory", e.Name())
			}
		})
	}
}

// TestSmokeBadData: a -data that is not a directory fails at once with
// exit status 1 and a message naming it, before anything starts.
func TestSmokeBadData(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "healthprep.dev/cloud/cmd/healthprep-dev")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	for _, b := range []string{"healthprep-cloud", "healthprep-sandbox", "healthprep"} {
		if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	cmd := exec.Command(filepath.Join(bin, "healthprep-dev"), "-smoke", "-data", filepath.Join(tmp, "absent"))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit status %d (%v); want 1\n%s%s", code, err, stdout.String(), stderr.String())
	}
	want := "healthprep-dev: -data " + filepath.Join(tmp, "absent") + ": not a directory\n"
	if stderr.String() != want {
		t.Errorf("stderr %q; want %q", stderr.String(), want)
	}
	if strings.Contains(stdout.String(), "starting Postgres") {
		t.Errorf("Postgres started despite the bad -data:\n%s", stdout.String())
	}
}

// TestSynthesiseAppointments: living patients without an appointment in
// the window get one weekday appointment in it; booked and deceased
// patients get none.
func TestSynthesiseAppointments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	loc, err := time.LoadLocation(clinicZone)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 6, 9, 0, 0, 0, loc) // a Friday
	files := map[string]string{
		"bundle.json": `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:a","resource":{"resourceType":"Patient","id":"a"}},
			{"fullUrl":"urn:uuid:b","resource":{"resourceType":"Patient","id":"b"}},
			{"resource":{"resourceType":"Appointment","id":"x","start":"2026-03-09T10:00:00-04:00","participant":[{"actor":{"reference":"urn:uuid:b"}}]}}]}`,
		"dead.json":   `{"resourceType":"Patient","id":"dead","deceasedDateTime":"2001-01-01"}`,
		"later.json":  `{"resourceType":"Patient","id":"later"}`,
		"later2.json": `{"resourceType":"Appointment","id":"y","start":"2026-06-01T10:00:00-04:00","participant":[{"actor":{"reference":"Patient/later"}}]}`,
		"notes.txt":   `not FHIR`,
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, n, err := synthesiseAppointments(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Entry []struct {
			Resource struct {
				Start       string `json:"start"`
				Participant []struct {
					Actor struct{ Reference string } `json:"actor"`
				} `json:"participant"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, e := range got.Entry {
		r := e.Resource
		who = append(who, r.Participant[0].Actor.Reference)
		start, err := time.Parse(time.RFC3339, r.Start)
		if err != nil {
			t.Fatalf("start %q: %v", r.Start, err)
		}
		start = start.In(loc)
		if start.Before(time.Date(2026, 3, 6, 0, 0, 0, 0, loc)) || start.After(now.AddDate(0, 0, 14)) || start.Weekday() == time.Saturday || start.Weekday() == time.Sunday || start.Hour() < 8 || start.Hour() > 16 {
			t.Errorf("%s booked at %v; want a weekday, 08:00–16:30, within 14 days of %v", r.Participant[0].Actor.Reference, start, now)
		}
	}
	if want := "Patient/a Patient/later"; n != 2 || strings.Join(who, " ") != want {
		t.Errorf("booked %d: %v; want %s", n, who, want)
	}
}

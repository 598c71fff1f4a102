package main

// The end-to-end smoke (`make smoke`, healthprep-dev -smoke): in a fresh
// temporary state directory and on free loopback ports, it starts
// everything `make run` starts (the same steps: up), then plays a clinic
// workstation with the built desktop binary:
//
//  1. the root administrator issues an enrolment code for the demo
//     organisation through the API (DeviceService.IssueEnrolmentCode);
//  2. `healthprep enrol` exchanges it for device credentials;
//  3. `healthprep agent -once` pulls the organisation's feed (its
//     configuration, screening library, schedule, patients and records)
//     into the encrypted local store;
//  4. `healthprep sheets -json` opens the prep sheet of every appointment
//     in the ingest window (today and the next 14 days) from the local
//     store alone.
//
// The desktop keeps its device secrets with the insecure-file-for-tests key
// store backend (0600 files in the profile): a headless Linux machine has
// no OS key store. It is labelled as such in the output; a workstation
// never uses it.
//
// Then it stops everything it started, by PID, checks that none of those
// processes is still running, and prints one final line:
//
//	smoke: N patients scheduled, M sheets on the desktop, K records synced in S s
//
// N is the patients on the cloud's schedule after the first ingest, M the
// prep sheets the desktop opened, K the changes the desktop applied and S
// the seconds its sync took. It succeeds only when every scheduled patient
// has a prep sheet on the desktop.
//
// With -data DIR (SMOKE_DATA=DIR) the sandbox loads that directory of FHIR
// R4 JSON instead of the demo data, read in place. healthprep-dev (not the
// sandbox) gives every living patient with no appointment in the window one
// in the next 14 days: it writes those Appointments as a collection Bundle
// into the state directory and has the sandbox load it after DIR.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/pgcluster"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// smokeConfig is what the smoke was told.
type smokeConfig struct {
	// BinDir holds healthprep-cloud, healthprep-sandbox and the desktop's
	// healthprep (default: the directory of this program).
	BinDir string
	// Data is a directory of FHIR JSON to load instead of the demo data.
	Data string
	// Keep keeps the state directory (logs) even on success.
	Keep bool
}

// Smoke constants.
const (
	// windowDays is the days the smoke checks: today and the next 14, as
	// ingest's appointment window (ingest.JobsConfig.Run.WindowDays).
	windowDays = 15
	// clinicZone is a new organisation's time zone (organizations.timezone
	// default), so the demo clinic's: synthesised appointments, and the
	// sandbox's demo schedule (-tz), are booked in it.
	clinicZone = "America/New_York"
	// insecureKeystore is the desktop's file key store for headless tests.
	insecureKeystore = "insecure-file-for-tests"
)

// sheetReport is `healthprep sheets -json` output (desktop's SheetReport).
type sheetReport struct {
	From, To     string
	Appointments int
	Patients     int
	Sheets       int
	Missing      int
	SlowestMS    float64
}

func runSmoke(ctx context.Context, cfg smokeConfig, out io.Writer) (err error) {
	began := time.Now()
	if cfg.BinDir, err = findBinaries(cfg.BinDir, "the smoke", "make smoke"); err != nil {
		return err
	}
	if cfg.Data != "" {
		if cfg.Data, err = checkData(cfg.Data); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "healthprep-smoke-")
	if err != nil {
		return err
	}
	// Postgres runs as the postgres user when we are root: it must reach
	// the cluster directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil || cfg.Keep {
			fmt.Fprintln(out, "state and logs kept in", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	fmt.Fprintln(out, "smoke state in", dir)

	source := []string{"-demo"}
	if cfg.Data != "" {
		if source, err = smokeData(cfg.Data, filepath.Join(dir, "schedule"), time.Now(), out); err != nil {
			return err
		}
	}
	st, stopAll, err := upOnFreePorts(ctx, dir, cfg.BinDir, source, out)
	if err != nil {
		return err
	}
	defer func() {
		if st.stops != nil {
			_ = stopAll()
		}
	}()
	fmt.Fprintf(out, "cloud: %d patients scheduled (%d appointments), %d records ingested\n",
		st.ing.Patients, st.ing.Appointments, st.ing.Records)

	res, err := smokeDesktop(ctx, st, cfg.BinDir, filepath.Join(dir, "desktop"), out)
	if err != nil {
		return err
	}
	if err := stopAll(); err != nil {
		return err
	}
	fmt.Fprintf(out, "stopped everything the smoke started; %.1f s in all\n", time.Since(began).Seconds())
	fmt.Fprintf(out, "smoke: %d patients scheduled, %d sheets on the desktop, %d records synced in %.1f s\n",
		st.ing.Patients, res.sheets.Sheets, res.applied, res.syncTime.Seconds())
	switch {
	case st.ing.Patients == 0:
		return errors.New("smoke failed: nobody is on the schedule")
	case res.sheets.Missing > 0:
		return fmt.Errorf("smoke failed: %d appointments have no prep sheet on the desktop", res.sheets.Missing)
	case int64(res.sheets.Patients) != st.ing.Patients:
		return fmt.Errorf("smoke failed: the desktop's schedule has %d patients; the cloud's %d", res.sheets.Patients, st.ing.Patients)
	}
	return nil
}

// desktopResult is what the headless desktop did.
type desktopResult struct {
	applied  int
	syncTime time.Duration
	sheets   sheetReport
}

var upToDateRE = regexp.MustCompile(`(?m)^sync: up to date at seq (\d+) \((\d+) changes applied`)

// smokeDesktop enrols a headless desktop profile with a fresh enrolment
// code, syncs it once and opens the window's prep sheets.
func smokeDesktop(ctx context.Context, st *stack, binDir, profile string, out io.Writer) (desktopResult, error) {
	var r desktopResult
	devices := c.NewDeviceServiceClient(http.DefaultClient, st.base, st.root.opts)
	code, err := devices.IssueEnrolmentCode(ctx, connect.NewRequest(&v1.IssueEnrolmentCodeRequest{OrgId: st.sec.DemoOrgID, ValidMinutes: 10}))
	if err != nil {
		return r, fmt.Errorf("issuing an enrolment code: %w", err)
	}
	desktop := filepath.Join(binDir, "healthprep")
	common := []string{"-profile", profile, "-keystore", insecureKeystore}
	fmt.Fprintf(out, "desktop: profile %s, key store %s (0600 files in the profile: headless Linux smoke only, never a workstation)\n",
		profile, insecureKeystore)
	if _, err := desktopCmd(ctx, desktop, append([]string{"enrol", "-server", st.base, "-code", code.Msg.GetCode(), "-name", "smoke-workstation"}, common...)...); err != nil {
		return r, err
	}
	start := time.Now()
	sync, err := desktopCmd(ctx, desktop, append([]string{"agent", "-once"}, common...)...)
	if err != nil {
		return r, err
	}
	r.syncTime = time.Since(start)
	m := upToDateRE.FindStringSubmatch(sync)
	if m == nil {
		return r, fmt.Errorf("healthprep agent -once: no summary line in its output:\n%s", sync)
	}
	r.applied, _ = strconv.Atoi(m[2])
	fmt.Fprintln(out, "desktop:", lastLine(sync))
	// sheets exits 1 when sheets are missing and still reports: read it.
	rep, err := desktopCmd(ctx, desktop, append([]string{"sheets", "-json", "-days", strconv.Itoa(windowDays)}, common...)...)
	if line := lastLine(rep); strings.HasPrefix(line, "{") {
		if jerr := json.Unmarshal([]byte(line), &r.sheets); jerr != nil {
			return r, fmt.Errorf("reading healthprep sheets -json: %w", jerr)
		}
		fmt.Fprintf(out, "desktop: %d appointments of %d patients from %s to %s: %d sheets, %d missing, slowest %.1f ms\n",
			r.sheets.Appointments, r.sheets.Patients, r.sheets.From, r.sheets.To, r.sheets.Sheets, r.sheets.Missing, r.sheets.SlowestMS)
		return r, nil
	}
	return r, err
}

// desktopCmd runs the desktop binary and returns its standard output;
// a failure carries both outputs (which never hold secrets or PHI).
func desktopCmd(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("healthprep %s: %w\n%s%s", args[0], err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// checkStopped waits (at most 10 s) until none of pids is running.
func checkStopped(pids []int) error {
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				return fmt.Errorf("process %d is still running after the smoke stopped it", pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// checkData returns the absolute path of a -data directory.
func checkData(data string) (string, error) {
	abs, err := filepath.Abs(data)
	if err != nil {
		return "", err
	}
	if info, err := os.Stat(abs); err != nil || !info.IsDir() {
		return "", fmt.Errorf("-data %s: not a directory", data)
	}
	if strings.Contains(abs, ",") {
		return "", fmt.Errorf("-data %s: the path must not contain a comma", data)
	}
	return abs, nil
}

// smokeData writes, into schedDir, the Appointments that put every living
// patient of the FHIR directory abs without one in the window on the
// schedule. It returns the sandbox's source flags.
func smokeData(abs, schedDir string, now time.Time, out io.Writer) ([]string, error) {
	loc, err := time.LoadLocation(clinicZone)
	if err != nil {
		return nil, err
	}
	bundle, n, err := synthesiseAppointments(abs, now.In(loc))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(schedDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(schedDir, "appointments.json"), bundle, 0o600); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "data: %s; booked %d patients without an appointment in the next %d days\n", abs, n, windowDays-1)
	return []string{"-data", abs + "," + schedDir}, nil
}

// fhirDoc is the little of a FHIR document the scan reads.
type fhirDoc struct {
	ResourceType     string          `json:"resourceType"`
	ID               string          `json:"id"`
	Entry            []fhirEntry     `json:"entry"`
	DeceasedBoolean  bool            `json:"deceasedBoolean"`
	DeceasedDateTime string          `json:"deceasedDateTime"`
	Start            string          `json:"start"`
	Participant      []fhirActorSlot `json:"participant"`
}

type fhirEntry struct {
	FullURL  string  `json:"fullUrl"`
	Resource fhirDoc `json:"resource"`
}

type fhirActorSlot struct {
	Actor struct {
		Reference string `json:"reference"`
	} `json:"actor"`
}

// synthesiseAppointments scans every *.json under dir (as the sandbox
// loads it) and returns a collection Bundle booking each living patient
// with no appointment from today to today+14 days (in now's zone) into a
// 30-minute weekday slot between 08:00 and 16:30 in that window, and how
// many it booked.
func synthesiseAppointments(dir string, now time.Time) ([]byte, int, error) {
	loc := now.Location()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	end := today.AddDate(0, 0, windowDays)
	living := map[string]bool{}
	booked := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var doc fhirDoc
		if json.Unmarshal(b, &doc) != nil {
			return nil // the sandbox reports what it cannot load
		}
		docs, alias := []fhirDoc{doc}, map[string]string{}
		if doc.ResourceType == "Bundle" {
			docs = docs[:0]
			for _, e := range doc.Entry {
				docs = append(docs, e.Resource)
				if e.FullURL != "" {
					alias[e.FullURL] = e.Resource.ResourceType + "/" + e.Resource.ID
				}
			}
		}
		for _, r := range docs {
			switch r.ResourceType {
			case "Patient":
				if !r.DeceasedBoolean && r.DeceasedDateTime == "" && r.ID != "" {
					living[r.ID] = true
				}
			case "Appointment":
				t, err := time.Parse(time.RFC3339, r.Start)
				if err != nil || t.Before(today) || !t.Before(end) {
					continue
				}
				for _, p := range r.Participant {
					ref := p.Actor.Reference
					if a, ok := alias[ref]; ok {
						ref = a
					}
					if id, ok := strings.CutPrefix(ref, "Patient/"); ok {
						booked[id] = true
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the FHIR directory: %w", err)
	}
	var ids []string
	for id := range living {
		if !booked[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var days []time.Time
	for d := range windowDays - 1 {
		day := today.AddDate(0, 0, d)
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
			days = append(days, day)
		}
	}
	var entries []any
	for i, id := range ids {
		day := days[i%len(days)]
		slot := (i / len(days)) % 18 // 08:00 … 16:30
		start := day.Add(8*time.Hour + time.Duration(slot)*30*time.Minute)
		entries = append(entries, map[string]any{"resource": map[string]any{
			"resourceType": "Appointment", "id": "smoke-" + id, "status": "booked",
			"serviceType": []any{map[string]any{"text": "Annual wellness visit"}}, "description": "Annual wellness visit",
			"start": start.Format(time.RFC3339), "end": start.Add(30 * time.Minute).Format(time.RFC3339), "minutesDuration": 30,
			"participant": []any{map[string]any{"actor": map[string]any{"reference": "Patient/" + id}, "required": "required", "status": "accepted"}},
		}})
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": entries})
	return b, len(ids), err
}

// findBinaries resolves binDir (this program's directory when empty) to
// an absolute path holding the cloud, the sandbox and the desktop; who
// and builder name the mode and the make target for the error.
func findBinaries(binDir, who, builder string) (string, error) {
	if binDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("finding the binaries: %w", err)
		}
		binDir = filepath.Dir(exe)
	}
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return "", err
	}
	for _, b := range []string{"healthprep-cloud", "healthprep-sandbox", "healthprep"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return "", fmt.Errorf("%s needs %s in %s (%s builds it): %w", who, b, binDir, builder, err)
		}
	}
	return binDir, nil
}

// upOnFreePorts starts the whole stack in dir on free loopback ports with
// the sandbox serving source; stopAll stops it and checks every process
// is gone.
func upOnFreePorts(ctx context.Context, dir, binDir string, source []string, out io.Writer) (*stack, func() error, error) {
	var ports [4]int
	for i := range ports {
		p, err := pgcluster.FreePort()
		if err != nil {
			return nil, nil, err
		}
		ports[i] = p
	}
	st, err := up(ctx, upConfig{Dir: dir, BinDir: binDir, Port: ports[0], PGPort: ports[1], SandboxPort: ports[2],
		WorkerPort: ports[3], Sandbox: source}, out)
	if err != nil {
		return nil, nil, err
	}
	stopAll := func() error {
		pids := st.pids
		st.stop()
		return checkStopped(pids)
	}
	return st, stopAll, nil
}

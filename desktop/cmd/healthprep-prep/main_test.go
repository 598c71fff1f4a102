package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// generated is the time the sheets of a test run are generated at.
var generated = time.Date(2026, time.January, 2, 15, 4, 0, 0, time.UTC)

type outcome struct {
	stdout, stderr string
	code           int
}

func runCLI(t *testing.T, args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, generated, &stdout, &stderr)
	return outcome{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// The fixture mixes the two layouts the command reads: a Synthea-style
// transaction Bundle (with a Claim it must ignore) and eCQM-style folders
// of one resource per file, nested at different depths, each with a
// MeasureReport that must be ignored, and a file that is not JSON.
func TestGoldenSheets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, golden string
		args         []string
	}{
		{"json lines", "charts.golden.jsonl", []string{"--as-of", "2025-12-31", "--json", "testdata/charts"}},
		{"text", "charts.golden.txt", []string{"--as-of=2025-12-31", "--tz", "America/New_York", "testdata/charts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := runCLI(t, tt.args...)
			if o.code != exitOK || o.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", o.code, o.stderr)
			}
			golden(t, tt.golden, o.stdout)
		})
	}
}

func TestJSONLinesShape(t *testing.T) {
	t.Parallel()
	o := runCLI(t, "--as-of", "2025-12-31", "--json", "testdata/charts")
	lines := strings.Split(strings.TrimSuffix(o.stdout, "\n"), "\n")
	var patients []string
	statuses := map[string]bool{"complete": true, "due_soon": true, "due": true, "overdue": true, "not_eligible": true,
		"excluded": true, "cannot_evaluate": true, "superseded": true}
	for _, line := range lines {
		var sheet struct {
			Patient    string `json:"patient"`
			AsOf       string `json:"as_of"`
			Screenings []struct {
				ID, Name, Status, Reason string
				Sources                  []string
			} `json:"screenings"`
		}
		if err := json.Unmarshal([]byte(line), &sheet); err != nil {
			t.Fatalf("line is not one JSON object: %v\n%s", err, line)
		}
		patients = append(patients, sheet.Patient)
		if sheet.AsOf != "2025-12-31" || len(sheet.Screenings) == 0 {
			t.Errorf("%s: as_of %q, %d screenings; want 2025-12-31 and some", sheet.Patient, sheet.AsOf, len(sheet.Screenings))
		}
		for _, s := range sheet.Screenings {
			if !statuses[s.Status] || s.ID == "" || s.Name == "" || s.Reason == "" || len(s.Sources) == 0 {
				t.Errorf("%s/%s: status %q, reason %q, sources %v; want a known status, a reason and a source", sheet.Patient, s.ID, s.Status, s.Reason, s.Sources)
			}
		}
	}
	if got, want := strings.Join(patients, ","), "patient-b,patient-c,maria"; got != want {
		t.Errorf("patients = %s, want %s (one line each, files in lexical order, MeasureReports ignored)", got, want)
	}
	if !strings.Contains(o.stdout, `"CMS125"`) {
		t.Errorf("no sheet cites CMS125 among its sources")
	}
}

func TestMalformedInputsAreReportedAndSkipped(t *testing.T) {
	t.Parallel()
	o := runCLI(t, "--as-of", "2025-12-31", "--json", "testdata/malformed/clinic")
	if o.code != exitOK {
		t.Errorf("exit %d, want 0: every patient got a sheet\nstderr:\n%s", o.code, o.stderr)
	}
	for _, id := range []string{`"patient":"ann"`, `"patient":"bob"`} {
		if !strings.Contains(o.stdout, id) {
			t.Errorf("stdout lacks the sheet with %s", id)
		}
	}
	dir := filepath.Join("testdata", "malformed", "clinic")
	wantLines := []string{
		dir + "/ann.json: $.entry[2].resource.valueQuantity.value: not a number",                         // wrong type inside a Bundle
		dir + "/empty.json: $: empty file",                                                               // empty file
		dir + "/invalid.json: $: not JSON: invalid character ']' after object key:value pair at byte 81", // invalid JSON
		dir + "/notfhir.json: $.resourceType: missing resourceType: not a FHIR resource",                 // JSON, not FHIR
		dir + "/truncated.json: $: not JSON: truncated: the file ends at byte 141 inside a value",        // truncated
		dir + "/wrongtype.json: $.code: not an object",                                                   // wrong type at a path
	}
	for _, want := range wantLines {
		if !strings.Contains(o.stderr, "skipped: "+filepath.FromSlash(want)+"\n") {
			t.Errorf("stderr lacks %q\nstderr:\n%s", want, o.stderr)
		}
	}
	if n := strings.Count(o.stderr, "\n"); n != len(wantLines) {
		t.Errorf("stderr has %d lines, want %d:\n%s", n, len(wantLines), o.stderr)
	}
	if strings.Contains(o.stdout, "cond-1") || strings.Contains(o.stdout, "ann-bad") {
		t.Errorf("a skipped resource reached a sheet")
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStdout []string // sheets still printed
		wantStderr []string
	}{
		{"every patient got a sheet", []string{"--as-of", "2025-12-31", "testdata/charts"}, exitOK, []string{"Patient:   Maria Example", "(record patient-b)", "(record patient-c)"}, nil},
		{"an unreadable Patient: the other still gets a sheet", []string{"--as-of", "2025-12-31", "testdata/malformed/broken"}, exitIncomplete,
			[]string{"(record dora)"},
			[]string{filepath.FromSlash("testdata/malformed/broken/carl.json") + ": $.entry[0].resource.birthDate: not a string",
				`refer to subject "urn:uuid:carl", which is not a loaded Patient: skipped`,
				"1 sheets printed, but some patients got none"}},
		{"no patient at all", []string{"--as-of", "2025-12-31", "testdata/nopatient"}, exitIncomplete, nil, []string{"no Patient resources found"}},
		{"several directories", []string{"--as-of", "2025-12-31", "testdata/charts", "testdata/malformed/clinic"}, exitOK, []string{"Patient:   Maria Example", "(record ann)"}, nil},
		{"missing directory", []string{"--as-of", "2025-12-31", "testdata/nope"}, exitUsage, nil, []string{"reading testdata/nope"}},
		{"--pdf cannot be created", []string{"--as-of", "2025-12-31", "--pdf", "testdata/charts/synthea/maria.json/sheets", "testdata/charts"}, exitUsage, nil,
			[]string{"healthprep-prep: --pdf: mkdir testdata/charts/synthea/maria.json: not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := runCLI(t, tt.args...)
			if o.code != tt.want {
				t.Errorf("exit %d, want %d\nstderr:\n%s", o.code, tt.want, o.stderr)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(o.stdout, s) {
					t.Errorf("stdout lacks %q", s)
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(o.stderr, s) {
					t.Errorf("stderr lacks %q\nstderr:\n%s", s, o.stderr)
				}
			}
		})
	}
}

func TestPresetsFlag(t *testing.T) {
	t.Parallel()
	t.Run("custom library", func(t *testing.T) {
		t.Parallel()
		o := runCLI(t, "--as-of", "2025-12-31", "--json", "--presets", "testdata/presets/custom.json", "testdata/charts")
		if o.code != exitOK {
			t.Fatalf("exit %d, stderr %s", o.code, o.stderr)
		}
		golden(t, "custom.golden.jsonl", o.stdout)
	})
	tests := []struct {
		file string
		want string
	}{
		{"invalid.json", `--presets testdata/presets/invalid.json: presets: invalid screening library: type "a1c_check": min_age 80y is above max_age 75y; type "a1c_check" evidence "a1c": unknown code system "LOINK"`},
		{"negative.json", `--presets testdata/presets/negative.json: decoding presets: bad period "-1y": negative`},
		{"typo.json", `--presets testdata/presets/typo.json: decoding presets: json: unknown field "typs"`},
		{"missing.json", `--presets: open testdata/presets/missing.json: `},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			o := runCLI(t, "--as-of", "2025-12-31", "--presets", "testdata/presets/"+tt.file, "testdata/charts")
			if o.code != exitUsage || o.stdout != "" {
				t.Errorf("exit %d with %d bytes on stdout, want %d and nothing", o.code, len(o.stdout), exitUsage)
			}
			if !strings.Contains(o.stderr, "healthprep-prep: "+filepath.FromSlash(tt.want)) {
				t.Errorf("stderr = %q, want it to contain %q", o.stderr, tt.want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"as-of missing", []string{"testdata/charts"}, "--as-of is required: the date the sheets are prepared for, as YYYY-MM-DD"},
		{"as-of malformed", []string{"--as-of", "12/31/2025", "testdata/charts"}, `--as-of: parsing date "12/31/2025": want YYYY-MM-DD`},
		{"as-of impossible date", []string{"--as-of", "2025-02-30", "testdata/charts"}, `--as-of: parsing date "2025-02-30": want YYYY-MM-DD`},
		{"no directory", []string{"--as-of", "2025-12-31"}, "no input directory given"},
		{"unknown flag", []string{"--asof", "2025-12-31", "testdata/charts"}, "flag provided but not defined: -asof"},
		{"unknown time zone", []string{"--as-of", "2025-12-31", "--tz", "Mars/Olympus", "testdata/charts"}, `--tz: unknown time zone "Mars/Olympus": want an IANA name such as America/Chicago`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := runCLI(t, tt.args...)
			if o.code != exitUsage || o.stdout != "" {
				t.Errorf("exit %d with %d bytes on stdout, want %d and nothing", o.code, len(o.stdout), exitUsage)
			}
			if !strings.Contains(o.stderr, tt.want) || !strings.Contains(o.stderr, usage) {
				t.Errorf("stderr = %q, want %q and the usage line", o.stderr, tt.want)
			}
		})
	}
	if o := runCLI(t, "-h"); o.code != exitOK || !strings.Contains(o.stderr, "-as-of") {
		t.Errorf("-h: exit %d, stderr %q; want 0 and the flags", o.code, o.stderr)
	}
}

// TestBinary builds the real command and checks what a shell sees: the
// exit status and the two streams.
func TestBinary(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH, so the binary cannot be built; the run function is tested directly above")
	}
	bin := filepath.Join(t.TempDir(), "healthprep-prep")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		args       []string
		want       int
		wantStdout string
		wantStderr string
	}{
		{[]string{"--as-of", "2025-12-31", "--json", "testdata/charts"}, 0, `{"patient":"patient-b","as_of":"2025-12-31"`, ""},
		{[]string{"--as-of", "2025-12-31", "testdata/malformed/clinic"}, 0, "(record bob)", "empty.json: $: empty file"},
		{[]string{"--as-of", "2025-12-31", "testdata/malformed/broken"}, 1, "(record dora)", "some patients got none"},
		{[]string{"testdata/charts"}, 2, "", "--as-of is required"},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("running %v: %v", tt.args, err)
		}
		if code != tt.want || !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
			t.Errorf("healthprep-prep %s: exit %d, want %d; stdout has %q: %v; stderr %q, want %q",
				strings.Join(tt.args, " "), code, tt.want, tt.wantStdout, strings.Contains(stdout.String(), tt.wantStdout), stderr.String(), tt.wantStderr)
		}
	}
}

// TestPDFOutput writes one PDF per patient and reads one back with
// pdftotext: the file is named after the Patient.id, never the name, and
// holds the same sheet as the text output.
func TestPDFOutput(t *testing.T) {
	t.Parallel()
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext not found: install poppler-utils with `make deps` (it reads the written PDF back)")
	}
	dir := filepath.Join(t.TempDir(), "sheets")
	o := runCLI(t, "--as-of", "2025-12-31", "--tz", "America/New_York", "--pdf", dir, "testdata/charts")
	if o.code != exitOK || o.stderr != "" {
		t.Fatalf("exit %d, stderr %q; want 0 and nothing", o.code, o.stderr)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if info, err := e.Info(); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600: a sheet is PHI", e.Name(), info.Mode(), err)
		}
	}
	if got, want := strings.Join(names, " "), "maria.pdf patient-b.pdf patient-c.pdf"; got != want {
		t.Errorf("files %s, want %s (one per Patient.id, no temporary files left)", got, want)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("--pdf directory mode %v (%v), want 0700", info.Mode(), err)
	}
	out, err := exec.Command(pdftotext, "-layout", "-enc", "UTF-8", filepath.Join(dir, "maria.pdf"), "-").Output()
	if err != nil {
		t.Fatalf("pdftotext could not read maria.pdf: %v", err)
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{
		"Prep sheet: Maria Example", "MRN-100", "Tue 2026-01-06 09:30 EST, Annual wellness visit",
		"Influenza vaccine", "Hemoglobin A1c/Hemoglobin.total in Blood: 5.6 %", "Chest X-ray PA and lateral",
		"Referral to cardiology service", "Emergency room admission (procedure)", "Discharge summary",
		"Generated 2026-01-02 10:04 EST", "Page 1 of",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("maria.pdf lacks %q; pdftotext reads:\n%s", want, out)
		}
	}
}

func TestPDFFileNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := runCLI(t, "--as-of", "2025-12-31", "--pdf", dir, "testdata/badids")
	if o.code != exitIncomplete {
		t.Errorf("exit %d, want %d: two patients got no PDF", o.code, exitIncomplete)
	}
	for _, want := range []string{
		`healthprep-prep: no PDF for patient 2: patient id "../escape" is not a FHIR id (letters, digits, '-' and '.', not starting with '.'), so it cannot name a file`,
		`healthprep-prep: no PDF for patient 3: two patients have the id "ok-1": ok-1.pdf was written for the first`,
		"healthprep-prep: 2 of 3 PDFs could not be written (see above)",
	} {
		if !strings.Contains(o.stderr, want+"\n") {
			t.Errorf("stderr lacks %q\nstderr:\n%s", want, o.stderr)
		}
	}
	if strings.Count(o.stdout, "PREP SHEET") != 3 {
		t.Errorf("stdout has %d sheets, want all 3 printed", strings.Count(o.stdout, "PREP SHEET"))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "ok-1.pdf" {
		t.Errorf("files in --pdf: %v, want only ok-1.pdf", entries)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.pdf")); err == nil {
		t.Errorf("a PDF was written outside --pdf")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ok-1.pdf")); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Errorf("ok-1.pdf is not a PDF (%v)", err)
	}
}

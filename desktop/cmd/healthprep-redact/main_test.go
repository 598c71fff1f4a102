package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := run(args, stdin, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update after checking):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, input string
		args        []string
	}{
		{"letter", "letter.txt", nil},
		{"form", "form.txt", nil},
		{"email", "email.txt", nil},
		{"negatives", "negatives.txt", nil},
		{"ocr-note-without-patient", "ocr-note.txt", nil},
		{"ocr-note-with-patient", "ocr-note.txt", []string{"--patient", "testdata/patient.json"}},
		{"form-json", "form.txt", []string{"--json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(append([]string{}, tc.args...), filepath.Join("testdata", tc.input))
			r := runCmd(t, nil, args...)
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			golden(t, tc.name+".golden", r.stdout)
		})
	}
}

// TestJSONOffsetsAreCodePoints checks that every span, read as code points
// of the input, is the identifier it claims to be.
func TestJSONOffsetsAreCodePoints(t *testing.T) {
	t.Parallel()
	in := "Résumé 😀😀 — Patient: Renée Dubois 🙂, DOB 03/04/1961, téléphone (217) 555-0143."
	r := runCmd(t, strings.NewReader(in), "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Redacted string `json:"redacted"`
		Spans    []struct {
			Start, End int
			Type       string
		} `json:"spans"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	runes := []rune(in)
	var got []string
	for _, s := range out.Spans {
		got = append(got, s.Type+":"+string(runes[s.Start:s.End]))
	}
	want := "NAME:Renée Dubois|DATE:03/04/1961|PHONE:(217) 555-0143"
	if strings.Join(got, "|") != want {
		t.Errorf("spans read %q, want %q", strings.Join(got, "|"), want)
	}
	if wantText := "Résumé 😀😀 — Patient: [NAME] 🙂, DOB [DATE], téléphone [PHONE]."; out.Redacted != wantText {
		t.Errorf("redacted = %q, want %q", out.Redacted, wantText)
	}
}

func TestPatientIdentifiersAreMatched(t *testing.T) {
	t.Parallel()
	in := "Zosia called from 217 555 0143 about chart Q7-44910; see you near quenby."
	without := runCmd(t, strings.NewReader(in)).stdout
	with := runCmd(t, strings.NewReader(in), "--patient", "testdata/patient.json").stdout
	for _, id := range []string{"Zosia", "Q7-44910", "quenby"} {
		if !strings.Contains(without, id) {
			t.Errorf("without --patient %q is already redacted; the test no longer shows what --patient adds", id)
		}
		if strings.Contains(with, id) {
			t.Errorf("with --patient the output still contains %q: %s", id, with)
		}
	}
}

func TestEmptyInput(t *testing.T) {
	t.Parallel()
	if r := runCmd(t, nil); r.code != exitOK || r.stdout != "" || r.stderr != "" {
		t.Errorf("empty input: %+v, want exit 0 and no output", r)
	}
	r := runCmd(t, nil, "--json")
	if want := `{"redacted":"","spans":[],"service_dates":[]}` + "\n"; r.code != exitOK || r.stdout != want {
		t.Errorf("empty input --json: exit %d stdout %q, want %q", r.code, r.stdout, want)
	}
}

func TestBadInputIsRefusedWithAClearError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stdin   io.Reader
		args    []string
		code    int
		wantErr string
	}{
		{"invalid UTF-8", strings.NewReader("Patient: John Smith \xff\xfe DOB 03/04/1961"), nil, exitInput,
			"healthprep-redact: stdin is not valid UTF-8: first bad byte at offset 20; convert it to UTF-8 first (for example with iconv)\n"},
		{"too large", io.LimitReader(zeroes{}, MaxInput+1), nil, exitInput,
			"healthprep-redact: stdin is larger than the 64 MiB limit: split the document\n"},
		{"missing file", nil, []string{"testdata/nope.txt"}, exitInput,
			"healthprep-redact: opening input: open testdata/nope.txt: no such file or directory\n"},
		{"ocr and a text file", nil, []string{"--ocr", "scan.pdf", "a.txt"}, exitUsage,
			"healthprep-redact: give either --ocr FILE or a text file, not both\n" + usage + "\n"},
		{"two files", nil, []string{"a.txt", "b.txt"}, exitUsage,
			"healthprep-redact: want at most one input file, got 2\n" + usage + "\n"},
		{"missing patient", nil, []string{"--patient", "testdata/nope.json"}, exitUsage,
			"healthprep-redact: reading --patient: open testdata/nope.json: no such file or directory\n"},
		{"patient not a patient", nil, []string{"--patient", "testdata/letter.txt"}, exitUsage,
			"healthprep-redact: --patient: testdata/letter.txt: $: not JSON: invalid character 'H' looking for beginning of value at byte 1\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, tc.stdin, tc.args...)
			if r.code != tc.code || r.stderr != tc.wantErr || r.stdout != "" {
				t.Errorf("exit %d stderr %q stdout %q\nwant exit %d stderr %q and no stdout", r.code, r.stderr, r.stdout, tc.code, tc.wantErr)
			}
		})
	}
}

// zeroes is an endless reader of 'a' bytes.
type zeroes struct{}

func (zeroes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

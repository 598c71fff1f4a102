package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	specValueSets = filepath.Join("..", "..", "..", "..", "shared", "data", "ecqm-spec", "valueset")
	presetDir     = filepath.Join("..", "..", "..", "shared", "preset")
)

// TestCommittedCodeSetsAreFresh regenerates codesets.json from its source
// and the public value sets and wants the committed file byte for byte.
func TestCommittedCodeSetsAreFresh(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(specValueSets); err != nil {
		t.Skipf("the public eCQM specification is not beside the repository (%s: %v), so codesets.json could not be regenerated and compared", specValueSets, err)
	}
	var stderr bytes.Buffer
	code := run([]string{"-check", "-valuesets", specValueSets, "-src", filepath.Join(presetDir, "codesets.src.json"),
		"-out", filepath.Join(presetDir, "codesets.json")}, &stderr)
	if code != 0 {
		t.Errorf("healthprep-codesets -check: exit %d, %s", code, stderr.String())
	}
}

func fakeValueSets(sets map[string]string) func(string) ([]byte, error) {
	return func(oid string) ([]byte, error) {
		s, ok := sets[oid]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(s), nil
	}
}

const vs1 = `{"resourceType":"ValueSet","id":"1.2.3","title":"Colonoscopy & more","name":"Colonoscopy","expansion":{"contains":[
 {"system":"http://www.ama-assn.org/go/cpt","code":"45378"},
 {"system":"http://snomed.info/sct","code":"73761001"},
 {"system":"http://www.ama-assn.org/go/cpt","code":"44388"},
 {"system":"http://www.ama-assn.org/go/cpt","code":"44388"}]}}`

func TestGenerate(t *testing.T) {
	t.Parallel()
	src := `{"about":"x",
	 "value_sets":{"colonoscopy":{"oid":"1.2.3","add":{"CPT":["45378","G0105"]},"why":"a test"}},
	 "curated":{"left":{"name":"Left","source":"SNOMED CT","codes":{"SNOMED":["7771000"]}}}}`
	got, err := generate([]byte(src), fakeValueSets(map[string]string{"1.2.3": vs1}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
 "colonoscopy": {
  "codes": {
   "CPT": [
    "44388",
    "45378",
    "G0105"
   ],
   "SNOMED": [
    "73761001"
   ]
  },
  "name": "Colonoscopy & more",
  "source": "VSAC 1.2.3"
 },
 "left": {
  "codes": {
   "SNOMED": [
    "7771000"
   ]
  },
  "name": "Left",
  "source": "SNOMED CT"
 }
}
`
	if string(got) != want {
		t.Errorf("generate() =\n%s\nwant (sorted, deduplicated, additions last, & not escaped):\n%s", got, want)
	}
}

func TestGenerateRejects(t *testing.T) {
	t.Parallel()
	unknownSystem := `{"id":"9.9","title":"X","expansion":{"contains":[{"system":"http://example.org/local","code":"1"}]}}`
	tests := []struct {
		name, src string
		want      []string
	}{
		{"missing value set", `{"value_sets":{"a":{"oid":"4.5.6"}}}`, []string{`value set "a": reading value set 4.5.6: file does not exist`}},
		{"unknown system in expansion", `{"value_sets":{"a":{"oid":"9.9"}}}`, []string{`code 1 has unknown system "http://example.org/local"`}},
		{"addition without why", `{"value_sets":{"a":{"oid":"1.2.3","add":{"CPT":["1"]}}}}`, []string{`"add" without "why"`}},
		{"curated unknown system", `{"curated":{"b":{"name":"B","codes":{"LOINK":["1"]}}}}`, []string{`curated set "b": unknown code system "LOINK"`}},
		{"name used twice", `{"value_sets":{"a":{"oid":"1.2.3"}},"curated":{"a":{"codes":{"CPT":["1"]}}}}`, []string{`curated set "a": also a value set`}},
		{"every problem reported", `{"value_sets":{"a":{"oid":"4.5.6"},"b":{"oid":"9.9"}}}`, []string{`value set "a"`, `value set "b"`}},
		{"unknown field", `{"valuesets":{}}`, []string{`unknown field "valuesets"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := generate([]byte(tt.src), fakeValueSets(map[string]string{"1.2.3": vs1, "9.9": unknownSystem}))
			if err == nil {
				t.Fatalf("generate() succeeded, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCheckReportsStaleFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("valueset-1.2.3.json", vs1)
	src := write("src.json", `{"value_sets":{"colonoscopy":{"oid":"1.2.3"}}}`)
	out := filepath.Join(dir, "out.json")
	args := []string{"-valuesets", dir, "-src", src, "-out", out}
	var stderr bytes.Buffer
	if code := run(append([]string{"-check"}, args...), &stderr); code != 1 || !strings.Contains(stderr.String(), "is stale") {
		t.Errorf("-check before generating: exit %d, %q; want 1 and a stale message", code, stderr.String())
	}
	if code := run(args, &stderr); code != 0 {
		t.Fatalf("generating: exit %d, %s", code, stderr.String())
	}
	if code := run(append([]string{"-check"}, args...), &stderr); code != 0 {
		t.Errorf("-check after generating: exit %d, want 0", code)
	}
	if _, err := os.Stat(out); errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no output written")
	}
}

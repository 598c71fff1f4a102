// Command healthprep-codesets regenerates shared/preset/codesets.json, the
// code sets of the default screening library, from its source list
// (shared/preset/codesets.src.json) and the expanded value sets of the
// public eCQM specification (../shared/data/ecqm-spec/valueset beside the
// repository). `make presets-codesets` runs it.
//
// Each entry of the source's "value_sets" names a value set by OID; its
// code set is the ValueSet's expansion grouped by code system, codes sorted
// within each system, followed by the entry's "add" codes that are not
// already there (each addition says why). Each entry of "curated" is copied
// as written. The output is indented JSON with sorted keys, so the same
// inputs always give the same bytes.
//
// Usage:
//
//	healthprep-codesets -valuesets DIR -src FILE -out FILE [-check]
//
// With -check it writes nothing and exits 1 when FILE is not what it would
// write.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthprep-codesets", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vsDir := fs.String("valuesets", "", "folder of expanded FHIR ValueSets named valueset-<OID>.json")
	srcFile := fs.String("src", "", "source list (codesets.src.json)")
	outFile := fs.String("out", "", "code sets file to write (codesets.json)")
	check := fs.Bool("check", false, "write nothing; exit 1 when -out is stale")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *vsDir == "" || *srcFile == "" || *outFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: healthprep-codesets -valuesets DIR -src FILE -out FILE [-check]")
		return 2
	}
	src, err := os.ReadFile(*srcFile)
	if err != nil {
		fmt.Fprintln(stderr, "healthprep-codesets:", err)
		return 1
	}
	out, err := generate(src, dirReader(*vsDir))
	if err != nil {
		fmt.Fprintf(stderr, "healthprep-codesets: %s: %v\n", *srcFile, err)
		return 1
	}
	if *check {
		old, err := os.ReadFile(*outFile)
		if err != nil || !bytes.Equal(old, out) {
			fmt.Fprintf(stderr, "healthprep-codesets: %s is stale: run make presets-codesets and commit it\n", *outFile)
			return 1
		}
		return 0
	}
	if err := os.WriteFile(*outFile, out, 0o644); err != nil {
		fmt.Fprintln(stderr, "healthprep-codesets:", err)
		return 1
	}
	return 0
}

// dirReader reads value sets from the eCQM specification's layout.
func dirReader(dir string) func(oid string) ([]byte, error) {
	return func(oid string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, "valueset-"+oid+".json"))
	}
}

// source is the hand-edited list the code sets come from.
type source struct {
	About     string                 `json:"about"`
	ValueSets map[string]valueSetRef `json:"value_sets"`
	Curated   map[string]codeSet     `json:"curated"`
}

type valueSetRef struct {
	OID string `json:"oid"`
	// Add lists codes by system short name to append to the expansion.
	Add map[string][]string `json:"add,omitempty"`
	Why string              `json:"why,omitempty"`
}

// codeSet is one entry of codesets.json (the screening.CodeSet format,
// fields in the file's order).
type codeSet struct {
	Codes  map[string][]string `json:"codes"`
	Name   string              `json:"name,omitempty"`
	Source string              `json:"source,omitempty"`
}

// valueSet is the part of a FHIR ValueSet the generator reads.
type valueSet struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Name      string `json:"name"`
	Expansion struct {
		Contains []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"contains"`
	} `json:"expansion"`
}

// generate builds codesets.json from the source list, reading each value
// set with readValueSet. Every problem is reported, not only the first.
func generate(srcData []byte, readValueSet func(oid string) ([]byte, error)) ([]byte, error) {
	var src source
	dec := json.NewDecoder(bytes.NewReader(srcData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&src); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	var problems []error
	out := map[string]codeSet{}
	for _, name := range slices.Sorted(maps.Keys(src.ValueSets)) {
		set, err := expand(src.ValueSets[name], readValueSet)
		if err != nil {
			problems = append(problems, fmt.Errorf("value set %q: %w", name, err))
			continue
		}
		out[name] = set
	}
	for _, name := range slices.Sorted(maps.Keys(src.Curated)) {
		set := src.Curated[name]
		if _, dup := src.ValueSets[name]; dup {
			problems = append(problems, fmt.Errorf("curated set %q: also a value set", name))
			continue
		}
		if len(set.Codes) == 0 {
			problems = append(problems, fmt.Errorf("curated set %q: no codes", name))
		}
		for _, sys := range slices.Sorted(maps.Keys(set.Codes)) {
			if !chart.IsKnownSystem(sys) {
				problems = append(problems, fmt.Errorf("curated set %q: unknown code system %q", name, sys))
			}
		}
		out[name] = set
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	return buf.Bytes(), nil
}

func expand(ref valueSetRef, readValueSet func(oid string) ([]byte, error)) (codeSet, error) {
	if ref.OID == "" {
		return codeSet{}, errors.New("no oid")
	}
	if len(ref.Add) > 0 && ref.Why == "" {
		return codeSet{}, errors.New(`"add" without "why": say where the extra codes come from`)
	}
	data, err := readValueSet(ref.OID)
	if err != nil {
		return codeSet{}, fmt.Errorf("reading value set %s: %w", ref.OID, err)
	}
	var vs valueSet
	if err := json.Unmarshal(data, &vs); err != nil {
		return codeSet{}, fmt.Errorf("decoding value set %s: %w", ref.OID, err)
	}
	if vs.ID != "" && vs.ID != ref.OID {
		return codeSet{}, fmt.Errorf("file for %s holds value set %s", ref.OID, vs.ID)
	}
	if len(vs.Expansion.Contains) == 0 {
		return codeSet{}, fmt.Errorf("value set %s has no expansion", ref.OID)
	}
	set := codeSet{Codes: map[string][]string{}, Name: vs.Title, Source: "VSAC " + ref.OID}
	if set.Name == "" {
		set.Name = vs.Name
	}
	seen := map[chart.Code]bool{}
	for _, c := range vs.Expansion.Contains {
		sys := fhir.System(c.System)
		if !chart.IsKnownSystem(sys) {
			return codeSet{}, fmt.Errorf("value set %s: code %s has unknown system %q", ref.OID, c.Code, c.System)
		}
		if k := (chart.Code{System: sys, Code: c.Code}); !seen[k] {
			seen[k] = true
			set.Codes[sys] = append(set.Codes[sys], c.Code)
		}
	}
	for _, sys := range slices.Sorted(maps.Keys(set.Codes)) {
		slices.Sort(set.Codes[sys])
	}
	for _, sys := range slices.Sorted(maps.Keys(ref.Add)) {
		if !chart.IsKnownSystem(sys) {
			return codeSet{}, fmt.Errorf("add: unknown code system %q", sys)
		}
		for _, code := range ref.Add[sys] {
			if k := (chart.Code{System: sys, Code: code}); !seen[k] {
				seen[k] = true
				set.Codes[sys] = append(set.Codes[sys], code)
			}
		}
	}
	return set, nil
}

// Package preset holds HealthPrep's default screening library — breast,
// cervical, colorectal, lung, prostate, AAA, osteoporosis, diabetes, lipids,
// hepatitis B and C, HIV, chlamydia and gonorrhea, depression, falls, blood
// pressure, BMI, tobacco, diabetic care and adult immunizations — as
// versioned JSON embedded in the binary, and the operations around it:
// loading and validating a library file, exporting one, and applying an
// organisation's own settings on top.
//
// The code sets of the measure-aligned types are the expanded value sets of
// the public eCQM specification (each set names its VSAC OID in "source");
// the types cite their guideline and, where one exists, the CMS measure.
// codesets.json is generated: edit codesets.src.json (value-set OIDs with
// documented additions, and the curated sets) and run make
// presets-codesets (desktop/cmd/healthprep-codesets); a test fails when the
// committed file is stale.
package preset

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

//go:embed default.json
var defaultTypes []byte

//go:embed codesets.json
var defaultCodeSets []byte

// Default returns the built-in library, validated.
func Default() (screening.Library, error) {
	var lib screening.Library
	if err := json.Unmarshal(defaultTypes, &lib); err != nil {
		return lib, fmt.Errorf("decoding default presets: %w", err)
	}
	if err := json.Unmarshal(defaultCodeSets, &lib.CodeSets); err != nil {
		return lib, fmt.Errorf("decoding default code sets: %w", err)
	}
	if _, err := screening.Compile(lib); err != nil {
		return lib, fmt.Errorf("default presets: %w", err)
	}
	return lib, nil
}

// Load reads a library file (the export format). Code sets the file refers
// to but does not define are taken from the default library, so a small
// file can reuse the built-in value sets.
func Load(data []byte) (screening.Library, error) {
	var lib screening.Library
	if err := strictUnmarshal(data, &lib); err != nil {
		return lib, fmt.Errorf("decoding presets: %w", err)
	}
	def, err := Default()
	if err != nil {
		return lib, err
	}
	if lib.CodeSets == nil {
		lib.CodeSets = map[string]screening.CodeSet{}
	}
	for name, set := range def.CodeSets {
		if _, ok := lib.CodeSets[name]; !ok {
			lib.CodeSets[name] = set
		}
	}
	if _, err := screening.Compile(lib); err != nil {
		return lib, fmt.Errorf("presets: %w", err)
	}
	return lib, nil
}

// Export encodes lib in the format Load reads.
func Export(lib screening.Library) ([]byte, error) { return lib.MarshalIndent() }

// OrgSettings are one organisation's changes to a library.
type OrgSettings struct {
	// Disabled lists type IDs the organisation does not use.
	Disabled []string `json:"disabled,omitempty"`
	// Types changes individual types, by ID.
	Types map[string]TypeSettings `json:"types,omitempty"`
	// Added are the organisation's own types.
	Added []screening.Type `json:"added,omitempty"`
}

// TypeSettings overrides parts of one type; empty fields keep the library's.
type TypeSettings struct {
	MinAge  string       `json:"min_age,omitempty"`
	MaxAge  string       `json:"max_age,omitempty"`
	DueSoon chart.Period `json:"due_soon,omitzero"`
	Grace   chart.Period `json:"grace,omitzero"`
	// Intervals by evidence rule ID.
	Intervals map[string]chart.Period `json:"intervals,omitempty"`
}

// Apply returns lib with the organisation's settings applied and validated.
// lib itself is not modified.
func Apply(lib screening.Library, org OrgSettings) (screening.Library, error) {
	out := lib
	out.CodeSets = maps.Clone(lib.CodeSets)
	out.Types = nil
	known := map[string]bool{}
	for _, t := range lib.Types {
		known[t.ID] = true
	}
	for _, id := range org.Disabled {
		if !known[id] {
			return lib, fmt.Errorf("org settings: disabled type %q is not in the library", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(org.Types)) {
		if !known[id] {
			return lib, fmt.Errorf("org settings: type %q is not in the library", id)
		}
	}
	for _, t := range lib.Types {
		if slices.Contains(org.Disabled, t.ID) {
			continue
		}
		s, ok := org.Types[t.ID]
		if ok {
			t.Evidence = slices.Clone(t.Evidence)
			if s.MinAge != "" {
				t.MinAge = s.MinAge
			}
			if s.MaxAge != "" {
				t.MaxAge = s.MaxAge
			}
			if !s.DueSoon.IsZero() {
				t.DueSoon = s.DueSoon
			}
			if !s.Grace.IsZero() {
				t.Grace = s.Grace
			}
			for rule, p := range s.Intervals {
				i := slices.IndexFunc(t.Evidence, func(r screening.EvidenceRule) bool { return r.ID == rule })
				if i < 0 {
					return lib, fmt.Errorf("org settings: type %q has no evidence rule %q", t.ID, rule)
				}
				t.Evidence[i].Interval = p
			}
		}
		out.Types = append(out.Types, t)
	}
	out.Types = append(out.Types, org.Added...)
	if _, err := screening.Compile(out); err != nil {
		return lib, fmt.Errorf("org settings: %w", err)
	}
	return out, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

package screening

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"healthprep.dev/shared/chart"
)

// Library is a versioned set of screening types and the code sets, shared
// exclusions and criteria they refer to. It is what a preset file holds.
type Library struct {
	// Version identifies this edition of the library, e.g. "2025.1".
	Version string `json:"version"`
	// CodeSets are named lists of codes (usually a value set), referred to
	// by name from criteria.
	CodeSets map[string]CodeSet `json:"code_sets,omitempty"`
	// Exclusions shared by several types (hospice, palliative care, ...),
	// referred to by ID from Type.ExcludeIf.
	Exclusions []Exclusion `json:"exclusions,omitempty"`
	Types      []Type      `json:"types"`
}

// CodeSet is a named list of codes.
type CodeSet struct {
	Name string `json:"name,omitempty"`
	// Source is where the list comes from, e.g. a VSAC OID.
	Source string `json:"source,omitempty"`
	// Codes maps a code system short name to its codes.
	Codes map[string][]string `json:"codes"`
}

// Source is a citation for a screening type.
type Source struct {
	// Label is the citation shown to people, e.g. "USPSTF 2024".
	Label string `json:"label"`
	// CMS is the eCQM's CMS number where the type follows one, e.g. "CMS125".
	CMS string `json:"cms,omitempty"`
	URL string `json:"url,omitempty"`
}

// AgeBasis says on which date eligibility ages are computed.
type AgeBasis string

// The age bases. The default is AgeAtAsOf.
const (
	AgeAtAsOf AgeBasis = "as_of"
	// AgeAtYearStart uses 1 January of the as-of year, as eCQMs that
	// compute the age "at the start of the measurement period" do.
	AgeAtYearStart AgeBasis = "year_start"
)

// UnknownSex says what a sex-restricted type does when the patient's sex is
// unknown or "other".
type UnknownSex string

// The behaviours for an unknown sex.
const (
	// UnknownSexCannotEvaluate (default) reports cannot_evaluate, naming sex
	// as the missing fact.
	UnknownSexCannotEvaluate UnknownSex = "cannot_evaluate"
	// UnknownSexInclude evaluates the type anyway (better a needless
	// reminder than a missed cancer screening).
	UnknownSexInclude UnknownSex = "include"
	// UnknownSexExclude treats the patient as not eligible.
	UnknownSexExclude UnknownSex = "not_eligible"
)

// Type is one kind of screening, or one variant of it.
type Type struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Version     string   `json:"version,omitempty"`
	Sources     []Source `json:"sources"`

	// Group ties variants of one screening together (e.g. "glycemic" for
	// diabetes screening every 3 years vs. A1c every 6 months for
	// diabetics). Of the eligible variants of a group the one with the
	// highest Priority wins; the others are reported as superseded.
	Group    string `json:"group,omitempty"`
	Priority int    `json:"priority,omitempty"`

	// Sexes the type applies to; empty means everyone.
	Sexes      []chart.Sex `json:"sexes,omitempty"`
	UnknownSex UnknownSex  `json:"unknown_sex,omitempty"`
	// MinAge and MaxAge are inclusive, written "50y", "6m" or "74y11m". A
	// bound written in whole years covers that whole year of age: MaxAge
	// "74y" admits 74 years 11 months.
	MinAge string   `json:"min_age,omitempty"`
	MaxAge string   `json:"max_age,omitempty"`
	AgeAt  AgeBasis `json:"age_at,omitempty"`
	// Triggers select this variant: at least one must match for the patient
	// to be eligible (e.g. an active diabetes diagnosis).
	Triggers []Criterion `json:"triggers,omitempty"`
	// Requires lists facts that must each be on file as well (e.g. a
	// diabetes diagnosis for the diabetic-retinopathy eye-exam variant);
	// when one is missing the patient is not eligible.
	Requires []Criterion `json:"requires,omitempty"`
	// UnknownTrigger, when set, tells "the triggers do not match" apart
	// from "the fact they read is not on file": when no trigger matches and
	// none of its KnownIf criteria does either, the result is
	// cannot_evaluate naming Missing instead of not_eligible.
	UnknownTrigger *UnknownTrigger `json:"unknown_trigger,omitempty"`

	// Evidence lists the ways to complete the screening, each with its own
	// interval; the one that keeps the patient covered longest decides.
	Evidence []EvidenceRule `json:"evidence"`
	// ExcludeIf names shared exclusions of the Library.
	ExcludeIf []string `json:"exclude_if,omitempty"`
	// Exclusions specific to this type.
	Exclusions []Exclusion `json:"exclusions,omitempty"`

	// DueSoon is the window before the next-due date in which the status is
	// due_soon (default 30d). Grace is how long after the next-due date the
	// status stays due before it becomes overdue (default 3m).
	DueSoon chart.Period `json:"due_soon,omitzero"`
	Grace   chart.Period `json:"grace,omitzero"`
}

// UnknownTrigger names the fact a type's triggers read and how to tell it
// is on file (e.g. "body mass index": any BMI in the last 2 years).
type UnknownTrigger struct {
	Missing string      `json:"missing"`
	KnownIf []Criterion `json:"known_if"`
}

// EvidenceRule is one way to complete a screening.
type EvidenceRule struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Interval is how long a completion counts: next due = last done +
	// Interval. A zero interval (and no RenewsOn) means once in a lifetime.
	Interval chart.Period `json:"interval,omitzero"`
	// RenewsOn, written "MM-DD", makes the rule seasonal instead: a
	// completion counts until the first RenewsOn date after it. With
	// "08-01" (influenza) a dose counts for the season 1 August – 31 July
	// that contains it, and the next dose is due from 1 August of the
	// following season: a dose on 2025-07-31 is due again 2025-08-01, one
	// on 2025-08-01 is due again 2026-08-01. 29 February is not allowed.
	RenewsOn string `json:"renews_on,omitempty"`
	// Doses, when above 1, makes the rule a series: it completes on the
	// dose that brings the count of valid doses to Doses, a dose being
	// valid when it falls at least MinSpacing (and at least a day) after
	// the previous valid one. Doses given too early do not count (they
	// must be repeated), but the next dose is due MinSpacing after the
	// latest dose given. A started series is due_soon until then, due
	// from then and overdue after the type's grace period; it is never
	// complete before the last dose.
	Doses      int          `json:"doses,omitempty"`
	MinSpacing chart.Period `json:"min_spacing,omitzero"`
	// With lists companion tests that must each also be on file (e.g. eGFR
	// with urine albumin-creatinine ratio); the completion counts from the
	// oldest of the latest of each.
	With []Criterion `json:"with,omitempty"`
	Criterion
}

// Exclusion removes a screening when all of its groups match (each group
// matches when any of its criteria does) and none of Unless matches.
type Exclusion struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	MinAge string `json:"min_age,omitempty"`
	// Any is shorthand for a single group.
	Any    []Criterion `json:"any,omitempty"`
	All    []Group     `json:"all,omitempty"`
	Unless []Criterion `json:"unless,omitempty"`
}

// Group is a disjunction of criteria.
type Group struct {
	Any []Criterion `json:"any"`
}

// Timing says how a matching item must relate to the look-back window.
type Timing string

// The timings.
const (
	// TimingOverlaps (default): the item's span overlaps the window.
	TimingOverlaps Timing = "overlaps"
	// TimingStarts: the item starts inside the window.
	TimingStarts Timing = "starts"
	// TimingEnds: the item ends inside the window.
	TimingEnds Timing = "ends"
)

// Criterion matches chart items or documents.
type Criterion struct {
	// Kinds restricts the item kinds; empty means any kind.
	Kinds []chart.Kind `json:"kinds,omitempty"`
	// Codes and CodeSets: the item must carry one of these codes.
	Codes    []chart.Code `json:"codes,omitempty"`
	CodeSets []string     `json:"code_sets,omitempty"`
	// ValueCodes / ValueSets: the item's coded value (or discharge
	// disposition) must be one of these.
	ValueCodes []chart.Code `json:"value_codes,omitempty"`
	ValueSets  []string     `json:"value_sets,omitempty"`
	// BodySites: the item must name one of these body sites.
	BodySites []chart.Code `json:"body_sites,omitempty"`
	// RequireValue: the item must carry a result.
	RequireValue bool `json:"require_value,omitempty"`
	// ValueAtLeast and ValueBelow bound the item's numeric result (e.g. a
	// BMI of at least 25): an item without a number does not match.
	ValueAtLeast *float64 `json:"value_at_least,omitempty"`
	ValueBelow   *float64 `json:"value_below,omitempty"`
	// Races: the patient's recorded race must include one of these codes
	// (system CDCREC), for thresholds a guideline sets by race.
	Races []chart.Code `json:"races,omitempty"`
	// Statuses the item must have, when set (e.g. final, amended).
	Statuses []string `json:"statuses,omitempty"`
	// ActiveOnly: conditions must be clinically active (not resolved).
	ActiveOnly bool `json:"active_only,omitempty"`
	// MinAgeAtEvent: the patient must have been at least this old on the
	// item's date (e.g. HPV co-testing counts from age 30).
	MinAgeAtEvent string `json:"min_age_at_event,omitempty"`
	MaxAgeAtEvent string `json:"max_age_at_event,omitempty"`
	// MostRecentOnly: only the patient's most recent item with these codes
	// is considered (e.g. the last recorded housing status).
	MostRecentOnly bool `json:"most_recent_only,omitempty"`
	// Phrases match documents (negation-aware). Synonyms belong here too.
	Phrases []string `json:"phrases,omitempty"`
	// Within is the look-back from the as-of date; zero means any time up
	// to the as-of date. YearToDate uses 1 January of the as-of year as the
	// start of the window instead.
	Within     chart.Period `json:"within,omitzero"`
	YearToDate bool         `json:"year_to_date,omitempty"`
	Timing     Timing       `json:"timing,omitempty"`
	// FollowedBy: the item only counts when one of these follows it within
	// FollowedWithin (e.g. a pregnancy test followed by an X-ray order).
	FollowedBy     []Criterion  `json:"followed_by,omitempty"`
	FollowedWithin chart.Period `json:"followed_within,omitzero"`
}

// ValidationError lists every problem found in a Library.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "invalid screening library: " + strings.Join(e.Problems, "; ")
}

// ErrInvalid matches every *ValidationError with errors.Is.
var ErrInvalid = errors.New("invalid screening library")

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// ParseLibrary decodes a library from JSON, rejecting unknown fields, and
// validates it by compiling it.
func ParseLibrary(data []byte) (Library, error) {
	var lib Library
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lib); err != nil {
		return Library{}, fmt.Errorf("decoding screening library: %w", err)
	}
	if _, err := Compile(lib); err != nil {
		return Library{}, err
	}
	return lib, nil
}

// MarshalIndent encodes lib as indented JSON (the export format).
func (lib Library) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(lib, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding screening library: %w", err)
	}
	return append(b, '\n'), nil
}

// ageBound parses "50y", "6m", "74y11m". upper widens a years-only bound to
// the whole year of age.
func ageBound(s string, upper bool) (int, error) {
	if s == "" {
		return 0, nil
	}
	rest := s
	months := 0
	seen := false
	yearsOnly := true
	for rest != "" {
		i := strings.IndexAny(rest, "ym")
		if i <= 0 {
			return 0, fmt.Errorf("age %q: want forms like 50y, 6m or 74y11m", s)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("age %q: want forms like 50y, 6m or 74y11m", s)
		}
		if rest[i] == 'y' {
			months += 12 * n
		} else {
			months += n
			yearsOnly = false
		}
		seen = true
		rest = rest[i+1:]
	}
	if !seen {
		return 0, fmt.Errorf("age %q: empty", s)
	}
	if upper && yearsOnly {
		months += 11
	}
	return months, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

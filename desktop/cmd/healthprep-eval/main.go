// Command healthprep-eval compares the screening engine with the official
// eCQM test cases: for every patient folder under DIR/<Measure>/ it builds
// the prep sheet as of the end of the measurement period and checks the
// measure's screening against the patient's MeasureReport, read here and
// never by the engine.
//
// Reading a MeasureReport as a prep sheet (see ../shared/data/README.md):
// numerator 1 → complete; denominator 1 without exclusion → due or overdue;
// exclusion 1 → excluded; initial population 0 → not eligible, or — as a
// prep sheet needs no qualifying visit — any status when the patient has no
// qualifying encounter in the period. For CMS122 (A1c > 9 %), numerator 1
// means poor control or no A1c in the period.
//
// Usage:
//
//	healthprep-eval [--min 98] DIR
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// measures maps the test-data folder to the screening types that answer
// it (variants of one group are listed together).
var measures = []struct {
	folder, cms string
	types       []string
}{
	{"BreastCancerScreeningFHIR", "CMS125", []string{"breast_cancer"}},
	{"CervicalCancerScreeningFHIR", "CMS124", []string{"cervical_cancer"}},
	{"ChlamydiaScreeninginWomenFHIR", "CMS153", []string{"chlamydia"}},
	{"ColonCancerScreeningFHIR", "CMS130", []string{"colorectal_cancer"}},
	{"DiabetesEyeExamFHIR", "CMS131", []string{"diabetes_eye", "diabetes_eye_retinopathy"}},
	{"DiabetesGlycemicStatusAssessmentGreaterThan9PercentFHIR", "CMS122", []string{"diabetes_a1c"}},
	{"FallsScreeningForFutureFallRiskFHIR", "CMS139", []string{"falls"}},
	{"HIVScreeningFHIR", "CMS349", []string{"hiv"}},
	{"KidneyHealthEvaluationFHIR", "CMS951", []string{"diabetes_kidney"}},
}

func main() {
	minPct := flag.Float64("min", 0, "exit 1 when overall agreement is below this percentage")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: healthprep-eval [--min PCT] DIR")
		os.Exit(2)
	}
	sum, err := run(flag.Arg(0), os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthprep-eval:", err)
		os.Exit(1)
	}
	if sum.Percent() < *minPct {
		fmt.Fprintf(os.Stderr, "healthprep-eval: agreement %.1f%% is below %.1f%%\n", sum.Percent(), *minPct)
		os.Exit(1)
	}
}

// summary is the evaluation's result over every measure.
type summary struct {
	Cases, Agreed int
	// ExcludedAsDue counts patients the measure excludes whom we show as
	// due: the one disagreement that must never happen.
	ExcludedAsDue int
	// Disagreements are the printed lines for each disagreement.
	Disagreements []string
}

// Percent is the overall agreement.
func (s summary) Percent() float64 { return pct(s.Agreed, s.Cases) }

type outcome struct {
	patient, description string
	expected, got        string
	reason               string
	agree, noVisit       bool
}

// run evaluates every measure folder under dir, prints the table to w and
// skipped resources to stderr.
func run(dir string, w, stderr io.Writer) (summary, error) {
	lib, err := preset.Default()
	if err != nil {
		return summary{}, err
	}
	engine, err := screening.Compile(lib)
	if err != nil {
		return summary{}, err
	}
	visits, err := visitCodes(filepath.Join(filepath.Dir(filepath.Clean(dir)), "ecqm-spec", "valueset"))
	if err != nil {
		return summary{}, err
	}
	total, agreed, excludedAsDue := 0, 0, 0
	fmt.Fprintf(w, "%-8s %-58s %5s %6s %7s  %s\n", "measure", "folder", "cases", "agree", "pct", "expected → ours")
	var all []string
	for _, m := range measures {
		folder := filepath.Join(dir, m.folder)
		patients, err := os.ReadDir(folder)
		if err != nil {
			return summary{}, fmt.Errorf("reading %s: %w", folder, err)
		}
		var outs []outcome
		for _, p := range patients {
			if !p.IsDir() {
				continue
			}
			o, err := evaluatePatient(engine, visits, filepath.Join(folder, p.Name()), m.cms, m.types, stderr)
			if err != nil {
				return summary{}, err
			}
			outs = append(outs, o)
		}
		n, a := len(outs), 0
		matrix := map[string]int{}
		for _, o := range outs {
			if o.agree {
				a++
			}
			if o.expected == "excluded" && (o.got == "due" || o.got == "poor") {
				excludedAsDue++
			}
			matrix[o.expected+"→"+o.got]++
			if !o.agree {
				all = append(all, fmt.Sprintf("  %s %s: expected %s, ours %s\n      test case: %s\n      our reason: %s",
					m.cms, o.patient[:8], o.expected, o.got, o.description, o.reason))
			}
		}
		total += n
		agreed += a
		var cells []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range matrix {
				if !yield(k) {
					return
				}
			}
		}) {
			cells = append(cells, fmt.Sprintf("%s %d", k, matrix[k]))
		}
		fmt.Fprintf(w, "%-8s %-58s %5d %6d %6.1f%%  %s\n", m.cms, m.folder, n, a, pct(a, n), strings.Join(cells, ", "))
	}
	fmt.Fprintf(w, "%-8s %-58s %5d %6d %6.1f%%\n", "total", "", total, agreed, pct(agreed, total))
	fmt.Fprintf(w, "excluded patients shown as due: %d\n", excludedAsDue)
	if len(all) > 0 {
		fmt.Fprintf(w, "\ndisagreements (%d):\n%s\n", len(all), strings.Join(all, "\n"))
	}
	return summary{Cases: total, Agreed: agreed, ExcludedAsDue: excludedAsDue, Disagreements: all}, nil
}

func pct(a, n int) float64 {
	if n == 0 {
		return 100
	}
	return 100 * float64(a) / float64(n)
}

var (
	periodStart = chart.D(2025, time.January, 1)
	periodEnd   = chart.D(2025, time.December, 31)
)

func evaluatePatient(engine *screening.Engine, visits map[chart.Code]bool, dir, cms string, types []string, stderr io.Writer) (outcome, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return outcome{}, err
	}
	slices.Sort(files)
	loader := fhir.NewLoader(fhir.Options{})
	var report []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return outcome{}, err
		}
		if strings.HasPrefix(filepath.Base(f), "MeasureReport-") {
			report = data
			continue
		}
		for _, err := range loader.Add(f, data) {
			fmt.Fprintln(stderr, "skipped:", err)
		}
	}
	if report == nil {
		return outcome{}, fmt.Errorf("%s: no MeasureReport", dir)
	}
	exp, desc, err := expected(report, cms)
	if err != nil {
		return outcome{}, fmt.Errorf("%s: %w", dir, err)
	}
	recs, _ := loader.Records()
	if len(recs) != 1 {
		return outcome{}, fmt.Errorf("%s: %d patients, want 1", dir, len(recs))
	}
	results := engine.Evaluate(recs[0], periodEnd, nil)
	got, reason := ours(results, types, cms)
	o := outcome{patient: recs[0].Patient.ID, description: strings.TrimSpace(desc), expected: exp, got: got, reason: reason}
	o.agree = got == exp
	if !o.agree && exp == "not_eligible" && !hasVisit(recs[0], visits) {
		o.agree, o.noVisit = true, true
		o.expected = "not_eligible/no visit"
	}
	return o, nil
}

// expected reads the MeasureReport's population counts.
func expected(data []byte, cms string) (string, string, error) {
	var mr struct {
		Extension []struct {
			URL           string `json:"url"`
			ValueMarkdown string `json:"valueMarkdown"`
		} `json:"extension"`
		Group []struct {
			Population []struct {
				Code struct {
					Coding []struct {
						Code string `json:"code"`
					} `json:"coding"`
				} `json:"code"`
				Count int `json:"count"`
			} `json:"population"`
		} `json:"group"`
	}
	if err := json.Unmarshal(data, &mr); err != nil {
		return "", "", fmt.Errorf("decoding MeasureReport: %w", err)
	}
	desc := ""
	for _, e := range mr.Extension {
		if strings.HasSuffix(e.URL, "cqfm-testCaseDescription") {
			desc = e.ValueMarkdown
		}
	}
	if len(mr.Group) == 0 {
		return "", desc, fmt.Errorf("MeasureReport without group")
	}
	pop := map[string]int{}
	for _, p := range mr.Group[0].Population {
		if len(p.Code.Coding) > 0 {
			pop[p.Code.Coding[0].Code] = p.Count
		}
	}
	switch {
	case pop["initial-population"] == 0:
		return "not_eligible", desc, nil
	case pop["denominator-exclusion"] > 0:
		return "excluded", desc, nil
	case pop["denominator-exception"] > 0:
		return "excluded", desc, nil
	case cms == "CMS122" && pop["numerator"] > 0:
		return "poor", desc, nil
	case cms == "CMS122":
		return "controlled", desc, nil
	case pop["numerator"] > 0:
		return "complete", desc, nil
	}
	return "due", desc, nil
}

// ours reads our answer for the measure: the applicable variant's status,
// collapsed to the measure's categories.
func ours(results []screening.Result, types []string, cms string) (string, string) {
	var r *screening.Result
	for i := range results {
		if !slices.Contains(types, results[i].ID) {
			continue
		}
		if r == nil || r.Status == screening.NotEligible || r.Status == screening.Superseded {
			r = &results[i]
		}
	}
	if r == nil {
		return "missing", "type not in library"
	}
	switch r.Status {
	case screening.Complete, screening.DueSoon:
		if cms == "CMS122" {
			return glycemic(r), r.Reason
		}
		return "complete", r.Reason
	case screening.Due, screening.Overdue:
		if cms == "CMS122" {
			return glycemic(r), r.Reason
		}
		return "due", r.Reason
	}
	return string(r.Status), r.Reason
}

// glycemic answers CMS122: controlled when the most recent A1c in the
// period has a value of 9 % or less.
func glycemic(r *screening.Result) string {
	for _, ev := range r.Evidence {
		if ev.Role != screening.RoleCompletion || ev.Date.Before(periodStart) || ev.Date.After(periodEnd) {
			continue
		}
		if ev.Quantity != nil && *ev.Quantity <= 9 {
			return "controlled"
		}
		return "poor"
	}
	return "poor"
}

// qualifyingVisits are the encounter value sets the nine measures accept
// as a qualifying visit (their union).
var qualifyingVisits = []string{
	"2.16.840.1.113883.3.464.1003.101.12.1001", "2.16.840.1.113883.3.464.1003.101.12.1008",
	"2.16.840.1.113883.3.464.1003.101.12.1012", "2.16.840.1.113883.3.464.1003.101.12.1013",
	"2.16.840.1.113883.3.464.1003.101.12.1014", "2.16.840.1.113883.3.464.1003.101.12.1016",
	"2.16.840.1.113883.3.464.1003.101.12.1022", "2.16.840.1.113883.3.464.1003.101.12.1023",
	"2.16.840.1.113883.3.464.1003.101.12.1024", "2.16.840.1.113883.3.464.1003.101.12.1025",
	"2.16.840.1.113883.3.464.1003.101.12.1026", "2.16.840.1.113883.3.464.1003.101.12.1066",
	"2.16.840.1.113883.3.464.1003.101.12.1080", "2.16.840.1.113883.3.464.1003.101.12.1089",
	"2.16.840.1.113883.3.526.3.1240", "2.16.840.1.113883.3.526.3.1285",
	"2.16.840.1.113883.3.526.3.1022", "2.16.840.1.113883.3.526.3.1011",
}

// visitCodes reads the qualifying-visit value sets from the eCQM spec.
func visitCodes(dir string) (map[chart.Code]bool, error) {
	codes := map[chart.Code]bool{}
	for _, oid := range qualifyingVisits {
		data, err := os.ReadFile(filepath.Join(dir, "valueset-"+oid+".json"))
		if err != nil {
			return nil, fmt.Errorf("reading qualifying-visit value set: %w", err)
		}
		var vs struct {
			Expansion struct {
				Contains []struct{ System, Code string } `json:"contains"`
			} `json:"expansion"`
		}
		if err := json.Unmarshal(data, &vs); err != nil {
			return nil, fmt.Errorf("decoding value set %s: %w", oid, err)
		}
		for _, c := range vs.Expansion.Contains {
			codes[chart.Code{System: fhir.System(c.System), Code: c.Code}] = true
		}
	}
	return codes, nil
}

// hasVisit reports whether the record has a finished qualifying encounter
// that lies within the measurement period.
func hasVisit(rec chart.Record, visits map[chart.Code]bool) bool {
	for _, it := range rec.Items {
		if it.Kind != chart.Encounter || it.NotDone || it.Ongoing() {
			continue
		}
		if !slices.ContainsFunc(it.Codes, func(c chart.Code) bool { return visits[c] }) {
			continue
		}
		if !it.Start.Before(periodStart) && !it.End.After(periodEnd) && (it.Status == "finished" || it.Status == "") {
			return true
		}
	}
	return false
}

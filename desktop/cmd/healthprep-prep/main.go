// Command healthprep-prep prints a prep-sheet screening checklist for every
// patient found in a directory of FHIR R4 JSON (Bundles and/or one resource
// per file, read recursively).
//
// Usage:
//
//	healthprep-prep [--as-of YYYY-MM-DD] [--json] [--presets FILE] DIR...
//
// Malformed resources are reported on stderr with the file and JSON path
// and skipped. The exit code is 0 when every patient got a sheet.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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

// Config is everything the command needs, built from the flags.
type Config struct {
	AsOf    chart.Date
	JSON    bool
	Presets string // file; empty means the built-in library
	Dirs    []string
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr, time.Now())
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "healthprep-prep:", err)
		os.Exit(2)
	}
	if err := run(cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "healthprep-prep:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer, now time.Time) (Config, error) {
	fs := flag.NewFlagSet("healthprep-prep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asOf := fs.String("as-of", now.Format(time.DateOnly), "evaluate screenings as of this date (YYYY-MM-DD)")
	jsonOut := fs.Bool("json", false, "print one JSON object per patient per line")
	presets := fs.String("presets", "", "screening library JSON file (default: the built-in presets)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: healthprep-prep [--as-of YYYY-MM-DD] [--json] [--presets FILE] DIR...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	d, err := chart.ParseDate(*asOf)
	if err != nil {
		return Config{}, fmt.Errorf("--as-of: %w", err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return Config{}, errors.New("no input directory")
	}
	return Config{AsOf: d, JSON: *jsonOut, Presets: *presets, Dirs: fs.Args()}, nil
}

func run(cfg Config, stdout, stderr io.Writer) error {
	lib, err := loadLibrary(cfg.Presets)
	if err != nil {
		return err
	}
	engine, err := screening.Compile(lib)
	if err != nil {
		return err
	}
	var records []chart.Record
	for _, dir := range cfg.Dirs {
		recs, err := loadDir(dir, stderr)
		if err != nil {
			return err
		}
		records = append(records, recs...)
	}
	if len(records) == 0 {
		return errors.New("no Patient resources found")
	}
	out := bufio.NewWriter(stdout)
	for _, rec := range records {
		results := engine.Evaluate(rec, cfg.AsOf, nil)
		if cfg.JSON {
			if err := writeJSON(out, rec, cfg.AsOf, results); err != nil {
				return err
			}
		} else {
			writeText(out, rec, cfg.AsOf, results)
		}
	}
	return out.Flush()
}

func loadLibrary(file string) (screening.Library, error) {
	if file == "" {
		return preset.Default()
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return screening.Library{}, fmt.Errorf("reading presets: %w", err)
	}
	lib, err := preset.Load(data)
	if err != nil {
		return lib, fmt.Errorf("%s: %w", file, err)
	}
	return lib, nil
}

// loadDir reads every *.json file under dir, in lexical order, one loader
// per folder (a folder is one patient in the eCQM layout, or any number of
// self-contained Bundles), reporting unreadable files and resources on
// stderr.
func loadDir(dir string, stderr io.Writer) ([]chart.Record, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	slices.Sort(files)
	var records []chart.Record
	var loader *fhir.Loader
	folder := ""
	flush := func() {
		if loader == nil {
			return
		}
		recs, warnings := loader.Records()
		for _, err := range warnings {
			fmt.Fprintf(stderr, "warning: %s: %v\n", folder, err)
		}
		records = append(records, recs...)
	}
	for _, f := range files {
		if d := filepath.Dir(f); d != folder || loader == nil {
			flush()
			folder, loader = d, fhir.NewLoader(fhir.Options{})
		}
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, "skipped:", err)
			continue
		}
		for _, err := range loader.Add(f, data) {
			fmt.Fprintln(stderr, "skipped:", err)
		}
	}
	flush()
	return records, nil
}

type sheetJSON struct {
	Patient    string          `json:"patient"`
	AsOf       string          `json:"as_of"`
	Screenings []screeningJSON `json:"screenings"`
}

type screeningJSON struct {
	ID       string               `json:"id"`
	Name     string               `json:"name"`
	Status   screening.Status     `json:"status"`
	LastDone *string              `json:"last_done"`
	NextDue  *string              `json:"next_due"`
	Reason   string               `json:"reason"`
	Sources  []string             `json:"sources"`
	Evidence []screening.Evidence `json:"evidence,omitempty"`
	Missing  string               `json:"missing,omitempty"`
	Variant  string               `json:"superseded_by,omitempty"`
}

func dateOrNull(d chart.Date) *string {
	if d.IsZero() {
		return nil
	}
	s := d.String()
	return &s
}

// Sources lists each citation's label and, where one exists, its CMS number.
func sources(r screening.Result) []string {
	out := []string{}
	for _, s := range r.Sources {
		out = append(out, s.Label)
		if s.CMS != "" && !slices.Contains(out, s.CMS) {
			out = append(out, s.CMS)
		}
	}
	return out
}

func writeJSON(w io.Writer, rec chart.Record, asOf chart.Date, results []screening.Result) error {
	sheet := sheetJSON{Patient: rec.Patient.ID, AsOf: asOf.String(), Screenings: make([]screeningJSON, len(results))}
	for i, r := range results {
		sheet.Screenings[i] = screeningJSON{
			ID: r.ID, Name: r.Name, Status: r.Status, LastDone: dateOrNull(r.LastDone), NextDue: dateOrNull(r.NextDue),
			Reason: r.Reason, Sources: sources(r), Evidence: r.Evidence, Missing: r.Missing, Variant: r.SupersededBy,
		}
	}
	b, err := json.Marshal(sheet)
	if err != nil {
		return fmt.Errorf("encoding sheet for %s: %w", rec.Patient.ID, err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

var marks = map[screening.Status]string{
	screening.Complete: "[x]", screening.DueSoon: "[~]", screening.Due: "[ ]", screening.Overdue: "[!]",
	screening.Excluded: " - ", screening.CannotEvaluate: " ? ",
}

// writeText prints a readable checklist: the screenings that apply, then a
// count of those that do not.
func writeText(w io.Writer, rec chart.Record, asOf chart.Date, results []screening.Result) {
	p := rec.Patient
	age := "age unknown"
	if a, ok := chart.AgeAt(p.BirthDate, asOf); ok {
		age = fmt.Sprintf("%dy", a.Years)
	}
	fmt.Fprintf(w, "Patient %s  %s  %s  as of %s\n", p.ID, age, p.Sex, asOf)
	hidden := 0
	for _, r := range results {
		mark, ok := marks[r.Status]
		if !ok {
			hidden++
			continue
		}
		fmt.Fprintf(w, "  %s %-45s %-15s %s\n", mark, r.Name, r.Status, r.Reason)
	}
	fmt.Fprintf(w, "  (%d not applicable)\n\n", hidden)
}

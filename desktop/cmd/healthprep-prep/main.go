// Command healthprep-prep prints a prep-sheet screening checklist for every
// patient found in a directory of FHIR R4 JSON (Bundles and/or one resource
// per file, read recursively; resource types it does not use, such as
// MeasureReport, are ignored).
//
// Usage:
//
//	healthprep-prep --as-of YYYY-MM-DD [--json] [--presets FILE] DIR...
//
// Malformed files and resources are reported on stderr with the file and
// JSON path and skipped; one bad file never stops the run.
//
// Exit status:
//
//	0  every patient found got a sheet (resources that were skipped are
//	   still reported on stderr)
//	1  some patient got no sheet: a Patient resource could not be read,
//	   resources refer to a patient that was not loaded, or no Patient was
//	   found at all; the other patients' sheets are still printed
//	2  usage or configuration error: a bad flag, --as-of missing or not
//	   YYYY-MM-DD, no directory, an unreadable directory or --presets file,
//	   or an invalid library; nothing is printed on stdout
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

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// The exit statuses (see the package comment).
const (
	exitOK         = 0
	exitIncomplete = 1
	exitUsage      = 2
)

// Config is everything the command needs, built from the flags.
type Config struct {
	AsOf    chart.Date
	JSON    bool
	Presets string // file; empty means the built-in library
	Dirs    []string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = "usage: healthprep-prep --as-of YYYY-MM-DD [--json] [--presets FILE] DIR..."

// run is the whole command: it parses args, writes sheets to stdout and
// problems to stderr, and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "healthprep-prep:", err)
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	engine, err := loadEngine(cfg.Presets)
	if err != nil {
		fmt.Fprintln(stderr, "healthprep-prep:", err)
		return exitUsage
	}
	var all load
	for _, dir := range cfg.Dirs {
		l, err := loadDir(dir, stderr)
		if err != nil {
			fmt.Fprintln(stderr, "healthprep-prep:", err)
			return exitUsage
		}
		all.records = append(all.records, l.records...)
		all.badPatients += l.badPatients
		all.orphans += l.orphans
	}
	out := bufio.NewWriter(stdout)
	for _, rec := range all.records {
		results := engine.Evaluate(rec, cfg.AsOf, nil)
		if cfg.JSON {
			if err := writeJSON(out, rec, cfg.AsOf, results); err != nil {
				fmt.Fprintln(stderr, "healthprep-prep:", err)
				return exitIncomplete
			}
		} else {
			writeText(out, rec, cfg.AsOf, results)
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(stderr, "healthprep-prep: writing sheets:", err)
		return exitIncomplete
	}
	switch {
	case len(all.records) == 0:
		fmt.Fprintln(stderr, "healthprep-prep: no Patient resources found: no sheet was printed")
		return exitIncomplete
	case all.badPatients > 0 || all.orphans > 0:
		fmt.Fprintf(stderr, "healthprep-prep: %d sheets printed, but some patients got none: %d unreadable Patient resources, %d resources that refer to a patient that was not loaded (see above)\n",
			len(all.records), all.badPatients, all.orphans)
		return exitIncomplete
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("healthprep-prep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asOf := fs.String("as-of", "", "evaluate screenings as of this date, YYYY-MM-DD (required)")
	jsonOut := fs.Bool("json", false, "print one JSON object per patient per line")
	presets := fs.String("presets", "", "screening library JSON file (default: the built-in presets)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if *asOf == "" {
		return Config{}, errors.New("--as-of is required: the date the sheets are prepared for, as YYYY-MM-DD")
	}
	d, err := chart.ParseDate(*asOf)
	if err != nil {
		return Config{}, fmt.Errorf("--as-of: %w", err)
	}
	if fs.NArg() == 0 {
		return Config{}, errors.New("no input directory given")
	}
	return Config{AsOf: d, JSON: *jsonOut, Presets: *presets, Dirs: fs.Args()}, nil
}

// loadEngine compiles the built-in library, or the one in file.
func loadEngine(file string) (*screening.Engine, error) {
	lib, err := preset.Default()
	if file != "" {
		data, rerr := os.ReadFile(file)
		if rerr != nil {
			return nil, fmt.Errorf("--presets: %w", rerr)
		}
		if lib, err = preset.Load(data); err != nil {
			return nil, fmt.Errorf("--presets %s: %w", file, err)
		}
	}
	if err != nil {
		return nil, err
	}
	return screening.Compile(lib)
}

// load is what was read from the input directories.
type load struct {
	records []chart.Record
	// badPatients counts Patient resources that could not be read;
	// orphans counts resources whose patient was not loaded.
	badPatients, orphans int
}

// loadDir reads every *.json file under dir, in lexical order, one loader
// per folder (a folder is one patient in the eCQM layout, or any number of
// self-contained Bundles), reporting unreadable folders, files and
// resources on stderr and skipping them. Only an unreadable dir itself is
// an error.
func loadDir(dir string, stderr io.Writer) (load, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			fmt.Fprintln(stderr, "skipped:", err)
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(path), ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return load{}, fmt.Errorf("reading %s: %w", dir, err)
	}
	slices.Sort(files)
	var out load
	var loader *fhir.Loader
	folder := ""
	report := func(err error) {
		fmt.Fprintln(stderr, "skipped:", err)
		var pe *fhir.PathError
		if errors.As(err, &pe) && pe.Resource == "Patient" {
			out.badPatients++
		}
	}
	flush := func() {
		if loader == nil {
			return
		}
		recs, warnings := loader.Records()
		for _, err := range warnings {
			fmt.Fprintf(stderr, "warning: %s: %v\n", folder, err)
			var oe *fhir.OrphanError
			if errors.As(err, &oe) && oe.AttachedTo == "" {
				out.orphans += oe.Count
			}
		}
		out.records = append(out.records, recs...)
	}
	for _, f := range files {
		if d := filepath.Dir(f); d != folder || loader == nil {
			flush()
			folder, loader = d, fhir.NewLoader(fhir.Options{})
		}
		data, err := os.ReadFile(f)
		if err != nil {
			report(err)
			continue
		}
		for _, err := range loader.Add(f, data) {
			report(err)
		}
	}
	flush()
	return out, nil
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

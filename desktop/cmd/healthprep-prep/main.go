// Command healthprep-prep prints a prep sheet for every patient found in a
// directory of FHIR R4 JSON (Bundles and/or one resource per file, read
// recursively; resource types it does not use, such as MeasureReport, are
// ignored).
//
// Usage:
//
//	healthprep-prep --as-of YYYY-MM-DD [--json] [--pdf DIR] [--tz ZONE] [--presets FILE] DIR...
//
// A sheet is the patient header, the screening checklist, the active
// conditions and the lookback sections (labs, imaging, consults,
// hospital/ED visits, documents; default windows) for the as-of date. The
// visit is the patient's first Appointment on or after that date, if the
// data has one. Without --json each sheet is printed as plain text; with
// --json as one JSON object per line: patient, as_of, screenings (id, name,
// status, last_done, next_due, reason, sources, ...), appointment and
// sections. --pdf DIR also writes one PDF per patient, named after the
// Patient.id (DIR/<id>.pdf), never after the patient's name. --tz is the
// clinic's time zone for appointment times (default UTC).
//
// Malformed files and resources are reported on stderr with the file and
// JSON path and skipped; one bad file never stops the run.
//
// Exit status:
//
//	0  every patient found got a sheet (resources that were skipped are
//	   still reported on stderr)
//	1  some patient got no sheet: a Patient resource could not be read,
//	   resources refer to a patient that was not loaded, no Patient was
//	   found at all, or a PDF could not be written (an id that is not a
//	   valid file name, two patients with one id, a write error); the
//	   other patients' sheets are still printed
//	2  usage or configuration error: a bad flag, --as-of missing or not
//	   YYYY-MM-DD, an unknown --tz, no directory, an unreadable directory
//	   or --presets file, an invalid library, or a --pdf directory that
//	   cannot be created; nothing is printed on stdout
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
	_ "time/tzdata" // --tz works without a system zone database

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/pdf"
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
	AsOf     chart.Date
	JSON     bool
	PDFDir   string // where to write one PDF per patient; empty means none
	Location *time.Location
	Presets  string // file; empty means the built-in library
	Dirs     []string
}

func main() {
	os.Exit(run(os.Args[1:], time.Now(), os.Stdout, os.Stderr))
}

const usage = "usage: healthprep-prep --as-of YYYY-MM-DD [--json] [--pdf DIR] [--tz ZONE] [--presets FILE] DIR..."

// run is the whole command: it parses args, writes sheets to stdout (and
// PDFs to --pdf) and problems to stderr, and returns the exit status. now
// is printed as the sheets' generation time.
func run(args []string, now time.Time, stdout, stderr io.Writer) int {
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
	var pdfs *pdfWriter
	if cfg.PDFDir != "" {
		// Sheets hold PHI: the directory is the user's alone.
		if err := os.MkdirAll(cfg.PDFDir, 0o700); err != nil {
			fmt.Fprintln(stderr, "healthprep-prep: --pdf:", err)
			return exitUsage
		}
		pdfs = &pdfWriter{dir: cfg.PDFDir, written: map[string]bool{}}
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
	noPDF := 0
	for i, rec := range all.records {
		results := engine.Evaluate(rec, cfg.AsOf, nil)
		sheet, err := assemble(rec, results, cfg, now)
		if err != nil {
			fmt.Fprintln(stderr, "healthprep-prep:", err)
			return exitIncomplete
		}
		if cfg.JSON {
			err = writeJSON(out, rec, cfg.AsOf, results, &sheet)
		} else {
			if i > 0 {
				out.WriteString("\f\n") // a printout starts each patient on a new page
			}
			err = prepsheet.WriteText(out, &sheet)
		}
		if err != nil {
			fmt.Fprintln(stderr, "healthprep-prep:", err)
			return exitIncomplete
		}
		if pdfs != nil {
			if err := pdfs.write(rec.Patient.ID, &sheet); err != nil {
				fmt.Fprintf(stderr, "healthprep-prep: no PDF for patient %d: %v\n", i+1, err)
				noPDF++
			}
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(stderr, "healthprep-prep: writing sheets:", err)
		return exitIncomplete
	}
	if noPDF > 0 {
		fmt.Fprintf(stderr, "healthprep-prep: %d of %d PDFs could not be written (see above)\n", noPDF, len(all.records))
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
	pdfDir := fs.String("pdf", "", "also write one PDF per patient into this directory, named <Patient.id>.pdf")
	tz := fs.String("tz", "UTC", "the clinic's time zone (IANA name) for appointment and generation times")
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
	loc, err := time.LoadLocation(*tz)
	if err != nil || *tz == "" {
		return Config{}, fmt.Errorf("--tz: unknown time zone %q: want an IANA name such as America/Chicago", *tz)
	}
	if fs.NArg() == 0 {
		return Config{}, errors.New("no input directory given")
	}
	return Config{AsOf: d, JSON: *jsonOut, PDFDir: *pdfDir, Location: loc, Presets: *presets, Dirs: fs.Args()}, nil
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

// sheetJSON is one line of --json output: the schema (patient,
// as_of, screenings) plus the visit and the lookback sections.
type sheetJSON struct {
	Patient    string          `json:"patient"`
	AsOf       string          `json:"as_of"`
	Screenings []screeningJSON `json:"screenings"`
	// Appointment is the visit the sheet prepares for; null when the data
	// has none on or after as_of.
	Appointment *prepsheet.AppointmentShown `json:"appointment"`
	// Sections are the lookback sections in print order: labs, imaging,
	// consults, hospital/ED visits, documents.
	Sections []prepsheet.Section `json:"sections"`
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

func writeJSON(w io.Writer, rec chart.Record, asOf chart.Date, results []screening.Result, s *prepsheet.Sheet) error {
	sheet := sheetJSON{Patient: rec.Patient.ID, AsOf: asOf.String(), Screenings: make([]screeningJSON, len(results))}
	if a := s.Header.Appointment; !a.NoneOnFile() {
		sheet.Appointment = &a
	}
	for _, sec := range s.Sections() {
		sheet.Sections = append(sheet.Sections, *sec)
	}
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

// assemble builds rec's sheet for the as-of date in the clinic's zone,
// with the patient's next appointment and the organisation's default
// lookback windows; now is printed as its generation time.
func assemble(rec chart.Record, results []screening.Result, cfg Config, now time.Time) (prepsheet.Sheet, error) {
	y, m, d := cfg.AsOf.YMD()
	in := prepsheet.Input{
		Patient:    rec.Patient,
		Screenings: results,
		Conditions: rec.Items, // Assemble lists the active conditions among them
		Entries:    prepsheet.Entries(rec),
		Documents:  rec.Documents,
		AsOf:       time.Date(y, m, d, 12, 0, 0, 0, cfg.Location),
		Location:   cfg.Location,
	}
	if a, ok := prepsheet.NextAppointment(rec.Appointments, cfg.AsOf, cfg.Location); ok {
		in.Appointment = a
	}
	s, err := prepsheet.Assemble(in)
	if err != nil {
		return s, fmt.Errorf("assembling sheet %s: %w", rec.Patient.ID, err)
	}
	// The sheet describes the as-of date; it was generated now.
	s.GeneratedAt = now.In(cfg.Location)
	return s, nil
}

// fileID reports whether id may name a file: a FHIR id (1 to 64
// letters, digits, '-' and '.') that does not start with '.', so it is
// never hidden, "." or "..".
func fileID(id string) bool {
	if id == "" || len(id) > 64 || id[0] == '.' {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// pdfWriter writes one PDF per patient into dir, named after the
// patient's id, and refuses to write one name twice in a run.
type pdfWriter struct {
	dir     string
	written map[string]bool
}

// write renders s to dir/<id>.pdf through a temporary file, so a failed
// write never leaves half a sheet under the final name.
func (p *pdfWriter) write(id string, s *prepsheet.Sheet) error {
	if !fileID(id) {
		return fmt.Errorf("patient id %q is not a FHIR id (letters, digits, '-' and '.', not starting with '.'), so it cannot name a file", id)
	}
	name := id + ".pdf"
	if p.written[strings.ToLower(name)] {
		return fmt.Errorf("two patients have the id %q: %s was written for the first", id, name)
	}
	tmp, err := os.CreateTemp(p.dir, ".sheet-*.pdf.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	err = pdf.Write(tmp, s, pdf.Options{})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(p.dir, name))
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	p.written[strings.ToLower(name)] = true
	return nil
}

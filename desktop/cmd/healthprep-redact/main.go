// Command healthprep-redact removes protected health information from
// plain text: it reads the text on stdin (or from a file argument) and
// writes the redacted text on stdout, each identifier replaced by a typed
// placeholder ([NAME], [DATE], [PHONE], …). It works on any text: clinical
// notes, letters, forms, e-mails, addresses.
//
// Usage:
//
//	healthprep-redact [--json] [--patient FILE] [--keep-zip3] [FILE]
//
// With --json it writes one JSON object instead:
//
//	{"redacted": "…", "spans": [{"start": N, "end": N, "type": "NAME"}, …],
//	 "service_dates": [{"label": "date of service", "date": "2024-03-04"}, …]}
//
// where start and end count Unicode code points of the input (end
// exclusive) and service_dates are the dates of service found before
// redaction. --patient takes a FHIR R4 Patient resource (or a Bundle holding
// one) whose names, birth date, identifiers, address, phone numbers and
// e-mail addresses are then matched too, tolerantly of OCR errors.
// --keep-zip3 keeps the first three digits of ZIP codes where Safe Harbor
// allows it ("[ZIP:021]").
//
// The input must be UTF-8 and at most 64 MiB (the whole text is needed at
// once, because context decides what is a name). Invalid UTF-8 is refused
// with the byte offset of the first bad byte rather than guessed at, so
// that offsets always refer to the text the caller has.
//
// --ocr FILE takes a document instead (PDF with or without a text layer,
// TIFF, PNG or JPEG, told apart by content) and runs it through the
// workstation's document pipeline first: the text layer where a PDF page
// has one, Tesseract (the `tesseract` executable) otherwise. The extracted
// text is then redacted; with --json the object also carries "text", the
// extracted text the offsets refer to. A document the pipeline refuses
// (empty, damaged, truncated, password-protected, too many pages, ...) is
// reported with the pipeline's reason.
//
// Exit status: 0 done; 1 the input could not be read or is not UTF-8 or is
// too large, or the --ocr document was refused or could not be read
// (nothing is written on stdout); 2 usage error or an unreadable or invalid
// --patient file.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/shared/phi"
)

// The exit statuses (see the package comment).
const (
	exitOK    = 0
	exitInput = 1
	exitUsage = 2
)

// MaxInput is the largest input accepted, in bytes.
const MaxInput = 64 << 20

const usage = "usage: healthprep-redact [--json] [--patient FILE] [--keep-zip3] [--ocr DOCUMENT | FILE]"

// Config is everything the command needs, built from the flags.
type Config struct {
	JSON     bool
	Patient  string // FHIR Patient JSON file; empty for none
	OCR      string // document to extract text from first; empty for text input
	KeepZIP3 bool
	Input    string // file; empty for stdin
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "healthprep-redact:", err)
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	var known *phi.Known
	if cfg.Patient != "" {
		known, err = loadPatient(cfg.Patient)
		if err != nil {
			fmt.Fprintln(stderr, "healthprep-redact:", err)
			return exitUsage
		}
	}
	var text string
	if cfg.OCR != "" {
		text, err = extractDocument(context.Background(), cfg.OCR)
		if de, ok := docpipe.Rejection(err); ok {
			fmt.Fprintln(stderr, "healthprep-redact: --ocr:", de)
			return exitInput
		}
	} else {
		text, err = readInput(cfg.Input, stdin)
	}
	if err != nil {
		fmt.Fprintln(stderr, "healthprep-redact:", err)
		return exitInput
	}
	res := phi.NewDetector(phi.Options{KeepZIP3: cfg.KeepZIP3}).Redact(text, known)
	w := bufio.NewWriter(stdout)
	if cfg.JSON {
		out := jsonOut{Redacted: res.Redacted.String(), Spans: res.Spans, ServiceDates: res.ServiceDates}
		if cfg.OCR != "" {
			out.Text = &text
		}
		if out.Spans == nil {
			out.Spans = []phi.Span{}
		}
		if out.ServiceDates == nil {
			out.ServiceDates = []phi.ServiceDate{}
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		err = enc.Encode(out)
	} else {
		_, err = w.WriteString(res.Redacted.String())
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintln(stderr, "healthprep-redact: writing output:", err)
		return exitInput
	}
	return exitOK
}

type jsonOut struct {
	// Text is the extracted text of an --ocr document, which the spans
	// refer to; absent for text input (the caller has it).
	Text         *string           `json:"text,omitempty"`
	Redacted     string            `json:"redacted"`
	Spans        []phi.Span        `json:"spans"`
	ServiceDates []phi.ServiceDate `json:"service_dates"`
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("healthprep-redact", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&cfg.JSON, "json", false, "write a JSON object with the redacted text and the spans")
	fs.StringVar(&cfg.Patient, "patient", "", "FHIR R4 Patient JSON whose identifiers are matched too")
	fs.StringVar(&cfg.OCR, "ocr", "", "document (PDF, TIFF, PNG, JPEG) whose text layer or OCR text is redacted")
	fs.BoolVar(&cfg.KeepZIP3, "keep-zip3", false, "keep the first three digits of ZIP codes where Safe Harbor allows it")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		cfg.Input = fs.Arg(0)
	default:
		return cfg, fmt.Errorf("want at most one input file, got %d", fs.NArg())
	}
	if cfg.OCR != "" && cfg.Input != "" {
		return cfg, errors.New("give either --ocr FILE or a text file, not both")
	}
	return cfg, nil
}

// readInput reads the whole input, refusing more than MaxInput bytes and
// invalid UTF-8.
func readInput(file string, stdin io.Reader) (string, error) {
	r, name := stdin, "stdin"
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("opening input: %w", err)
		}
		defer f.Close()
		r, name = f, file
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxInput+1))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > MaxInput {
		return "", fmt.Errorf("%s is larger than the %d MiB limit: split the document", name, MaxInput>>20)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s is not valid UTF-8: first bad byte at offset %d; convert it to UTF-8 first (for example with iconv)", name, firstInvalid(b))
	}
	return string(b), nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// Command healthprep-evaldocs evaluates the workstation's document
// pipeline on generated, labelled clinical documents rendered as text PDFs
// and as clean and noisy scans (see internal/docgen/doceval): OCR error
// rates, PHI recall per category, precision and F2, classification
// accuracy, and pages per second next to plain tesseract.
//
// Usage:
//
//	healthprep-evaldocs [-n DOCS] [-seed N] [-workers N] [-v]
//
// Exit status 1 when a target is missed (they are printed), 2 for a usage
// error or when the evaluation could not run (Poppler or Tesseract
// missing).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"healthprep.dev/desktop/internal/docgen/doceval"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthprep-evaldocs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg doceval.Config
	fs.IntVar(&cfg.Docs, "n", 40, "number of documents")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "generator seed")
	fs.IntVar(&cfg.Workers, "workers", 0, "OCR workers and plain tesseract processes at once (0: one per core)")
	verbose := fs.Bool("v", false, "print examples of missed and wrongly redacted tokens")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Docs <= 0 {
		fmt.Fprintln(stderr, "healthprep-evaldocs: -n must be positive")
		return 2
	}
	rep, err := doceval.Run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(stderr, "healthprep-evaldocs:", err)
		return 2
	}
	rep.Print(stdout)
	if *verbose {
		for _, c := range []doceval.Condition{rep.Text, rep.Clean, rep.Noisy} {
			for _, m := range c.PHI.Misses {
				fmt.Fprintf(stdout, "  %s miss: %s\n", c.Name, m)
			}
			for _, f := range c.PHI.FalsePositives {
				fmt.Fprintf(stdout, "  %s false positive: %s\n", c.Name, f)
			}
		}
	}
	if missed := rep.Targets(); len(missed) > 0 {
		fmt.Fprintln(stdout)
		for _, m := range missed {
			fmt.Fprintln(stdout, "target missed:", m)
		}
		return 1
	}
	fmt.Fprintln(stdout, "\nall targets met")
	return 0
}

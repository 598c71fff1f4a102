// Command healthprep-sandbox runs the FHIR R4 + SMART sandbox on loopback
// for demos and development: it loads FHIR JSON from -data and/or generates
// synthetic demo data (-demo), registers the OAuth clients given on the
// command line, and prints where to reach it. With -write-demo DIR it only
// writes the generated demo data as FHIR Bundles and exits. The demo
// clinic's visits are booked 08:00–16:30 in -tz, the clinic's time zone
// (default: this machine's), so give it the organisation's zone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // -tz resolves on machines without zoneinfo

	"healthprep.dev/cloud/internal/demodata"
	"healthprep.dev/cloud/internal/sandbox"
)

// config is everything the command was told.
type config struct {
	addr        string
	publicURL   string
	dataDirs    []string
	demo        bool
	writeDemo   string
	seed        uint64
	patients    int
	start       time.Time
	zone        *time.Location
	latency     time.Duration
	clientID    string
	redirect    string
	secret      string
	backendID   string
	backendJWKS string
}

func parse(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("healthprep-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var data, start, zone string
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8090", "listen address (loopback)")
	fs.StringVar(&c.publicURL, "public-url", "", "server root as clients see it (default: from each request)")
	fs.StringVar(&data, "data", "", "comma-separated directories of FHIR R4 JSON to load (Synthea bundles, one resource per file)")
	fs.BoolVar(&c.demo, "demo", false, "generate and load synthetic demo data")
	fs.StringVar(&c.writeDemo, "write-demo", "", "write the demo data as FHIR Bundles into this directory and exit")
	fs.Uint64Var(&c.seed, "seed", 1, "demo data seed")
	fs.IntVar(&c.patients, "patients", 200, "demo data patients")
	fs.StringVar(&start, "start", "", "first day of the demo schedule, YYYY-MM-DD in -tz (default: today there)")
	fs.StringVar(&zone, "tz", "", "the demo clinic's IANA time zone, e.g. America/New_York: visits are booked 08:00–16:30 there (default: this machine's)")
	fs.DurationVar(&c.latency, "latency", 0, "delay every FHIR response by this much")
	fs.StringVar(&c.clientID, "client-id", "healthprep-dev", "auth code client to register")
	fs.StringVar(&c.redirect, "redirect-uri", "http://127.0.0.1:8080/epic/callback", "its redirect URI (comma-separated for several)")
	fs.StringVar(&c.secret, "client-secret", "", "its secret (empty: a public client)")
	fs.StringVar(&c.backendID, "backend-client-id", "", "backend services client to register")
	fs.StringVar(&c.backendJWKS, "backend-jwks-url", "", "its JWKS URL")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if data != "" {
		c.dataDirs = strings.Split(data, ",")
	}
	c.zone = time.Local
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "Local" {
			return c, fmt.Errorf("-tz %q is not an IANA time zone such as America/New_York", zone)
		}
		c.zone = loc
	}
	c.start = time.Now().In(c.zone)
	if start != "" {
		t, err := time.ParseInLocation(time.DateOnly, start, c.zone)
		if err != nil {
			return c, fmt.Errorf("-start must be YYYY-MM-DD")
		}
		c.start = t
	}
	if (c.backendID == "") != (c.backendJWKS == "") {
		return c, errors.New("-backend-client-id and -backend-jwks-url go together")
	}
	return c, nil
}

func main() {
	cfg, err := parse(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthprep-sandbox:", err)
		os.Exit(2)
	}
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "healthprep-sandbox:", err)
		os.Exit(1)
	}
}

func run(cfg config, out io.Writer) error {
	if cfg.writeDemo != "" || cfg.demo {
		ds, err := demodata.Generate(demodata.Config{Seed: cfg.seed, Patients: cfg.patients, Start: cfg.start, Location: cfg.zone})
		if err != nil {
			return err
		}
		if cfg.writeDemo != "" {
			if err := ds.WriteDir(cfg.writeDemo); err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %d patients and %d appointments to %s\n", ds.Counts["Patient"], ds.Counts["Appointment"], cfg.writeDemo)
			return nil
		}
		sb, err := newSandbox(cfg)
		if err != nil {
			return err
		}
		for _, f := range append(ds.Patients, ds.Schedule) {
			if _, err := sb.Load(f.Data); err != nil {
				return fmt.Errorf("loading demo data %s: %w", f.Name, err)
			}
		}
		return serve(cfg, sb, out)
	}
	sb, err := newSandbox(cfg)
	if err != nil {
		return err
	}
	return serve(cfg, sb, out)
}

func newSandbox(cfg config) (*sandbox.Sandbox, error) {
	sb := sandbox.New(sandbox.Config{PublicURL: cfg.publicURL, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	for _, d := range cfg.dataDirs {
		if _, err := sb.LoadDir(d); err != nil {
			return nil, err
		}
	}
	if cfg.clientID != "" {
		if err := sb.RegisterClient(sandbox.Client{ID: cfg.clientID, Name: "HealthPrep", Secret: cfg.secret,
			RedirectURIs: strings.Split(cfg.redirect, ",")}); err != nil {
			return nil, err
		}
	}
	if cfg.backendID != "" {
		if err := sb.RegisterClient(sandbox.Client{ID: cfg.backendID, Name: "HealthPrep backend", JWKSURL: cfg.backendJWKS}); err != nil {
			return nil, err
		}
	}
	sb.SetLatency(cfg.latency)
	return sb, nil
}

func serve(cfg config, sb *sandbox.Sandbox, out io.Writer) error {
	srv, err := sandbox.Start(sb, cfg.addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "FHIR sandbox: %s\n  SMART configuration: %s/.well-known/smart-configuration\n  demo read token (1 h): %s\n  faults: POST %s/_sandbox/faults {\"kind\":\"429\",\"retry_after\":\"2\",\"times\":3}\n",
		srv.FHIRBase(), srv.FHIRBase(), sb.IssueToken("user/*.read"), srv.URL)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}

// Command healthprep is the HealthPrep workstation client. Subcommands:
//
//	healthprep agent   sync with the cloud without a window (tests,
//	                   servers, machines without a display)
//
// The windowed client will be the default subcommand.
//
// healthprep agent flags:
//
//	-server URL        the cloud's base URL
//	-profile DIR       the workstation profile directory (local store)
//	-token-file PATH   file holding the session token (credentials source;
//	                   re-read before every call); or -token-env NAME
//	-device-id ID      this workstation's id (audit)
//	-once              sync once and exit (exit 0 when up to date)
//
// Exit statuses: 0 done, 1 sync failed (-once), 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncagent/memlocal"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: healthprep agent [flags]   (healthprep agent -h for the flags)")
		return 2
	}
	switch args[0] {
	case "agent":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return agent(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "healthprep: unknown command %q (known: agent)\n", args[0])
	return 2
}

// Config is the agent's configuration, from flags.
type Config struct {
	Server, Profile, TokenFile, TokenEnv, DeviceID string
	Once                                           bool
	PageSize                                       int
	Poll                                           time.Duration
}

func parse(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("healthprep agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Server, "server", "", "the cloud's base URL (required)")
	fs.StringVar(&c.Profile, "profile", "", "workstation profile directory (required)")
	fs.StringVar(&c.TokenFile, "token-file", "", "file holding the session token")
	fs.StringVar(&c.TokenEnv, "token-env", "", "environment variable holding the session token")
	fs.StringVar(&c.DeviceID, "device-id", "", "this workstation's id")
	fs.BoolVar(&c.Once, "once", false, "sync once and exit")
	fs.IntVar(&c.PageSize, "page-size", 500, "changes per pull (1–1000)")
	fs.DurationVar(&c.Poll, "poll", 30*time.Second, "poll interval when no watch stream")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.Server == "":
		return c, errors.New("-server: required")
	case c.Profile == "":
		return c, errors.New("-profile: required")
	case (c.TokenFile == "") == (c.TokenEnv == ""):
		return c, errors.New("give exactly one of -token-file and -token-env")
	case c.PageSize < 1 || c.PageSize > 1000:
		return c, errors.New("-page-size: must be 1–1000")
	}
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, errors.New("-server: must be an http(s) URL")
	}
	// The only local store wired so far is the unencrypted test store:
	// refuse to put real data in it.
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return c, errors.New("-server: this build syncs only with a loopback server (the encrypted store is not wired into the agent yet)")
	}
	return c, nil
}

func agent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "healthprep agent: %v\n", err)
		return 2
	}
	if err := os.MkdirAll(c.Profile, 0o700); err != nil {
		fmt.Fprintf(stderr, "healthprep agent: creating the profile directory: %v\n", err)
		return 1
	}
	store, err := memlocal.Open(filepath.Join(c.Profile, "sync-test-store.json"))
	if err != nil {
		fmt.Fprintf(stderr, "healthprep agent: %v\n", err)
		return 1
	}
	token := func() (string, error) {
		if c.TokenEnv != "" {
			t := os.Getenv(c.TokenEnv)
			if t == "" {
				return "", fmt.Errorf("%s is empty", c.TokenEnv)
			}
			return t, nil
		}
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	cloud := syncagent.NewConnectCloud(c.Server, token, c.DeviceID)
	var last time.Time
	progress := func(p syncagent.Progress) {
		if p.Latest == 0 || time.Since(last) < 200*time.Millisecond && p.Seq < p.Latest {
			return
		}
		last = time.Now()
		fmt.Fprintf(stdout, "sync: %d changes applied, %d results pushed, seq %d of %d (%d%%)\n",
			p.Applied, p.Pushed, p.Seq, p.Latest, 100*p.Seq/p.Latest)
	}
	a := syncagent.New(store, cloud, syncagent.Options{
		PageSize: c.PageSize, PollInterval: c.Poll, OnProgress: progress,
		OnError: func(err error) { fmt.Fprintf(stderr, "sync: %v (retrying)\n", err) },
		OnRejected: func(a syncagent.Ack) {
			fmt.Fprintf(stderr, "sync: the cloud refused result %s: %s\n", a.ID, a.Message)
		},
	})
	if c.Once {
		r, err := a.SyncOnce(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "healthprep agent: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "sync: up to date at seq %d (%d changes applied, %d results pushed)\n", r.Latest, r.Applied, r.Pushed)
		return 0
	}
	fmt.Fprintf(stdout, "sync: agent running against %s\n", c.Server)
	_ = a.Run(ctx)
	return 0
}

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
	"time"

	"healthprep.dev/desktop/internal/syncagent"
)

// Config is the agent's configuration, from flags.
type Config struct {
	profileFlags
	Server, TokenFile, TokenEnv string
	Once                        bool
	PageSize                    int
	Poll                        time.Duration
}

func parse(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("healthprep agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.StringVar(&c.Server, "server", "", "the cloud's base URL (default: the one this workstation enrolled with)")
	fs.StringVar(&c.TokenFile, "token-file", "", "sync as a user: file holding the session token")
	fs.StringVar(&c.TokenEnv, "token-env", "", "sync as a user: environment variable holding the session token")
	fs.BoolVar(&c.Once, "once", false, "sync once and exit")
	fs.IntVar(&c.PageSize, "page-size", 500, "changes per pull (1–1000)")
	fs.DurationVar(&c.Poll, "poll", 30*time.Second, "poll interval when no watch stream")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.check(); err != nil {
		return c, err
	}
	switch {
	case c.TokenFile != "" && c.TokenEnv != "":
		return c, errors.New("give at most one of -token-file and -token-env")
	case c.PageSize < 1 || c.PageSize > 1000:
		return c, errors.New("-page-size: must be 1–1000")
	}
	if c.Server != "" {
		if err := checkServer(c.Server); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkServer accepts https anywhere and http only on loopback: patient
// data never crosses a network in the clear.
func checkServer(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("-server: must be an http(s) URL")
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("-server: plain http is allowed only on loopback; use https")
	}
	return nil
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
	userSession := c.TokenFile != "" || c.TokenEnv != ""
	dev, devErr := readDevice(c.Dir)
	if !userSession && devErr != nil {
		fmt.Fprintf(stderr, "healthprep agent: %v (or give -token-file to sync as a user)\n", devErr)
		return 2
	}
	if c.Server == "" {
		if dev.Server == "" {
			fmt.Fprintln(stderr, "healthprep agent: -server: required (this workstation is not enrolled)")
			return 2
		}
		c.Server = dev.Server
	}
	p, err := openProfile(ctx, c.profileFlags, true)
	if err != nil {
		fmt.Fprintf(stderr, "healthprep agent: %v\n", err)
		return 1
	}
	defer p.Close()
	token := func() (string, error) {
		switch {
		case c.TokenEnv != "":
			t := os.Getenv(c.TokenEnv)
			if t == "" {
				return "", fmt.Errorf("%s is empty", c.TokenEnv)
			}
			return t, nil
		case c.TokenFile != "":
			b, err := os.ReadFile(c.TokenFile)
			if err != nil {
				return "", err
			}
			return trim(b), nil
		}
		b, err := p.keys.Get(tokenKey(dev.DeviceID))
		if err != nil {
			return "", fmt.Errorf("reading the device credentials: %w", err)
		}
		return string(b), nil
	}
	cloud := syncagent.NewConnectCloud(c.Server, token, dev.DeviceID)
	var last time.Time
	progress := func(pr syncagent.Progress) {
		if pr.Latest == 0 || time.Since(last) < 200*time.Millisecond && pr.Seq < pr.Latest {
			return
		}
		last = time.Now()
		fmt.Fprintf(stdout, "sync: %d changes applied, %d results pushed, seq %d of %d (%d%%)\n",
			pr.Applied, pr.Pushed, pr.Seq, pr.Latest, 100*pr.Seq/pr.Latest)
	}
	a := syncagent.New(p.sync, cloud, syncagent.Options{
		PageSize: c.PageSize, PollInterval: c.Poll, OnProgress: progress,
		OnError: func(err error) { fmt.Fprintf(stderr, "sync: %v (retrying)\n", err) },
		OnRejected: func(a syncagent.Ack) {
			fmt.Fprintf(stderr, "sync: the cloud refused result %s: %s\n", a.ID, a.Message)
		},
	})
	if c.Once {
		start := time.Now()
		r, err := a.SyncOnce(ctx)
		if err != nil {
			return failed(ctx, p, dev, err, stderr)
		}
		fmt.Fprintf(stdout, "sync: up to date at seq %d (%d changes applied, %d results pushed, %d unreadable, %d full resyncs) in %.1f s\n",
			r.Latest, r.Applied, r.Pushed, p.sync.Unreadable(), r.Resets, time.Since(start).Seconds())
		return 0
	}
	fmt.Fprintf(stdout, "sync: agent running against %s\n", c.Server)
	if err := a.Run(ctx); ctx.Err() == nil && err != nil {
		return failed(ctx, p, dev, err, stderr)
	}
	return 0
}

// failed reports a sync error; a revocation crypto-shreds the profile.
func failed(ctx context.Context, p *profile, dev DeviceRecord, err error, stderr io.Writer) int {
	if !errors.Is(err, syncagent.ErrRevoked) {
		fmt.Fprintf(stderr, "healthprep agent: %v\n", err)
		return 1
	}
	if serr := p.shred(ctx, dev); serr != nil {
		fmt.Fprintf(stderr, "healthprep agent: the cloud revoked this workstation; crypto-shredding the local data: %v\n", serr)
		return 3
	}
	fmt.Fprintln(stderr, "healthprep agent: the cloud revoked this workstation; its local data was crypto-shredded and can no longer be read")
	return 3
}

package testpeer

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// MailDevConfig configures a maildev SMTP capture server.
type MailDevConfig struct {
	// Dir holds the captured mail, the log and the working directory.
	Dir string
	// User and Password, when set, make the server require SMTP AUTH.
	User, Password string
	// CertFile and KeyFile (PEM), when set with ImplicitTLS, make the SMTP
	// port speak TLS from the first byte (SMTPS).
	CertFile, KeyFile string
	ImplicitTLS       bool
}

// MailDev is a running maildev: an SMTP server that keeps every message and
// a REST API to read them back.
type MailDev struct {
	*Process
	// SMTPAddr is host:port of the SMTP server on 127.0.0.1.
	SMTPAddr string
	// SMTPHost and SMTPPort are SMTPAddr's parts.
	SMTPHost string
	SMTPPort int
	// WebURL is the base URL of the web interface and REST API.
	WebURL string

	client *http.Client
}

// MailDevMessage is a message as maildev parsed it.
type MailDevMessage struct {
	ID      string           `json:"id"`
	Subject string           `json:"subject"`
	From    []MailDevAddress `json:"from"`
	To      []MailDevAddress `json:"to"`
	Text    string           `json:"text"`
	HTML    string           `json:"html"`
	// Headers are the raw headers, lower-cased names; a value is a string or
	// a list of strings.
	Headers  map[string]any  `json:"headers"`
	Envelope MailDevEnvelope `json:"envelope"`
	Time     time.Time       `json:"time"`
}

// MailDevAddress is one parsed address.
type MailDevAddress struct {
	Address string `json:"address"`
	Name    string `json:"name"`
}

// MailDevEnvelope is the SMTP envelope of a message.
type MailDevEnvelope struct {
	From MailDevAddress   `json:"from"`
	To   []MailDevAddress `json:"to"`
}

// StartMailDev starts maildev (npm maildev, installed by `make deps`) with
// SMTP and its web API on free loopback ports.
func StartMailDev(ctx context.Context, cfg MailDevConfig) (*MailDev, error) {
	node, script, err := nodeScript("node_modules/maildev/dist/bin/maildev.js")
	if err != nil {
		return nil, fmt.Errorf("starting maildev: %w", err)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("starting maildev: MailDevConfig.Dir is empty")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	proc, ps, err := startWithPorts(ctx, 2, func(ps []int) (spec, error) {
		args := []string{script,
			"--ip", "127.0.0.1", "--smtp", strconv.Itoa(ps[0]),
			"--web-ip", "127.0.0.1", "--web", strconv.Itoa(ps[1]),
			"--mail-directory", filepath.Join(cfg.Dir, "mail"),
		}
		if cfg.User != "" {
			args = append(args, "--incoming-user", cfg.User, "--incoming-pass", cfg.Password)
		}
		if cfg.ImplicitTLS {
			args = append(args, "--incoming-secure", "--incoming-cert", cfg.CertFile, "--incoming-key", cfg.KeyFile)
		}
		web := "http://" + loopback(ps[1])
		return spec{
			name:  "maildev",
			path:  node,
			args:  args,
			dir:   cfg.Dir,
			ready: both(tcpReady(loopback(ps[0])), httpReady(client, web+"/api/healthz")),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return &MailDev{
		Process:  proc,
		SMTPAddr: loopback(ps[0]),
		SMTPHost: "127.0.0.1",
		SMTPPort: ps[0],
		WebURL:   "http://" + loopback(ps[1]),
		client:   client,
	}, nil
}

// NewMailDev starts maildev for a test in t.TempDir() and stops it when the
// test ends.
func NewMailDev(t testing.TB, cfg MailDevConfig) *MailDev {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	m, err := StartMailDev(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	cleanup(t, m.Process)
	return m
}

// Messages returns every captured message in arrival order.
func (m *MailDev) Messages(ctx context.Context) ([]MailDevMessage, error) {
	var out []MailDevMessage
	if err := getJSON(ctx, m.client, m.WebURL+"/api/email", &out); err != nil {
		return nil, fmt.Errorf("listing maildev messages: %w", err)
	}
	return out, nil
}

// WaitMessages polls until at least n messages were captured or ctx ends.
func (m *MailDev) WaitMessages(ctx context.Context, n int) ([]MailDevMessage, error) {
	return waitFor(ctx, m.Messages, n)
}

// SESConfig configures an aws-ses-v2-local server.
type SESConfig struct {
	// Dir is the working directory and holds the log.
	Dir string
}

// SES is a running aws-ses-v2-local: the SES v1 and v2 HTTP APIs, keeping
// every message in memory.
type SES struct {
	*Process
	// URL is the endpoint to give the AWS SDK as its BaseEndpoint.
	URL string

	client *http.Client
}

// SESMessage is a message as aws-ses-v2-local stored it.
type SESMessage struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	At int64 `json:"at"` // Unix seconds
}

// StartSES starts aws-ses-v2-local (npm, installed by `make deps`) on a free
// loopback port.
func StartSES(ctx context.Context, cfg SESConfig) (*SES, error) {
	node, script, err := nodeScript("node_modules/aws-ses-v2-local/dist/cli.js")
	if err != nil {
		return nil, fmt.Errorf("starting aws-ses-v2-local: %w", err)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("starting aws-ses-v2-local: SESConfig.Dir is empty")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	proc, ps, err := startWithPorts(ctx, 1, func(ps []int) (spec, error) {
		return spec{
			name:  "aws-ses-v2-local",
			path:  node,
			args:  []string{script, "--host", "127.0.0.1", "--port", strconv.Itoa(ps[0])},
			dir:   cfg.Dir,
			ready: httpReady(client, "http://"+loopback(ps[0])+"/health-check"),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return &SES{Process: proc, URL: "http://" + loopback(ps[0]), client: client}, nil
}

// NewSES starts aws-ses-v2-local for a test and stops it when the test ends.
func NewSES(t testing.TB) *SES {
	t.Helper()
	s, err := StartSES(context.Background(), SESConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	cleanup(t, s.Process)
	return s
}

// Messages returns every message sent through the server, oldest first.
func (s *SES) Messages(ctx context.Context) ([]SESMessage, error) {
	var store struct {
		Emails []SESMessage `json:"emails"`
	}
	if err := getJSON(ctx, s.client, s.URL+"/store", &store); err != nil {
		return nil, fmt.Errorf("listing aws-ses-v2-local messages: %w", err)
	}
	return store.Emails, nil
}

// WaitMessages polls until at least n messages were captured or ctx ends.
func (s *SES) WaitMessages(ctx context.Context, n int) ([]SESMessage, error) {
	return waitFor(ctx, s.Messages, n)
}

// waitFor polls list until it returns at least n items, ctx ends, or 30 s
// pass.
func waitFor[T any](ctx context.Context, list func(context.Context) ([]T, error), n int) ([]T, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		got, err := list(ctx)
		if err == nil && len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return got, err
			}
			return got, fmt.Errorf("waiting for %d messages: have %d: %w", n, len(got), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Package config is the cloud core's typed configuration: read from the
// environment (and secrets from a secrets provider) once at start-up and
// validated there, so a missing or malformed setting stops the process with
// a message naming the variable, never its value.
//
// Every variable starts with HP_. Secrets (DSNs with passwords, keys, the
// SMTP password) come from a Provider: the environment itself, or AWS
// Secrets Manager (HP_SECRETS_PROVIDER=aws), where the secret id is
// HP_SECRETS_PREFIX + the variable name (e.g. "healthprep/prod/HP_DATABASE_URL").
package config

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Secret is a configuration value that must never be printed or logged.
// Its String, GoString and LogValue all redact.
type Secret string

// Reveal returns the secret's value (for the one component that needs it).
func (s Secret) Reveal() string { return string(s) }

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// LogValue keeps the secret out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Role is what a process does.
type Role string

// Roles.
const (
	RoleAPI    Role = "api"    // serves the Connect API
	RoleWorker Role = "worker" // runs background jobs
)

// Mail transports.
const (
	MailSES  = "ses"
	MailSMTP = "smtp"
)

// Config is everything the cloud core needs to start.
type Config struct {
	Role       Role
	ListenAddr string // host:port
	// TLSCertFile and TLSKeyFile, when both set, serve HTTPS (HTTP/2 over
	// TLS); otherwise HTTP/2 cleartext (h2c) for local use behind a proxy.
	TLSCertFile, TLSKeyFile string
	// BaseURL is where people reach the web pages (links in emails).
	BaseURL string

	// DatabaseURL connects as the application role (not superuser, not
	// BYPASSRLS).
	DatabaseURL Secret
	// EmailHashKey keys the HMAC of emails in sign-in records (≥ 32 bytes).
	EmailHashKey []byte
	// WebCSRFKey keys the web pages' CSRF tokens (≥ 32 bytes, the same on
	// every replica).
	WebCSRFKey []byte
	// KeyringKey is the master key sealing secrets at rest (32 bytes);
	// KeyringPrevious still open what older keys sealed.
	KeyringKey      []byte
	KeyringPrevious [][]byte

	Mail Mail

	MaxRequestBytes   int
	TrustForwardedFor bool

	// Contact is the address shown to Epic reviewers and clinics on the
	// public documentation page.
	Contact string
}

// Mail configures outgoing email.
type Mail struct {
	Transport string // ses or smtp
	From      string
	// SES
	SESRegion, SESEndpoint string
	// SMTP
	SMTPAddr, SMTPUsername string
	SMTPPassword           Secret
	SMTPImplicitTLS        bool
}

// GoString keeps secrets out of %#v.
func (c Config) GoString() string { return "config.Config{…}" }

// LookupFunc reads one environment variable (os.LookupEnv in production).
type LookupFunc func(name string) (string, bool)

// Provider supplies secrets by variable name.
type Provider interface {
	// Secret returns the secret named name; ErrSecretMissing (wrapped) when
	// it does not exist.
	Secret(ctx context.Context, name string) (string, error)
}

// ErrSecretMissing is returned by a Provider for an unknown secret.
var ErrSecretMissing = errors.New("secret is not set")

// Env is the Provider that reads secrets from the environment.
type Env struct{ Lookup LookupFunc }

// Secret implements Provider.
func (e Env) Secret(_ context.Context, name string) (string, error) {
	v, ok := e.Lookup(name)
	if !ok || v == "" {
		return "", ErrSecretMissing
	}
	return v, nil
}

// loader accumulates problems so that one start-up reports all of them.
type loader struct {
	ctx     context.Context
	env     LookupFunc
	secrets Provider
	errs    []error
}

func (l *loader) fail(name, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

func (l *loader) str(name, def string) string {
	if v, ok := l.env(name); ok && v != "" {
		return v
	}
	return def
}

func (l *loader) required(name string) string {
	v := l.str(name, "")
	if v == "" {
		l.fail(name, "is missing")
	}
	return v
}

func (l *loader) boolean(name string, def bool) bool {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.fail(name, "is malformed: must be true or false")
	}
	return b
}

func (l *loader) integer(name string, def, lo, hi int) int {
	v := l.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(name, "is malformed: must be a whole number from %d to %d", lo, hi)
		return def
	}
	return n
}

// secret reads a secret; optional secrets may be absent.
func (l *loader) secret(name string, optional bool) string {
	v, err := l.secrets.Secret(l.ctx, name)
	switch {
	case errors.Is(err, ErrSecretMissing):
		if !optional {
			l.fail(name, "is missing")
		}
		return ""
	case err != nil:
		// The provider's error names the secret and the failure, not the value.
		l.fail(name, "could not be read from the secrets provider: %v", err)
		return ""
	}
	return v
}

// key reads a base64 secret of at least min and at most max bytes.
func (l *loader) key(name string, minLen, maxLen int) []byte {
	v := l.secret(name, false)
	if v == "" {
		return nil
	}
	return l.decodeKey(name, v, minLen, maxLen)
}

func (l *loader) decodeKey(name, v string, minLen, maxLen int) []byte {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		l.fail(name, "is malformed: must be standard base64")
		return nil
	}
	if len(b) < minLen || len(b) > maxLen {
		if minLen == maxLen {
			l.fail(name, "is malformed: must decode to exactly %d bytes", minLen)
		} else {
			l.fail(name, "is malformed: must decode to at least %d bytes", minLen)
		}
		return nil
	}
	return b
}

// Load reads and validates the configuration. The error lists every
// problem, each naming its variable; it never contains a value.
func Load(ctx context.Context, env LookupFunc, secrets Provider) (Config, error) {
	l := &loader{ctx: ctx, env: env, secrets: secrets}
	c := Config{
		Role:              Role(l.str("HP_ROLE", string(RoleAPI))),
		ListenAddr:        l.str("HP_LISTEN_ADDR", "127.0.0.1:8080"),
		TLSCertFile:       l.str("HP_TLS_CERT_FILE", ""),
		TLSKeyFile:        l.str("HP_TLS_KEY_FILE", ""),
		BaseURL:           l.required("HP_BASE_URL"),
		MaxRequestBytes:   l.integer("HP_MAX_REQUEST_BYTES", 1<<20, 1<<10, 64<<20),
		TrustForwardedFor: l.boolean("HP_TRUST_FORWARDED_FOR", false),
		Contact:           l.str("HP_CONTACT_EMAIL", "support@healthprep.example"),
	}
	if c.Role != RoleAPI && c.Role != RoleWorker {
		l.fail("HP_ROLE", "is malformed: must be api or worker")
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		l.fail("HP_LISTEN_ADDR", "is malformed: must be host:port")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		l.fail("HP_TLS_CERT_FILE", "and HP_TLS_KEY_FILE must be set together")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			l.fail("HP_BASE_URL", "is malformed: must be an absolute http(s) URL without a query")
		}
	}

	if dsn := l.secret("HP_DATABASE_URL", false); dsn != "" {
		if err := checkDSN(dsn); err != nil {
			l.fail("HP_DATABASE_URL", "is malformed: %v", err)
		}
		c.DatabaseURL = Secret(dsn)
	}
	c.EmailHashKey = l.key("HP_EMAIL_HASH_KEY", 32, 1024)
	c.WebCSRFKey = l.key("HP_WEB_CSRF_KEY", 32, 1024)
	c.KeyringKey = l.key("HP_KEYRING_KEY", 32, 32)
	if prev := l.secret("HP_KEYRING_PREVIOUS_KEYS", true); prev != "" {
		for _, k := range strings.Split(prev, ",") {
			if b := l.decodeKey("HP_KEYRING_PREVIOUS_KEYS", k, 32, 32); b != nil {
				c.KeyringPrevious = append(c.KeyringPrevious, b)
			}
		}
	}

	c.Mail = Mail{
		Transport: l.str("HP_MAIL_TRANSPORT", MailSMTP),
		From:      l.required("HP_MAIL_FROM"),
	}
	switch c.Mail.Transport {
	case MailSES:
		c.Mail.SESRegion = l.required("HP_SES_REGION")
		c.Mail.SESEndpoint = l.str("HP_SES_ENDPOINT", "")
	case MailSMTP:
		c.Mail.SMTPAddr = l.required("HP_SMTP_ADDR")
		c.Mail.SMTPUsername = l.str("HP_SMTP_USERNAME", "")
		c.Mail.SMTPPassword = Secret(l.secret("HP_SMTP_PASSWORD", true))
		c.Mail.SMTPImplicitTLS = l.boolean("HP_SMTP_IMPLICIT_TLS", false)
		if c.Mail.SMTPAddr != "" {
			if _, _, err := net.SplitHostPort(c.Mail.SMTPAddr); err != nil {
				l.fail("HP_SMTP_ADDR", "is malformed: must be host:port")
			}
		}
	default:
		l.fail("HP_MAIL_TRANSPORT", "is malformed: must be ses or smtp")
	}

	if len(l.errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(l.errs...))
	}
	return c, nil
}

// checkDSN checks a Postgres URL or key=value DSN without echoing it.
func checkDSN(dsn string) error {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil || u.Host == "" {
			return errors.New("must be a postgres:// URL with a host")
		}
		return nil
	}
	if !strings.Contains(dsn, "=") {
		return errors.New("must be a postgres:// URL or key=value pairs")
	}
	return nil
}

// MigrateDSN reads the owner-role DSN used only by `healthprep-cloud
// migrate` (HP_MIGRATE_DATABASE_URL), never by the serving process.
func MigrateDSN(ctx context.Context, secrets Provider) (Secret, error) {
	v, err := secrets.Secret(ctx, "HP_MIGRATE_DATABASE_URL")
	if errors.Is(err, ErrSecretMissing) {
		return "", errors.New("configuration: HP_MIGRATE_DATABASE_URL is missing")
	}
	if err != nil {
		return "", fmt.Errorf("configuration: HP_MIGRATE_DATABASE_URL could not be read from the secrets provider: %w", err)
	}
	if err := checkDSN(v); err != nil {
		return "", fmt.Errorf("configuration: HP_MIGRATE_DATABASE_URL is malformed: %w", err)
	}
	return Secret(v), nil
}

// SecretsProvider builds the provider HP_SECRETS_PROVIDER names: "env"
// (default) or "aws" (Secrets Manager; HP_SECRETS_PREFIX, and optionally
// HP_SECRETS_AWS_REGION and HP_SECRETS_AWS_ENDPOINT).
func SecretsProvider(ctx context.Context, env LookupFunc) (Provider, error) {
	get := func(n string) string { v, _ := env(n); return v }
	switch p := get("HP_SECRETS_PROVIDER"); p {
	case "", "env":
		return Env{Lookup: env}, nil
	case "aws":
		return NewAWS(ctx, AWSOptions{
			Prefix: get("HP_SECRETS_PREFIX"), Region: get("HP_SECRETS_AWS_REGION"), Endpoint: get("HP_SECRETS_AWS_ENDPOINT"),
		})
	default:
		return nil, errors.New("configuration: HP_SECRETS_PROVIDER is malformed: must be env or aws")
	}
}

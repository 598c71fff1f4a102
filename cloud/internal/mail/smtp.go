package mail

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// TLSMode says how the SMTP connection is protected.
type TLSMode int

const (
	// StartTLSWhenOffered upgrades with STARTTLS when the server offers it
	// and otherwise sends in clear; AUTH is then refused except on
	// loopback. The zero value.
	StartTLSWhenOffered TLSMode = iota
	// StartTLSRequired fails when the server does not offer STARTTLS.
	StartTLSRequired
	// ImplicitTLS speaks TLS from the first byte (SMTPS, usually port 465).
	ImplicitTLS
)

// SMTPConfig configures sending through an SMTP server.
type SMTPConfig struct {
	// Addr is host:port of the server.
	Addr string
	// From is the sender, e.g. "HealthPrep <no-reply@example.org>".
	From string
	// Username and Password enable AUTH PLAIN; empty means no AUTH.
	Username, Password string
	// TLS chooses how the connection is protected.
	TLS TLSMode
	// TLSConfig verifies the server's certificate; nil means the system
	// roots and ServerName = Addr's host.
	TLSConfig *tls.Config
	// HelloName is sent in EHLO; empty means "localhost".
	HelloName string
	// Timeout bounds one Send when ctx has no earlier deadline; 0 means 30 s.
	Timeout time.Duration
}

// SMTP sends Messages through an SMTP server, one connection per message.
type SMTP struct {
	cfg  SMTPConfig
	host string
	from string // header form
	addr string // envelope form
}

// NewSMTP checks cfg and builds an SMTP sender. It makes no network call.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("configuring SMTP mail: server address must be host:port")
	}
	from, err := parseAddress("sender", cfg.From)
	if err != nil {
		return nil, fmt.Errorf("configuring SMTP mail: %w", err)
	}
	if hasControl(cfg.HelloName) || hasControl(cfg.Username) {
		return nil, fmt.Errorf("configuring SMTP mail: %w", ErrHeaderInjection)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	return &SMTP{cfg: cfg, host: host, from: formatAddress(from), addr: from.Address}, nil
}

// Send validates m, composes a MIME message and delivers it.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("sending mail: %w", err)
	}
	to, _ := parseAddress("recipient", m.To)
	raw, err := s.compose(m, formatAddress(to))
	if err != nil {
		return fmt.Errorf("sending mail: composing: %w", err)
	}
	if err := s.deliver(ctx, to.Address, raw); err != nil {
		return fmt.Errorf("sending mail through SMTP server %s: %w", s.cfg.Addr, err)
	}
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.cfg.TLSConfig != nil {
		c := s.cfg.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.host
		}
		return c
	}
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
}

func (s *SMTP) deliver(ctx context.Context, rcpt string, raw []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	// The whole exchange obeys ctx: its deadline bounds every read and
	// write, and cancelling it closes the connection.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if s.cfg.TLS == ImplicitTLS {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", ctxErr(ctx, err))
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return fmt.Errorf("EHLO: %w", ctxErr(ctx, err))
	}
	if s.cfg.TLS != ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("STARTTLS: %w", ctxErr(ctx, err))
			}
		} else if s.cfg.TLS == StartTLSRequired {
			return errors.New("server does not offer STARTTLS and TLS is required")
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("server does not offer AUTH but credentials are configured")
		}
		// PlainAuth refuses to send the password unless the connection is
		// encrypted or goes to loopback.
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
			return fmt.Errorf("AUTH: %w", ctxErr(ctx, err))
		}
	}
	if err := c.Mail(s.addr); err != nil {
		return fmt.Errorf("MAIL FROM: %w", ctxErr(ctx, err))
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("RCPT TO: %w", ctxErr(ctx, err))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", ctxErr(ctx, err))
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("writing message: %w", ctxErr(ctx, err))
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("ending message: %w", ctxErr(ctx, err))
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("QUIT: %w", ctxErr(ctx, err))
	}
	return nil
}

// ctxErr prefers the context's error when it ended the exchange.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// compose builds the RFC 5322 message: headers safe by construction (values
// validated, the subject RFC 2047-encoded) and bodies in quoted-printable,
// multipart/alternative when both Text and HTML are given.
func (s *SMTP) compose(m Message, to string) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", s.from)
	h("To", to)
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", time.Now().UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+randomID()+"@"+domainOf(s.addr)+">")
	h("MIME-Version", "1.0")
	h("Auto-Submitted", "auto-generated")

	switch {
	case m.Text != "" && m.HTML != "":
		mw := multipart.NewWriter(&b)
		h("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
		b.WriteString("\r\n")
		for _, part := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
			pw, err := mw.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {part.typ + "; charset=utf-8"},
				"Content-Transfer-Encoding": {"quoted-printable"},
			})
			if err != nil {
				return nil, err
			}
			if err := writeQP(pw, part.body); err != nil {
				return nil, err
			}
		}
		if err := mw.Close(); err != nil {
			return nil, err
		}
	default:
		typ, body := "text/plain", m.Text
		if m.Text == "" {
			typ, body = "text/html", m.HTML
		}
		h("Content-Type", typ+"; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, body); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func writeQP(w io.Writer, body string) error {
	qp := quotedprintable.NewWriter(w)
	// Normalise line ends so quoted-printable emits CRLF line breaks.
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return err
	}
	return qp.Close()
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}

func randomID() string {
	b := make([]byte, 16)
	if _, err := crand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

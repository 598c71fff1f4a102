package mail_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/mail"
	"healthprep.dev/cloud/internal/testpeer"
)

// sender is what consumers of package mail declare.
type sender interface {
	Send(ctx context.Context, m mail.Message) error
}

var (
	_ sender = (*mail.SES)(nil)
	_ sender = (*mail.SMTP)(nil)
)

// Shared capture servers for the package: each test uses its own
// recipients, so tests run in parallel without seeing each other's mail.
var (
	maildev *testpeer.MailDev
	ses     *testpeer.SES
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hp-mail-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	maildev, err = testpeer.StartMailDev(ctx, testpeer.MailDevConfig{Dir: filepath.Join(dir, "maildev")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer maildev.Stop()
	ses, err = testpeer.StartSES(ctx, testpeer.SESConfig{Dir: filepath.Join(dir, "ses")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ses.Stop()
	return m.Run()
}

const from = "HealthPrep <no-reply@healthprep.test>"

var seq atomic.Int64

// recipient returns an address no other test uses.
func recipient(t *testing.T) string {
	return fmt.Sprintf("r%d-%d@clinic.test", time.Now().UnixNano(), seq.Add(1))
}

// captured is one message as a capture server saw it.
type captured struct {
	To      []string
	Subject string
	Text    string
	HTML    string
}

// senderKind is one implementation under test with a way to read back what
// it delivered to an address.
type senderKind struct {
	name   string
	sender func(t *testing.T) sender
	// inbox returns the messages captured for addr.
	inbox func(ctx context.Context, addr string) ([]captured, error)
}

func kinds() []senderKind {
	return []senderKind{
		{
			name: "SES",
			sender: func(t *testing.T) sender {
				s, err := mail.NewSES(context.Background(), mail.SESConfig{
					From: from, Region: "us-east-1", Endpoint: ses.URL,
					AccessKeyID: "test-key", SecretAccessKey: "test-secret",
				})
				if err != nil {
					t.Fatalf("NewSES: %v", err)
				}
				return s
			},
			inbox: func(ctx context.Context, addr string) ([]captured, error) {
				all, err := ses.Messages(ctx)
				var out []captured
				for _, m := range all {
					if len(m.Destination.To) > 0 && strings.Contains(strings.Join(m.Destination.To, ","), addr) {
						out = append(out, captured{To: m.Destination.To, Subject: m.Subject, Text: m.Body.Text, HTML: m.Body.HTML})
					}
				}
				return out, err
			},
		},
		{
			name: "SMTP",
			sender: func(t *testing.T) sender {
				s, err := mail.NewSMTP(mail.SMTPConfig{Addr: maildev.SMTPAddr, From: from})
				if err != nil {
					t.Fatalf("NewSMTP: %v", err)
				}
				return s
			},
			inbox: func(ctx context.Context, addr string) ([]captured, error) {
				return maildevInbox(ctx, maildev, addr)
			},
		},
	}
}

func maildevInbox(ctx context.Context, md *testpeer.MailDev, addr string) ([]captured, error) {
	all, err := md.Messages(ctx)
	var out []captured
	for _, m := range all {
		var to []string
		for _, a := range m.Envelope.To {
			to = append(to, a.Address)
		}
		if strings.Contains(strings.Join(to, ","), addr) {
			out = append(out, captured{To: to, Subject: m.Subject, Text: m.Text, HTML: m.HTML})
		}
	}
	return out, err
}

// waitInbox polls until addr has n messages.
func waitInbox(t *testing.T, k senderKind, addr string, n int) []captured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		got, err := k.inbox(ctx, addr)
		if err == nil && len(got) >= n {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("inbox of %s: got %d messages (err %v), want %d", addr, len(got), err, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestSendDeliversToCapture(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  mail.Message // To is filled in
	}{
		{"text only", mail.Message{Subject: "Your invite", Text: "Open this link: https://app.test/i/abc\nIt expires in 7 days."}},
		{"html only", mail.Message{Subject: "Reset", HTML: "<p>Reset your <b>password</b></p>"}},
		{"text and html", mail.Message{Subject: "Both", Text: "plain part", HTML: "<p>html part</p>"}},
		{"unicode subject and body", mail.Message{Subject: "Einladung für Zoë – bitte bestätigen", Text: "Grüße aus der Praxis ✓"}},
		{"long lines", mail.Message{Subject: "Long", Text: strings.Repeat("0123456789", 30)}},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				msg := tt.msg
				to := recipient(t)
				msg.To = to
				if err := k.sender(t).Send(context.Background(), msg); err != nil {
					t.Fatalf("Send: %v", err)
				}
				got := waitInbox(t, k, to, 1)
				if len(got) != 1 {
					t.Fatalf("got %d messages for %s, want 1", len(got), to)
				}
				g := got[0]
				if len(g.To) != 1 || g.To[0] != to {
					t.Errorf("to = %q, want [%q]", g.To, to)
				}
				if g.Subject != msg.Subject {
					t.Errorf("subject = %q, want %q", g.Subject, msg.Subject)
				}
				if msg.Text != "" && strings.TrimRight(g.Text, "\r\n") != msg.Text {
					t.Errorf("text = %q, want %q", g.Text, msg.Text)
				}
				if msg.HTML != "" && !strings.Contains(g.HTML, msg.HTML) {
					t.Errorf("html = %q, want it to contain %q", g.HTML, msg.HTML)
				}
			})
		}
	}
}

func TestSendRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		msg     func(to string) mail.Message
		want    error
		wantMsg string
	}{
		{"invalid address", func(string) mail.Message {
			return mail.Message{To: "not-an-address", Subject: "s", Text: "b"}
		}, mail.ErrInvalidAddress, "sending mail: recipient address: invalid email address"},
		{"two addresses", func(to string) mail.Message {
			return mail.Message{To: to + ", other@clinic.test", Subject: "s", Text: "b"}
		}, mail.ErrInvalidAddress, "sending mail: recipient address: invalid email address"},
		{"empty address", func(string) mail.Message {
			return mail.Message{Subject: "s", Text: "b"}
		}, mail.ErrInvalidAddress, "sending mail: recipient address: invalid email address"},
		{"CRLF in address", func(to string) mail.Message {
			return mail.Message{To: to + "\r\nBcc: attacker@evil.test", Subject: "s", Text: "b"}
		}, mail.ErrHeaderInjection, "sending mail: recipient address: line break or control character in an email header"},
		{"LF in subject", func(to string) mail.Message {
			return mail.Message{To: to, Subject: "hello\nBcc: attacker@evil.test", Text: "b"}
		}, mail.ErrHeaderInjection, "sending mail: subject: line break or control character in an email header"},
		{"CR in subject", func(to string) mail.Message {
			return mail.Message{To: to, Subject: "hello\rX-Evil: 1", Text: "b"}
		}, mail.ErrHeaderInjection, "sending mail: subject: line break or control character in an email header"},
		{"empty subject", func(to string) mail.Message {
			return mail.Message{To: to, Subject: " ", Text: "b"}
		}, mail.ErrEmptyMessage, "sending mail: email needs a subject and a body"},
		{"no body", func(to string) mail.Message {
			return mail.Message{To: to, Subject: "s"}
		}, mail.ErrEmptyMessage, "sending mail: email needs a subject and a body"},
		{"subject too long", func(to string) mail.Message {
			return mail.Message{To: to, Subject: strings.Repeat("x", mail.MaxSubjectLen+1), Text: "b"}
		}, mail.ErrTooLong, "sending mail: email subject too long (201 characters, at most 200)"},
	}
	for _, k := range kinds() {
		for _, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				to := recipient(t)
				s := k.sender(t)
				err := s.Send(context.Background(), tt.msg(to))
				if !errors.Is(err, tt.want) {
					t.Fatalf("Send error = %v, want one wrapping %v", err, tt.want)
				}
				if err.Error() != tt.wantMsg {
					t.Errorf("error text = %q, want %q", err.Error(), tt.wantMsg)
				}
				// Nothing was sent: a fence message sent afterwards is the
				// only one the capture server has for this recipient.
				fence := mail.Message{To: to, Subject: "fence", Text: "fence"}
				if err := s.Send(context.Background(), fence); err != nil {
					t.Fatalf("sending fence: %v", err)
				}
				got := waitInbox(t, k, to, 1)
				if len(got) != 1 || got[0].Subject != "fence" {
					t.Errorf("captured for %s: %+v, want only the fence", to, got)
				}
			})
		}
	}
}

func TestSendWhenServerDown(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	msg := mail.Message{To: "nurse@clinic.test", Subject: "s", Text: "secret-body-7f3a"}

	sesSender, err := mail.NewSES(context.Background(), mail.SESConfig{
		From: from, Region: "us-east-1", Endpoint: "http://" + dead,
		AccessKeyID: "k", SecretAccessKey: "s", MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	smtpSender, err := mail.NewSMTP(mail.SMTPConfig{Addr: dead, From: from})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		s      sender
		prefix string
	}{
		{"SES", sesSender, "sending mail through SES: "},
		{"SMTP", smtpSender, "sending mail through SMTP server " + dead + ": connecting: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Send(context.Background(), msg)
			if err == nil {
				t.Fatal("Send to a stopped server succeeded, want an error")
			}
			got := err.Error()
			if !strings.HasPrefix(got, tt.prefix) || !strings.Contains(got, "connection refused") {
				t.Errorf("error = %q, want prefix %q and 'connection refused'", got, tt.prefix)
			}
			if strings.Contains(got, "secret-body-7f3a") {
				t.Errorf("error %q carries the message body", got)
			}
		})
	}
}

// tlsFiles writes a self-signed certificate for 127.0.0.1 and returns the
// paths of its PEM files and a pool trusting it.
func tlsFiles(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mail.test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

func TestSMTPAuthAndTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := tlsFiles(t)
	plainAuth := testpeer.NewMailDev(t, testpeer.MailDevConfig{User: "mailer", Password: "right-password"})
	smtps := testpeer.NewMailDev(t, testpeer.MailDevConfig{
		User: "mailer", Password: "right-password", ImplicitTLS: true, CertFile: certFile, KeyFile: keyFile,
	})

	tests := []struct {
		name    string
		md      *testpeer.MailDev
		cfg     mail.SMTPConfig // Addr and From filled in
		wantErr string          // substring; empty means delivered
	}{
		{"auth over loopback", plainAuth, mail.SMTPConfig{Username: "mailer", Password: "right-password"}, ""},
		{"wrong password", plainAuth, mail.SMTPConfig{Username: "mailer", Password: "wrong"}, "AUTH: 535"},
		{"no credentials where required", plainAuth, mail.SMTPConfig{}, "MAIL FROM: 530"},
		{"STARTTLS required but not offered", plainAuth, mail.SMTPConfig{TLS: mail.StartTLSRequired},
			"server does not offer STARTTLS and TLS is required"},
		{"implicit TLS with auth", smtps, mail.SMTPConfig{TLS: mail.ImplicitTLS, Username: "mailer", Password: "right-password",
			TLSConfig: &tls.Config{RootCAs: pool}}, ""},
		{"implicit TLS, untrusted certificate", smtps, mail.SMTPConfig{TLS: mail.ImplicitTLS, Username: "mailer", Password: "right-password"},
			"TLS handshake: tls: failed to verify certificate"},
		{"credentials configured but server has no AUTH", maildev, mail.SMTPConfig{Username: "mailer", Password: "x"},
			"server does not offer AUTH but credentials are configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Addr, cfg.From = tt.md.SMTPAddr, from
			s, err := mail.NewSMTP(cfg)
			if err != nil {
				t.Fatalf("NewSMTP: %v", err)
			}
			to := recipient(t)
			err = s.Send(context.Background(), mail.Message{To: to, Subject: tt.name, Text: "body"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Send error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "right-password") || strings.Contains(err.Error(), "wrong") && tt.name != "wrong password" {
					t.Errorf("error %q carries a password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			got, err := tt.md.WaitMessages(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, m := range got {
				found = found || m.Subject == tt.name
			}
			if !found {
				t.Errorf("no captured message with subject %q", tt.name)
			}
		})
	}
}

func TestNewSMTPRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  mail.SMTPConfig
		want string
	}{
		{"no port", mail.SMTPConfig{Addr: "mail.test", From: from}, "configuring SMTP mail: server address must be host:port"},
		{"bad sender", mail.SMTPConfig{Addr: "mail.test:25", From: "nobody"}, "configuring SMTP mail: sender address: invalid email address"},
		{"sender injection", mail.SMTPConfig{Addr: "mail.test:25", From: "a@b.test\r\nBcc: c@d.test"},
			"configuring SMTP mail: sender address: line break or control character in an email header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := mail.NewSMTP(tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewSMTP error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNewSESRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  mail.SESConfig
		want string
	}{
		{"bad sender", mail.SESConfig{From: "x", Region: "us-east-1"}, "configuring SES mail: sender address: invalid email address"},
		{"no region", mail.SESConfig{From: from}, "configuring SES mail: region is empty"},
		{"half credentials", mail.SESConfig{From: from, Region: "us-east-1", AccessKeyID: "k"},
			"configuring SES mail: give both the access key ID and the secret access key, or neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := mail.NewSES(context.Background(), tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewSES error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMessageNeverPrintsBody(t *testing.T) {
	t.Parallel()
	m := mail.Message{To: "jane.doe@clinic.test", Subject: "Reset for Jane", Text: "token-TEXT-123", HTML: "token-HTML-456"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("sending", "msg", m)
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v", m),
		"%+v":  fmt.Sprintf("%+v", m),
		"%#v":  fmt.Sprintf("%#v", m),
		"%s":   fmt.Sprintf("%s", m), //lint:ignore S1025 the %s verb itself is under test
		"slog": logged.String(),
	}
	for verb, out := range outputs {
		for _, secret := range []string{"token-TEXT-123", "token-HTML-456", "Reset for Jane", "jane.doe"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output %q contains %q", verb, out, secret)
			}
		}
		if !strings.Contains(out, "clinic.test") {
			t.Errorf("%s output %q lacks the recipient's domain", verb, out)
		}
	}
}

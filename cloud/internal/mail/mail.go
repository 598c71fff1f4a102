// Package mail sends the product's emails (invites, password resets,
// security notices) through Amazon SES's v2 API or an SMTP server. Both
// implementations take the same Message; consumers declare the small Sender
// interface they need:
//
//	type Sender interface{ Send(ctx context.Context, m mail.Message) error }
//
// A Message is checked before anything is sent: one recipient address, no
// CR or LF in the address or subject (header injection), a subject and a
// body. A Message never prints or logs its body, and errors never carry it.
package mail

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Sentinel errors for a message or configuration that cannot be sent.
// Errors returned by Validate and Send wrap them.
var (
	// ErrInvalidAddress: the recipient or sender is not one valid address.
	ErrInvalidAddress = errors.New("invalid email address")
	// ErrHeaderInjection: an address or the subject contains a line break
	// or another control character.
	ErrHeaderInjection = errors.New("line break or control character in an email header")
	// ErrEmptyMessage: no subject, or neither a text nor an HTML body.
	ErrEmptyMessage = errors.New("email needs a subject and a body")
	// ErrTooLong: the subject is longer than MaxSubjectLen characters.
	ErrTooLong = errors.New("email subject too long")
)

// MaxSubjectLen is the longest subject, in characters, a Message may have.
const MaxSubjectLen = 200

// Message is one email to one person. Text and HTML are alternative bodies;
// at least one is needed, and a plain-text one should always be given.
type Message struct {
	To      string // one address, "person@example.org" or "Name <person@example.org>"
	Subject string
	Text    string
	HTML    string
}

// Validate reports whether m can be sent, with an error wrapping one of the
// sentinel errors.
func (m Message) Validate() error {
	if _, err := parseAddress("recipient", m.To); err != nil {
		return err
	}
	if hasControl(m.Subject) {
		return fmt.Errorf("subject: %w", ErrHeaderInjection)
	}
	if strings.TrimSpace(m.Subject) == "" || (m.Text == "" && m.HTML == "") {
		return ErrEmptyMessage
	}
	if utf8.RuneCountInString(m.Subject) > MaxSubjectLen {
		return fmt.Errorf("%w (%d characters, at most %d)", ErrTooLong, utf8.RuneCountInString(m.Subject), MaxSubjectLen)
	}
	if !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
		return fmt.Errorf("subject or body is not valid UTF-8: %w", ErrEmptyMessage)
	}
	return nil
}

// String describes m without its body or full recipient, so that printing
// a Message by mistake leaks nothing.
func (m Message) String() string {
	return fmt.Sprintf("mail.Message{To: %s, Subject: %d chars, Text: %d bytes, HTML: %d bytes}",
		redactAddress(m.To), utf8.RuneCountInString(m.Subject), len(m.Text), len(m.HTML))
}

// GoString is String, so %#v leaks nothing either.
func (m Message) GoString() string { return m.String() }

// LogValue makes slog record only the recipient's domain and sizes.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("to", redactAddress(m.To)),
		slog.Int("subject_chars", utf8.RuneCountInString(m.Subject)),
		slog.Int("text_bytes", len(m.Text)),
		slog.Int("html_bytes", len(m.HTML)),
	)
}

// redactAddress keeps only the domain of an address: "…@example.org".
func redactAddress(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 && !hasControl(a) {
		return "…@" + strings.TrimSuffix(a[i+1:], ">")
	}
	return "…"
}

// parseAddress checks that s is exactly one address with no control
// characters and returns it parsed.
func parseAddress(role, s string) (*mail.Address, error) {
	if hasControl(s) {
		return nil, fmt.Errorf("%s address: %w", role, ErrHeaderInjection)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || !strings.Contains(a.Address, "@") || strings.ContainsAny(a.Address, " \t") {
		return nil, fmt.Errorf("%s address: %w", role, ErrInvalidAddress)
	}
	return a, nil
}

// formatAddress writes a as "Name <addr>", or just addr when it has no
// name; display names are RFC 2047-encoded when needed.
func formatAddress(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

// hasControl reports whether s contains CR, LF, NUL or another ASCII control
// character (tab allowed).
func hasControl(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return true
		}
	}
	return false
}

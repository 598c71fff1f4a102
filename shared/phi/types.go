package phi

import (
	"unicode/utf8"

	"healthprep.dev/shared/chart"
)

// Type is the category of a detected identifier. Its string is the name
// used in placeholders ("[NAME]") and in JSON.
type Type string

// The identifier categories.
const (
	Name       Type = "NAME"
	Date       Type = "DATE"
	Address    Type = "ADDRESS"
	ZIP        Type = "ZIP"
	Phone      Type = "PHONE"
	Fax        Type = "FAX"
	Email      Type = "EMAIL"
	SSN        Type = "SSN"
	MRN        Type = "MRN"
	HealthPlan Type = "HEALTH_PLAN"
	Account    Type = "ACCOUNT"
	License    Type = "LICENSE"
	Vehicle    Type = "VEHICLE"
	Device     Type = "DEVICE"
	URL        Type = "URL"
	IP         Type = "IP"
	Biometric  Type = "BIOMETRIC"
	ID         Type = "ID"
	Age        Type = "AGE"
)

// Types lists every category in a stable order.
func Types() []Type {
	return []Type{Name, Date, Address, ZIP, Phone, Fax, Email, SSN, MRN, HealthPlan,
		Account, License, Vehicle, Device, URL, IP, Biometric, ID, Age}
}

// Placeholder returns the text that replaces an identifier of type t.
func (t Type) Placeholder() string { return "[" + string(t) + "]" }

// Span is one detected identifier: code points [Start, End) of the input.
type Span struct {
	Start int  `json:"start"`
	End   int  `json:"end"`
	Type  Type `json:"type"`
}

// Redacted is text from which PHI has been removed. Only this package can
// make a non-empty one (through [Detector.Redact]); the zero value is the
// empty text. Code that sends document text off the workstation takes a
// Redacted, so unredacted text cannot be passed by mistake.
type Redacted struct {
	text string
}

// String returns the redacted text.
func (r Redacted) String() string { return r.text }

// Len returns the length of the redacted text in bytes.
func (r Redacted) Len() int { return len(r.text) }

// Truncate returns the first bytes of r, at most maxBytes of them and cut
// at a character boundary, and whether anything was cut. A prefix of
// redacted text is still redacted (a placeholder cut short is just shorter).
func (r Redacted) Truncate(maxBytes int) (Redacted, bool) {
	if maxBytes < 0 {
		maxBytes = 0
	}
	if len(r.text) <= maxBytes {
		return r, false
	}
	n := maxBytes
	for n > 0 && !utf8.RuneStart(r.text[n]) {
		n--
	}
	return Redacted{text: r.text[:n]}, true
}

// MarshalText implements encoding.TextMarshaler. There is deliberately no
// UnmarshalText: text read back from anywhere is not known to be redacted.
func (r Redacted) MarshalText() ([]byte, error) { return []byte(r.text), nil }

// ServiceDate is a date of service found before redaction, with the label
// that introduced it ("date of service", "collected", "exam date", …),
// lowercased.
type ServiceDate struct {
	Label string     `json:"label"`
	Date  chart.Date `json:"date"`
}

// Result is the outcome of redacting one text.
type Result struct {
	Redacted Redacted
	// Spans are the redacted identifiers, sorted and non-overlapping, in
	// code points of the input.
	Spans []Span
	// ServiceDates are the dates of service found in the input, in the
	// order they appear.
	ServiceDates []ServiceDate
}

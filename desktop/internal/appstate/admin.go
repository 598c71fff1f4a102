package appstate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Roles, as the cloud names them.
const (
	RoleRootAdmin = "root_admin"
	RoleAdmin     = "admin"
	RoleNurse     = "nurse"
	RoleMA        = "ma"
)

// InviteRoles are the roles an admin can give, in the form's order.
func InviteRoles() []string { return []string{RoleNurse, RoleMA, RoleAdmin} }

// RoleLabel is how screens name a role.
func RoleLabel(r string) string {
	switch r {
	case RoleRootAdmin:
		return "Platform administrator"
	case RoleAdmin:
		return "Administrator"
	case RoleNurse:
		return "Nurse"
	case RoleMA:
		return "Medical assistant"
	}
	return r
}

// RoleFromLabel is the role a label names ("" when none).
func RoleFromLabel(label string) string {
	for _, r := range []string{RoleRootAdmin, RoleAdmin, RoleNurse, RoleMA} {
		if RoleLabel(r) == label {
			return r
		}
	}
	return ""
}

// IsAdmin reports whether u may use the admin screens.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin || u.Role == RoleRootAdmin }

// Member is a user of the organisation, as the users screen lists them.
type Member struct {
	ID      string
	Email   string
	Name    string
	Role    string
	Active  bool
	TOTP    bool // a second factor is enrolled
	Created time.Time
}

// Invite is an open (or past) invitation to join the organisation.
type Invite struct {
	ID      string
	Email   string
	Role    string
	Status  string // pending, accepted, cancelled, expired
	Created time.Time
	Expires time.Time
	Sent    int
}

// Device is an enrolled workstation.
type Device struct {
	ID         string
	Name       string
	OS         string
	Version    string
	EnrolledBy string
	Enrolled   time.Time
	LastSync   time.Time // zero until the first sync
	Revoked    time.Time // zero while active
}

// UserAdmin manages the organisation's users and invites (admins only;
// the cloud enforces it).
type UserAdmin interface {
	Members(ctx context.Context) ([]Member, error)
	Invites(ctx context.Context) ([]Invite, error)
	InviteUser(ctx context.Context, req InviteRequest) (Invite, error)
	ResendInvite(ctx context.Context, id string) (Invite, error)
	CancelInvite(ctx context.Context, id string) (Invite, error)
	ChangeRole(ctx context.Context, userID, role string) (Member, error)
	Deactivate(ctx context.Context, userID string) (Member, error)
}

// DeviceAdmin lists and revokes the organisation's workstations.
type DeviceAdmin interface {
	Devices(ctx context.Context) ([]Device, error)
	// RevokeDevice revokes for good; reason (no PHI) goes to the audit log.
	RevokeDevice(ctx context.Context, id, reason string) (Device, error)
}

// Errors the admin sources return (wrapped or not); AdminMessage says what
// they mean to a person.
var (
	// ErrPermissionDenied: the signed-in role may not do this.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrSignedOut: the session expired or was ended; sign in again.
	ErrSignedOut = errors.New("session ended")
	// ErrOfflineOnly: signed in offline, so there is no cloud session for
	// the admin screens.
	ErrOfflineOnly = errors.New("signed in offline")
	// ErrNotAvailable: the cloud offers no API for this yet.
	ErrNotAvailable = errors.New("not available")
)

// RefusedError is the cloud refusing a request for a reason it explains
// to people (an invalid or conflicting request). Its message never holds
// PHI: the cloud's API layer guarantees it.
type RefusedError struct{ Message string }

func (e *RefusedError) Error() string { return e.Message }

// AdminMessage is what an admin screen says after err.
func AdminMessage(err error) string {
	var re *RefusedError
	var fe *FormError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &fe):
		return "Check the highlighted fields."
	case errors.As(err, &re):
		return sentence(re.Message)
	case errors.Is(err, ErrPermissionDenied):
		return "Your role does not allow this. Ask an administrator of your organisation."
	case errors.Is(err, ErrSignedOut):
		return "Your session has ended. Sign out and sign in again."
	case errors.Is(err, ErrOfflineOnly):
		return "You signed in offline: administration needs the cloud. Sign out and sign in again when the connection is back."
	case errors.Is(err, ErrNotAvailable):
		return "The cloud does not offer this yet."
	case errors.Is(err, ErrUnreachable):
		return "HealthPrep cannot reach the cloud. Check the network and try again."
	case errors.Is(err, context.DeadlineExceeded):
		return "The cloud took too long to answer. Try again."
	}
	return "That did not work. Try again, or contact support."
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// FormError says what is wrong with a form, field by field, in sentences
// for the person who filled it in. ErrInvalidForm matches every one.
type FormError struct {
	Fields map[string]string // field name -> message
}

// ErrInvalidForm matches every *FormError with errors.Is.
var ErrInvalidForm = errors.New("invalid form")

func (e *FormError) Error() string {
	var parts []string
	for _, k := range sortedKeys(e.Fields) {
		parts = append(parts, e.Fields[k])
	}
	return strings.Join(parts, " ")
}

// Is makes errors.Is(err, ErrInvalidForm) true.
func (e *FormError) Is(target error) bool { return target == ErrInvalidForm }

// Field is the message for one field ("" when it is fine).
func (e *FormError) Field(name string) string {
	if e == nil {
		return ""
	}
	return e.Fields[name]
}

// FieldMessage is the message err has for field ("" when none).
func FieldMessage(err error, field string) string {
	var fe *FormError
	if errors.As(err, &fe) {
		return fe.Field(field)
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// collect builds a *FormError, or nil when no field has a message.
type collect map[string]string

func (c collect) add(field, msg string) {
	if _, ok := c[field]; !ok && msg != "" {
		c[field] = msg
	}
}

func (c collect) err() error {
	if len(c) == 0 {
		return nil
	}
	return &FormError{Fields: c}
}

// InviteRequest is an invitation the invite form collected.
type InviteRequest struct {
	Email string
	Role  string
}

// Validate checks the invite form: a single plain email address, and a
// role an admin can give. It returns the request with the email trimmed
// and lower-cased.
func (r InviteRequest) Validate() (InviteRequest, error) {
	c := collect{}
	email := strings.ToLower(strings.TrimSpace(r.Email))
	switch a, err := mail.ParseAddress(email); {
	case email == "":
		c.add("email", "Enter the person's work email address.")
	case err != nil || a.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], "."):
		c.add("email", "Enter one email address, like name@clinic.org.")
	}
	if !slices.Contains(InviteRoles(), r.Role) {
		c.add("role", "Choose the person's role.")
	}
	return InviteRequest{Email: email, Role: r.Role}, c.err()
}

// MaxRevokeReason is the longest revocation reason the cloud accepts.
const MaxRevokeReason = 300

// ValidateRevokeReason checks the reason given for revoking a workstation.
func ValidateRevokeReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	c := collect{}
	switch {
	case reason == "":
		c.add("reason", "Say why (for example: stolen, replaced, retired). Do not name patients.")
	case len([]rune(reason)) > MaxRevokeReason:
		c.add("reason", fmt.Sprintf("Keep the reason under %d characters.", MaxRevokeReason))
	}
	return reason, c.err()
}

// InviteStatusText says where an invite is, for the list.
func InviteStatusText(in Invite, now time.Time) string {
	switch in.Status {
	case "pending":
		if !in.Expires.IsZero() && now.After(in.Expires) {
			return "Expired " + in.Expires.Format("2006-01-02")
		}
		s := "Pending, sent " + plural(in.Sent, "time")
		if !in.Expires.IsZero() {
			s += ", link valid until " + in.Expires.Format("2006-01-02")
		}
		return s
	case "accepted":
		return "Accepted"
	case "cancelled":
		return "Cancelled"
	case "expired":
		return "Expired"
	}
	return in.Status
}

// DeviceStatusText says whether a workstation is in use, for the list.
func DeviceStatusText(d Device, now time.Time) string {
	if !d.Revoked.IsZero() {
		return "Revoked " + d.Revoked.Format("2006-01-02")
	}
	return "Last sync " + Ago(d.LastSync, now)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// AuditFilter selects audit entries; empty fields match everything.
type AuditFilter struct {
	// Action is an exact action ("auth.signin") or a prefix ending in a
	// dot ("auth.").
	Action  string
	ActorID string
	// Since (inclusive) and Until (exclusive); zero: unbounded.
	Since, Until time.Time
	Outcome      string // "", success, failure, alert
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Seq        int64
	At         time.Time
	ActorID    string
	ActorRole  string
	Action     string
	Outcome    string
	Target     string
	PatientRef string // opaque, never a name
	DeviceID   string
}

// AuditLog reads the organisation's audit log.
type AuditLog interface {
	// QueryAudit returns a page of entries matching f, newest first, and
	// the token of the next page ("" on the last).
	QueryAudit(ctx context.Context, f AuditFilter, pageToken string) ([]AuditEntry, string, error)
	// ExportAuditCSV writes every entry matching f as CSV to w.
	ExportAuditCSV(ctx context.Context, f AuditFilter, w io.Writer) error
}

// AuditOutcomes are the outcome filter's choices ("" first: any).
func AuditOutcomes() []string { return []string{"", "success", "failure", "alert"} }

// AuditForm is the audit viewer's filter as typed.
type AuditForm struct {
	Action, ActorID string
	// Since and Until as YYYY-MM-DD (Until inclusive), in loc.
	Since, Until string
	Outcome      string
}

// Filter validates the form and returns the filter: dates as YYYY-MM-DD,
// the first not after the last; an action of letters, digits, dots and
// underscores.
func (f AuditForm) Filter(loc *time.Location) (AuditFilter, error) {
	if loc == nil {
		loc = time.UTC
	}
	c := collect{}
	out := AuditFilter{Action: strings.TrimSpace(f.Action), ActorID: strings.TrimSpace(f.ActorID), Outcome: f.Outcome}
	for _, r := range out.Action {
		if !(r == '.' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			c.add("action", `Type an action like "auth.signin", or a prefix ending in a dot like "auth.".`)
			break
		}
	}
	day := func(field, s string) time.Time {
		s = strings.TrimSpace(s)
		if s == "" {
			return time.Time{}
		}
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			c.add(field, "Enter the date as YYYY-MM-DD.")
		}
		return t
	}
	out.Since = day("since", f.Since)
	if u := day("until", f.Until); !u.IsZero() {
		out.Until = u.AddDate(0, 0, 1)
	}
	if !out.Since.IsZero() && !out.Until.IsZero() && !out.Since.Before(out.Until) {
		c.add("until", "The last day cannot be before the first.")
	}
	if !slices.Contains(AuditOutcomes(), f.Outcome) {
		c.add("outcome", "Choose an outcome.")
	}
	return out, c.err()
}

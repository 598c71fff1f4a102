// Package org manages organisations, HealthPrep's tenants: creating them,
// reading them, changing their settings and moving them through their
// lifecycle. Every change is recorded in the organisation's audit chain in
// the same transaction. Creating and listing span organisations and run with
// platform scope (only after RBAC has admitted a root admin); everything else
// runs scoped to the one organisation it touches.
package org

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/tenancy"
)

// Sentinel errors. The API layer maps them to wire codes.
var (
	// ErrNotFound: no such organisation (or not visible in this scope).
	ErrNotFound = errors.New("organisation not found")
	// ErrInvalid: the input breaks a rule; the error is a *ValidationError
	// that says which field and why.
	ErrInvalid = errors.New("invalid input")
	// ErrSlugTaken: another organisation already uses the slug.
	ErrSlugTaken = errors.New("slug already in use")
	// ErrTransition: the status change is not allowed from the current status.
	ErrTransition = errors.New("status change not allowed")
)

// ValidationError says which field is wrong and why, in words a person
// understands. It never repeats secrets; it may repeat the offending value
// only where that value is not sensitive (a slug, a time zone name).
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Problem }

// Is makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Status is where an organisation is in its lifecycle.
type Status string

// Statuses, as stored.
const (
	StatusIncomplete Status = "incomplete"
	StatusTrial      Status = "trial"
	StatusLive       Status = "live"
	StatusPastDue    Status = "past_due"
	StatusSuspended  Status = "suspended"
)

// transitions lists, for each status, the statuses it may move to.
var transitions = map[Status][]Status{
	StatusIncomplete: {StatusTrial, StatusLive, StatusSuspended},
	StatusTrial:      {StatusLive, StatusPastDue, StatusSuspended},
	StatusLive:       {StatusPastDue, StatusSuspended},
	StatusPastDue:    {StatusLive, StatusSuspended},
	StatusSuspended:  {StatusTrial, StatusLive},
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { _, ok := transitions[s]; return ok }

// CanMoveTo reports whether an organisation in status s may move to next.
func (s Status) CanMoveTo(next Status) bool {
	for _, n := range transitions[s] {
		if n == next {
			return true
		}
	}
	return false
}

// Lookback is how far back each prep-sheet section looks, in months.
type Lookback struct {
	Labs, Imaging, Consults, Hospital, Documents int
}

// Settings are chosen by an organisation's admins.
type Settings struct {
	Require2FAAll      bool
	SessionIdleMinutes int
	DesktopIdleMinutes int
	Timezone           string
	Lookback           Lookback
}

// Org is an organisation as stored.
type Org struct {
	ID          tenancy.OrgID
	Name        string
	Slug        string
	Status      Status
	TrialEndsAt time.Time // zero when none
	MaxUsers    int
	ParentID    tenancy.OrgID // zero when top-level
	IsPlatform  bool
	Settings    Settings
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// NewOrg is what Create needs.
type NewOrg struct {
	Name        string
	Slug        string
	MaxUsers    int           // 0: the default (25)
	ParentID    tenancy.OrgID // zero: top-level
	TrialEndsAt time.Time     // zero: none
}

// SettingsPatch names the settings to change; nil fields stay as they are.
type SettingsPatch struct {
	Require2FAAll      *bool
	SessionIdleMinutes *int
	DesktopIdleMinutes *int
	Timezone           *string
	LookbackLabs       *int
	LookbackImaging    *int
	LookbackConsults   *int
	LookbackHospital   *int
	LookbackDocuments  *int
}

// Actor is who makes a change, for the audit log.
type Actor struct {
	UserID   uuid.UUID
	Role     string
	IP       string
	DeviceID string
}

// Page selects a page of a listing.
type Page struct {
	Size  int    // 1–500; 0 means 100
	After string // token from the previous page; empty for the first
}

// Store reads and changes organisations.
type Store struct {
	db  *tenancy.DB
	now func() time.Time
}

// NewStore returns a store on db. now is the clock (time.Now in production).
func NewStore(db *tenancy.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

var (
	slugRE        = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	reservedSlugs = map[string]bool{
		"admin": true, "api": true, "app": true, "www": true, "root": true, "platform": true,
		"healthprep": true, "support": true, "status": true, "static": true, "login": true,
	}
)

// ValidateSlug checks an organisation slug: 2–63 lowercase letters, digits
// and single hyphens, not starting or ending with a hyphen, not reserved.
func ValidateSlug(slug string) error {
	switch {
	case len(slug) < 2 || len(slug) > 63:
		return invalid("slug", "must be 2 to 63 characters long")
	case !slugRE.MatchString(slug):
		return invalid("slug", "may contain only lowercase letters, digits and single hyphens, and must start and end with a letter or digit")
	case reservedSlugs[slug]:
		return invalid("slug", "%q is reserved; choose another", slug)
	}
	return nil
}

func validateName(name string) error {
	n := strings.TrimSpace(name)
	if n == "" {
		return invalid("name", "must not be empty")
	}
	if len([]rune(n)) > 200 {
		return invalid("name", "must be at most 200 characters")
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return invalid("name", "must not contain control characters")
		}
	}
	return nil
}

func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return invalid(field, "must be between %d and %d", lo, hi)
	}
	return nil
}

// ValidateTimezone checks an IANA time zone name.
func ValidateTimezone(tz string) error {
	if tz == "" || tz == "Local" || len(tz) > 64 {
		return invalid("timezone", "must be an IANA time zone name such as America/Chicago")
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return invalid("timezone", "%q is not a known time zone; use a name such as America/Chicago", tz)
	}
	return nil
}

// apply returns s with p applied, or the first validation error.
func (s Settings) apply(p SettingsPatch) (Settings, error) {
	if p.Require2FAAll != nil {
		s.Require2FAAll = *p.Require2FAAll
	}
	ints := []struct {
		field  string
		v      *int
		dst    *int
		lo, hi int
	}{
		{"session_idle_minutes", p.SessionIdleMinutes, &s.SessionIdleMinutes, 1, 720},
		{"desktop_idle_minutes", p.DesktopIdleMinutes, &s.DesktopIdleMinutes, 1, 720},
		{"lookback_labs_months", p.LookbackLabs, &s.Lookback.Labs, 1, 240},
		{"lookback_imaging_months", p.LookbackImaging, &s.Lookback.Imaging, 1, 240},
		{"lookback_consults_months", p.LookbackConsults, &s.Lookback.Consults, 1, 240},
		{"lookback_hospital_months", p.LookbackHospital, &s.Lookback.Hospital, 1, 240},
		{"lookback_documents_months", p.LookbackDocuments, &s.Lookback.Documents, 1, 240},
	}
	for _, f := range ints {
		if f.v == nil {
			continue
		}
		if err := checkRange(f.field, *f.v, f.lo, f.hi); err != nil {
			return s, err
		}
		*f.dst = *f.v
	}
	if p.Timezone != nil {
		if err := ValidateTimezone(*p.Timezone); err != nil {
			return s, err
		}
		s.Timezone = *p.Timezone
	}
	return s, nil
}

// changed lists the names of the settings that differ between s and t, for
// the audit log (names only: settings carry no secrets, but the log stays
// small).
func (s Settings) changed(t Settings) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("require_2fa_all", s.Require2FAAll != t.Require2FAAll)
	add("session_idle_minutes", s.SessionIdleMinutes != t.SessionIdleMinutes)
	add("desktop_idle_minutes", s.DesktopIdleMinutes != t.DesktopIdleMinutes)
	add("timezone", s.Timezone != t.Timezone)
	add("lookback_labs_months", s.Lookback.Labs != t.Lookback.Labs)
	add("lookback_imaging_months", s.Lookback.Imaging != t.Lookback.Imaging)
	add("lookback_consults_months", s.Lookback.Consults != t.Lookback.Consults)
	add("lookback_hospital_months", s.Lookback.Hospital != t.Lookback.Hospital)
	add("lookback_documents_months", s.Lookback.Documents != t.Lookback.Documents)
	return out
}

const columns = `id, name, slug, status, trial_ends_at, max_users, parent_id, is_platform,
	require_2fa_all, session_idle_minutes, desktop_idle_minutes, timezone,
	lookback_labs_months, lookback_imaging_months, lookback_consults_months,
	lookback_hospital_months, lookback_documents_months, created_at, updated_at`

func scan(row pgx.Row) (Org, error) {
	var (
		o      Org
		trial  *time.Time
		parent *tenancy.OrgID
		status string
	)
	err := row.Scan(&o.ID, &o.Name, &o.Slug, &status, &trial, &o.MaxUsers, &parent, &o.IsPlatform,
		&o.Settings.Require2FAAll, &o.Settings.SessionIdleMinutes, &o.Settings.DesktopIdleMinutes, &o.Settings.Timezone,
		&o.Settings.Lookback.Labs, &o.Settings.Lookback.Imaging, &o.Settings.Lookback.Consults,
		&o.Settings.Lookback.Hospital, &o.Settings.Lookback.Documents, &o.CreatedAt, &o.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Org{}, ErrNotFound
	}
	if err != nil {
		return Org{}, err
	}
	o.Status = Status(status)
	if trial != nil {
		o.TrialEndsAt = *trial
	}
	if parent != nil {
		o.ParentID = *parent
	}
	return o, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullOrg(o tenancy.OrgID) *tenancy.OrgID {
	if o.IsZero() {
		return nil
	}
	return &o
}

func (a Actor) event(action, targetID string, details map[string]string) audit.Event {
	return audit.Event{
		ActorUserID: a.UserID, ActorRole: a.Role, Action: action, Outcome: audit.Success,
		TargetType: "organization", TargetID: targetID, IP: a.IP, DeviceID: a.DeviceID, Details: details,
	}
}

// Create validates in and creates the organisation in status incomplete.
// Root administration only: it runs with platform scope.
func (s *Store) Create(ctx context.Context, actor Actor, in NewOrg) (Org, error) {
	in.Name = strings.TrimSpace(in.Name)
	if err := validateName(in.Name); err != nil {
		return Org{}, err
	}
	if err := ValidateSlug(in.Slug); err != nil {
		return Org{}, err
	}
	if in.MaxUsers == 0 {
		in.MaxUsers = 25
	}
	if err := checkRange("max_users", in.MaxUsers, 1, 100000); err != nil {
		return Org{}, err
	}
	if !in.TrialEndsAt.IsZero() && !in.TrialEndsAt.After(s.now()) {
		return Org{}, invalid("trial_ends_at", "must be in the future")
	}
	var o Org
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		if !in.ParentID.IsZero() {
			if _, err := get(ctx, tx, in.ParentID); errors.Is(err, ErrNotFound) {
				return invalid("parent_id", "no such organisation")
			} else if err != nil {
				return err
			}
		}
		var err error
		o, err = scan(tx.QueryRow(ctx, `
			INSERT INTO organizations (name, slug, max_users, parent_id, trial_ends_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+columns,
			in.Name, in.Slug, in.MaxUsers, nullOrg(in.ParentID), nullTime(in.TrialEndsAt)))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return ErrSlugTaken
		}
		if err != nil {
			return fmt.Errorf("inserting organisation: %w", err)
		}
		_, err = audit.Append(ctx, tx, o.ID, actor.event("org.create", o.ID.String(), map[string]string{"slug": o.Slug}))
		return err
	})
	if err != nil {
		return Org{}, fmt.Errorf("creating organisation: %w", err)
	}
	return o, nil
}

func get(ctx context.Context, tx pgx.Tx, id tenancy.OrgID) (Org, error) {
	return scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM organizations WHERE id = $1`, id))
}

// Get returns the organisation id, read in a transaction scoped to it.
func (s *Store) Get(ctx context.Context, id tenancy.OrgID) (Org, error) {
	var o Org
	err := s.db.WithOrg(ctx, id, func(tx pgx.Tx) error {
		var err error
		o, err = get(ctx, tx, id)
		return err
	})
	if err != nil {
		return Org{}, fmt.Errorf("reading organisation: %w", err)
	}
	return o, nil
}

// UpdateSettings applies p to organisation id's settings, scoped to id.
// Nothing changes unless every field of p is valid.
func (s *Store) UpdateSettings(ctx context.Context, actor Actor, id tenancy.OrgID, p SettingsPatch) (Org, error) {
	var o Org
	err := s.db.WithOrg(ctx, id, func(tx pgx.Tx) error {
		var err error
		o, err = updateSettings(ctx, tx, actor, id, p)
		return err
	})
	if err != nil {
		return Org{}, fmt.Errorf("updating organisation settings: %w", err)
	}
	return o, nil
}

func updateSettings(ctx context.Context, tx pgx.Tx, actor Actor, id tenancy.OrgID, p SettingsPatch) (Org, error) {
	cur, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM organizations WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return Org{}, err
	}
	next, err := cur.Settings.apply(p)
	if err != nil {
		return Org{}, err
	}
	names := cur.Settings.changed(next)
	if len(names) == 0 {
		return cur, nil
	}
	l := next.Lookback
	o, err := scan(tx.QueryRow(ctx, `
		UPDATE organizations SET require_2fa_all = $2, session_idle_minutes = $3, desktop_idle_minutes = $4,
		       timezone = $5, lookback_labs_months = $6, lookback_imaging_months = $7,
		       lookback_consults_months = $8, lookback_hospital_months = $9, lookback_documents_months = $10,
		       updated_at = now()
		WHERE id = $1 RETURNING `+columns,
		id, next.Require2FAAll, next.SessionIdleMinutes, next.DesktopIdleMinutes, next.Timezone,
		l.Labs, l.Imaging, l.Consults, l.Hospital, l.Documents))
	if err != nil {
		return Org{}, err
	}
	_, err = audit.Append(ctx, tx, id, actor.event("org.settings.update", id.String(),
		map[string]string{"changed": strings.Join(names, ",")}))
	return o, err
}

// SetStatus moves organisation id to status next if its lifecycle allows
// it. reason is kept in the audit log. trialEndsAt, when not zero, sets a new
// trial end (only when moving to trial). The platform organisation has no
// lifecycle.
func (s *Store) SetStatus(ctx context.Context, actor Actor, id tenancy.OrgID, next Status, reason string, trialEndsAt time.Time) (Org, error) {
	if !next.Valid() {
		return Org{}, invalid("status", "must be one of incomplete, trial, live, past_due, suspended")
	}
	if len(reason) > 500 {
		return Org{}, invalid("reason", "must be at most 500 characters")
	}
	if !trialEndsAt.IsZero() {
		if next != StatusTrial {
			return Org{}, invalid("trial_ends_at", "may be set only when moving to trial")
		}
		if !trialEndsAt.After(s.now()) {
			return Org{}, invalid("trial_ends_at", "must be in the future")
		}
	}
	var o Org
	err := s.db.WithOrg(ctx, id, func(tx pgx.Tx) error {
		var err error
		o, err = setStatus(ctx, tx, actor, id, next, reason, trialEndsAt)
		return err
	})
	if err != nil {
		return Org{}, fmt.Errorf("changing organisation status: %w", err)
	}
	return o, nil
}

func setStatus(ctx context.Context, tx pgx.Tx, actor Actor, id tenancy.OrgID, next Status, reason string, trialEndsAt time.Time) (Org, error) {
	cur, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM organizations WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return Org{}, err
	}
	if cur.IsPlatform {
		return Org{}, fmt.Errorf("%w: the platform organisation has no lifecycle", ErrTransition)
	}
	if !cur.Status.CanMoveTo(next) {
		return Org{}, fmt.Errorf("%w: from %s to %s", ErrTransition, cur.Status, next)
	}
	o, err := scan(tx.QueryRow(ctx, `
		UPDATE organizations SET status = $2, trial_ends_at = coalesce($3, trial_ends_at), updated_at = now()
		WHERE id = $1 RETURNING `+columns, id, string(next), nullTime(trialEndsAt)))
	if err != nil {
		return Org{}, err
	}
	_, err = audit.Append(ctx, tx, id, actor.event("org.status.change", id.String(),
		map[string]string{"from": string(cur.Status), "to": string(next), "reason": reason}))
	return o, err
}

// List returns a page of organisations ordered by slug, optionally only
// those in status (empty: all), and the token of the next page (empty at
// the end). Root administration only: it runs with platform scope.
func (s *Store) List(ctx context.Context, status Status, page Page) ([]Org, string, error) {
	if status != "" && !status.Valid() {
		return nil, "", invalid("status", "must be one of incomplete, trial, live, past_due, suspended")
	}
	size := page.Size
	if size == 0 {
		size = 100
	}
	if err := checkRange("page_size", size, 1, 500); err != nil {
		return nil, "", err
	}
	if page.After != "" && (len(page.After) > 63 || !slugRE.MatchString(page.After)) {
		return nil, "", invalid("page_token", "is not a token from a previous page")
	}
	var out []Org
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = list(ctx, tx, status, page.After, size+1)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("listing organisations: %w", err)
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		next = out[size-1].Slug
	}
	return out, next, nil
}

func list(ctx context.Context, tx pgx.Tx, status Status, after string, limit int) ([]Org, error) {
	rows, err := tx.Query(ctx, `SELECT `+columns+` FROM organizations
		WHERE slug > $1 AND ($2 = '' OR status = $2) ORDER BY slug LIMIT $3`,
		after, string(status), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		o, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// PlatformSlug is the slug of the platform organisation, the home of root
// administrators and of audit entries that belong to no clinic.
const PlatformSlug = "healthprep"

// EnsurePlatform creates the platform organisation unless it exists, and
// returns it. Bootstrap only (healthprep-cloud bootstrap-root, make run).
func (s *Store) EnsurePlatform(ctx context.Context) (Org, error) {
	var o Org
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		var err error
		o, err = scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM organizations WHERE is_platform`))
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		o, err = scan(tx.QueryRow(ctx, `
			INSERT INTO organizations (name, slug, status, is_platform) VALUES ('HealthPrep', $1, 'live', true)
			RETURNING `+columns, PlatformSlug))
		if err != nil {
			return fmt.Errorf("inserting platform organisation: %w", err)
		}
		_, err = audit.Append(ctx, tx, o.ID, Actor{Role: "system"}.event("org.create", o.ID.String(), map[string]string{"slug": o.Slug, "platform": "true"}))
		return err
	})
	if err != nil {
		return Org{}, fmt.Errorf("ensuring platform organisation: %w", err)
	}
	return o, nil
}

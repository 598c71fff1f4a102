// Package device enrols clinic workstations into an organisation and
// authenticates them: an admin issues a short-lived, single-use enrolment
// code; a workstation exchanges it once for a device token bound to its
// device id; every later call with the token names the device, its
// organisation and (for the admin's list) refreshes its last-sync time.
// Revoking a device makes its token fail with ErrRevoked, which the API
// turns into the distinct refusal that tells the workstation to
// crypto-shred its cache. A device of a suspended organisation fails with
// ErrOrgSuspended instead: nothing is revoked or shredded, and the same
// token works again once the organisation is reinstated.
//
// Codes and tokens are stored only as SHA-256 hashes (both carry ≥ 50 bits
// of randomness and codes live one hour by default, so a plain hash is
// enough; a stolen table yields no usable credential). Everything runs in
// tenancy.WithOrg transactions except the two lookups by hash, which run
// with platform scope because the organisation is not known yet. Issuing
// codes, enrolling and revoking are audited.
package device

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/tenancy"
)

// TokenPrefix starts every device token, so the API can tell one from a
// session token.
const TokenPrefix = "hpd_"

// Errors the API maps to codes.
var (
	// ErrBadCode: the enrolment code is unknown, used or expired (one
	// message for all three, so a guesser learns nothing).
	ErrBadCode = errors.New("device: the enrolment code is not valid (unknown, used or expired)")
	// ErrInvalidToken: not a device token this cloud issued.
	ErrInvalidToken = errors.New("device: the device token is not valid")
	// ErrRevoked: the device was revoked.
	ErrRevoked = errors.New("device: this workstation was revoked")
	// ErrOrgSuspended: the device's organisation is suspended; the token
	// is otherwise valid and works again after reinstatement.
	ErrOrgSuspended = errors.New("device: this organisation's HealthPrep account is suspended")
	// ErrNotFound: no such device in the organisation.
	ErrNotFound = errors.New("device: no such device")
)

// InvalidInput is a bad field, safe to show.
type InvalidInput struct{ Field, Problem string }

func (e *InvalidInput) Error() string { return e.Field + ": " + e.Problem }

// Device is an enrolled workstation.
type Device struct {
	ID          uuid.UUID
	OrgID       tenancy.OrgID
	Name        string
	OS          string
	Version     string
	EnrolledBy  uuid.UUID
	EnrolledAt  time.Time
	LastSyncAt  time.Time // zero before the first sync
	RevokedAt   time.Time // zero while active
	RevokedByID uuid.UUID
}

// Actor is who acts (for audit).
type Actor struct {
	UserID uuid.UUID
	Role   string
	IP     string
}

// Store is the device registry on Postgres.
type Store struct {
	db  *tenancy.DB
	now func() time.Time
}

// New returns a Store; now is the clock (time.Now when nil).
func New(db *tenancy.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// codeAlphabet has no 0/O, 1/I/L: codes are typed by people.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func newCode() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, c := range b {
		if i == 5 {
			sb.WriteByte('-')
		}
		sb.WriteByte(codeAlphabet[int(c)%len(codeAlphabet)])
	}
	return sb.String(), nil
}

// normalizeCode accepts what a person types: any case, spaces, dashes.
func normalizeCode(s string) string {
	s = strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s))
	if len(s) != 10 {
		return ""
	}
	return s[:5] + "-" + s[5:]
}

// IssueCode creates an enrolment code for org, valid for valid (1 min – 24 h).
func (s *Store) IssueCode(ctx context.Context, actor Actor, org tenancy.OrgID, valid time.Duration) (string, time.Time, error) {
	if valid == 0 {
		valid = time.Hour
	}
	if valid < time.Minute || valid > 24*time.Hour {
		return "", time.Time{}, &InvalidInput{"valid_minutes", "must be 1–1440"}
	}
	code, err := newCode()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing an enrolment code: %w", err)
	}
	exp := s.now().Add(valid).UTC().Truncate(time.Microsecond)
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO device_enrolment_codes (code_hash, org_id, issued_by, expires_at) VALUES ($1, $2, $3, $4)`,
			hash(code), org, actor.UserID, exp); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, org, audit.Event{ActorUserID: actor.UserID, ActorRole: actor.Role, IP: actor.IP,
			Action: "device.enrolment_code.issue", Outcome: audit.Success, TargetType: "enrolment_code",
			Details: map[string]string{"expires_at": exp.Format(time.RFC3339)}})
		return err
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing an enrolment code: %w", err)
	}
	return code, exp, nil
}

// Enrolment is what a workstation tells about itself.
type Enrolment struct {
	Code, Name, OS, Version string
	IP                      string
}

// Enrolled is a new device and its token (shown once).
type Enrolled struct {
	Device Device
	Token  string
}

func clean(field, v string, minLen, maxLen int) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) < minLen || len(v) > maxLen || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", &InvalidInput{field, fmt.Sprintf("must be %d–%d printable characters", minLen, maxLen)}
	}
	return v, nil
}

// Enrol exchanges a code for a device and its token. The code is used up
// in the same transaction that creates the device. A valid code of a
// suspended organisation gives ErrOrgSuspended and stays unused.
func (s *Store) Enrol(ctx context.Context, in Enrolment) (Enrolled, error) {
	name, err := clean("name", in.Name, 1, 100)
	if err != nil {
		return Enrolled{}, err
	}
	osName, err := clean("os", in.OS, 0, 100)
	if err != nil {
		return Enrolled{}, err
	}
	version, err := clean("version", in.Version, 0, 100)
	if err != nil {
		return Enrolled{}, err
	}
	code := normalizeCode(in.Code)
	if code == "" {
		return Enrolled{}, ErrBadCode
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Enrolled{}, fmt.Errorf("enrolling a device: %w", err)
	}
	d := Device{ID: uuid.New(), Name: name, OS: osName, Version: version, EnrolledAt: s.now().UTC().Truncate(time.Microsecond)}
	token := TokenPrefix + strings.ReplaceAll(d.ID.String(), "-", "") + "_" + base64.RawURLEncoding.EncodeToString(secret)
	now := s.now()
	err = s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		// Single use: the row is locked and marked used in this
		// transaction; a concurrent enrolment with the same code waits
		// and then sees used_at set.
		var suspended bool
		err := tx.QueryRow(ctx, `SELECT c.org_id, c.issued_by, o.status = 'suspended' AND NOT o.is_platform
			FROM device_enrolment_codes c JOIN organizations o ON o.id = c.org_id
			WHERE c.code_hash = $1 AND c.used_at IS NULL AND c.expires_at > $2 FOR UPDATE OF c`, hash(code), now).Scan(&d.OrgID, &d.EnrolledBy, &suspended)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrBadCode
		}
		if err != nil {
			return err
		}
		if suspended { // the code stays unused: it works after reinstatement while it lasts
			return ErrOrgSuspended
		}
		if _, err := tx.Exec(ctx, `INSERT INTO devices (id, org_id, name, os, version, enrolled_by, enrolled_at, token_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, d.ID, d.OrgID, d.Name, d.OS, d.Version, d.EnrolledBy, d.EnrolledAt, hash(token)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE device_enrolment_codes SET used_at = $2, device_id = $3 WHERE code_hash = $1`, hash(code), now, d.ID); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, d.OrgID, audit.Event{ActorUserID: d.EnrolledBy, IP: in.IP, DeviceID: d.ID.String(),
			Action: "device.enrol", Outcome: audit.Success, TargetType: "device", TargetID: d.ID.String(),
			Details: map[string]string{"os": d.OS, "version": d.Version}})
		return err
	})
	if err != nil {
		if errors.Is(err, ErrBadCode) || errors.Is(err, ErrOrgSuspended) {
			return Enrolled{}, err
		}
		return Enrolled{}, fmt.Errorf("enrolling a device: %w", err)
	}
	return Enrolled{Device: d, Token: token}, nil
}

// deviceIDOf returns the device id a token names, or false.
func deviceIDOf(token string) (uuid.UUID, bool) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return uuid.Nil, false
	}
	hexID, _, ok := strings.Cut(rest, "_")
	if !ok {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(hexID)
	return id, err == nil
}

// lastSyncEvery bounds how often Authenticate writes last_sync_at.
const lastSyncEvery = 30 * time.Second

// Authenticate returns the device a token belongs to. A revoked device
// fails with ErrRevoked, a valid one of a suspended organisation with
// ErrOrgSuspended, anything else unknown with ErrInvalidToken. It records
// the contact as the device's last sync (at most every 30 s; a refused
// contact is not a sync).
func (s *Store) Authenticate(ctx context.Context, token string) (Device, error) {
	id, ok := deviceIDOf(token)
	if !ok {
		return Device{}, ErrInvalidToken
	}
	var d Device
	now := s.now()
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		var revoked, last *time.Time
		var revokedBy *uuid.UUID
		var suspended bool
		err := tx.QueryRow(ctx, `SELECT d.id, d.org_id, d.name, d.os, d.version, d.enrolled_by, d.enrolled_at, d.last_sync_at,
			d.revoked_at, d.revoked_by, o.status = 'suspended' AND NOT o.is_platform
			FROM devices d JOIN organizations o ON o.id = d.org_id WHERE d.token_hash = $1`, hash(token)).Scan(&d.ID, &d.OrgID,
			&d.Name, &d.OS, &d.Version, &d.EnrolledBy, &d.EnrolledAt, &last, &revoked, &revokedBy, &suspended)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if d.ID != id { // bound to the device it names
			return ErrInvalidToken
		}
		if revoked != nil {
			return ErrRevoked // revocation wins: it is final, suspension is not
		}
		if suspended {
			return ErrOrgSuspended
		}
		if last == nil || now.Sub(*last) >= lastSyncEvery {
			if _, err := tx.Exec(ctx, `UPDATE devices SET last_sync_at = $2 WHERE id = $1`, d.ID, now); err != nil {
				return err
			}
			last = &now
		}
		d.LastSyncAt = *last
		return nil
	})
	if errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrRevoked) || errors.Is(err, ErrOrgSuspended) {
		return Device{}, err
	}
	if err != nil {
		return Device{}, fmt.Errorf("authenticating a device: %w", err)
	}
	return d, nil
}

const columns = `id, org_id, name, os, version, enrolled_by, enrolled_at, last_sync_at, revoked_at, revoked_by`

func scan(row pgx.Row) (Device, error) {
	var d Device
	var last, revoked *time.Time
	var revokedBy *uuid.UUID
	if err := row.Scan(&d.ID, &d.OrgID, &d.Name, &d.OS, &d.Version, &d.EnrolledBy, &d.EnrolledAt, &last, &revoked, &revokedBy); err != nil {
		return Device{}, err
	}
	if last != nil {
		d.LastSyncAt = *last
	}
	if revoked != nil {
		d.RevokedAt = *revoked
	}
	if revokedBy != nil {
		d.RevokedByID = *revokedBy
	}
	return d, nil
}

// List returns org's devices, newest first (revoked ones only when asked).
func (s *Store) List(ctx context.Context, org tenancy.OrgID, includeRevoked bool) ([]Device, error) {
	var out []Device
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT `+columns+` FROM devices WHERE org_id = $1 AND ($2 OR revoked_at IS NULL)
			ORDER BY enrolled_at DESC, id`, org, includeRevoked)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("listing devices: %w", err)
	}
	return out, nil
}

// Revoke revokes device id of org (idempotent: revoking again returns the
// device as it is) and audits it.
func (s *Store) Revoke(ctx context.Context, actor Actor, org tenancy.OrgID, id uuid.UUID, reason string) (Device, error) {
	reason, err := clean("reason", reason, 0, 300)
	if err != nil {
		return Device{}, err
	}
	var d Device
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var err error
		d, err = scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM devices WHERE org_id = $1 AND id = $2 FOR UPDATE`, org, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if !d.RevokedAt.IsZero() {
			return nil
		}
		d.RevokedAt, d.RevokedByID = s.now().UTC().Truncate(time.Microsecond), actor.UserID
		if _, err := tx.Exec(ctx, `UPDATE devices SET revoked_at = $3, revoked_by = $4 WHERE org_id = $1 AND id = $2`,
			org, id, d.RevokedAt, actor.UserID); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, org, audit.Event{ActorUserID: actor.UserID, ActorRole: actor.Role, IP: actor.IP,
			Action: "device.revoke", Outcome: audit.Success, TargetType: "device", TargetID: id.String(),
			Details: map[string]string{"reason": reason}})
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return Device{}, err
	}
	if err != nil {
		return Device{}, fmt.Errorf("revoking a device: %w", err)
	}
	return d, nil
}

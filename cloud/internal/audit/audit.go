// Package audit is HealthPrep's tamper-evident audit log. Every security
// event and every read of PHI is appended, inside the transaction of the
// change it records, to its organisation's hash chain: each entry's hash
// covers its own fields, its sequence number and the previous entry's hash.
//
//   - Append records an event; RecordPHIAccess records a PHI read (action
//     phi.read) and refuses anything that could carry free-text PHI.
//   - The database keeps every chain linear: the application role cannot
//     update, delete or truncate entries, nor move a chain head, and each
//     insert must extend its head exactly (migrations 00004 and 00020).
//   - Verify and VerifyAll stream each chain and report every modified,
//     moved, deleted, truncated or out-of-chain entry by sequence number;
//     WriteVerifyReport prints a report for `hpctl audit verify`. Anchors
//     kept outside the database catch a consistent rewrite of a chain's tail,
//     which no unkeyed chain can catch on its own.
//   - List and ListAll page through entries newest first (an org
//     administrator's org, or every org for root); ExportCSV and
//     ExportAllCSV stream them as CSV.
//
// Nothing here logs, and no error or report carries an entry's contents.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/tenancy"
)

// Outcome says how the audited action ended.
type Outcome string

// Outcomes.
const (
	Success Outcome = "success"
	Failure Outcome = "failure"
	Alert   Outcome = "alert" // a detection, e.g. password spraying
)

// Event is one thing to record. Details must never hold PHI or secrets:
// patients are named by PatientRef (an opaque ID), never by name.
type Event struct {
	At          time.Time // set by Append when zero
	ActorUserID uuid.UUID // zero for anonymous (e.g. a failed sign-in)
	ActorRole   string
	Action      string // e.g. "auth.signin", "patient.read"
	Outcome     Outcome
	TargetType  string
	TargetID    string
	PatientRef  string
	IP          string
	DeviceID    string
	Details     map[string]string
}

// Entry is an event as stored, with its place in the chain.
type Entry struct {
	Event
	OrgID    tenancy.OrgID
	Seq      int64
	ID       uuid.UUID
	PrevHash []byte
	Hash     []byte
}

// genesis is the previous hash of every chain's first entry.
var genesis = make([]byte, sha256.Size)

// hashDomain separates this hash from every other use of SHA-256 and names
// the version of the canonical encoding.
const hashDomain = "healthprep.audit.v1\n"

// ErrInvalid marks an event, filter or cursor that cannot be accepted. The
// wrapping message says which field and why, never its value (which might
// carry PHI): the API layer maps it to InvalidArgument.
var ErrInvalid = errors.New("invalid audit input")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

var (
	actionRe     = regexp.MustCompile(`^[a-z][a-z0-9_.]{1,63}$`)
	detailsKeyRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// Field limits (in bytes) of the text an event carries.
const (
	maxShort      = 200  // role, target type and id, patient ref, IP, device
	maxDetailVal  = 1000 // one details value
	maxDetailKeys = 32
)

// validate checks e before anything is written. Messages name fields, never
// their contents.
func (e *Event) validate() error {
	if !actionRe.MatchString(e.Action) {
		return invalid("action must be 2–64 characters of a-z, 0-9, '_' and '.', starting with a letter")
	}
	switch e.Outcome {
	case Success, Failure, Alert:
	default:
		return invalid("outcome must be success, failure or alert")
	}
	for _, f := range []struct {
		name, v string
	}{
		{"actor role", e.ActorRole}, {"target type", e.TargetType}, {"target id", e.TargetID},
		{"patient ref", e.PatientRef}, {"ip", e.IP}, {"device id", e.DeviceID},
	} {
		if err := checkText(f.name, f.v, maxShort); err != nil {
			return err
		}
	}
	if len(e.Details) > maxDetailKeys {
		return invalid("details may hold at most %d keys", maxDetailKeys)
	}
	for k, v := range e.Details {
		if !detailsKeyRe.MatchString(k) {
			return invalid("details keys must be 1–64 characters of a-z, 0-9 and '_', starting with a letter")
		}
		if err := checkText("a details value", v, maxDetailVal); err != nil {
			return err
		}
	}
	if y := e.At.Year(); !e.At.IsZero() && (y < 2000 || y > 9999) {
		return invalid("time must be between the years 2000 and 9999")
	}
	return nil
}

// checkText accepts valid UTF-8 of at most max bytes without control
// characters (which Postgres text would reject or a reader would misread).
func checkText(name, v string, max int) error {
	if len(v) > max {
		return invalid("%s is longer than %d bytes", name, max)
	}
	if !utf8.ValidString(v) {
		return invalid("%s is not valid UTF-8", name)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return invalid("%s contains a control character", name)
		}
	}
	return nil
}

// Append records e in org's chain, in tx (which must be scoped to org, or to
// the platform). Recording happens in the caller's transaction so that an
// action and its audit entry commit or roll back together. Appends for one
// organisation serialise on its chain head until the transaction ends, so
// keep the transaction short after appending. Errors wrap ErrInvalid when e
// is unacceptable; no error carries e's contents.
func Append(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, e Event) (Entry, error) {
	if org.IsZero() {
		return Entry{}, tenancy.ErrNoOrg
	}
	if err := e.validate(); err != nil {
		return Entry{}, fmt.Errorf("audit: %w", err)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	// Postgres keeps microseconds; hash what will be read back.
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	// audit_chain_head locks the head row (creating the genesis head on the
	// org's first entry) so that concurrent appends queue here.
	var (
		seq  int64
		prev []byte
	)
	if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_chain_head($1)`, org).Scan(&seq, &prev); err != nil {
		return Entry{}, fmt.Errorf("audit: locking chain head: %w", err)
	}
	en := Entry{Event: e, OrgID: org, Seq: seq + 1, ID: uuid.New(), PrevHash: prev}
	en.Hash = en.ComputeHash()
	details, err := json.Marshal(e.Details)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: encoding details: %w", err)
	}
	var actor *uuid.UUID
	if e.ActorUserID != (uuid.UUID{}) {
		actor = &en.ActorUserID
	}
	// A trigger checks that the entry extends the head and advances it.
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_log (org_id, seq, id, at, actor_user_id, actor_role, action, outcome,
		                       target_type, target_id, patient_ref, ip, device_id, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		org, en.Seq, en.ID, e.At, actor, e.ActorRole, e.Action, string(e.Outcome),
		e.TargetType, e.TargetID, e.PatientRef, e.IP, e.DeviceID, details, en.PrevHash, en.Hash)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: appending %s: %w", e.Action, err)
	}
	return en, nil
}

// ComputeHash returns SHA-256 over a domain tag, the previous hash, the
// sequence number and a canonical encoding of every other field of the
// entry. It does not read en.Hash.
func (en *Entry) ComputeHash() []byte {
	h := sha256.New()
	h.Write([]byte(hashDomain))
	h.Write(en.PrevHash)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(en.Seq))
	h.Write(n[:])
	actor := ""
	if en.ActorUserID != (uuid.UUID{}) {
		actor = en.ActorUserID.String()
	}
	details := en.Details
	if details == nil {
		details = map[string]string{}
	}
	// encoding/json sorts map keys, so Details encode canonically; strings
	// are valid UTF-8 (validated on append), so the encoding is lossless.
	canon, err := json.Marshal([]any{
		en.OrgID.String(), en.ID.String(), en.At.UTC().Format(time.RFC3339Nano), actor, en.ActorRole,
		en.Action, string(en.Outcome), en.TargetType, en.TargetID, en.PatientRef, en.IP, en.DeviceID, details,
	})
	if err != nil {
		panic(fmt.Sprintf("audit: encoding strings cannot fail: %v", err))
	}
	h.Write(canon)
	return h.Sum(nil)
}

// entryColumns are the columns scanEntry reads, in order.
const entryColumns = `org_id, seq, id, at, actor_user_id, actor_role, action, outcome,
	target_type, target_id, patient_ref, ip, device_id, details, prev_hash, hash`

// scanEntry reads one row of entryColumns, then any extra columns into
// extra.
func scanEntry(row pgx.Row, extra ...any) (Entry, error) {
	var (
		en      Entry
		actor   *uuid.UUID
		outcome string
		details []byte
	)
	dest := append([]any{&en.OrgID, &en.Seq, &en.ID, &en.At, &actor, &en.ActorRole, &en.Action, &outcome,
		&en.TargetType, &en.TargetID, &en.PatientRef, &en.IP, &en.DeviceID, &details, &en.PrevHash, &en.Hash}, extra...)
	err := row.Scan(dest...)
	if err != nil {
		return Entry{}, err
	}
	if actor != nil {
		en.ActorUserID = *actor
	}
	en.Outcome = Outcome(outcome)
	en.At = en.At.UTC()
	if err := json.Unmarshal(details, &en.Details); err != nil {
		// Not a map of strings: the row was written by something other than
		// Append. Keep it unreadable rather than guess; Verify reports it.
		en.Details = map[string]string{"": ""}
	}
	if en.Details == nil {
		en.Details = map[string]string{}
	}
	return en, nil
}

// Package audit is HealthPrep's tamper-evident audit log. Every security
// event and every read of PHI is appended, inside the transaction of the
// change it records, to its organisation's hash chain: each entry's hash
// covers its own fields and the previous entry's hash, so a modified,
// deleted or reordered entry breaks the chain and Verify finds it.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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

// Append records e in org's chain, in tx (which must be scoped to org, or to
// the platform). Recording happens in the caller's transaction so that an
// action and its audit entry commit or roll back together.
func Append(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, e Event) (Entry, error) {
	if e.Action == "" || e.Outcome == "" {
		return Entry{}, errors.New("audit: event needs an action and an outcome")
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	// Postgres keeps microseconds; hash what will be read back.
	e.At = e.At.UTC().Truncate(time.Microsecond)
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	var (
		seq  int64
		prev []byte
	)
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE org_id = $1 FOR UPDATE`, org).Scan(&seq, &prev)
	if errors.Is(err, pgx.ErrNoRows) {
		seq, prev = 0, genesis
		if _, err := tx.Exec(ctx, `INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, 0, $2)`, org, genesis); err != nil {
			return Entry{}, fmt.Errorf("audit: starting chain: %w", err)
		}
	} else if err != nil {
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
	_, err = tx.Exec(ctx, `
		INSERT INTO audit_log (org_id, seq, id, at, actor_user_id, actor_role, action, outcome,
		                       target_type, target_id, patient_ref, ip, device_id, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		org, en.Seq, en.ID, e.At, actor, e.ActorRole, e.Action, string(e.Outcome),
		e.TargetType, e.TargetID, e.PatientRef, e.IP, e.DeviceID, details, en.PrevHash, en.Hash)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: appending %s: %w", e.Action, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_heads SET seq = $2, hash = $3 WHERE org_id = $1`, org, en.Seq, en.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit: advancing chain head: %w", err)
	}
	return en, nil
}

// ComputeHash returns SHA-256 over the previous hash and a canonical
// encoding of every field of the entry.
func (en *Entry) ComputeHash() []byte {
	h := sha256.New()
	h.Write(en.PrevHash)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(en.Seq))
	h.Write(n[:])
	actor := ""
	if en.ActorUserID != (uuid.UUID{}) {
		actor = en.ActorUserID.String()
	}
	// encoding/json sorts map keys, so Details encode canonically.
	canon, _ := json.Marshal([]any{
		en.OrgID.String(), en.ID.String(), en.At.UTC().Format(time.RFC3339Nano), actor, en.ActorRole,
		en.Action, string(en.Outcome), en.TargetType, en.TargetID, en.PatientRef, en.IP, en.DeviceID, en.Details,
	})
	h.Write(canon)
	return h.Sum(nil)
}

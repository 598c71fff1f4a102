// Package syncfeed is the cloud side of workstation sync: the organisation's
// change feed that workstations pull page by page, and the push logic that
// applies each workstation result exactly once.
//
// Ordering is the organisation's change sequence (organizations.change_seq)
// and nothing else: every write, whether ingest's or a pushed result, takes
// the next value while holding the organisation's row, so sequence order is
// commit order and a cursor "everything up to seq N" never skips a row that
// commits later with a smaller number. Workstation clocks order nothing.
//
// Push semantics, per entry, in one transaction with its receipt:
//
//   - Receipts: (org, client id) → the first acknowledgement. A retried
//     entry gets that acknowledgement again and changes nothing; a client id
//     reused for different content is rejected.
//   - Document results are immutable records keyed by document + content
//     hash + pipeline version: the first one stored wins, later ones (from
//     any workstation) are acknowledged as already stored and overwrite
//     nothing.
//   - Overrides carry the sequence number of the version a person edited.
//     When it is not the current version the edit is not applied: it is
//     stored as an override conflict, which travels in the feed so every
//     workstation shows it until a person resolves it (an override pushed
//     from the current version resolves the record's open conflicts).
//   - Print events are appended (they are not part of the feed).
//
// The logic lives here once (Feed); storage is the small Store interface,
// with an in-memory implementation for the simulation (memstore) and the
// Postgres one (pgstore). Both pass the conformance suite in syncfeedtest.
// Domain types only: the API layer converts to and from the wire.
package syncfeed

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/tenancy"
)

// Sync protocol versions (see proto/healthprep/v1/sync.proto).
const (
	// ProtocolVersion is the newest version this server speaks. Version 3
	// adds document contents (KindDocumentContent).
	ProtocolVersion = 3
	// MinProtocolVersion is the oldest version it still serves.
	MinProtocolVersion = 1
)

// Kind is the kind of a record in the feed.
type Kind string

// The kinds of records. KindPrintEvent is stored but never sent.
const (
	KindConfig           Kind = "config"
	KindScreeningType    Kind = "screening_type"
	KindAppointment      Kind = "appointment"
	KindPatient          Kind = "patient"
	KindChartResource    Kind = "chart_resource"
	KindDocument         Kind = "document"
	KindOverride         Kind = "override"
	KindDocumentResult   Kind = "document_result"
	KindOverrideConflict Kind = "override_conflict"
	KindPrintEvent       Kind = "print_event"
	// KindDocumentContent is the original content of an Epic document
	// (DocumentReference attachment) that ingest fetched: the payload is
	// DocumentContent as JSON. Since version 3.
	KindDocumentContent Kind = "document_content"
)

// since is the protocol version that introduced each kind sent in the feed.
var since = map[Kind]int{
	KindConfig: 1, KindScreeningType: 1, KindAppointment: 1, KindPatient: 1,
	KindChartResource: 1, KindDocument: 1, KindOverride: 1,
	KindDocumentResult: 2, KindOverrideConflict: 2,
	KindDocumentContent: 3,
}

// InFeed reports whether records of k are sent to workstations.
func (k Kind) InFeed() bool { _, ok := since[k]; return ok }

// SentIn reports whether records of k are sent to a workstation speaking
// protocol version v.
func (k Kind) SentIn(v int) bool { n, ok := since[k]; return ok && n <= v }

// MaxPageContentBytes bounds the document content one page of the feed
// carries (KindDocumentContent, counted by content size): a Store ends a
// page before the content that would pass it, and a content larger than
// the bound travels alone in its page. The largest page is therefore one
// document, which ingest bounds (ingest.DefaultMaxDocumentBytes, 20 MiB,
// about 27 MiB once base64 in JSON), plus nothing else; every other page
// carries at most 4 MiB of content besides its other records.
const MaxPageContentBytes = 4 << 20

// DocumentContent is the payload of a KindDocumentContent record (id
// "<document id>/<attachment index>"): the bytes of one attachment of an
// ingested DocumentReference, as Epic's Binary gave them. JSON; Data is
// base64 in it.
type DocumentContent struct {
	DocumentID      string `json:"document_id"`
	AttachmentIndex int    `json:"attachment_index"`
	PatientID       string `json:"patient_id"`
	ContentType     string `json:"content_type"`
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"` // hex, of Data
	Data            []byte `json:"data"`
}

// Op is what a change does to its record.
type Op int

// Ops.
const (
	OpUpsert Op = 1
	OpDelete Op = 2
)

// Change is the latest state of one record, at its sequence number.
type Change struct {
	Kind    Kind
	ID      string
	Op      Op
	Payload []byte
	Seq     int64
}

// Record is a record stored by the feed (not ingest's).
type Record struct {
	Kind    Kind
	ID      string
	Op      Op
	Payload []byte
	Seq     int64
}

// PushKind is the kind of a workstation result.
type PushKind string

// Push kinds.
const (
	PushDocumentResult PushKind = "document_result"
	PushOverride       PushKind = "override"
	PushPrintEvent     PushKind = "print_event"
)

// Entry is one outbox entry pushed by a workstation.
type Entry struct {
	ClientID uuid.UUID
	Kind     PushKind
	Payload  []byte
	// Document results.
	DocumentID, ContentSHA256, PipelineVersion string
	// Overrides.
	RecordID string
	BaseSeq  int64
}

// Status is how an entry was taken.
type Status int

// Statuses.
const (
	StatusApplied       Status = 1
	StatusAlreadyStored Status = 2
	StatusConflict      Status = 3
	StatusRejected      Status = 4
)

// Ack acknowledges one entry.
type Ack struct {
	ClientID uuid.UUID
	Status   Status
	Seq      int64
	Message  string // for a person; never PHI
}

// Receipt is a stored acknowledgement and the digest of the entry it
// acknowledged.
type Receipt struct {
	Ack    Ack
	Digest [32]byte
}

// Actor is who pushes or pulls (for audit).
type Actor struct {
	UserID   uuid.UUID
	Role     string
	IP       string
	DeviceID string
}

// Store is what the feed needs from storage. Every method acts on one
// organisation only.
type Store interface {
	// Changes returns up to limit records sent in the feed with seq > after,
	// in seq order (each record once, at its latest seq), and the org's
	// latest change sequence read in the same snapshot. Records of kinds
	// not sent in protocol version (Kind.SentIn) may be returned without
	// their payload (the feed leaves them out, its cursor moves past
	// them); they are neither read nor audited. A page ends early to keep
	// its document content within MaxPageContentBytes.
	Changes(ctx context.Context, org tenancy.OrgID, actor Actor, after int64, limit, version int) ([]Change, int64, error)
	// LatestSeq returns the org's latest change sequence.
	LatestSeq(ctx context.Context, org tenancy.OrgID) (int64, error)
	// Update runs fn in one transaction for org: everything fn wrote
	// commits together when it returns nil, nothing otherwise.
	Update(ctx context.Context, org tenancy.OrgID, fn func(Tx) error) error
}

// Tx is a store transaction.
type Tx interface {
	Receipt(clientID uuid.UUID) (Receipt, bool, error)
	SaveReceipt(r Receipt) error
	// Record returns the feed's own record of kind and id.
	Record(kind Kind, id string) (Record, bool, error)
	// Put writes a record at the org's next change sequence and returns it.
	Put(kind Kind, id string, op Op, payload []byte) (int64, error)
	// Records returns the feed's own records of kind whose id starts with
	// prefix, in id order.
	Records(kind Kind, prefix string) ([]Record, error)
}

// Errors a caller can act on.
var (
	// ErrBadCursor: the cursor was not issued by this server.
	ErrBadCursor = errors.New("the sync cursor is not valid")
	// ErrCursorAhead: the cursor is ahead of the org's data (the cloud was
	// restored from a backup): start again from an empty cursor.
	ErrCursorAhead = errors.New("the sync cursor is ahead of the server; sync again from the start")
	// ErrTooOld: the client's protocol version is no longer served.
	ErrTooOld = errors.New("this HealthPrep client is too old for the server; please update it")
	// ErrTooMany: a push carries more entries than MaxPush.
	ErrTooMany = errors.New("too many entries in one push")
)

// Limits.
const (
	DefaultLimit = 500
	MaxLimit     = 1000
	MaxPush      = 500
	MaxPayload   = 1 << 20
)

// Feed is the sync feed of every organisation over one Store.
type Feed struct {
	store Store
	poll  time.Duration
}

// Options configure a Feed.
type Options struct {
	// WatchInterval is how often Watch reads the latest sequence (default
	// 250 ms).
	WatchInterval time.Duration
}

// New returns a Feed over store.
func New(store Store, opt Options) *Feed {
	if opt.WatchInterval <= 0 {
		opt.WatchInterval = 250 * time.Millisecond
	}
	return &Feed{store: store, poll: opt.WatchInterval}
}

// Page is one page of the feed.
type Page struct {
	Changes []Change
	Next    string
	HasMore bool
	Latest  int64
	Version int
}

// cursor text: "c1." + decimal seq. Opaque to clients.
const cursorPrefix = "c1."

// Cursor is the cursor that means "everything up to seq".
func Cursor(seq int64) string { return cursorPrefix + strconv.FormatInt(seq, 10) }

// ParseCursor returns the seq of a cursor ("" is 0).
func ParseCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	s, ok := strings.CutPrefix(c, cursorPrefix)
	if !ok {
		return 0, ErrBadCursor
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}

// Version returns the protocol version a request is served with: 0 means
// the oldest served; older than that is ErrTooOld; newer than ours is
// answered with ours.
func Version(v int) (int, error) {
	switch {
	case v == 0:
		return MinProtocolVersion, nil
	case v < MinProtocolVersion:
		return 0, ErrTooOld
	case v > ProtocolVersion:
		return ProtocolVersion, nil
	}
	return v, nil
}

// Pull returns the page after cursor.
func (f *Feed) Pull(ctx context.Context, org tenancy.OrgID, actor Actor, cursor string, limit, version int) (Page, error) {
	v, err := Version(version)
	if err != nil {
		return Page{}, err
	}
	after, err := ParseCursor(cursor)
	if err != nil {
		return Page{}, err
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	raw, latest, err := f.store.Changes(ctx, org, actor, after, limit, v)
	if err != nil {
		return Page{}, fmt.Errorf("pulling changes: %w", err)
	}
	if after > latest {
		return Page{}, ErrCursorAhead
	}
	p := Page{Next: cursor, Latest: latest, Version: v}
	if len(raw) > 0 {
		last := raw[len(raw)-1].Seq
		p.Next, p.HasMore = Cursor(last), last < latest
	}
	if p.Next == "" {
		p.Next = Cursor(0)
	}
	for _, c := range raw {
		if c.Kind.SentIn(v) {
			p.Changes = append(p.Changes, c)
		}
	}
	return p, nil
}

// Digest identifies an entry's content, so a client id reused for a
// different entry is caught.
func Digest(e Entry) [32]byte {
	h := sha256.New()
	for _, s := range []string{string(e.Kind), e.DocumentID, e.ContentSHA256, e.PipelineVersion, e.RecordID} {
		_ = binary.Write(h, binary.BigEndian, uint32(len(s)))
		h.Write([]byte(s))
	}
	_ = binary.Write(h, binary.BigEndian, e.BaseSeq)
	h.Write(e.Payload)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// Push applies entries, each exactly once, in one transaction, and returns
// one Ack per entry in order. On error nothing was applied: push again.
func (f *Feed) Push(ctx context.Context, org tenancy.OrgID, actor Actor, entries []Entry, version int) ([]Ack, error) {
	if _, err := Version(version); err != nil {
		return nil, err
	}
	if len(entries) > MaxPush {
		return nil, ErrTooMany
	}
	var acks []Ack
	err := f.store.Update(ctx, org, func(tx Tx) error {
		acks = acks[:0]
		for _, e := range entries {
			a, err := push(tx, e)
			if err != nil {
				return err
			}
			acks = append(acks, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pushing results: %w", err)
	}
	return acks, nil
}

// DocumentResultID is the record id of a document result.
func DocumentResultID(documentID, contentSHA256, pipelineVersion string) string {
	return documentID + "/" + contentSHA256 + "/" + pipelineVersion
}

// ConflictID is the record id of the conflict an override entry caused.
func ConflictID(recordID string, clientID uuid.UUID) string {
	return recordID + "/" + clientID.String()
}

// Conflict is the payload of an override conflict record.
type Conflict struct {
	RecordID   string          `json:"record_id"`
	ClientID   string          `json:"client_id"`
	BaseSeq    int64           `json:"base_seq"`
	CurrentSeq int64           `json:"current_seq"`
	Resolved   bool            `json:"resolved,omitempty"`
	Proposed   json.RawMessage `json:"proposed,omitempty"`
}

func push(tx Tx, e Entry) (Ack, error) {
	if e.ClientID == uuid.Nil {
		return Ack{Status: StatusRejected, Message: "client_id: is not a UUID"}, nil
	}
	d := Digest(e)
	r, ok, err := tx.Receipt(e.ClientID)
	if err != nil {
		return Ack{}, err
	}
	if ok {
		if r.Digest != d {
			return Ack{ClientID: e.ClientID, Status: StatusRejected, Message: "client_id: already used for a different entry"}, nil
		}
		return r.Ack, nil
	}
	a, err := apply(tx, e)
	if err != nil {
		return Ack{}, err
	}
	a.ClientID = e.ClientID
	if err := tx.SaveReceipt(Receipt{Ack: a, Digest: d}); err != nil {
		return Ack{}, err
	}
	return a, nil
}

func reject(msg string) (Ack, error) { return Ack{Status: StatusRejected, Message: msg}, nil }

func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func apply(tx Tx, e Entry) (Ack, error) {
	if len(e.Payload) > MaxPayload {
		return reject("payload: larger than 1 MiB")
	}
	if !json.Valid(e.Payload) {
		return reject("payload: is not JSON")
	}
	switch e.Kind {
	case PushDocumentResult:
		if !validID(e.DocumentID) || !validID(e.PipelineVersion) || len(e.ContentSHA256) != 64 || strings.Trim(e.ContentSHA256, "0123456789abcdef") != "" {
			return reject("document result: needs document_id, content_sha256 (64 hex digits) and pipeline_version")
		}
		id := DocumentResultID(e.DocumentID, e.ContentSHA256, e.PipelineVersion)
		rec, ok, err := tx.Record(KindDocumentResult, id)
		if err != nil {
			return Ack{}, err
		}
		if ok {
			return Ack{Status: StatusAlreadyStored, Seq: rec.Seq}, nil
		}
		seq, err := tx.Put(KindDocumentResult, id, OpUpsert, e.Payload)
		return Ack{Status: StatusApplied, Seq: seq}, err
	case PushOverride:
		if !validID(e.RecordID) || e.BaseSeq < 0 {
			return reject("override: needs record_id and a base_seq ≥ 0")
		}
		rec, ok, err := tx.Record(KindOverride, e.RecordID)
		if err != nil {
			return Ack{}, err
		}
		var current int64
		if ok {
			current = rec.Seq
		}
		if e.BaseSeq != current {
			p, err := json.Marshal(Conflict{RecordID: e.RecordID, ClientID: e.ClientID.String(), BaseSeq: e.BaseSeq, CurrentSeq: current, Proposed: e.Payload})
			if err != nil {
				return Ack{}, err
			}
			seq, err := tx.Put(KindOverrideConflict, ConflictID(e.RecordID, e.ClientID), OpUpsert, p)
			return Ack{Status: StatusConflict, Seq: seq, Message: "someone else changed this override first; both versions are kept for you to resolve"}, err
		}
		conflicts, err := tx.Records(KindOverrideConflict, e.RecordID+"/")
		if err != nil {
			return Ack{}, err
		}
		for _, c := range conflicts {
			var cf Conflict
			if err := json.Unmarshal(c.Payload, &cf); err != nil {
				return Ack{}, fmt.Errorf("reading conflict: %w", err)
			}
			if cf.Resolved {
				continue
			}
			cf.Resolved = true
			p, err := json.Marshal(cf)
			if err != nil {
				return Ack{}, err
			}
			if _, err := tx.Put(KindOverrideConflict, c.ID, OpUpsert, p); err != nil {
				return Ack{}, err
			}
		}
		seq, err := tx.Put(KindOverride, e.RecordID, OpUpsert, e.Payload)
		return Ack{Status: StatusApplied, Seq: seq}, err
	case PushPrintEvent:
		seq, err := tx.Put(KindPrintEvent, e.ClientID.String(), OpUpsert, e.Payload)
		return Ack{Status: StatusApplied, Seq: seq}, err
	}
	return reject("kind: unknown push kind")
}

// Watch calls fn with the org's latest sequence at once and then every
// time it moves, until ctx ends or fn fails. It polls the store every
// WatchInterval (one indexed read of the org's row): simple, correct across
// replicas, and within the one-second freshness target.
func (f *Feed) Watch(ctx context.Context, org tenancy.OrgID, fn func(latest int64) error) error {
	t := time.NewTicker(f.poll)
	defer t.Stop()
	last := int64(-1)
	for {
		n, err := f.store.LatestSeq(ctx, org)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("watching changes: %w", err)
		}
		if n != last {
			if err := fn(n); err != nil {
				return err
			}
			last = n
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

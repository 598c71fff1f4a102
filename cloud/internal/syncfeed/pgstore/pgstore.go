// Package pgstore is the Postgres syncfeed.Store. The feed is the union of
// what ingest's `changes` view shows (patients, appointments, chart
// resources, read from their tables in seq order; their
// FHIR JSON opened from the sealed resource_enc columns), the document
// contents ingest fetched (document_contents, migrations 00071 and 00095;
// kind document_content, protocol version 3, opened from data_enc) and the
// feed's own sync_records table (migration 00080), paged by the
// organisation's change sequence. A page carries at most
// syncfeed.MaxPageContentBytes of document content (a larger content
// alone). Every write takes the next organizations.change_seq while
// holding the organisation's row, as ingest's writes do, so sequence order
// is commit order. Everything runs in tenancy.WithOrg transactions: row-level
// security admits one organisation's rows. Payloads are sealed with the
// organisation's data key; every page that carries patient data records
// one PHI read per patient in the audit log, in the transaction that reads
// it, and one more per document content it carries.
package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/tenancy"
)

// Store is the Postgres syncfeed.Store.
type Store struct {
	db   *tenancy.DB
	keys *envelope.Keys
}

// New returns a Store.
func New(db *tenancy.DB, keys *envelope.Keys) *Store { return &Store{db: db, keys: keys} }

func field(kind syncfeed.Kind, id string) envelope.Field {
	return envelope.Field{Table: "sync_records", Column: "payload_enc", RowID: string(kind) + "/" + id}
}

// ingest entity → feed kind, table.
var ingestKinds = map[string]struct {
	kind  syncfeed.Kind
	table string
}{
	"patient":        {syncfeed.KindPatient, "patients"},
	"appointment":    {syncfeed.KindAppointment, "appointments"},
	"chart_resource": {syncfeed.KindChartResource, "chart_resources"},
}

// changesQuery pages the feed: the feed's own records and ingest's three
// tables (what the `changes` view unions) and document_contents, each read in seq order through
// its (org_id, change_seq) index and cut at the page size before they are
// merged. Postgres then merges four short index scans; the same query over
// the view sorted every row after the cursor (hundreds of milliseconds a
// page at 200k records).
const changesQuery = `
SELECT seq, src, kind, id, row_id, patient, size FROM (
  (SELECT change_seq AS seq, 'sync' AS src, kind, id, '' AS row_id, '' AS patient, 0::bigint AS size
     FROM sync_records WHERE org_id = $1 AND change_seq > $2 AND kind <> 'print_event'
     ORDER BY change_seq LIMIT $3)
  UNION ALL
  (SELECT change_seq, 'ingest', 'patient', fhir_id, id::text, fhir_id, 0
     FROM patients WHERE org_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
  UNION ALL
  (SELECT change_seq, 'ingest', 'appointment', fhir_id, id::text, patient_fhir_id, 0
     FROM appointments WHERE org_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
  UNION ALL
  (SELECT change_seq, 'ingest', 'chart_resource', resource_type || '/' || fhir_id, id::text, patient_fhir_id, 0
     FROM chart_resources WHERE org_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
  UNION ALL
  (SELECT change_seq, 'content', 'document_content', document_fhir_id || '/' || attachment_index, id::text, patient_fhir_id, size_bytes
     FROM document_contents WHERE org_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3)
) c ORDER BY seq LIMIT $3`

type row struct {
	c       syncfeed.Change
	src     string
	rowID   string
	patient string
	size    int64 // document content bytes
	sent    bool  // the client's version receives it: load and audit
}

// capContent ends page before the document content that would take it
// past max bytes of content (a larger content alone ends its page).
func capContent(page []row, max int64) []row {
	var total int64
	for i, r := range page {
		if r.src != "content" || !r.sent {
			continue
		}
		if i > 0 && total+r.size > max {
			return page[:i]
		}
		total += r.size
		if total > max {
			return page[:i+1]
		}
	}
	return page
}

// Changes implements syncfeed.Store.
func (s *Store) Changes(ctx context.Context, org tenancy.OrgID, actor syncfeed.Actor, after int64, limit, version int) ([]syncfeed.Change, int64, error) {
	var out []syncfeed.Change
	var latest int64
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, changesQuery, org, after, limit)
		if err != nil {
			return fmt.Errorf("reading changes: %w", err)
		}
		var page []row
		for rows.Next() {
			var r row
			var kind string
			if err := rows.Scan(&r.c.Seq, &r.src, &kind, &r.c.ID, &r.rowID, &r.patient, &r.size); err != nil {
				rows.Close()
				return fmt.Errorf("reading changes: %w", err)
			}
			r.c.Kind, r.c.Op = syncfeed.Kind(kind), syncfeed.OpUpsert
			if r.src == "ingest" {
				r.c.Kind = ingestKinds[kind].kind
			}
			r.sent = r.c.Kind.SentIn(version)
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading changes: %w", err)
		}
		page = capContent(page, syncfeed.MaxPageContentBytes)
		// Read the latest seq after the page: it is never below a seq the
		// page saw (a cursor never ends up ahead of the server).
		if err := tx.QueryRow(ctx, `SELECT change_seq FROM organizations WHERE id = $1`, org).Scan(&latest); err != nil {
			return fmt.Errorf("reading the change sequence: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		if err := s.load(ctx, tx, org, key, page); err != nil {
			return err
		}
		for _, r := range page {
			out = append(out, r.c)
		}
		return recordReads(ctx, tx, org, actor, page)
	})
	if err != nil {
		return nil, 0, err
	}
	return out, latest, nil
}

// load fills the payloads of a page: one query per table.
func (s *Store) load(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, key *envelope.OrgKey, page []row) error {
	byTable := map[string][]string{}
	for _, r := range page {
		if r.src == "ingest" {
			t := ingestKinds[string(kindEntity(r.c.Kind))].table
			byTable[t] = append(byTable[t], r.rowID)
		}
	}
	contents, err := loadContents(ctx, tx, org, key, page)
	if err != nil {
		return err
	}
	sealed := map[string][]byte{} // table/row id → resource_enc
	for t, ids := range byTable {
		rows, err := tx.Query(ctx, `SELECT id::text, resource_enc FROM `+t+` WHERE org_id = $1 AND id = ANY($2::uuid[])`, org, ids)
		if err != nil {
			return fmt.Errorf("reading %s: %w", t, err)
		}
		for rows.Next() {
			var id string
			var enc []byte
			if err := rows.Scan(&id, &enc); err != nil {
				rows.Close()
				return fmt.Errorf("reading %s: %w", t, err)
			}
			sealed[t+"/"+id] = enc
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading %s: %w", t, err)
		}
	}
	var syncKeys [][2]string
	for _, r := range page {
		if r.src == "sync" {
			syncKeys = append(syncKeys, [2]string{string(r.c.Kind), r.c.ID})
		}
	}
	syncRecs := map[[2]string]struct {
		deleted bool
		enc     []byte
	}{}
	if len(syncKeys) > 0 {
		kinds, ids := make([]string, len(syncKeys)), make([]string, len(syncKeys))
		for i, k := range syncKeys {
			kinds[i], ids[i] = k[0], k[1]
		}
		rows, err := tx.Query(ctx, `SELECT r.kind, r.id, r.deleted, r.payload_enc FROM sync_records r
			JOIN unnest($2::text[], $3::text[]) AS k(kind, id) ON r.kind = k.kind AND r.id = k.id
			WHERE r.org_id = $1`, org, kinds, ids)
		if err != nil {
			return fmt.Errorf("reading sync records: %w", err)
		}
		for rows.Next() {
			var k [2]string
			var v struct {
				deleted bool
				enc     []byte
			}
			if err := rows.Scan(&k[0], &k[1], &v.deleted, &v.enc); err != nil {
				rows.Close()
				return fmt.Errorf("reading sync records: %w", err)
			}
			syncRecs[k] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading sync records: %w", err)
		}
	}
	for i := range page {
		r := &page[i]
		var err error
		switch r.src {
		case "content":
			r.c.Payload = contents[r.rowID] // nil when not sent
			continue
		case "ingest":
			t := ingestKinds[string(kindEntity(r.c.Kind))].table
			r.c.Payload, err = key.Open(envelope.Field{Table: t, Column: "resource_enc", RowID: r.rowID}, sealed[t+"/"+r.rowID])
		default:
			v := syncRecs[[2]string{string(r.c.Kind), r.c.ID}]
			if v.deleted {
				r.c.Op = syncfeed.OpDelete
				continue
			}
			r.c.Payload, err = key.Open(field(r.c.Kind, r.c.ID), v.enc)
		}
		if err != nil {
			return fmt.Errorf("opening a %s record: %w", r.c.Kind, err)
		}
	}
	return nil
}

// loadContents opens the document contents a page sends and returns their
// payloads (syncfeed.DocumentContent JSON) by row id.
func loadContents(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, key *envelope.OrgKey, page []row) (map[string][]byte, error) {
	var ids []string
	for _, r := range page {
		if r.src == "content" && r.sent {
			ids = append(ids, r.rowID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT id::text, document_fhir_id, attachment_index, patient_fhir_id, content_type, size_bytes, data_enc
		FROM document_contents WHERE org_id = $1 AND id = ANY($2::uuid[])`, org, ids)
	if err != nil {
		return nil, fmt.Errorf("reading document contents: %w", err)
	}
	type sealed struct {
		c   syncfeed.DocumentContent
		enc []byte
	}
	var got []sealed
	var rowIDs []string
	for rows.Next() {
		var x sealed
		var id string
		if err := rows.Scan(&id, &x.c.DocumentID, &x.c.AttachmentIndex, &x.c.PatientID, &x.c.ContentType, &x.c.Size, &x.enc); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading document contents: %w", err)
		}
		got, rowIDs = append(got, x), append(rowIDs, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading document contents: %w", err)
	}
	out := make(map[string][]byte, len(got))
	for i, x := range got {
		data, err := key.Open(envelope.Field{Table: "document_contents", Column: "data_enc", RowID: rowIDs[i]}, x.enc)
		if err != nil {
			return nil, fmt.Errorf("opening a document content: %w", err)
		}
		sum := sha256.Sum256(data)
		x.c.Data, x.c.SHA256 = data, hex.EncodeToString(sum[:])
		p, err := json.Marshal(x.c)
		if err != nil {
			return nil, fmt.Errorf("encoding a document content: %w", err)
		}
		out[rowIDs[i]] = p
	}
	return out, nil
}

func kindEntity(k syncfeed.Kind) string {
	for e, v := range ingestKinds {
		if v.kind == k {
			return e
		}
	}
	return ""
}

// recordReads appends one PHI read per patient whose data the page carries.
func recordReads(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, actor syncfeed.Actor, page []row) error {
	seen := map[string]bool{}
	for _, r := range page {
		if r.src == "content" && r.sent {
			doc, _, _ := strings.Cut(r.c.ID, "/")
			_, err := audit.RecordPHIAccess(ctx, tx, org, audit.PHIAccess{
				ActorUserID: actor.UserID, ActorRole: actor.Role, PatientRef: "Patient/" + r.patient,
				Resource: "document_content", ResourceID: doc, IP: actor.IP, DeviceID: actor.DeviceID,
				Details: map[string]string{"channel": "sync", "fields": "document"},
			})
			if err != nil {
				return fmt.Errorf("recording a PHI read: %w", err)
			}
			continue
		}
		if r.src != "ingest" || r.patient == "" || seen[r.patient] {
			continue
		}
		seen[r.patient] = true
		_, err := audit.RecordPHIAccess(ctx, tx, org, audit.PHIAccess{
			ActorUserID: actor.UserID, ActorRole: actor.Role, PatientRef: "Patient/" + r.patient,
			Resource: "sync", IP: actor.IP, DeviceID: actor.DeviceID,
			Details: map[string]string{"channel": "sync"},
		})
		if err != nil {
			return fmt.Errorf("recording a PHI read: %w", err)
		}
	}
	return nil
}

// LatestSeq implements syncfeed.Store.
func (s *Store) LatestSeq(ctx context.Context, org tenancy.OrgID) (int64, error) {
	var n int64
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT change_seq FROM organizations WHERE id = $1`, org).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("reading the change sequence: %w", err)
	}
	return n, nil
}

// Update implements syncfeed.Store.
func (s *Store) Update(ctx context.Context, org tenancy.OrgID, fn func(syncfeed.Tx) error) error {
	return s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		return fn(&txn{ctx: ctx, tx: tx, org: org, keys: s.keys})
	})
}

// Publish writes a record into the feed as another cloud writer would
// (configuration, screening types, documents) and returns its seq.
func (s *Store) Publish(ctx context.Context, org tenancy.OrgID, kind syncfeed.Kind, id string, op syncfeed.Op, payload []byte) (int64, error) {
	var seq int64
	err := s.Update(ctx, org, func(t syncfeed.Tx) error {
		var err error
		seq, err = t.Put(kind, id, op, payload)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("publishing a %s: %w", kind, err)
	}
	return seq, nil
}

type txn struct {
	ctx  context.Context
	tx   pgx.Tx
	org  tenancy.OrgID
	keys *envelope.Keys
	key  *envelope.OrgKey
}

func (t *txn) orgKey() (*envelope.OrgKey, error) {
	if t.key == nil {
		k, err := t.keys.ForOrg(t.ctx, t.tx, t.org)
		if err != nil {
			return nil, err
		}
		t.key = k
	}
	return t.key, nil
}

func (t *txn) Receipt(id uuid.UUID) (syncfeed.Receipt, bool, error) {
	var r syncfeed.Receipt
	var digest []byte
	var status int16
	err := t.tx.QueryRow(t.ctx, `SELECT digest, status, seq, message FROM sync_receipts WHERE org_id = $1 AND client_id = $2`,
		t.org, id).Scan(&digest, &status, &r.Ack.Seq, &r.Ack.Message)
	if errors.Is(err, pgx.ErrNoRows) {
		return syncfeed.Receipt{}, false, nil
	}
	if err != nil {
		return syncfeed.Receipt{}, false, fmt.Errorf("reading a receipt: %w", err)
	}
	r.Ack.ClientID, r.Ack.Status = id, syncfeed.Status(status)
	copy(r.Digest[:], digest)
	return r, true, nil
}

func (t *txn) SaveReceipt(r syncfeed.Receipt) error {
	_, err := t.tx.Exec(t.ctx, `INSERT INTO sync_receipts (org_id, client_id, digest, status, seq, message) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.org, r.Ack.ClientID, r.Digest[:], int16(r.Ack.Status), r.Ack.Seq, r.Ack.Message)
	if err != nil {
		return fmt.Errorf("storing a receipt: %w", err)
	}
	return nil
}

func (t *txn) open(kind syncfeed.Kind, id string, deleted bool, enc []byte) ([]byte, error) {
	if deleted {
		return nil, nil
	}
	k, err := t.orgKey()
	if err != nil {
		return nil, err
	}
	p, err := k.Open(field(kind, id), enc)
	if err != nil {
		return nil, fmt.Errorf("opening a %s record: %w", kind, err)
	}
	return p, nil
}

func (t *txn) Record(kind syncfeed.Kind, id string) (syncfeed.Record, bool, error) {
	r := syncfeed.Record{Kind: kind, ID: id, Op: syncfeed.OpUpsert}
	var deleted bool
	var enc []byte
	err := t.tx.QueryRow(t.ctx, `SELECT deleted, payload_enc, change_seq FROM sync_records WHERE org_id = $1 AND kind = $2 AND id = $3`,
		t.org, string(kind), id).Scan(&deleted, &enc, &r.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return syncfeed.Record{}, false, nil
	}
	if err != nil {
		return syncfeed.Record{}, false, fmt.Errorf("reading a %s record: %w", kind, err)
	}
	if deleted {
		r.Op = syncfeed.OpDelete
	}
	if r.Payload, err = t.open(kind, id, deleted, enc); err != nil {
		return syncfeed.Record{}, false, err
	}
	return r, true, nil
}

func (t *txn) Records(kind syncfeed.Kind, prefix string) ([]syncfeed.Record, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT id, deleted, payload_enc, change_seq FROM sync_records
		WHERE org_id = $1 AND kind = $2 AND starts_with(id, $3) ORDER BY id COLLATE "C"`, t.org, string(kind), prefix)
	if err != nil {
		return nil, fmt.Errorf("reading %s records: %w", kind, err)
	}
	type raw struct {
		r       syncfeed.Record
		deleted bool
		enc     []byte
	}
	var rs []raw
	for rows.Next() {
		x := raw{r: syncfeed.Record{Kind: kind, Op: syncfeed.OpUpsert}}
		if err := rows.Scan(&x.r.ID, &x.deleted, &x.enc, &x.r.Seq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading %s records: %w", kind, err)
		}
		rs = append(rs, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %s records: %w", kind, err)
	}
	out := make([]syncfeed.Record, 0, len(rs))
	for _, x := range rs {
		if x.deleted {
			x.r.Op = syncfeed.OpDelete
		}
		if x.r.Payload, err = t.open(kind, x.r.ID, x.deleted, x.enc); err != nil {
			return nil, err
		}
		out = append(out, x.r)
	}
	return out, nil
}

func (t *txn) Put(kind syncfeed.Kind, id string, op syncfeed.Op, payload []byte) (int64, error) {
	var seq int64
	if err := t.tx.QueryRow(t.ctx, `UPDATE organizations SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq`,
		t.org).Scan(&seq); err != nil {
		return 0, fmt.Errorf("taking the change sequence: %w", err)
	}
	var enc []byte
	deleted := op == syncfeed.OpDelete
	if !deleted {
		k, err := t.orgKey()
		if err != nil {
			return 0, err
		}
		if payload == nil {
			payload = []byte{}
		}
		if enc, err = k.Seal(field(kind, id), payload); err != nil {
			return 0, fmt.Errorf("sealing a %s record: %w", kind, err)
		}
	}
	_, err := t.tx.Exec(t.ctx, `INSERT INTO sync_records (org_id, kind, id, deleted, payload_enc, change_seq) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id, kind, id) DO UPDATE SET deleted = EXCLUDED.deleted, payload_enc = EXCLUDED.payload_enc,
			change_seq = EXCLUDED.change_seq, updated_at = now()`,
		t.org, string(kind), id, deleted, enc, seq)
	if err != nil {
		return 0, fmt.Errorf("writing a %s record: %w", kind, err)
	}
	return seq, nil
}

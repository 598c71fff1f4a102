package audit

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/tenancy"
)

// Filter selects entries; zero fields match everything.
type Filter struct {
	ActorUserID uuid.UUID
	// Action is an exact action ("auth.signin"), or a prefix when it ends
	// with a dot ("auth.").
	Action     string
	PatientRef string
	Outcome    Outcome
	// Since (inclusive) and Until (exclusive) bound the entry time.
	Since, Until time.Time
}

// Cursor is an opaque position in a newest-first listing. The zero Cursor
// is the start.
type Cursor string

// Query is one page request.
type Query struct {
	Filter
	After Cursor // from a previous Page.Next; empty for the first page
	Limit int    // 1–1000; 0 means DefaultLimit
}

// Page limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Page is one page of entries, newest first.
type Page struct {
	Entries []Entry
	Next    Cursor // empty when there are no more entries
}

var actionFilterRe = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)

func (f Filter) validate() error {
	if f.Action != "" && !actionFilterRe.MatchString(f.Action) {
		return invalid("action filter must be an action or a prefix ending in '.' (a-z, 0-9, '_', '.')")
	}
	if err := checkText("patient ref filter", f.PatientRef, maxShort); err != nil {
		return err
	}
	switch f.Outcome {
	case "", Success, Failure, Alert:
	default:
		return invalid("outcome filter must be success, failure or alert")
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return invalid("since must be before until")
	}
	return nil
}

// position is where a listing stands: the last entry returned.
type position struct {
	at  time.Time
	org tenancy.OrgID
	seq int64
}

const cursorVersion = "a1"

func (p position) cursor() Cursor {
	s := fmt.Sprintf("%s.%d.%s.%d", cursorVersion, p.at.UnixMicro(), p.org, p.seq)
	return Cursor(base64.RawURLEncoding.EncodeToString([]byte(s)))
}

func (c Cursor) position() (*position, error) {
	if c == "" {
		return nil, nil
	}
	bad := invalid("page token is not one this service issued")
	raw, err := base64.RawURLEncoding.DecodeString(string(c))
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 4 || parts[0] != cursorVersion {
		return nil, bad
	}
	micros, err1 := strconv.ParseInt(parts[1], 10, 64)
	org, err2 := tenancy.ParseOrgID(parts[2])
	seq, err3 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || seq < 1 {
		return nil, bad
	}
	return &position{at: time.UnixMicro(micros).UTC(), org: org, seq: seq}, nil
}

// List returns one page of org's entries matching q, newest first, in a
// transaction scoped to org: an org administrator's view.
func List(ctx context.Context, db *tenancy.DB, org tenancy.OrgID, q Query) (Page, error) {
	var p Page
	err := db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var err error
		p, err = list(ctx, tx, &org, q, true)
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("listing audit entries: %w", err)
	}
	return p, nil
}

// ListAll returns one page of every organisation's entries matching q,
// newest first, with platform scope: the root administrator's view (the
// caller has checked the role).
func ListAll(ctx context.Context, db *tenancy.DB, q Query) (Page, error) {
	var p Page
	err := db.WithPlatform(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = list(ctx, tx, nil, q, true)
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("listing audit entries: %w", err)
	}
	return p, nil
}

// list runs one page query. SQL is assembled only from the constant
// fragments below; every value is a parameter.
func list(ctx context.Context, tx pgx.Tx, org *tenancy.OrgID, q Query, newestFirst bool) (Page, error) {
	if err := q.validate(); err != nil {
		return Page{}, err
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return Page{}, invalid("page size must be between 1 and %d", MaxLimit)
	}
	after, err := q.After.position()
	if err != nil {
		return Page{}, err
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if org != nil {
		where = append(where, "org_id = "+arg(*org))
	}
	if q.ActorUserID != (uuid.UUID{}) {
		where = append(where, "actor_user_id = "+arg(q.ActorUserID))
	}
	switch {
	case strings.HasSuffix(q.Action, "."):
		where = append(where, "starts_with(action, "+arg(q.Action)+")")
	case q.Action != "":
		where = append(where, "action = "+arg(q.Action))
	}
	if q.PatientRef != "" {
		where = append(where, "patient_ref <> '' AND patient_ref = "+arg(q.PatientRef))
	}
	if q.Outcome != "" {
		where = append(where, "outcome = "+arg(string(q.Outcome)))
	}
	if !q.Since.IsZero() {
		where = append(where, "at >= "+arg(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "at < "+arg(q.Until))
	}
	cmp, dir := ">", "ASC"
	if newestFirst {
		cmp, dir = "<", "DESC"
	}
	if after != nil {
		where = append(where, fmt.Sprintf("(at, org_id, seq) %s (%s, %s, %s)", cmp, arg(after.at), arg(after.org), arg(after.seq)))
	}
	sql := "SELECT " + entryColumns + " FROM audit_log"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += fmt.Sprintf(" ORDER BY at %[1]s, org_id %[1]s, seq %[1]s LIMIT %s", dir, arg(limit+1))

	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return Page{}, fmt.Errorf("querying: %w", err)
	}
	ens, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return Page{}, fmt.Errorf("reading entries: %w", err)
	}
	var p Page
	if len(ens) > limit {
		ens = ens[:limit]
		last := ens[limit-1]
		p.Next = position{at: last.At, org: last.OrgID, seq: last.Seq}.cursor()
	}
	p.Entries = ens
	return p, nil
}

// CSVHeader is the first row ExportCSV writes.
var CSVHeader = []string{
	"org_id", "seq", "id", "at", "actor_user_id", "actor_role", "action", "outcome",
	"target_type", "target_id", "patient_ref", "ip", "device_id", "details", "prev_hash", "hash",
}

// exportBatch is how many entries each export transaction reads.
const exportBatch = 500

// ExportCSV writes org's entries matching f to w as CSV, oldest first: a
// header row (CSVHeader), then one row per entry with times in RFC 3339 UTC,
// details as JSON and hashes in hex. Cells that a spreadsheet would run as a
// formula are prefixed with a quote (see csvSafe). It pages through the log
// in short transactions scoped to org, so memory stays bounded and no
// transaction waits on a slow writer.
func ExportCSV(ctx context.Context, db *tenancy.DB, org tenancy.OrgID, f Filter, w io.Writer) error {
	return export(ctx, f, w, func(q Query) (Page, error) {
		var p Page
		err := db.WithOrg(ctx, org, func(tx pgx.Tx) error {
			var err error
			p, err = list(ctx, tx, &org, q, false)
			return err
		})
		return p, err
	})
}

// ExportAllCSV is ExportCSV over every organisation with platform scope, for
// the root administrator.
func ExportAllCSV(ctx context.Context, db *tenancy.DB, f Filter, w io.Writer) error {
	return export(ctx, f, w, func(q Query) (Page, error) {
		var p Page
		err := db.WithPlatform(ctx, func(tx pgx.Tx) error {
			var err error
			p, err = list(ctx, tx, nil, q, false)
			return err
		})
		return p, err
	})
}

func export(ctx context.Context, f Filter, w io.Writer, page func(Query) (Page, error)) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("exporting audit entries: %w", err)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("exporting audit entries: writing: %w", err)
	}
	q := Query{Filter: f, Limit: exportBatch}
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("exporting audit entries: %w", err)
		}
		p, err := page(q)
		if err != nil {
			return fmt.Errorf("exporting audit entries: %w", err)
		}
		for _, en := range p.Entries {
			if err := cw.Write(csvRecord(en)); err != nil {
				return fmt.Errorf("exporting audit entries: writing: %w", err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("exporting audit entries: writing: %w", err)
		}
		if p.Next == "" {
			return nil
		}
		q.After = p.Next
	}
}

func csvRecord(en Entry) []string {
	actor := ""
	if en.ActorUserID != (uuid.UUID{}) {
		actor = en.ActorUserID.String()
	}
	details, err := json.Marshal(en.Details)
	if err != nil {
		details = []byte("{}") // unreachable: a map of strings always encodes
	}
	rec := []string{
		en.OrgID.String(), strconv.FormatInt(en.Seq, 10), en.ID.String(),
		en.At.UTC().Format(time.RFC3339Nano), actor, en.ActorRole, en.Action, string(en.Outcome),
		en.TargetType, en.TargetID, en.PatientRef, en.IP, en.DeviceID, string(details),
		hex.EncodeToString(en.PrevHash), hex.EncodeToString(en.Hash),
	}
	for i := range rec {
		rec[i] = csvSafe(rec[i])
	}
	return rec
}

// csvSafe defuses CSV (formula) injection: a cell beginning with '=', '+',
// '-', '@', a tab or a carriage return is prefixed with a single quote, so a
// spreadsheet shows it as text instead of evaluating it. The quote is not
// part of the stored value.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

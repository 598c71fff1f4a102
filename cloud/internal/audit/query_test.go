package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/tenancy"
)

var (
	nurse = uuid.MustParse("00000000-0000-4000-8000-000000000001")
	admin = uuid.MustParse("00000000-0000-4000-8000-000000000002")
)

// mixed returns varied events: two per minute (so times tie and the cursor
// must break ties by seq), four actions, two actors, two patients, some
// failures.
func mixed(i int) audit.Event {
	e := audit.Event{
		At:          t0.Add(time.Duration(i/2) * time.Minute),
		ActorUserID: nurse,
		ActorRole:   "nurse",
		Outcome:     audit.Success,
		IP:          "192.0.2.10",
	}
	if i%3 == 0 {
		e.ActorUserID, e.ActorRole = admin, "admin"
	}
	switch i % 4 {
	case 0:
		e.Action, e.PatientRef, e.TargetType = "phi.read", fmt.Sprintf("pt-%d", i%8/4+1), "prep_sheet"
	case 1:
		e.Action = "auth.signin"
	case 2:
		e.Action = "auth.signout"
	case 3:
		e.Action = "org.status_change"
	}
	if i%5 == 0 {
		e.Outcome = audit.Failure
	}
	return e
}

type key struct {
	org tenancy.OrgID
	seq int64
}

// newestFirst orders entries as List does.
func newestFirst(ens []audit.Entry) []key {
	s := append([]audit.Entry(nil), ens...)
	sort.Slice(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if !a.At.Equal(b.At) {
			return a.At.After(b.At)
		}
		if a.OrgID != b.OrgID {
			return bytes.Compare(a.OrgID[:], b.OrgID[:]) > 0
		}
		return a.Seq > b.Seq
	})
	out := make([]key, len(s))
	for i, en := range s {
		out[i] = key{en.OrgID, en.Seq}
	}
	return out
}

// listAll pages through a listing with a small page size.
func listAll(t *testing.T, page func(audit.Query) (audit.Page, error), f audit.Filter) []key {
	t.Helper()
	var got []key
	q := audit.Query{Filter: f, Limit: 4}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("more than 100 pages: the cursor does not advance")
		}
		p, err := page(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) > 4 {
			t.Fatalf("page of %d entries; want at most 4", len(p.Entries))
		}
		for _, en := range p.Entries {
			got = append(got, key{en.OrgID, en.Seq})
		}
		if p.Next == "" {
			return got
		}
		q.After = p.Next
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := setup(t)
	a := appendN(t, f.tdb, f.a, 24, mixed)
	b := appendN(t, f.tdb, f.b, 10, mixed) // same actors and patient refs, other org
	ctx := context.Background()

	cases := []struct {
		name   string
		filter audit.Filter
		match  func(audit.Entry) bool
	}{
		{"everything", audit.Filter{}, func(audit.Entry) bool { return true }},
		{"actor", audit.Filter{ActorUserID: admin}, func(e audit.Entry) bool { return e.ActorUserID == admin }},
		{"exact action", audit.Filter{Action: "auth.signin"}, func(e audit.Entry) bool { return e.Action == "auth.signin" }},
		{"action prefix", audit.Filter{Action: "auth."}, func(e audit.Entry) bool { return strings.HasPrefix(e.Action, "auth.") }},
		{"patient", audit.Filter{PatientRef: "pt-2"}, func(e audit.Entry) bool { return e.PatientRef == "pt-2" }},
		{"outcome", audit.Filter{Outcome: audit.Failure}, func(e audit.Entry) bool { return e.Outcome == audit.Failure }},
		{"time range", audit.Filter{Since: t0.Add(3 * time.Minute), Until: t0.Add(7 * time.Minute)}, func(e audit.Entry) bool {
			return !e.At.Before(t0.Add(3*time.Minute)) && e.At.Before(t0.Add(7*time.Minute))
		}},
		{"combined", audit.Filter{ActorUserID: admin, Action: "phi.", Since: t0.Add(time.Minute)}, func(e audit.Entry) bool {
			return e.ActorUserID == admin && e.Action == "phi.read" && !e.At.Before(t0.Add(time.Minute))
		}},
		{"nothing matches", audit.Filter{Action: "billing."}, func(audit.Entry) bool { return false }},
	}
	sel := func(ens []audit.Entry, match func(audit.Entry) bool) []audit.Entry {
		var out []audit.Entry
		for _, en := range ens {
			if match(en) {
				out = append(out, en)
			}
		}
		return out
	}
	for _, tc := range cases {
		got := listAll(t, func(q audit.Query) (audit.Page, error) { return audit.List(ctx, f.tdb, f.a, q) }, tc.filter)
		if want := newestFirst(sel(a, tc.match)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List(org A, %s) = %v\nwant %v", tc.name, got, want)
		}
		for _, k := range got {
			if k.org != f.a {
				t.Errorf("List(org A, %s) returned an entry of org %s", tc.name, k.org)
			}
		}
		got = listAll(t, func(q audit.Query) (audit.Page, error) { return audit.ListAll(ctx, f.tdb, q) }, tc.filter)
		if want := newestFirst(sel(append(append([]audit.Entry(nil), a...), b...), tc.match)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ListAll(%s) = %v\nwant %v", tc.name, got, want)
		}
	}
}

// TestListNeverCrossesOrgs shows that org A's transaction cannot see org B's
// entries even when handed a cursor from B's listing or asked about B's
// patients.
func TestListNeverCrossesOrgs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	appendN(t, f.tdb, f.b, 6, mixed)
	pb, err := audit.List(ctx, f.tdb, f.b, audit.Query{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []audit.Query{{}, {After: pb.Next}, {Filter: audit.Filter{PatientRef: "pt-1"}}} {
		p, err := audit.List(ctx, f.tdb, f.a, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) != 0 {
			t.Errorf("org A listing %+v returned %d of org B's entries; want 0", q, len(p.Entries))
		}
	}
	// Nor can org A's transaction append to B's chain.
	err = f.tdb.WithOrg(ctx, f.a, func(tx pgx.Tx) error {
		_, err := audit.Append(ctx, tx, f.b, event(1))
		return err
	})
	t.Logf("appending to org B inside org A's transaction: %v", err)
	if err == nil {
		t.Error("org A appended to org B's chain")
	}
	if n := countEntries(t, f.tdb, f.b); n != 6 {
		t.Errorf("org B has %d entries; want 6", n)
	}
}

func TestListRejectsBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	cases := []struct {
		name    string
		q       audit.Query
		wantMsg string
	}{
		{"negative page size", audit.Query{Limit: -1}, "page size must be between 1 and 1000"},
		{"page size too large", audit.Query{Limit: 1001}, "page size must be between 1 and 1000"},
		{"garbage cursor", audit.Query{After: "not a cursor!"}, "page token is not one this service issued"},
		{"forged cursor", audit.Query{After: "YTEuMS54LjE"}, "page token is not one this service issued"},
		{"bad action", audit.Query{Filter: audit.Filter{Action: "Auth Signin"}}, "action filter must be"},
		{"bad outcome", audit.Query{Filter: audit.Filter{Outcome: "maybe"}}, "outcome filter must be"},
		{"inverted range", audit.Query{Filter: audit.Filter{Since: t0, Until: t0}}, "since must be before until"},
	}
	for _, tc := range cases {
		_, err := audit.List(ctx, f.tdb, f.a, tc.q)
		t.Logf("%s: %v", tc.name, err)
		if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("%s: error = %v; want ErrInvalid saying %q", tc.name, err, tc.wantMsg)
		}
	}
}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	// Values a spreadsheet would run as formulas.
	hostile := func(i int) audit.Event {
		e := event(i)
		e.ActorRole = "+admin"
		e.TargetType = "@SUM(A1)"
		e.TargetID = `=HYPERLINK("http://evil.example","x")`
		e.DeviceID = "-2+3"
		e.Details = map[string]string{"note": "=1+1"}
		return e
	}
	a := appendN(t, f.tdb, f.a, 3, hostile)
	b := appendN(t, f.tdb, f.b, 2, event)

	var buf bytes.Buffer
	if err := audit.ExportCSV(ctx, f.tdb, f.a, audit.Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, buf.String())
	}
	if got, want := strings.Join(recs[0], ","), strings.Join(audit.CSVHeader, ","); got != want {
		t.Errorf("header = %s; want %s", got, want)
	}
	if got := len(recs) - 1; got != len(a) {
		t.Fatalf("export has %d rows; want %d (org A only)", got, len(a))
	}
	for i, rec := range recs[1:] {
		en := a[i] // oldest first
		want := []string{
			f.a.String(), fmt.Sprint(en.Seq), en.ID.String(), en.At.UTC().Format(time.RFC3339Nano),
			en.ActorUserID.String(), "'+admin", "auth.signin", "success", "'@SUM(A1)",
			`'=HYPERLINK("http://evil.example","x")`, "", "192.0.2.10", "'-2+3", `{"note":"=1+1"}`,
			hex.EncodeToString(en.PrevHash), hex.EncodeToString(en.Hash),
		}
		if fmt.Sprintf("%q", rec) != fmt.Sprintf("%q", want) {
			t.Errorf("row %d:\n got %q\nwant %q", i+1, rec, want)
		}
		if _, err := time.Parse(time.RFC3339, rec[3]); err != nil || !strings.HasSuffix(rec[3], "Z") {
			t.Errorf("row %d: time %q is not RFC 3339 UTC", i+1, rec[3])
		}
	}

	buf.Reset()
	if err := audit.ExportAllCSV(ctx, f.tdb, audit.Filter{Action: "auth.signin"}, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(recs)-1, len(a)+len(b); got != want {
		t.Errorf("root export has %d rows; want %d (both orgs)", got, want)
	}

	err = audit.ExportCSV(ctx, f.tdb, f.a, audit.Filter{Outcome: "maybe"}, &buf)
	if !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("export with a bad filter: error = %v; want ErrInvalid", err)
	}
}

// TestExportCSVPagesThroughLongLogs exports more entries than one export
// batch and checks none is lost or repeated.
func TestExportCSVPagesThroughLongLogs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	const n = 1234
	err := f.tdb.WithOrg(ctx, f.a, func(tx pgx.Tx) error {
		for i := 1; i <= n; i++ {
			e := event(i)
			e.At = t0.Add(time.Duration(i/7) * time.Second) // many ties
			if _, err := audit.Append(ctx, tx, f.a, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := audit.ExportCSV(ctx, f.tdb, f.a, audit.Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n+1 {
		t.Fatalf("export has %d rows; want %d", len(recs)-1, n)
	}
	for i, rec := range recs[1:] {
		if want := fmt.Sprint(i + 1); rec[1] != want {
			t.Fatalf("row %d has seq %s; want %s (oldest first, none lost or repeated)", i+1, rec[1], want)
		}
	}
}

func TestRecordPHIAccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	record := func(a audit.PHIAccess) (audit.Entry, error) {
		var en audit.Entry
		err := f.tdb.WithOrg(ctx, f.a, func(tx pgx.Tx) error {
			var err error
			en, err = audit.RecordPHIAccess(ctx, tx, f.a, a)
			return err
		})
		return en, err
	}
	ok := audit.PHIAccess{
		ActorUserID: nurse, ActorRole: "nurse", PatientRef: "pt-8f3a2c", Resource: "prep_sheet",
		ResourceID: "ps-42", IP: "2001:db8::7", DeviceID: "ws-frontdesk-1",
		Details: map[string]string{"channel": "desktop", "purpose": "treatment", "count": "1"},
	}
	en, err := record(ok)
	if err != nil {
		t.Fatal(err)
	}
	if en.Action != audit.ActionPHIRead || en.Outcome != audit.Success || en.TargetType != "prep_sheet" ||
		en.PatientRef != "pt-8f3a2c" || en.IP != "2001:db8::7" || en.OrgID != f.a {
		t.Errorf("recorded %+v; want a successful phi.read of prep_sheet for pt-8f3a2c from 2001:db8::7 in org A", en.Event)
	}
	p, err := audit.List(ctx, f.tdb, f.a, audit.Query{Filter: audit.Filter{PatientRef: "pt-8f3a2c", Action: "phi."}})
	if err != nil || len(p.Entries) != 1 {
		t.Fatalf("listing the patient's PHI reads: %d entries, %v; want 1", len(p.Entries), err)
	}

	cases := []struct {
		name    string
		mutate  func(a *audit.PHIAccess)
		wantMsg string
	}{
		{"no patient", func(a *audit.PHIAccess) { a.PatientRef = "" }, "patient ref must be an opaque reference"},
		{"patient named", func(a *audit.PHIAccess) { a.PatientRef = "Jane Doe" }, "patient ref must be an opaque reference"},
		{"no reader", func(a *audit.PHIAccess) { a.ActorUserID = uuid.UUID{} }, "needs the user who read"},
		{"no resource", func(a *audit.PHIAccess) { a.Resource = "" }, "resource must be a code"},
		{"free-text resource id", func(a *audit.PHIAccess) { a.ResourceID = "Jane Doe's chart" }, "resource id must be"},
		{"from nowhere", func(a *audit.PHIAccess) { a.IP, a.DeviceID = "", "" }, "needs the IP address or the device"},
		{"ip with port", func(a *audit.PHIAccess) { a.IP = "192.0.2.1:443" }, "ip must be an IPv4 or IPv6 address"},
		{"details key not allowed", func(a *audit.PHIAccess) { a.Details = map[string]string{"diagnosis": "flu"} }, "details key is not one of"},
		{"free-text details value", func(a *audit.PHIAccess) { a.Details = map[string]string{"purpose": "Jane Doe asked"} }, "details value of purpose must be a token"},
		{"alert outcome", func(a *audit.PHIAccess) { a.Outcome = audit.Alert }, "outcome is success or failure"},
	}
	for _, tc := range cases {
		a := ok
		tc.mutate(&a)
		_, err := record(a)
		t.Logf("%s: %v", tc.name, err)
		if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("%s: error = %v; want ErrInvalid saying %q", tc.name, err, tc.wantMsg)
		}
		if err != nil && (strings.Contains(err.Error(), "Jane") || strings.Contains(err.Error(), "flu")) {
			t.Errorf("%s: error %q echoes the rejected value", tc.name, err)
		}
	}
	if n := countEntries(t, f.tdb, f.a); n != 1 {
		t.Errorf("after rejected PHI reads the chain has %d entries; want 1", n)
	}
}

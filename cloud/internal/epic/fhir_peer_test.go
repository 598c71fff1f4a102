package epic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"healthprep.dev/cloud/internal/testpeer"
)

// TestPeerFHIRSearch runs the FHIR client's searches, reads and writes
// against Medplum's FHIR router (see setup_peer_test.go for how it differs
// from the sandbox). Medplum checks no token; the client sends one anyway.
func TestPeerFHIRSearch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := testpeer.NewFHIR(t)
	obs := func(patient, date string) map[string]any {
		return map[string]any{"resourceType": "Observation", "status": "final", "subject": map[string]any{"reference": "Patient/" + patient},
			"code": map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "4548-4"}}}, "effectiveDateTime": date}
	}
	first := []any{
		map[string]any{"resourceType": "Patient", "id": "p1", "birthDate": "1961-04-05"},
		map[string]any{"resourceType": "Patient", "id": "p2", "birthDate": "1972-08-09"},
		map[string]any{"resourceType": "Patient", "id": "p3", "birthDate": "1983-11-12"},
		obs("p2", "2024-01-15"), obs("p3", "2023-01-01"), obs("p3", "2023-02-01"),
	}
	for m := 1; m <= 5; m++ {
		first = append(first, obs("p1", fmt.Sprintf("2024-%02d-01", m)))
	}
	if _, err := f.Load(ctx, first...); err != nil {
		t.Fatal(err)
	}
	c := peerClient(t, f.URL, fixedTokens{&oauth2.Token{AccessToken: "unchecked", TokenType: "Bearer"}}, &http.Client{Timeout: 30 * time.Second})
	p1 := url.Values{"patient": {"Patient/p1"}}
	with := func(base url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, v := range base {
			out[k] = slices.Clone(v)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}

	t.Run("by patient with _count: one page, no next link, all matches", func(t *testing.T) {
		t.Parallel()
		var pages []Page
		err := c.SearchPages(ctx, "Observation", with(p1, "_count", "50"), func(p Page) error {
			pages = append(pages, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(pages) != 1 || len(pages[0].Resources) != 5 || pages[0].Total != 5 || pages[0].Next != "" {
			t.Fatalf("got %d pages (first: %d resources, total %d, next %q), want 1 page of 5, total 5, no next link",
				len(pages), len(pages[0].Resources), pages[0].Total, pages[0].Next)
		}
	})

	t.Run("a bare patient id matches nothing on Medplum; Patient/<id> works on both", func(t *testing.T) {
		t.Parallel()
		got, err := c.Search(ctx, "Observation", url.Values{"patient": {"p1"}})
		if err != nil || len(got) != 0 {
			t.Errorf("patient=p1: %d results, %v; want Medplum's quiet 0 (the reason ingest must send Patient/<id>)", len(got), err)
		}
		// The sandbox (like Epic) takes the Patient/<id> form too.
		e := setup(t)
		sc := e.client(t, fixedTokens{&oauth2.Token{AccessToken: e.sb.IssueToken("system/*.read"), TokenType: "Bearer"}}, RetryPolicy{})
		bob, err := sc.Search(ctx, "Observation", url.Values{"patient": {"Patient/bob"}})
		if err != nil || len(bob) == 0 {
			t.Errorf("sandbox patient=Patient/bob: %d results, %v; want bob's observations", len(bob), err)
		}
	})

	t.Run("_count below the total without a next link is reported, not dropped", func(t *testing.T) {
		t.Parallel()
		var delivered int
		err := c.SearchPages(ctx, "Observation", with(p1, "_count", "2"), func(p Page) error {
			delivered += len(p.Resources)
			return nil
		})
		var fe *Error
		if !errors.Is(err, ErrIncomplete) || !errors.As(err, &fe) || !strings.Contains(err.Error(), "counted 5 matches but sent 2") {
			t.Fatalf("got %v, want ErrIncomplete naming 5 matches and 2 sent", err)
		}
		if delivered != 2 {
			t.Errorf("delivered %d resources, want the 2 that came (they are good)", delivered)
		}
		if strings.Contains(err.Error(), "p1") {
			t.Errorf("the error carries a query value: %v", err)
		}
	})

	t.Run("date prefixes", func(t *testing.T) {
		t.Parallel()
		got, err := c.Search(ctx, "Observation", with(p1, "date", "ge2024-02-01", "date", "lt2024-04-01", "_sort", "date"))
		if err != nil {
			t.Fatal(err)
		}
		if dates := effective(t, got); !slices.Equal(dates, []string{"2024-02-01", "2024-03-01"}) {
			t.Errorf("ge2024-02-01 and lt2024-04-01 gave %v, want February and March", dates)
		}
	})

	t.Run("_lastUpdated incremental", func(t *testing.T) {
		t.Parallel()
		// The watermark is the server's own meta.lastUpdated of the last
		// resource seen, as ingest keeps it.
		p3 := url.Values{"patient": {"Patient/p3"}, "_count": {"100"}}
		all, err := c.Search(ctx, "Observation", p3)
		if err != nil {
			t.Fatal(err)
		}
		var mark time.Time
		for _, r := range all {
			if lu := lastUpdated(t, r); lu.After(mark) {
				mark = lu
			}
		}
		later, err := f.Load(ctx, obs("p3", "2024-06-01"), obs("p3", "2024-07-01"), obs("p2", "2024-06-01"))
		if err != nil {
			t.Fatal(err)
		}
		// Only this subtest writes for p3, so what is newer than the
		// watermark is exactly the two added here (Medplum stamps
		// milliseconds; each write is a loopback round trip later).
		got, err := c.Search(ctx, "Observation", UpdatedSince(p3, mark))
		if err != nil {
			t.Fatal(err)
		}
		if ids := ids(t, got); !slices.Equal(sorted(ids), sorted(later[:2])) {
			t.Errorf("_lastUpdated=gt%s gave %v, want the two written after it %v", mark.Format(time.RFC3339Nano), ids, later[:2])
		}
		for _, r := range got {
			if !lastUpdated(t, r).After(mark) {
				t.Errorf("a resource updated at %s came back for gt %s", lastUpdated(t, r), mark)
			}
		}
	})

	t.Run("OperationOutcome becomes an error with codes only", func(t *testing.T) {
		t.Parallel()
		_, err := c.Search(ctx, "Observation", with(p1, "date", "not-a-date"))
		var fe *Error
		if !errors.Is(err, ErrBadRequest) || !errors.As(err, &fe) || fe.StatusCode != http.StatusBadRequest ||
			len(fe.Issues) != 1 || fe.Issues[0].Code != "invalid" {
			t.Fatalf("got %v, want ErrBadRequest (HTTP 400) with one invalid issue", err)
		}
		if strings.Contains(err.Error(), "not-a-date") || strings.Contains(err.Error(), "Invalid format") {
			t.Errorf("the error carries the query value or the server's text: %v", err)
		}
		_, err = c.Read(ctx, "Patient", "nobody")
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &fe) || len(fe.Issues) != 1 || fe.Issues[0].Code != "not-found" {
			t.Errorf("reading a missing patient: %v, want ErrNotFound with a not-found issue", err)
		}
	})

	t.Run("read and Binary as a FHIR resource", func(t *testing.T) {
		t.Parallel()
		raw, err := c.Read(ctx, "Patient", "p2")
		if err != nil || !strings.Contains(string(raw), `"birthDate":"1972-08-09"`) {
			t.Fatalf("read Patient/p2: %s, %v", raw, err)
		}
		pdf := []byte("%PDF-1.4 peer test")
		if _, err := f.Load(ctx, map[string]any{"resourceType": "Binary", "id": "doc1", "contentType": "application/pdf", "data": pdf}); err != nil {
			t.Fatal(err)
		}
		// Medplum answers Binary as FHIR JSON (base64 data); the sandbox
		// sends the raw bytes. Binary handles both.
		b, err := c.Binary(ctx, "Binary/doc1")
		if err != nil {
			t.Fatal(err)
		}
		if b.ContentType != "application/pdf" || string(b.Data) != string(pdf) {
			t.Errorf("Binary: %q %q, want application/pdf and the bytes stored", b.ContentType, b.Data)
		}
	})

	t.Run("write-back: create, conditional update, stale version refused", func(t *testing.T) {
		t.Parallel()
		doc := func(status string) []byte {
			return []byte(`{"resourceType":"DocumentReference","status":"` + status + `","subject":{"reference":"Patient/p1"},` +
				`"type":{"coding":[{"system":"http://loinc.org","code":"11506-3"}]},` +
				`"content":[{"attachment":{"contentType":"application/pdf","url":"Binary/doc1"}}]}`)
		}
		w, err := c.Create(ctx, "DocumentReference", doc("current"))
		if err != nil {
			t.Fatal(err)
		}
		if w.ID == "" || w.VersionID == "" {
			t.Fatalf("create: id %q version %q, want both from the server", w.ID, w.VersionID)
		}
		w2, err := c.Update(ctx, "DocumentReference", w.ID, withID(t, doc("current"), w.ID), `W/"`+w.VersionID+`"`)
		if err != nil {
			t.Fatalf("update with the current version: %v", err)
		}
		if w2.ID != w.ID || w2.VersionID == w.VersionID {
			t.Errorf("update: id %q version %q, want the same id and a new version", w2.ID, w2.VersionID)
		}
		_, err = c.Update(ctx, "DocumentReference", w.ID, withID(t, doc("superseded"), w.ID), `W/"`+w.VersionID+`"`)
		var fe *Error
		if !errors.As(err, &fe) || fe.StatusCode != http.StatusPreconditionFailed || !errors.Is(err, ErrBadRequest) {
			t.Errorf("update with a stale version: %v, want HTTP 412 (ErrBadRequest)", err)
		}
	})
}

func effective(t *testing.T, rs []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		var v struct {
			EffectiveDateTime string `json:"effectiveDateTime"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.EffectiveDateTime)
	}
	return out
}

func lastUpdated(t *testing.T, r json.RawMessage) time.Time {
	t.Helper()
	var v struct {
		Meta struct {
			LastUpdated time.Time `json:"lastUpdated"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(r, &v); err != nil || v.Meta.LastUpdated.IsZero() {
		t.Fatalf("resource without meta.lastUpdated: %v", err)
	}
	return v.Meta.LastUpdated
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func withID(t *testing.T, doc []byte, id string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	m["id"] = id
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

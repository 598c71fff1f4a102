package ingest_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/pgtest"
)

// docsBundle is one patient on tomorrow's schedule with four scanned
// documents given by url: small (relative url), small (absolute url),
// too large, and pointing at a Binary that does not exist.
func docsBundle(base string, big int) []byte {
	day := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	small := base64.StdEncoding.EncodeToString([]byte("Colonoscopy 2019: normal."))
	large := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", big)))
	doc := func(id, url string) string {
		return fmt.Sprintf(`{"resource":{"resourceType":"DocumentReference","id":%q,"status":"current",
			"type":{"coding":[{"system":"http://loinc.org","code":"11488-4"}]},"subject":{"reference":"Patient/dp"},
			"date":"2024-05-01T10:00:00Z","content":[{"attachment":{"contentType":"text/plain","url":%q}}]}}`, id, url)
	}
	return []byte(`{"resourceType":"Bundle","type":"collection","entry":[
		{"resource":{"resourceType":"Patient","id":"dp","name":[{"family":"Docs","given":["Dee"]}],"birthDate":"1960-01-01","gender":"female"}},
		{"resource":{"resourceType":"Appointment","id":"dp-appt","status":"booked","start":"` + day + `T15:00:00Z","end":"` + day + `T15:20:00Z",
			"participant":[{"actor":{"reference":"Patient/dp"}}]}},
		{"resource":{"resourceType":"Binary","id":"bin-small","contentType":"text/plain","data":"` + small + `"}},
		{"resource":{"resourceType":"Binary","id":"bin-large","contentType":"application/pdf","data":"` + large + `"}},
		` + doc("doc-rel", "Binary/bin-small") + `,
		` + doc("doc-abs", base+"/Binary/bin-small") + `,
		` + doc("doc-big", "Binary/bin-large") + `,
		` + doc("doc-gone", "Binary/missing") + `]}`)
}

func TestDocumentContentIsFetchedSealedAndCapped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The sandbox's base URL is known only once it runs: load the data after.
	b := setupRun(t, []byte(`{"resourceType":"Bundle","type":"collection","entry":[]}`), clientOpts{})
	if _, err := b.sb.Load(docsBundle(b.srv.FHIRBase(), 4096)); err != nil {
		t.Fatal(err)
	}
	st, err := b.store.Run(ctx, b.orgA, b.client, ingest.RunOptions{WindowDays: 14, MaxDocumentBytes: 1024})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if st.Contents != 2 || st.Quarantined != 2 {
		t.Errorf("stats = %+v; want 2 contents stored and 2 documents quarantined", st)
	}
	rd := ingest.Reader{Role: "admin", Channel: "api", UserID: [16]byte{1}, IP: "127.0.0.1"}
	for _, id := range []string{"doc-rel", "doc-abs"} {
		c, err := b.store.DocumentContent(ctx, b.orgA, rd, id, 0)
		if err != nil || c.ContentType != "text/plain" || string(c.Data) != "Colonoscopy 2019: normal." {
			t.Errorf("%s content = %q %q, %v; want the Binary's text", id, c.ContentType, c.Data, err)
		}
	}
	if _, err := b.store.DocumentContent(ctx, b.orgA, rd, "doc-big", 0); err == nil {
		t.Error("the oversized content was stored")
	}
	q, err := b.store.Quarantine(ctx, b.orgA, 10)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, r := range q {
		reasons[r.FHIRID] = r.Reason
	}
	if got, want := reasons["doc-big"], "attachment 1 is 4 KiB, over the 1 KiB limit for document content; not stored"; got != want {
		t.Errorf("doc-big reason = %q; want %q", got, want)
	}
	if got := reasons["doc-gone"]; !strings.Contains(got, "no content at its url") {
		t.Errorf("doc-gone reason = %q; want the missing content in words", got)
	}
	// The documents themselves are stored (the chart keeps them).
	c, _ := b.store.Count(ctx, b.orgA)
	if c.ByType["DocumentReference"] != 4 {
		t.Errorf("stored DocumentReferences = %d; want 4", c.ByType["DocumentReference"])
	}
	// Sealed at rest.
	super := pgtest.Pool(t, b.pgdb.SuperDSN)
	var dump string
	if err := super.QueryRow(ctx, `SELECT string_agg(d::text, '') FROM document_contents d`).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, "Colonoscopy") || strings.Contains(dump, "436f6c6f6e6f73636f7079") {
		t.Error("document_contents holds the content in clear")
	}
	// A second run fetches nothing again.
	again, err := b.store.Run(ctx, b.orgA, b.client, ingest.RunOptions{WindowDays: 14, MaxDocumentBytes: 1024, Overlap: time.Hour})
	if err != nil || again.Contents != 0 {
		t.Errorf("second run = %+v, %v; want no content fetched again", again, err)
	}
}

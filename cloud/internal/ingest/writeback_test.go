package ingest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"golang.org/x/oauth2"

	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/sandbox"
)

const writeScope = "user/*.read user/DocumentReference.write"

// writer returns a FHIR client allowed to write DocumentReferences, with
// no retries of its own (so a test sees each failure).
func (b runBundle) writer(t *testing.T) *epic.Client {
	t.Helper()
	tok := b.sb.IssueToken(writeScope)
	c, err := epic.NewClient(epic.Config{BaseURL: b.srv.FHIRBase(), Tokens: epic.NewTokens(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"},
		func(context.Context) (*oauth2.Token, error) { return nil, errors.New("no refresh in this test") }),
		Retry: epic.RetryPolicy{MaxAttempts: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxRetryAfter: time.Second, MaxElapsed: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ourDocs lists the DocumentReferences in the sandbox that carry our
// identifier for patient's visits.
func ourDocs(t *testing.T, c *epic.Client, patient string) []map[string]any {
	t.Helper()
	raws, err := c.Search(context.Background(), "DocumentReference", url.Values{"patient": {"Patient/" + patient}})
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, raw := range raws {
		if strings.Contains(string(raw), ingest.OwnIdentifierSystem) {
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			out = append(out, m)
		}
	}
	return out
}

// setupWriteback ingests 3 patients (appointments tomorrow onwards) and
// returns the bundle, the first patient and its appointment.
func setupWriteback(t *testing.T) (runBundle, string, string) {
	t.Helper()
	b := setupRun(t, genData(3, 10, time.Now().UTC()), clientOpts{})
	if _, err := b.store.Run(context.Background(), b.orgA, b.client, ingest.RunOptions{WindowDays: 14}); err != nil {
		t.Fatal(err)
	}
	return b, "pat-0000", "appt-0000"
}

// addLab stores one more lab result for patient, as a later ingest would.
func addLab(t *testing.T, b runBundle, patient, id string, value float64) {
	t.Helper()
	r, err := ingest.Parse(json.RawMessage(fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}],"text":"Hemoglobin A1c"},
		"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q,"valueQuantity":{"value":%g,"unit":"%%"}}`,
		id, patient, time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02"), value)), "Observation")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Apply(context.Background(), b.orgA, ingest.Batch{Resources: []ingest.Resource{r}}); err != nil {
		t.Fatal(err)
	}
}

func TestWriteBackCreatesThenReplacesInPlace(t *testing.T) {
	t.Parallel()
	b, patient, appt := setupWriteback(t)
	ctx := context.Background()
	w := b.writer(t)
	lim := ingest.WritebackLimits{MaxPerDay: 3}
	now := time.Now()

	first, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, now)
	if err != nil || first.Outcome != ingest.WritebackCreated || first.DocumentID == "" {
		t.Fatalf("first write-back = %+v, %v; want created", first, err)
	}
	docs := ourDocs(t, w, patient)
	if len(docs) != 1 {
		t.Fatalf("Epic holds %d of our documents; want 1", len(docs))
	}
	d := docs[0]
	typ, _ := json.Marshal(d["type"])
	subj, _ := json.Marshal(d["subject"])
	ctxJSON, _ := json.Marshal(d["context"])
	meta, _ := json.Marshal(d["meta"])
	if !strings.Contains(string(typ), `"code":"11506-3"`) || !strings.Contains(string(typ), "http://loinc.org") {
		t.Errorf("type = %s; want LOINC 11506-3", typ)
	}
	if string(subj) != `{"reference":"Patient/pat-0000"}` || !strings.Contains(string(ctxJSON), `"Appointment/appt-0000"`) {
		t.Errorf("subject %s, context %s; want the patient and the visit", subj, ctxJSON)
	}
	if !strings.Contains(string(meta), ingest.OwnTagSystem) {
		t.Errorf("meta = %s; want our tag", meta)
	}
	att := d["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
	pdf, _ := base64.StdEncoding.DecodeString(att["data"].(string))
	if att["contentType"] != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Errorf("attachment %v / %.8q; want an inline PDF", att["contentType"], pdf)
	}

	// The same sheet again: nothing is sent.
	same, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, now.Add(time.Minute))
	if err != nil || same.Outcome != ingest.WritebackUnchanged || same.DocumentID != first.DocumentID {
		t.Errorf("unchanged sheet = %+v, %v; want unchanged, same document", same, err)
	}

	// New data: the same document is replaced, conditional on its version.
	addLab(t, b, patient, "new-a1c", 7.2)
	second, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, now.Add(2*time.Minute))
	if err != nil || second.Outcome != ingest.WritebackUpdated || second.DocumentID != first.DocumentID || second.VersionID == first.VersionID {
		t.Fatalf("second write-back = %+v (first %+v), %v; want the same document, a new version", second, first, err)
	}
	if n := len(ourDocs(t, w, patient)); n != 1 {
		t.Errorf("after the update Epic holds %d of our documents; want 1 (no pile-up)", n)
	}

	// Someone edited it in Epic meanwhile: we still replace it, not copy it.
	raw, _ := w.Read(ctx, "DocumentReference", first.DocumentID)
	if _, err := w.Update(ctx, "DocumentReference", first.DocumentID, raw, ""); err != nil {
		t.Fatal(err)
	}
	addLab(t, b, patient, "newer-a1c", 7.4)
	third, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, now.Add(3*time.Minute))
	if err != nil || third.Outcome != ingest.WritebackUpdated || third.DocumentID != first.DocumentID {
		t.Fatalf("after an edit in Epic = %+v, %v; want updated in place", third, err)
	}
	if n := len(ourDocs(t, w, patient)); n != 1 {
		t.Errorf("Epic holds %d of our documents; want 1", n)
	}
	row, err := b.store.Writeback(ctx, b.orgA, appt)
	if err != nil || row.Status != "written" || row.DocumentID != first.DocumentID || row.VersionID != third.VersionID || row.Writes != 3 {
		t.Errorf("write-back row = %+v, %v; want written, 3 writes, the latest version", row, err)
	}
	var audited int
	_ = b.db.WithOrg(ctx, b.orgA, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'epic.writeback' AND outcome = 'success'
			AND patient_ref = 'Patient/pat-0000'`).Scan(&audited)
	})
	if audited != 3 {
		t.Errorf("audited write-backs = %d; want 3", audited)
	}
}

func TestWriteBackDailyLimit(t *testing.T) {
	t.Parallel()
	b, patient, appt := setupWriteback(t)
	ctx := context.Background()
	w := b.writer(t)
	lim := ingest.WritebackLimits{MaxPerDay: 2}
	now := time.Now()
	for i, want := range []string{ingest.WritebackCreated, ingest.WritebackUpdated, ingest.WritebackCapped} {
		addLab(t, b, patient, fmt.Sprintf("lab-%d", i), 6+float64(i)/10)
		got, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, now.Add(time.Duration(i)*time.Minute))
		if err != nil || got.Outcome != want {
			t.Fatalf("write %d = %+v, %v; want %s", i+1, got, err, want)
		}
	}
	row, _ := b.store.Writeback(ctx, b.orgA, appt)
	if row.Status != "capped" || !strings.Contains(row.LastError, "limit of 2 prep sheets per patient per day") {
		t.Errorf("row = %+v; want capped, the limit in words", row)
	}
	docs := ourDocs(t, w, patient)
	if len(docs) != 1 || docs[0]["meta"].(map[string]any)["versionId"] != "2" {
		t.Errorf("Epic holds %d documents (%v); want 1 at version 2", len(docs), docs)
	}
	sum, err := b.store.Writebacks(ctx, b.orgA, 10)
	if err != nil || sum.Capped != 1 || len(sum.Problems) != 1 || sum.Problems[0].AppointmentID != appt {
		t.Errorf("summary = %+v, %v; want the capped visit listed", sum, err)
	}
	// The next day the latest sheet goes out.
	next, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, now.Add(24*time.Hour))
	if err != nil || next.Outcome != ingest.WritebackUpdated {
		t.Errorf("next day = %+v, %v; want updated", next, err)
	}
}

// TestWriteBackServerErrorThenRetry: a 500 fails the attempt with the reason
// in words, gives the daily slot back, and the retry writes one document.
func TestWriteBackServerErrorThenRetry(t *testing.T) {
	t.Parallel()
	b, patient, appt := setupWriteback(t)
	ctx := context.Background()
	w := b.writer(t)
	lim := ingest.WritebackLimits{MaxPerDay: 1}
	b.sb.InjectFault(sandbox.Fault{Kind: sandbox.FaultServerError, PathPrefix: "/DocumentReference", Times: 1})
	if _, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, time.Now()); !errors.Is(err, epic.ErrServer) {
		t.Fatalf("with a 500: %v; want ErrServer", err)
	}
	row, _ := b.store.Writeback(ctx, b.orgA, appt)
	if row.Status != "failed" || row.Attempts != 1 || !strings.Contains(row.LastError, "HTTP 500") {
		t.Errorf("row after the 500 = %+v; want failed, 1 attempt, the status in words", row)
	}
	got, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, time.Now())
	if err != nil || got.Outcome != ingest.WritebackCreated {
		t.Fatalf("retry = %+v, %v; want created (the failed attempt did not use the daily slot)", got, err)
	}
	if n := len(ourDocs(t, w, patient)); n != 1 {
		t.Errorf("Epic holds %d of our documents; want 1", n)
	}
	row, _ = b.store.Writeback(ctx, b.orgA, appt)
	if row.Status != "written" || row.Attempts != 2 || row.LastError != "" {
		t.Errorf("row after the retry = %+v; want written, 2 attempts, no error", row)
	}
}

// TestOurDocumentIsSkippedAtIngest: the next ingest sees our document in
// Epic, skips it, and the sheet (which would count it as evidence if it
// were stored) does not change.
func TestOurDocumentIsSkippedAtIngest(t *testing.T) {
	t.Parallel()
	b, _, appt := setupWriteback(t)
	ctx := context.Background()
	w := b.writer(t)
	lim := ingest.WritebackLimits{MaxPerDay: 3}
	first, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.store.Run(ctx, b.orgA, b.client, ingest.RunOptions{WindowDays: 14})
	if err != nil || st.Ours != 1 {
		t.Fatalf("re-ingest = %+v, %v; want our document seen and skipped once", st, err)
	}
	var stored int
	_ = b.db.WithOrg(ctx, b.orgA, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM chart_resources WHERE fhir_id = $1`, first.DocumentID).Scan(&stored)
	})
	if stored != 0 {
		t.Errorf("our document was stored as chart data")
	}
	again, err := b.store.WriteBack(ctx, b.orgA, w, appt, lim, time.Now())
	if err != nil || again.Outcome != ingest.WritebackUnchanged {
		t.Errorf("after re-ingest = %+v, %v; want unchanged (our document is no evidence)", again, err)
	}
}

// TestWritebackJobRetriesAfterServerError runs write-back as River does:
// enqueued after an ingest for today's visits when the org turned it on;
// the first attempt meets a 500 and River's retry completes it.
func TestWritebackJobRetriesAfterServerError(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	rb := setupRun(t, genData(2, 5, now.AddDate(0, 0, -1)), clientOpts{}) // appt-0000 is today
	ctx := context.Background()
	if err := ingest.MigrateRiver(ctx, pgtest.Pool(t, rb.pgdb.OwnerDSN)); err != nil {
		t.Fatal(err)
	}
	conns := epicconfig.New(rb.db, rb.keys, epicconfig.Options{BaseURL: "http://127.0.0.1:1"})
	if err := rb.sb.RegisterClient(sandbox.Client{ID: "hp-client", Secret: "client-secret", RedirectURIs: []string{conns.RedirectURL()}}); err != nil {
		t.Fatal(err)
	}
	s := func(v string) *string { return &v }
	on := true
	if _, err := conns.Update(ctx, epicconfig.Actor{UserID: uuid.New(), Role: "admin"}, rb.orgA, epicconfig.Update{
		ClientID: s("hp-client"), ClientSecret: s("client-secret"), FHIRBaseURL: s(rb.srv.FHIRBase()), WritebackEnabled: &on,
	}); err != nil {
		t.Fatal(err)
	}
	if err := conns.SaveToken(ctx, rb.orgA, &oauth2.Token{AccessToken: rb.sb.IssueToken(writeScope), Expiry: now.Add(time.Hour)}, true); err != nil {
		t.Fatal(err)
	}
	jobs := ingest.NewJobs(rb.db, rb.store, conns, ingest.JobsConfig{
		FHIRRetry: epic.RetryPolicy{MaxAttempts: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxRetryAfter: time.Second, MaxElapsed: time.Second}})
	c, err := jobs.Client(rb.pgdb.AppPool(t))
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := c.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	t.Cleanup(cancel)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = c.Stop(sctx)
	})
	if _, err := rb.store.Run(ctx, rb.orgA, rb.client, ingest.RunOptions{WindowDays: 14}); err != nil {
		t.Fatal(err)
	}
	rb.sb.InjectFault(sandbox.Fault{Kind: sandbox.FaultServerError, PathPrefix: "/DocumentReference", Times: 1})
	if _, err := c.Insert(ctx, ingest.WritebackArgs{OrgID: rb.orgA.String(), AppointmentID: "appt-0000"}, nil); err != nil {
		t.Fatal(err)
	}
	kinds := waitKinds(t, events, "epic_writeback")
	if got := strings.Join(kinds, " "); got != "job_failed job_completed" {
		t.Errorf("write-back job events = %s; want a failure then completion", got)
	}
	row, err := rb.store.Writeback(ctx, rb.orgA, "appt-0000")
	if err != nil || row.Status != "written" || row.Attempts != 2 {
		t.Errorf("row = %+v, %v; want written after 2 attempts", row, err)
	}
	if n := len(ourDocs(t, rb.writer(t), "pat-0000")); n != 1 {
		t.Errorf("Epic holds %d of our documents; want 1", n)
	}

	// A successful ingest queues today's visits; the sheet is unchanged,
	// so nothing more reaches Epic.
	if _, err := c.Insert(ctx, ingest.IngestArgs{OrgID: rb.orgA.String()}, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(waitKinds(t, events, "epic_writeback"), " "); got != "job_completed" {
		t.Errorf("write-back after ingest: %s; want completed", got)
	}
	row, _ = rb.store.Writeback(ctx, rb.orgA, "appt-0000")
	if row.Writes != 1 || row.Attempts != 2 {
		t.Errorf("row = %+v; want still 1 write (the sheet did not change)", row)
	}
}

// waitKinds collects the events of jobs of kind until one that is not a
// (retryable) failure, or fails after 60 s.
func waitKinds(t *testing.T, events <-chan *river.Event, kind string) []string {
	t.Helper()
	var kinds []string
	deadline := time.After(60 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Job.Kind != kind {
				continue
			}
			kinds = append(kinds, string(ev.Kind))
			if ev.Kind != river.EventKindJobFailed {
				return kinds
			}
		case <-deadline:
			t.Fatalf("no %s job finished within 60 s (events %v)", kind, kinds)
		}
	}
}

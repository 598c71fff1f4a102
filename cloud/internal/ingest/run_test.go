package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/sandbox"
	"healthprep.dev/cloud/internal/tenancy"
)

// chartTypes is what genData makes per patient, in rotation.
var genTypes = []string{"Observation", "Observation", "Observation", "Condition", "Procedure", "Encounter",
	"DiagnosticReport", "DocumentReference", "Immunization", "Observation"}

// genData makes a synthetic Bundle: n patients, each with one appointment
// in the next two weeks and per chart resources spread over every type.
func genData(n, per int, now time.Time) []byte {
	var entries []string
	add := func(s string) { entries = append(entries, `{"resource":`+s+`}`) }
	day := time.Date(now.Year(), now.Month(), now.Day(), 15, 0, 0, 0, time.UTC)
	for i := range n {
		pid := fmt.Sprintf("pat-%04d", i)
		add(fmt.Sprintf(`{"resourceType":"Patient","id":%q,"identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"MRN%06d"}],
			"name":[{"use":"official","family":"Family%d","given":["Given"]}],"gender":"female","birthDate":"1960-01-%02d",
			"telecom":[{"system":"phone","value":"555-%04d"}],"address":[{"city":"Town","state":"IL"}]}`, pid, i, i, i%28+1, i))
		start := day.AddDate(0, 0, 1+i%13)
		add(fmt.Sprintf(`{"resourceType":"Appointment","id":"appt-%04d","status":"booked","start":%q,"end":%q,
			"participant":[{"actor":{"reference":"Patient/%s"},"status":"accepted"}]}`,
			i, start.Format(time.RFC3339), start.Add(20*time.Minute).Format(time.RFC3339), pid))
		for j := range per {
			id := fmt.Sprintf("%s-r%03d", pid, j)
			date := day.AddDate(0, -j, 0).Format("2006-01-02")
			switch genTypes[j%len(genTypes)] {
			case "Observation":
				add(fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},
					"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q,"valueQuantity":{"value":%d.1,"unit":"%%"}}`, id, pid, date, 5+j%4))
			case "Condition":
				add(fmt.Sprintf(`{"resourceType":"Condition","id":%q,"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},
					"clinicalStatus":{"coding":[{"code":"active"}]},"subject":{"reference":"Patient/%s"},"onsetDateTime":%q}`, id, pid, date))
			case "Procedure":
				add(fmt.Sprintf(`{"resourceType":"Procedure","id":%q,"status":"completed","code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"45378"}]},
					"subject":{"reference":"Patient/%s"},"performedDateTime":%q}`, id, pid, date))
			case "Encounter":
				add(fmt.Sprintf(`{"resourceType":"Encounter","id":%q,"status":"finished","class":{"code":"AMB"},
					"subject":{"reference":"Patient/%s"},"period":{"start":"%sT09:00:00Z"}}`, id, pid, date))
			case "DiagnosticReport":
				add(fmt.Sprintf(`{"resourceType":"DiagnosticReport","id":%q,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"24606-6"}]},
					"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q}`, id, pid, date))
			case "DocumentReference":
				add(fmt.Sprintf(`{"resourceType":"DocumentReference","id":%q,"status":"current","type":{"coding":[{"system":"http://loinc.org","code":"11488-4"}]},
					"subject":{"reference":"Patient/%s"},"date":"%sT10:00:00Z","content":[{"attachment":{"contentType":"text/plain","data":"Q29uc3VsdCBub3Rl"}}]}`, id, pid, date))
			case "Immunization":
				add(fmt.Sprintf(`{"resourceType":"Immunization","id":%q,"status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},
					"patient":{"reference":"Patient/%s"},"occurrenceDateTime":%q}`, id, pid, date))
			}
		}
	}
	return []byte(`{"resourceType":"Bundle","type":"collection","entry":[` + strings.Join(entries, ",") + `]}`)
}

type runBundle struct {
	storeBundle
	sb     *sandbox.Sandbox
	srv    *sandbox.Server
	client *epic.Client
	token  string
}

type clientOpts struct {
	limiter epic.Limiter
	sleep   func(context.Context, time.Duration) error
}

func setupRun(t testing.TB, data []byte, co clientOpts) runBundle {
	t.Helper()
	sb := sandbox.New(sandbox.Config{})
	if _, err := sb.Load(data); err != nil {
		t.Fatalf("loading sandbox: %v", err)
	}
	srv, err := sandbox.Start(sb, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	b := runBundle{storeBundle: setupStore(t), sb: sb, srv: srv, token: sb.IssueToken("user/*.read")}
	b.client = b.newClient(t, co)
	return b
}

func (b runBundle) newClient(t testing.TB, co clientOpts) *epic.Client {
	t.Helper()
	toks := epic.NewTokens(&oauth2.Token{AccessToken: b.token, TokenType: "Bearer"}, func(context.Context) (*oauth2.Token, error) {
		return nil, errors.New("no refresh in this test")
	})
	c, err := epic.NewClient(epic.Config{BaseURL: b.srv.FHIRBase(), Tokens: toks, Limiter: co.limiter, Sleep: co.sleep,
		Retry: epic.RetryPolicy{MaxAttempts: 40, BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxRetryAfter: 5 * time.Second, MaxElapsed: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// storedIDs lists every stored row as type/id.
func storedIDs(t *testing.T, b storeBundle, org tenancy.OrgID) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := b.db.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT resource_type || '/' || fhir_id FROM changes`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			out[s]++
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantIDs(n, per int) map[string]int {
	out := map[string]int{}
	for i := range n {
		out[fmt.Sprintf("Patient/pat-%04d", i)] = 1
		out[fmt.Sprintf("Appointment/appt-%04d", i)] = 1
		for j := range per {
			out[fmt.Sprintf("%s/pat-%04d-r%03d", genTypes[j%len(genTypes)], i, j)] = 1
		}
	}
	return out
}

func diff(got, want map[string]int) string {
	var missing, extra []string
	for k, n := range want {
		if got[k] != n {
			missing = append(missing, fmt.Sprintf("%s×%d", k, got[k]))
		}
	}
	for k := range got {
		if want[k] == 0 {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("%d wrong (e.g. %v), %d unexpected (e.g. %v)", len(missing), first(missing), len(extra), first(extra))
}

func first(xs []string) []string { return xs[:min(3, len(xs))] }

func TestRunIngestsWindowAndIsIncremental(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	data := genData(12, 10, now)
	b := setupRun(t, data, clientOpts{})
	// Malformed resources and our own written-back document, mixed in.
	for _, extra := range []string{
		`{"resourceType":"Observation","id":"bad-date","status":"final","subject":{"reference":"Patient/pat-0001"},"effectiveDateTime":"2024-13-45"}`,
		`{"resourceType":"Observation","id":"bad-code","status":"final","subject":{"reference":"Patient/pat-0002"},"code":"not-an-object"}`,
		`{"resourceType":"DocumentReference","id":"ours-1","status":"current","meta":{"tag":[{"system":"` + ingest.OwnTagSystem + `","code":"` + ingest.OwnTagCode + `"}]},
		  "subject":{"reference":"Patient/pat-0003"},"date":"2025-01-01T00:00:00Z"}`,
		// A patient not on the schedule: not pulled.
		`{"resourceType":"Patient","id":"unscheduled"}`,
	} {
		if _, err := b.sb.Load([]byte(extra)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := b.store.Run(ctx, b.orgA, b.client, ingest.RunOptions{WindowDays: 14})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := diff(storedIDs(t, b.storeBundle, b.orgA), wantIDs(12, 10)); d != "" {
		t.Errorf("stored rows: %s", d)
	}
	if st.Patients != 12 || st.Appointments != 12 || st.Quarantined != 2 || st.Ours != 1 {
		t.Errorf("stats = %+v; want 12 patients and appointments, 2 quarantined, 1 of ours", st)
	}
	qs, err := b.store.Quarantine(ctx, b.orgA, 10)
	if err != nil || len(qs) != 2 {
		t.Fatalf("quarantine = %+v, %v; want 2", qs, err)
	}
	for _, q := range qs {
		if q.ResourceType != "Observation" || q.Reason == "" || strings.Contains(q.Reason, "2024-13-45") {
			t.Errorf("quarantined %+v; want an Observation with a reason that quotes no value", q)
		}
	}
	if c, _ := b.store.Count(ctx, b.orgB); c.Patients+c.ChartResources != 0 {
		t.Errorf("org B holds %+v after org A's ingest", c)
	}

	// A second run finds nothing new and writes nothing.
	again, err := b.store.Run(ctx, b.orgA, b.client, ingest.RunOptions{WindowDays: 14})
	if err != nil || again.Written != 0 {
		t.Errorf("second run: %+v, %v; want nothing written", again, err)
	}
	// A changed resource is picked up, and only it.
	if _, err := b.sb.Load([]byte(`{"resourceType":"Observation","id":"pat-0000-r000","status":"amended","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},
		"subject":{"reference":"Patient/pat-0000"},"effectiveDateTime":"2025-01-01","valueQuantity":{"value":9.9}}`)); err != nil {
		t.Fatal(err)
	}
	// ...and a malformed one fixed at the source leaves quarantine.
	if _, err := b.sb.Load([]byte(`{"resourceType":"Observation","id":"bad-date","status":"final","subject":{"reference":"Patient/pat-0001"},"effectiveDateTime":"2024-12-01"}`)); err != nil {
		t.Fatal(err)
	}
	third, err := b.store.Run(ctx, b.orgA, b.client, ingest.RunOptions{WindowDays: 14})
	if err != nil || third.Written != 2 {
		t.Errorf("third run: %+v, %v; want the 2 changed resources written", third, err)
	}
	if qs, _ := b.store.Quarantine(ctx, b.orgA, 10); len(qs) != 1 {
		t.Errorf("quarantine after the fix = %d; want 1", len(qs))
	}
}

// cancelAfter wraps a Source and cancels the run after n pages were
// handed to the store (simulating a crash at an arbitrary point).
type cancelAfter struct {
	ingest.Source
	n      int64
	pages  atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) SearchPages(ctx context.Context, typ string, p url.Values, fn func(epic.Page) error) error {
	return c.Source.SearchPages(ctx, typ, p, func(pg epic.Page) error {
		if c.pages.Add(1) == c.n {
			c.cancel()
		}
		return fn(pg)
	})
}

func TestRunResumesAfterCrash(t *testing.T) {
	t.Parallel()
	const n, per = 15, 20
	now := time.Now().UTC()
	for _, crashAt := range []int64{1, 2, 7, 40} {
		t.Run(fmt.Sprintf("crash after page %d", crashAt), func(t *testing.T) {
			t.Parallel()
			b := setupRun(t, genData(n, per, now), clientOpts{})
			ctx, cancel := context.WithCancel(context.Background())
			src := &cancelAfter{Source: b.client, n: crashAt, cancel: cancel}
			first, err := b.store.Run(ctx, b.orgA, src, ingest.RunOptions{WindowDays: 14, PageSize: 7})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v; want it stopped by the cancel", err)
			}
			partial := storedIDs(t, b.storeBundle, b.orgA)
			if len(partial) >= len(wantIDs(n, per)) {
				t.Fatalf("interrupted run stored everything (%d rows); the crash came too late to test", len(partial))
			}
			second, err := b.store.Run(context.Background(), b.orgA, b.client, ingest.RunOptions{WindowDays: 14, PageSize: 7})
			if err != nil {
				t.Fatalf("resumed run: %v", err)
			}
			if d := diff(storedIDs(t, b.storeBundle, b.orgA), wantIDs(n, per)); d != "" {
				t.Errorf("after resume: %s", d)
			}
			// Every write takes one change sequence number: the org's
			// sequence equals the number of rows only if no row was
			// written twice across the crash.
			var seq int64
			if err := b.db.WithOrg(context.Background(), b.orgA, func(tx pgx.Tx) error {
				return tx.QueryRow(context.Background(), `SELECT change_seq FROM organizations`).Scan(&seq)
			}); err != nil {
				t.Fatal(err)
			}
			if want := int64(len(wantIDs(n, per))); seq != want {
				t.Errorf("change sequence after both runs = %d (written %d+%d); want %d (each row written once)", seq, first.Written, second.Written, want)
			}
		})
	}
}

// recordSleep records waits instead of sleeping.
type recordSleep struct {
	mu    sync.Mutex
	total time.Duration
	n     int
}

func (r *recordSleep) sleep(_ context.Context, d time.Duration) error {
	r.mu.Lock()
	r.total += d
	r.n++
	r.mu.Unlock()
	return nil
}

func TestRunThrough429StormWithinRateLimit(t *testing.T) {
	t.Parallel()
	const n, per = 8, 10
	retries := &recordSleep{}
	paced := &recordSleep{}
	data := genData(n, per, time.Now().UTC())
	b := setupRun(t, data, clientOpts{})
	const perHour = 36000 // 10 a second, burst 10 (waits are recorded, not slept)
	lim := ingest.NewPGLimiter(b.db, b.orgA, perHour, 10)
	lim.Sleep = paced.sleep
	b.client = b.newClient(t, clientOpts{limiter: lim, sleep: retries.sleep})
	b.sb.InjectFault(sandbox.Fault{Kind: sandbox.FaultRateLimit, PathPrefix: "/Observation", Times: 25, RetryAfter: time.Second})
	b.sb.InjectFault(sandbox.Fault{Kind: sandbox.FaultServerError, PathPrefix: "/Condition", Times: 5})
	st, err := b.store.Run(context.Background(), b.orgA, b.client, ingest.RunOptions{WindowDays: 14})
	if err != nil {
		t.Fatalf("Run through the storm: %v", err)
	}
	if d := diff(storedIDs(t, b.storeBundle, b.orgA), wantIDs(n, per)); d != "" {
		t.Errorf("after the storm: %s", d)
	}
	if hits := b.sb.FaultHits(sandbox.FaultRateLimit); hits != 25 {
		t.Errorf("429s served = %d; want 25", hits)
	}
	if retries.total < 25*time.Second {
		t.Errorf("retry waits total %s; want at least 25 s (each Retry-After: 1 honoured)", retries.total)
	}
	// Every request, retries included, took a token: past the burst, the
	// limiter made the run wait for the refill.
	requests := int(st.Searches) + 25 + 5
	minWait := time.Duration(float64(requests-10-1) / 10 * float64(time.Second))
	if paced.total < minWait {
		t.Errorf("limiter waits total %s over ≥ %d requests; want at least %s at 10 requests/s", paced.total, requests, minWait)
	}
}

func TestPGLimiterIsSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	slept := &recordSleep{}
	const perHour, burst, calls = 3600, 5, 40 // 1 a second
	var wg sync.WaitGroup
	for range 4 { // four replicas, ten requests each
		l := ingest.NewPGLimiter(b.db, b.orgA, perHour, burst)
		l.Sleep = slept.sleep
		wg.Go(func() {
			for range calls / 4 {
				if err := l.Wait(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	// 40 requests, 5 free: the other 35 wait 1, 2, ..., 35 s (in some order).
	want := time.Duration(35*36/2) * time.Second
	if slept.n != 35 || slept.total < want-5*time.Second || slept.total > want+5*time.Second {
		t.Errorf("waits: %d totalling %s; want 35 totalling about %s", slept.n, slept.total, want)
	}
	// Org B has its own budget.
	lb := ingest.NewPGLimiter(b.db, b.orgB, perHour, burst)
	lb.Sleep = func(context.Context, time.Duration) error { t.Error("org B waited on org A's budget"); return nil }
	if err := lb.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkIngest500 is the issue's target: 500 patients with ~100
// resources each from the sandbox, 20 ms latency per FHIR response, 10
// concurrent requests, within a (generous) rate limit. Target ≤ 60 s.
func BenchmarkIngest500(b *testing.B) {
	const n, per = 500, 100
	data := genData(n, per, time.Now().UTC())
	for range b.N {
		b.StopTimer()
		rb := setupRun(b, data, clientOpts{})
		rb.client = rb.newClient(b, clientOpts{limiter: ingest.NewPGLimiter(rb.db, rb.orgA, 10_000_000, 0)})
		rb.sb.SetLatency(20 * time.Millisecond)
		b.StartTimer()
		st, err := rb.store.Run(context.Background(), rb.orgA, rb.client, ingest.RunOptions{WindowDays: 14, Concurrency: 10, PageSize: 100})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if want := int64(n * (per + 2)); st.Written != want {
			b.Fatalf("written %d; want %d", st.Written, want)
		}
		b.ReportMetric(float64(st.Written), "resources/op")
		b.ReportMetric(float64(st.Searches), "searches/op")
	}
}

package epic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"healthprep.dev/cloud/internal/sandbox"
)

// fastRetry retries quickly; waits are recorded, not slept.
var fastRetry = RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond,
	MaxRetryAfter: 30 * time.Second, MaxElapsed: time.Minute}

// direct is a TokenSource holding one sandbox-issued token.
func direct(e env) *Tokens {
	return NewTokens(nil, func(context.Context) (*oauth2.Token, error) {
		return &oauth2.Token{AccessToken: e.sb.IssueToken("user/*.read user/DocumentReference.write"), TokenType: "Bearer"}, nil
	})
}

func TestPagingCollectsEveryResourceOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	want := append([]string{"bob-bp", "bob-psa"}, loadObservations(t, e.sb, "obs", 57)...)
	c := e.client(t, direct(e), fastRetry)
	ctx := context.Background()
	params := url.Values{"patient": {"bob"}, "_count": {"10"}}

	var pages int
	got, err := c.Search(ctx, "Observation", params)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(t, got); !slices.Equal(g, want) {
		t.Fatalf("search collected %d ids %v, want %d", len(g), g, len(want))
	}

	// A crash after page 3 (the job saved page 3's next link), then resume.
	errCrash := errors.New("crash")
	var first []json.RawMessage
	var saved string
	err = c.SearchPages(ctx, "Observation", params, func(p Page) error {
		pages++
		if p.Total != len(want) {
			t.Errorf("page total %d, want %d", p.Total, len(want))
		}
		first = append(first, p.Resources...)
		saved = p.Next
		if pages == 3 {
			return errCrash
		}
		return nil
	})
	if !errors.Is(err, errCrash) {
		t.Fatalf("SearchPages returned %v, want the callback's error", err)
	}
	var rest []json.RawMessage
	if err := c.ResumePages(ctx, saved, func(p Page) error {
		rest = append(rest, p.Resources...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if g := ids(t, append(first, rest...)); !slices.Equal(g, want) {
		t.Errorf("before and after the crash: %d ids, want each of %d exactly once", len(g), len(want))
	}
}

func TestIncrementalSearch(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.client(t, direct(e), fastRetry)
	since := time.Date(2025, 2, 15, 0, 0, 0, 0, time.UTC)
	got, err := c.Search(context.Background(), "Observation", UpdatedSince(url.Values{"patient": {"Patient/bob"}}, since))
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(t, got); !slices.Equal(g, []string{"bob-psa"}) {
		t.Errorf("updated since %s: %v, want [bob-psa]", since, g)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		fault     sandbox.Fault
		retry     RetryPolicy
		wantErr   error
		wantText  string
		wantWaits func(ws []time.Duration) bool
	}{
		{"429 storm shorter than the budget", sandbox.Fault{Kind: sandbox.FaultRateLimit, Times: 4}, fastRetry, nil, "",
			func(ws []time.Duration) bool { return len(ws) == 4 && ws[3] >= ws[0] }},
		{"Retry-After honoured", sandbox.Fault{Kind: sandbox.FaultRateLimit, Times: 2, RetryAfter: 3 * time.Second}, fastRetry, nil, "",
			func(ws []time.Duration) bool { return len(ws) == 2 && ws[0] >= 3*time.Second && ws[1] >= 3*time.Second }},
		{"500s then success", sandbox.Fault{Kind: sandbox.FaultServerError, Times: 2}, fastRetry, nil, "",
			func(ws []time.Duration) bool { return len(ws) == 2 }},
		{"429 storm outlasts the attempts", sandbox.Fault{Kind: sandbox.FaultRateLimit}, fastRetry, ErrRateLimited,
			"(HTTP 429 after 5 attempts); OperationOutcome: error/throttled; gave up after the retry budget",
			func(ws []time.Duration) bool { return len(ws) == 4 }},
		{"429 storm outlasts the time budget", sandbox.Fault{Kind: sandbox.FaultRateLimit, RetryAfter: 20 * time.Second},
			RetryPolicy{MaxAttempts: 10, BaseDelay: time.Millisecond, MaxDelay: time.Second, MaxRetryAfter: time.Minute, MaxElapsed: 10 * time.Second},
			ErrRateLimited, "the next wait would exceed the retry time budget", func(ws []time.Duration) bool { return len(ws) == 0 }},
		{"Retry-After beyond the bound", sandbox.Fault{Kind: sandbox.FaultRateLimit, RetryAfter: time.Hour}, fastRetry, ErrRateLimited,
			"the server asked us to wait 1h0m0s, more than the 30s allowed", func(ws []time.Duration) bool { return len(ws) == 0 }},
		{"500 storm", sandbox.Fault{Kind: sandbox.FaultServerError}, fastRetry, ErrServer, "kept failing (HTTP 500 after 5 attempts)",
			func(ws []time.Duration) bool { return len(ws) == 4 }},
		{"malformed JSON", sandbox.Fault{Kind: sandbox.FaultMalformed}, fastRetry, ErrMalformed, "page 1: malformed JSON at byte 39",
			func(ws []time.Duration) bool { return len(ws) == 0 }},
		{"truncated JSON", sandbox.Fault{Kind: sandbox.FaultTruncated}, fastRetry, ErrMalformed, "page 1: JSON truncated at byte",
			func(ws []time.Duration) bool { return len(ws) == 0 }},
		{"slow but fine", sandbox.Fault{Kind: sandbox.FaultSlow, Delay: 30 * time.Millisecond, Times: 1}, fastRetry, nil, "",
			func(ws []time.Duration) bool { return len(ws) == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			c := e.client(t, direct(e), tc.retry)
			e.sb.InjectFault(tc.fault)
			got, err := c.Search(ctx, "Observation", url.Values{"patient": {"bob"}})
			if tc.wantErr == nil {
				if err != nil || len(got) != 2 {
					t.Fatalf("got %d resources, %v; want 2 and no error", len(got), err)
				}
			} else {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("error %v, want %v mentioning %q", err, tc.wantErr, tc.wantText)
				}
				if strings.Contains(err.Error(), "bob") {
					t.Errorf("error carries the search value: %v", err)
				}
			}
			if !tc.wantWaits(*e.waits) {
				t.Errorf("waits %v not as expected", *e.waits)
			}
		})
	}
}

func TestOperationOutcomeErrors(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.client(t, direct(e), fastRetry)
	ctx := context.Background()
	_, err := c.Search(ctx, "Observation", url.Values{"patient": {"bob"}, "secret-mrn-123": {"x"}})
	if !errors.Is(err, ErrBadRequest) || err.Error() != "epic: search Observation: the FHIR server rejected the request (HTTP 400); OperationOutcome: error/invalid" {
		t.Errorf("unsupported parameter: %v", err)
	}
	_, err = c.Read(ctx, "Patient", "nobody")
	if !errors.Is(err, ErrNotFound) || err.Error() != "epic: read Patient: the FHIR resource does not exist (HTTP 404); OperationOutcome: error/not-found" {
		t.Errorf("missing patient: %v", err)
	}
	_, err = c.Read(ctx, "Patient", "../Observation")
	if err == nil || strings.Contains(err.Error(), "Observation") {
		t.Errorf("path in id: %v, want a refusal that does not echo it", err)
	}
	if err := c.ResumePages(ctx, "https://evil.example/fhir/Patient?page=2", func(Page) error { return nil }); !errors.Is(err, ErrMalformed) {
		t.Errorf("next link to another host: %v, want a refusal", err)
	}
}

func TestBinaryAndWriteBack(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.client(t, direct(e), fastRetry)
	ctx := context.Background()
	for _, ref := range []string{"Binary/doc1", "doc1", e.srv.FHIRBase() + "/Binary/doc1"} {
		b, err := c.Binary(ctx, ref)
		if err != nil || b.ContentType != "text/plain" || string(b.Data) != "Colonoscopy 2018: normal." {
			t.Errorf("Binary(%q) = %+v, %v", ref, b, err)
		}
	}
	doc := []byte(`{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/bob"},"content":[{"attachment":{"contentType":"application/pdf","data":"JVBERi0="}}]}`)
	w, err := c.Create(ctx, "DocumentReference", doc)
	if err != nil || w.ID == "" || w.VersionID != "1" {
		t.Fatalf("create: %+v, %v", w, err)
	}
	var stored map[string]any
	_ = json.Unmarshal(w.Resource, &stored)
	stored["status"] = "superseded"
	upd, _ := json.Marshal(stored)
	w2, err := c.Update(ctx, "DocumentReference", w.ID, upd, `W/"1"`)
	if err != nil || w2.ID != w.ID || w2.VersionID != "2" {
		t.Fatalf("update: %+v, %v", w2, err)
	}
	if _, err := c.Update(ctx, "DocumentReference", w.ID, upd, `W/"1"`); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "HTTP 412") {
		t.Errorf("stale update: %v, want HTTP 412", err)
	}
	// A create that meets a 500 is not retried: it might have been stored.
	e.sb.InjectFault(sandbox.Fault{Kind: sandbox.FaultServerError, Times: 1})
	if _, err := c.Create(ctx, "DocumentReference", doc); !errors.Is(err, ErrServer) || len(*e.waits) != 0 {
		t.Errorf("create on 500: %v after %d waits, want ErrServer with no retry", err, len(*e.waits))
	}
}

func TestMemoryLimiterPacesRequests(t *testing.T) {
	t.Parallel()
	e := setup(t)
	lim := NewMemoryLimiter(3600, 2) // one a second after a burst of two
	c, err := NewClient(Config{BaseURL: e.srv.FHIRBase(), Tokens: direct(e), HTTPClient: e.hc, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var got []error
	for range 3 {
		_, err := c.Read(ctx, "Patient", "bob")
		got = append(got, err)
	}
	if got[0] != nil || got[1] != nil || got[2] == nil || !strings.Contains(got[2].Error(), "waiting for the rate limit") {
		t.Errorf("errors %v, want two reads in the burst and the third held back by the limiter", got)
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{BaseURL: "http://epic.example/fhir", Tokens: NewTokens(nil, nil)},
		{BaseURL: "https://epic.example/fhir"},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("NewClient(%+v) accepted", cfg)
		}
	}
}

// BenchmarkFetchPatients fetches every resource of N patients from the
// sandbox with 20 ms injected latency per request, 10 requests in flight.
func BenchmarkFetchPatients(b *testing.B) {
	const patients, perPatient, workers = 50, 40, 10
	e := setup(b)
	types := []string{"Condition", "Observation", "Procedure", "Immunization"}
	for p := range patients {
		pid := fmt.Sprintf("bench-%03d", p)
		var sb strings.Builder
		fmt.Fprintf(&sb, `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":%q}}`, pid)
		for i := range perPatient {
			typ := types[i%len(types)]
			ref := "subject"
			if typ == "Immunization" {
				ref = "patient"
			}
			fmt.Fprintf(&sb, `,{"resource":{"resourceType":%q,"id":"%s-%d","status":"final",%q:{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]}}}`, typ, pid, i, ref, pid)
		}
		sb.WriteString("]}")
		if _, err := e.sb.Load([]byte(sb.String())); err != nil {
			b.Fatal(err)
		}
	}
	e.sb.SetLatency(20 * time.Millisecond)
	c := e.client(b, direct(e), DefaultRetry)
	ctx := context.Background()
	b.ResetTimer()
	var total int
	for b.Loop() {
		var mu sync.Mutex
		var wg sync.WaitGroup
		jobs := make(chan string)
		for range workers {
			wg.Go(func() {
				for pid := range jobs {
					for _, typ := range types {
						rs, err := c.Search(ctx, typ, url.Values{"patient": {pid}, "_count": {"50"}})
						if err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						total += len(rs)
						mu.Unlock()
					}
				}
			})
		}
		for p := range patients {
			jobs <- fmt.Sprintf("bench-%03d", p)
		}
		close(jobs)
		wg.Wait()
	}
	b.ReportMetric(float64(patients*b.N)/b.Elapsed().Seconds(), "patients/s")
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "resources/s")
}

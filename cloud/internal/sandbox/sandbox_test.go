package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the sandbox.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type bundle struct {
	sb    *Sandbox
	srv   *Server
	clock *fakeClock
	http  *http.Client
	token string
}

// setup starts a sandbox loaded with testdata/fhir on loopback and returns a
// client speaking HTTP/2 without TLS, and a read token.
func setup(t *testing.T) bundle {
	t.Helper()
	clock := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	sb := New(Config{Now: clock.Now})
	if _, err := sb.LoadDir("testdata/fhir"); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(sb, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	t.Cleanup(tr.CloseIdleConnections)
	return bundle{sb: sb, srv: srv, clock: clock, http: &http.Client{Transport: tr}, token: sb.IssueToken("user/*.read user/DocumentReference.write")}
}

type resp struct {
	status int
	header http.Header
	body   []byte
	proto  int
}

func (b bundle) do(t *testing.T, method, path string, body []byte, hdr ...string) resp {
	t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = b.srv.FHIRBase() + path
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: data, proto: res.ProtoMajor}
}

type searchset struct {
	ResourceType string `json:"resourceType"`
	Total        int    `json:"total"`
	Link         []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		FullURL  string `json:"fullUrl"`
		Resource struct {
			ResourceType string         `json:"resourceType"`
			ID           string         `json:"id"`
			Subject      map[string]any `json:"subject"`
			Meta         struct {
				LastUpdated string `json:"lastUpdated"`
				VersionID   string `json:"versionId"`
			} `json:"meta"`
		} `json:"resource"`
	} `json:"entry"`
}

func (s searchset) ids() []string {
	var out []string
	for _, e := range s.Entry {
		out = append(out, e.Resource.ID)
	}
	return out
}

func (s searchset) next() string {
	for _, l := range s.Link {
		if l.Relation == "next" {
			return l.URL
		}
	}
	return ""
}

func decode[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %d response: %v\n%s", r.status, err, r.body)
	}
	return v
}

const ada = "0f0e6a3c-0000-4000-8000-00000000ada1"

func TestLoadDirRewritesBundleReferences(t *testing.T) {
	t.Parallel()
	sb := New(Config{})
	stats, err := sb.LoadDir("testdata/fhir")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Files != 10 || stats.ByType["Patient"] != 2 || stats.ByType["Appointment"] != 4 || stats.ByType["Observation"] != 4 {
		t.Errorf("stats = %+v, want 10 files, 2 patients, 4 appointments, 4 observations", stats)
	}
	e := sb.store.get("Condition", "cond-1")
	if got := e.obj["subject"].(map[string]any)["reference"]; got != "Patient/"+ada {
		t.Errorf("Condition subject = %v, want Patient/%s (urn:uuid rewritten)", got, ada)
	}
	if got := e.obj["encounter"].(map[string]any)["reference"]; got != "Encounter/enc-1" {
		t.Errorf("Condition encounter = %v, want Encounter/enc-1", got)
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not json", `{"resourceType":`, "not a JSON object"},
		{"no type", `{"id":"x"}`, "missing resourceType"},
		{"entry without resource", `{"resourceType":"Bundle","entry":[{"fullUrl":"x"}]}`, "entry 0 has no resource"},
		{"bad lastUpdated", `{"resourceType":"Patient","id":"p","meta":{"lastUpdated":"yesterday"}}`, "bad meta.lastUpdated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := New(Config{})
			_, err := sb.Load([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load error = %v, want it to mention %q", err, tc.want)
			}
			if c := sb.store.candidates("Patient", "", false); len(c) != 0 {
				t.Errorf("store holds %d patients after a failed load, want 0", len(c))
			}
		})
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"/Patient?_id=bob", []string{"bob"}},
		{"/Patient?_id=bob," + ada, []string{ada, "bob"}},
		{"/Patient?identifier=urn:oid:1.2.840.114350|MRN-1001", []string{ada}},
		{"/Patient?identifier=MRN-1002", []string{"bob"}},
		{"/Patient?identifier=urn:other|MRN-1002", nil},
		{"/Appointment?date=ge2025-06-02&date=le2025-06-03", []string{"appt-1", "appt-2", "appt-3"}},
		{"/Appointment?date=ge2025-06-02&date=le2025-06-03&status=booked", []string{"appt-1", "appt-2"}},
		{"/Appointment?date=gt2025-06-03", []string{"appt-4"}},
		{"/Appointment?date=lt2025-06-03T00:00:00Z", []string{"appt-1"}},
		{"/Appointment?patient=bob&status=booked,cancelled", []string{"appt-1", "appt-3", "appt-4"}},
		{"/Observation?patient=Patient/bob", []string{"bob-bp", "bob-psa"}},
		{"/Observation?patient=bob", []string{"bob-bp", "bob-psa"}},
		{"/Observation?subject=Patient/" + ada + "&category=laboratory", []string{"obs-1"}},
		{"/Observation?patient=" + ada + "&code=http://loinc.org|39156-5", []string{"obs-2"}},
		{"/Observation?patient=bob&_lastUpdated=gt2025-02-01T12:00:00Z", []string{"bob-psa"}},
		{"/Observation?patient=bob&_lastUpdated=ge2025-02-01T12:00:00Z", []string{"bob-bp", "bob-psa"}},
		{"/Observation?patient=bob&_lastUpdated=lt2025-03-01", []string{"bob-bp"}},
		{"/Observation?patient=bob&_lastUpdated=le2025-03-01", []string{"bob-bp", "bob-psa"}},
		{"/Encounter?patient=" + ada, []string{"enc-1"}},
		{"/Condition?patient=" + ada, []string{"cond-1"}},
		{"/Procedure?patient=" + ada, []string{"proc-1"}},
		{"/DiagnosticReport?patient=" + ada, []string{"dr-1"}},
		{"/Immunization?patient=" + ada, []string{"imm-1"}},
		{"/DocumentReference?patient=bob", []string{"doc1"}},
		{"/DocumentReference?patient=" + ada, nil},
		{"/Observation?patient=nobody", nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, "GET", tc.query, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200\n%s", r.status, r.body)
			}
			s := decode[searchset](t, r)
			if s.ResourceType != "Bundle" || s.Total != len(tc.want) {
				t.Errorf("resourceType %q total %d, want Bundle with total %d", s.ResourceType, s.Total, len(tc.want))
			}
			if got := s.ids(); !slices.Equal(got, tc.want) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSearchRejectsBadParameters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct{ query, want string }{
		{"/Observation?patient=bob&foo=1", `unsupported search parameter \"foo\" for Observation`},
		{"/Patient?date=2020", `unsupported search parameter \"date\" for Patient`},
		{"/Observation?patient=Encounter/x", "patient must be Patient/<id> or <id>"},
		{"/Appointment?date=ge2025-13-45", "date: bad date"},
		{"/Appointment?date=xx2025-01-01", `date: unknown prefix \"xx\"`},
		{"/Observation?_count=lots", "_count must be a non-negative integer"},
		{"/Claim?patient=bob", "search on Claim is not supported"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			r := b.do(t, "GET", tc.query, nil)
			if r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte(`"OperationOutcome"`)) || !bytes.Contains(r.body, []byte(tc.want)) {
				t.Errorf("got %d %s, want 400 OperationOutcome saying %s", r.status, r.body, tc.want)
			}
		})
	}
}

// collect follows next links from first and returns every id seen.
func (b bundle) collect(t *testing.T, first string, between func(page int)) []string {
	t.Helper()
	var ids []string
	next := first
	for page := 0; next != ""; page++ {
		r := b.do(t, "GET", next, nil)
		if r.status != http.StatusOK {
			t.Fatalf("page %d: status %d %s", page, r.status, r.body)
		}
		s := decode[searchset](t, r)
		ids = append(ids, s.ids()...)
		next = s.next()
		if between != nil {
			between(page)
		}
		if page > 100 {
			t.Fatal("paging does not end")
		}
	}
	return ids
}

func TestPagingIsStableUnderWrites(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var want []string
	for i := range 23 {
		id := fmt.Sprintf("many-%02d", i)
		want = append(want, id)
		if _, err := b.sb.Load(fmt.Appendf(nil, `{"resourceType":"Observation","id":%q,"status":"final","subject":{"reference":"Patient/bob"},"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]}}`, id)); err != nil {
			t.Fatal(err)
		}
	}
	first := "/Observation?patient=bob&code=8480-6&_count=5"
	if got := b.collect(t, first, nil); !slices.Equal(got, want) {
		t.Fatalf("static paging: got %v, want %v", got, want)
	}
	// A resource created and one updated while paging: every resource once,
	// the new one at the end.
	got := b.collect(t, first, func(page int) {
		if page != 1 {
			return
		}
		for _, doc := range []string{
			`{"resourceType":"Observation","id":"many-new","status":"final","subject":{"reference":"Patient/bob"},"code":{"coding":[{"code":"8480-6"}]}}`,
			`{"resourceType":"Observation","id":"many-02","status":"amended","subject":{"reference":"Patient/bob"},"code":{"coding":[{"code":"8480-6"}]}}`,
			`{"resourceType":"Observation","id":"many-20","status":"amended","subject":{"reference":"Patient/bob"},"code":{"coding":[{"code":"8480-6"}]}}`,
		} {
			if _, err := b.sb.Load([]byte(doc)); err != nil {
				t.Fatal(err)
			}
		}
	})
	if want := append(slices.Clone(want), "many-new"); !slices.Equal(got, want) {
		t.Errorf("paging under writes: got %v, want %v", got, want)
	}
}

func TestCountZeroGivesTotalOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := decode[searchset](t, b.do(t, "GET", "/Appointment?_count=0", nil))
	if s.Total != 4 || len(s.Entry) != 0 || s.next() != "" {
		t.Errorf("total %d, %d entries, next %q; want 4, 0, none", s.Total, len(s.Entry), s.next())
	}
}

func TestReadAndBinary(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, "GET", "/Patient/bob", nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"id":"bob"`)) {
		t.Errorf("read Patient/bob: %d %s", r.status, r.body)
	}
	if r.proto != 2 {
		t.Errorf("protocol HTTP/%d, want HTTP/2", r.proto)
	}
	r = b.do(t, "GET", "/Binary/doc1", nil, "Accept", "*/*")
	if r.status != 200 || string(r.body) != "Colonoscopy 2018: normal." || r.header.Get("Content-Type") != "text/plain" {
		t.Errorf("raw Binary: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	r = b.do(t, "GET", "/Binary/doc1", nil, "Accept", "application/fhir+json")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"resourceType":"Binary"`)) {
		t.Errorf("Binary as FHIR JSON: %d %s", r.status, r.body)
	}
	r = b.do(t, "GET", "/Patient/nobody", nil)
	if r.status != 404 || !bytes.Contains(r.body, []byte("OperationOutcome")) {
		t.Errorf("missing patient: %d %s, want 404 OperationOutcome", r.status, r.body)
	}
}

func TestDocumentReferenceWriteBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := `{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/bob"},"type":{"coding":[{"system":"http://loinc.org","code":"11506-3"}]},"content":[{"attachment":{"contentType":"application/pdf","data":"JVBERi0="}}]}`
	r := b.do(t, "POST", "/DocumentReference", []byte(doc), "Content-Type", "application/fhir+json")
	if r.status != http.StatusCreated || !strings.HasSuffix(r.header.Get("Location"), "/_history/1") {
		t.Fatalf("create: %d Location %q %s", r.status, r.header.Get("Location"), r.body)
	}
	var created map[string]any
	_ = json.Unmarshal(r.body, &created)
	id := created["id"].(string)

	created["status"] = "superseded"
	upd, _ := json.Marshal(created)
	r = b.do(t, "PUT", "/DocumentReference/"+id, upd, "If-Match", `W/"1"`)
	if r.status != http.StatusOK || r.header.Get("ETag") != `W/"2"` {
		t.Fatalf("update: %d ETag %q %s", r.status, r.header.Get("ETag"), r.body)
	}
	s := decode[searchset](t, b.do(t, "GET", "/DocumentReference?patient=bob", nil))
	if got := s.ids(); !slices.Equal(got, []string{"doc1", id}) {
		t.Errorf("after write-back, DocumentReference ids = %v, want [doc1 %s]", got, id)
	}

	// Refused writes leave the stored version as it was.
	for _, tc := range []struct {
		name, method, path, body, ifMatch string
		status                            int
	}{
		{"stale If-Match", "PUT", "/DocumentReference/" + id, string(upd), `W/"1"`, http.StatusPreconditionFailed},
		{"unknown patient", "PUT", "/DocumentReference/" + id, strings.Replace(string(upd), "Patient/bob", "Patient/nobody", 1), "", http.StatusUnprocessableEntity},
		{"id mismatch", "PUT", "/DocumentReference/other", string(upd), "", http.StatusBadRequest},
		{"wrong type", "POST", "/DocumentReference", `{"resourceType":"Patient"}`, "", http.StatusBadRequest},
		{"not json", "POST", "/DocumentReference", `{`, "", http.StatusBadRequest},
		{"bad status", "POST", "/DocumentReference", strings.Replace(doc, "current", "final", 1), "", http.StatusUnprocessableEntity},
		{"create with id", "POST", "/DocumentReference", string(upd), "", http.StatusBadRequest},
		{"other type", "POST", "/Observation", `{"resourceType":"Observation"}`, "", http.StatusForbidden},
	} {
		hdr := []string{"Content-Type", "application/fhir+json"}
		if tc.ifMatch != "" {
			hdr = append(hdr, "If-Match", tc.ifMatch)
		}
		r := b.do(t, tc.method, tc.path, []byte(tc.body), hdr...)
		if r.status != tc.status || !bytes.Contains(r.body, []byte("OperationOutcome")) {
			t.Errorf("%s: got %d %s, want %d with an OperationOutcome", tc.name, r.status, r.body, tc.status)
		}
	}
	if e := b.sb.store.get("DocumentReference", id); e.version != 2 || e.patient != "bob" {
		t.Errorf("after refused writes: version %d patient %q, want 2 bob", e.version, e.patient)
	}
}

func TestBearerTokenRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	expiring := b.sb.IssueToken("user/*.read")
	revoked := b.sb.IssueToken("user/*.read")
	b.sb.Revoke(revoked)
	b.clock.Advance(30 * time.Minute)
	fresh := b.sb.IssueToken("user/*.read")
	b.clock.Advance(31 * time.Minute) // expiring is now 61 minutes old
	for _, tc := range []struct {
		name, auth, want string
		status           int
	}{
		{"none", "", "a bearer token is required", 401},
		{"unknown", "Bearer nope", "the access token is not valid", 401},
		{"basic", "Basic Zm9vOmJhcg==", "a bearer token is required", 401},
		{"expired", "Bearer " + expiring, "the access token expired", 401},
		{"revoked", "Bearer " + revoked, "the access token was revoked", 401},
		{"fresh", "Bearer " + fresh, "", 200},
		{"wrong scope", "Bearer " + b.sb.IssueToken("user/Patient.read"), "scopes do not allow", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("GET", b.srv.FHIRBase()+"/Observation?patient=bob", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			res, err := b.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status || !bytes.Contains(body, []byte(tc.want)) {
				t.Errorf("got %d %s, want %d mentioning %q", res.StatusCode, body, tc.status, tc.want)
			}
			if tc.status == 401 && !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q, want invalid_token", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		inject *Fault
		header string
		query  string
		check  func(t *testing.T, r resp)
	}{
		{name: "429 injected", inject: &Fault{Kind: FaultRateLimit, RetryAfter: 3 * time.Second, Times: 1},
			check: func(t *testing.T, r resp) {
				if r.status != 429 || r.header.Get("Retry-After") != "3" {
					t.Errorf("got %d Retry-After %q, want 429 and 3", r.status, r.header.Get("Retry-After"))
				}
			}},
		{name: "429 header", header: "429;retry-after=2", check: func(t *testing.T, r resp) {
			if r.status != 429 || r.header.Get("Retry-After") != "2" {
				t.Errorf("got %d Retry-After %q, want 429 and 2", r.status, r.header.Get("Retry-After"))
			}
		}},
		{name: "500 query", query: "500", check: func(t *testing.T, r resp) {
			if r.status != 500 || !bytes.Contains(r.body, []byte("OperationOutcome")) {
				t.Errorf("got %d %s, want 500 OperationOutcome", r.status, r.body)
			}
		}},
		{name: "truncated", inject: &Fault{Kind: FaultTruncated, PathPrefix: "/Observation"}, check: func(t *testing.T, r resp) {
			if r.status != 200 || json.Valid(r.body) || !bytes.HasPrefix(r.body, []byte(`{"resourceType":"Bundle"`)) {
				t.Errorf("got %d %s, want 200 with the start of a Bundle cut short", r.status, r.body)
			}
		}},
		{name: "malformed", header: "malformed", check: func(t *testing.T, r resp) {
			if r.status != 200 || json.Valid(r.body) {
				t.Errorf("got %d %s, want 200 with invalid JSON", r.status, r.body)
			}
		}},
		{name: "expired token", inject: &Fault{Kind: FaultExpiredToken}, check: func(t *testing.T, r resp) {
			if r.status != 401 || !bytes.Contains(r.body, []byte("expired")) {
				t.Errorf("got %d %s, want 401 expired", r.status, r.body)
			}
		}},
		{name: "slow", header: "slow;delay=20ms", check: func(t *testing.T, r resp) {
			if r.status != 200 || !json.Valid(r.body) {
				t.Errorf("got %d, want a normal 200 after the delay", r.status)
			}
		}},
		{name: "other path unaffected", inject: &Fault{Kind: FaultServerError, PathPrefix: "/Patient"}, check: func(t *testing.T, r resp) {
			if r.status != 200 {
				t.Errorf("got %d, want 200 (fault only on /Patient)", r.status)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if tc.inject != nil {
				b.sb.InjectFault(*tc.inject)
			}
			path := "/Observation?patient=bob"
			if tc.query != "" {
				path += "&_fault=" + url.QueryEscape(tc.query)
			}
			var hdr []string
			if tc.header != "" {
				hdr = []string{"X-Sandbox-Fault", tc.header}
			}
			tc.check(t, b.do(t, "GET", path, nil, hdr...))
			if tc.inject != nil && tc.inject.Times == 1 {
				if r := b.do(t, "GET", path, nil); r.status != 200 {
					t.Errorf("after a one-shot fault: %d, want 200", r.status)
				}
			}
		})
	}
}

func TestFaultControlAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	post := func(body string) int {
		res, err := b.http.Post(b.srv.URL+"/_sandbox/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := post(`{"kind":"429","retry_after":"1","times":2}`); got != 204 {
		t.Fatalf("POST fault: %d, want 204", got)
	}
	if got := post(`{"kind":"teapot"}`); got != 400 {
		t.Errorf("POST unknown fault: %d, want 400", got)
	}
	var got []int
	for range 3 {
		got = append(got, b.do(t, "GET", "/Patient?_id=bob", nil).status)
	}
	if !slices.Equal(got, []int{429, 429, 200}) {
		t.Errorf("statuses %v, want [429 429 200]", got)
	}
	if n := b.sb.FaultHits(FaultRateLimit); n != 2 {
		t.Errorf("FaultHits(429) = %d, want 2", n)
	}
	_ = post(`{"kind":"500"}`)
	req, _ := http.NewRequest("DELETE", b.srv.URL+"/_sandbox/faults", nil)
	res, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if r := b.do(t, "GET", "/Patient?_id=bob", nil); r.status != 200 {
		t.Errorf("after DELETE faults: %d, want 200", r.status)
	}
}

func TestDiscoveryAndMetadata(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, "GET", "/.well-known/smart-configuration", nil)
	cfg := decode[map[string]any](t, r)
	if cfg["token_endpoint"] != b.srv.URL+"/oauth2/token" || !slices.Contains(toStrings(cfg["code_challenge_methods_supported"]), "S256") {
		t.Errorf("smart-configuration = %v", cfg)
	}
	r = b.do(t, "GET", "/metadata", nil)
	cs := decode[map[string]any](t, r)
	if cs["resourceType"] != "CapabilityStatement" || cs["fhirVersion"] != "4.0.1" {
		t.Errorf("metadata = %s", r.body)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

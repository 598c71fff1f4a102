package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Paging limits.
const (
	defaultCount = 50
	maxCount     = 1000
)

// searchable lists the resource types the sandbox can search and the
// parameters each accepts beyond the common ones (_id, _lastUpdated, _count).
var searchable = map[string][]string{
	"Patient":           {"identifier"},
	"Appointment":       {"date", "status", "patient"},
	"Encounter":         {"patient", "subject", "date", "status"},
	"Condition":         {"patient", "subject", "category", "code"},
	"Observation":       {"patient", "subject", "category", "code", "date"},
	"Procedure":         {"patient", "subject", "code", "date"},
	"DiagnosticReport":  {"patient", "subject", "category", "code", "date"},
	"DocumentReference": {"patient", "subject", "category", "type", "date"},
	"Immunization":      {"patient", "date"},
}

// dateFields are the fields a type's date parameter compares, first present wins.
var dateFields = map[string][]string{
	"Appointment":       {"start"},
	"Encounter":         {"period.start"},
	"Observation":       {"effectiveDateTime", "effectivePeriod.start", "effectiveInstant"},
	"Procedure":         {"performedDateTime", "performedPeriod.start"},
	"DiagnosticReport":  {"effectiveDateTime", "effectivePeriod.start"},
	"DocumentReference": {"date"},
	"Immunization":      {"occurrenceDateTime"},
}

// query is a parsed search.
type query struct {
	typ       string
	ids       []string
	patient   string
	hasPat    bool
	filters   []func(*entry) bool
	count     int
	after     uint64 // cursor: only entries with seq > after
	keepQuery url.Values
}

// badRequest is a search the sandbox refuses, with words for the client.
type badRequest struct{ msg string }

func (b *badRequest) Error() string { return b.msg }

func parseQuery(typ string, q url.Values) (*query, error) {
	allowed, ok := searchable[typ]
	if !ok {
		return nil, &badRequest{fmt.Sprintf("search on %s is not supported", typ)}
	}
	pq := &query{typ: typ, count: defaultCount, keepQuery: url.Values{}}
	for name, vals := range q {
		base, _, _ := strings.Cut(name, ":")
		switch {
		case name == "_cursor":
			n, err := strconv.ParseUint(vals[0], 10, 64)
			if err != nil {
				return nil, &badRequest{"bad _cursor"}
			}
			pq.after = n
			continue
		case name == "_fault" || name == "_format":
			continue
		case name == "_count":
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 0 {
				return nil, &badRequest{"_count must be a non-negative integer"}
			}
			pq.count = min(n, maxCount)
		case name == "_id":
			for _, v := range vals {
				pq.ids = append(pq.ids, strings.Split(v, ",")...)
			}
		case name == "_lastUpdated":
			for _, v := range vals {
				f, err := dateFilter(v, func(e *entry) (time.Time, bool) { return e.updated, true })
				if err != nil {
					return nil, &badRequest{"_lastUpdated: " + err.Error()}
				}
				pq.filters = append(pq.filters, f)
			}
		case !slices.Contains(allowed, base) || (base != name && !(name == "subject:Patient" || name == "patient:Patient")):
			return nil, &badRequest{fmt.Sprintf("unsupported search parameter %q for %s", name, typ)}
		case base == "patient" || base == "subject":
			ref := vals[0]
			id := strings.TrimPrefix(ref, "Patient/")
			if id == "" || strings.Contains(id, "/") {
				return nil, &badRequest{fmt.Sprintf("%s must be Patient/<id> or <id>", base)}
			}
			if pq.hasPat && pq.patient != id {
				pq.patient = "\x00" // two different patients: nothing matches
			} else {
				pq.patient = id
			}
			pq.hasPat = true
		case base == "identifier":
			v := vals[0]
			pq.filters = append(pq.filters, func(e *entry) bool { return hasIdentifier(e.obj, v) })
		case base == "status":
			set := strings.Split(vals[0], ",")
			pq.filters = append(pq.filters, func(e *entry) bool {
				s, _ := e.obj["status"].(string)
				return slices.Contains(set, s)
			})
		case base == "category" || base == "code" || base == "type":
			field, tokens := base, strings.Split(vals[0], ",")
			pq.filters = append(pq.filters, func(e *entry) bool { return hasToken(e.obj[field], tokens) })
		case base == "date":
			fields := dateFields[typ]
			for _, v := range vals {
				f, err := dateFilter(v, func(e *entry) (time.Time, bool) { return fieldTime(e.obj, fields) })
				if err != nil {
					return nil, &badRequest{"date: " + err.Error()}
				}
				pq.filters = append(pq.filters, f)
			}
		}
		pq.keepQuery[name] = vals
	}
	if pq.keepQuery.Get("_count") == "" {
		pq.keepQuery.Set("_count", strconv.Itoa(pq.count))
	}
	return pq, nil
}

// run returns one page of matches, the total, and the cursor for the next
// page (0 when this is the last).
func (st *store) run(q *query) (page []*entry, total int, next uint64) {
	var cands []*entry
	if len(q.ids) > 0 {
		for _, id := range q.ids {
			if e := st.get(q.typ, id); e != nil {
				cands = append(cands, e)
			}
		}
		slices.SortFunc(cands, bySeq)
		cands = slices.CompactFunc(cands, func(a, b *entry) bool { return a == b })
	} else {
		cands = st.candidates(q.typ, q.patient, q.hasPat)
	}
	for _, e := range cands {
		if q.hasPat && e.patient != q.patient {
			continue
		}
		ok := true
		for _, f := range q.filters {
			if !f(e) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		total++
		if e.seq <= q.after {
			continue
		}
		if len(page) < q.count {
			page = append(page, e)
		} else if next == 0 && len(page) > 0 {
			next = page[len(page)-1].seq
		}
	}
	return page, total, next
}

func hasIdentifier(obj map[string]any, want string) bool {
	system, value, hasSystem := strings.Cut(want, "|")
	if !hasSystem {
		value, system = want, ""
	}
	ids, _ := obj["identifier"].([]any)
	for _, i := range ids {
		io, _ := i.(map[string]any)
		v, _ := io["value"].(string)
		s, _ := io["system"].(string)
		if v == value && (!hasSystem || system == "" || s == system) {
			return true
		}
	}
	return false
}

// hasToken reports whether a CodeableConcept (or a list of them) carries
// one of the tokens ("system|code", "code" or "|code").
func hasToken(v any, tokens []string) bool {
	var concepts []any
	switch x := v.(type) {
	case []any:
		concepts = x
	case map[string]any:
		concepts = []any{x}
	}
	for _, c := range concepts {
		co, _ := c.(map[string]any)
		codings, _ := co["coding"].([]any)
		for _, cd := range codings {
			cdo, _ := cd.(map[string]any)
			s, _ := cdo["system"].(string)
			code, _ := cdo["code"].(string)
			for _, t := range tokens {
				ts, tc, hasSys := strings.Cut(t, "|")
				if !hasSys {
					tc, ts = t, ""
				}
				if code == tc && (ts == "" || ts == s) {
					return true
				}
			}
		}
	}
	return false
}

// fieldTime reads the first present of a list of dotted date fields.
func fieldTime(obj map[string]any, fields []string) (time.Time, bool) {
	for _, f := range fields {
		var v any = obj
		for _, part := range strings.Split(f, ".") {
			m, _ := v.(map[string]any)
			v = m[part]
		}
		if s, ok := v.(string); ok && s != "" {
			lo, _, err := parseRange(s)
			if err == nil {
				return lo, true
			}
		}
	}
	return time.Time{}, false
}

// parseRange turns a FHIR date, dateTime or instant into the half-open
// range [lo, hi) it denotes (a date is its whole day, in UTC).
func parseRange(s string) (lo, hi time.Time, err error) {
	layout, step := time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Nanosecond) }
	switch len(s) {
	case 4:
		layout, step = "2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }
	case 7:
		layout, step = "2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	case 10:
		layout, step = time.DateOnly, func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return t, t, fmt.Errorf("bad date %q", s)
	}
	return t, step(t), nil
}

// dateFilter builds a filter for one date parameter value with an optional
// prefix (eq, ne, gt, ge, lt, le).
func dateFilter(v string, get func(*entry) (time.Time, bool)) (func(*entry) bool, error) {
	prefix := "eq"
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix, v = v[:2], v[2:]
	}
	lo, hi, err := parseRange(v)
	if err != nil {
		return nil, err
	}
	var cmp func(t time.Time) bool
	switch prefix {
	case "eq":
		cmp = func(t time.Time) bool { return !t.Before(lo) && t.Before(hi) }
	case "ne":
		cmp = func(t time.Time) bool { return t.Before(lo) || !t.Before(hi) }
	case "gt":
		cmp = func(t time.Time) bool { return !t.Before(hi) }
	case "ge":
		cmp = func(t time.Time) bool { return !t.Before(lo) }
	case "lt":
		cmp = func(t time.Time) bool { return t.Before(lo) }
	case "le":
		cmp = func(t time.Time) bool { return t.Before(hi) }
	default:
		return nil, fmt.Errorf("unknown prefix %q", prefix)
	}
	return func(e *entry) bool {
		t, ok := get(e)
		return ok && cmp(t)
	}, nil
}

// search serves GET <fhir>/{type}.
func (s *Sandbox) search(w http.ResponseWriter, r *http.Request, typ string) {
	q, err := parseQuery(typ, r.URL.Query())
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, "error", "invalid", err.Error())
		return
	}
	page, total, next := s.store.run(q)
	base := s.fhirBase(r)
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"searchset","total":`)
	b.WriteString(strconv.Itoa(total))
	self := base + "/" + typ + "?" + r.URL.RawQuery
	b.WriteString(`,"link":[{"relation":"self","url":`)
	writeJSONString(&b, self)
	b.WriteString(`}`)
	if next != 0 {
		nq := url.Values{}
		for k, v := range q.keepQuery {
			nq[k] = v
		}
		nq.Set("_cursor", strconv.FormatUint(next, 10))
		b.WriteString(`,{"relation":"next","url":`)
		writeJSONString(&b, base+"/"+typ+"?"+nq.Encode())
		b.WriteString(`}`)
	}
	b.WriteString(`],"entry":[`)
	for i, e := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"fullUrl":`)
		writeJSONString(&b, base+"/"+e.typ+"/"+e.id)
		b.WriteString(`,"resource":`)
		b.Write(e.raw)
		b.WriteString(`,"search":{"mode":"match"}}`)
	}
	b.WriteString(`]}`)
	s.writeFHIR(w, r, http.StatusOK, b.Bytes())
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

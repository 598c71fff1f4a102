package fhir

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"healthprep.dev/shared/chart"
)

// PathError reports a file or resource that could not be read.
type PathError struct {
	File string // as given to Loader.Add
	Path string // JSON path, e.g. "$.entry[3].resource.birthDate"
	// Resource is the resource type whose reading failed ("Patient",
	// "Observation", ...); empty when the file itself is unreadable.
	Resource string
	Msg      string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.File, e.Path, e.Msg)
}

// OrphanError reports resources whose subject is not a loaded Patient,
// returned by Loader.Records. Unless AttachedTo is set they are left out of
// every record: a patient whose own Patient resource was unreadable gets no
// record at all.
type OrphanError struct {
	Subject string // the reference as written, e.g. "Patient/123"
	Count   int    // how many resources refer to it
	// AttachedTo is the patient the resources were attached to instead (see
	// Loader.Records); empty when they were skipped.
	AttachedTo string
}

func (e *OrphanError) Error() string {
	what := "skipped"
	if e.AttachedTo != "" {
		what = "attached to the only patient, " + e.AttachedTo
	}
	return fmt.Sprintf("%d resources refer to subject %q, which is not a loaded Patient: %s", e.Count, e.Subject, what)
}

// Options control the mapping.
type Options struct {
	// Location, when set, converts date-times that carry an offset to that
	// location before taking their date (a clinic's time zone). When nil,
	// the date as written is used: "2025-01-01T23:30:00-05:00" is 1 January.
	Location *time.Location
}

// Loader collects resources from any number of files and assembles one
// record per Patient. References may point forward (a Condition before
// its Patient). The zero Loader is not usable; call NewLoader.
type Loader struct {
	opts     Options
	patients map[string]*chart.Patient
	order    []string
	alias    map[string]string // "urn:uuid:x" and "Patient/x" -> patient id
	items    []pending
	docs     []pendingDoc
	appts    []pendingAppt
	// badPatients counts Patient resources that could not be read.
	badPatients int
}

type pending struct {
	subject string
	item    chart.Item
}

type pendingDoc struct {
	subject string
	doc     chart.Document
}

// pendingAppt is an appointment and the references of its participants,
// one of which is the patient.
type pendingAppt struct {
	subjects []string
	appt     chart.Appointment
}

// NewLoader returns an empty Loader.
func NewLoader(opts Options) *Loader {
	return &Loader{opts: opts, patients: map[string]*chart.Patient{}, alias: map[string]string{}}
}

// Add reads one JSON file: a Bundle or a single resource. It returns one
// *PathError per resource it had to skip (or one for the whole file when it
// is empty or not a JSON object); the rest are kept.
func (l *Loader) Add(file string, data []byte) []error {
	if len(bytes.TrimSpace(data)) == 0 {
		return []error{&PathError{File: file, Path: "$", Msg: "empty file"}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []error{&PathError{File: file, Path: "$", Msg: "not JSON: " + jsonProblem(err, len(data))}}
	}
	if dec.More() {
		return []error{&PathError{File: file, Path: "$", Msg: fmt.Sprintf("not JSON: data after the first value at byte %d", dec.InputOffset())}}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return []error{&PathError{File: file, Path: "$", Msg: "not a JSON object"}}
	}
	var errs []error
	l.resource(file, "$", "", obj, &errs)
	return errs
}

// jsonProblem describes a decoding error with the byte offset where it
// was found, so a person can open the file there.
func jsonProblem(err error, size int) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%v at byte %d", syn, syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("truncated: the file ends at byte %d inside a value", size)
	}
	return err.Error()
}

func (l *Loader) resource(file, path, fullURL string, obj map[string]any, errs *[]error) {
	r := reader{file: file, errs: errs, opts: l.opts}
	rt, ok := obj["resourceType"].(string)
	if !ok && obj["resourceType"] != nil {
		r.fail(path+".resourceType", "not a string")
		return
	}
	if rt == "" {
		r.fail(path+".resourceType", "missing resourceType: not a FHIR resource")
		return
	}
	r.resource = rt
	if rt == "Bundle" {
		entries, ok := obj["entry"].([]any)
		if !ok && obj["entry"] != nil {
			r.fail(path+".entry", "not an array")
			return
		}
		for i, e := range entries {
			p := fmt.Sprintf("%s.entry[%d]", path, i)
			eo, ok := e.(map[string]any)
			if !ok {
				r.fail(p, "not an object")
				continue
			}
			res, ok := eo["resource"].(map[string]any)
			if !ok {
				r.fail(p+".resource", "missing or not an object")
				continue
			}
			fu, _ := eo["fullUrl"].(string)
			l.resource(file, p+".resource", fu, res, errs)
		}
		return
	}
	before := len(*errs)
	switch rt {
	case "Patient":
		p, ok := r.patient(path, obj)
		if !ok || len(*errs) > before {
			l.badPatients++
			return
		}
		if _, dup := l.patients[p.ID]; !dup {
			l.order = append(l.order, p.ID)
		}
		l.patients[p.ID] = &p
		l.alias["Patient/"+p.ID] = p.ID
		if fullURL != "" {
			l.alias[fullURL] = p.ID
		}
	case "DocumentReference":
		subject, doc, ok := r.documentReference(path, obj)
		if ok && len(*errs) == before {
			l.docs = append(l.docs, pendingDoc{subject: subject, doc: doc})
		}
	case "Appointment":
		subjects, a, ok := r.appointment(path, obj)
		if ok && len(*errs) == before {
			l.appts = append(l.appts, pendingAppt{subjects: subjects, appt: a})
		}
	default:
		subject, it, ok := r.item(rt, path, obj)
		if !ok || len(*errs) > before {
			return
		}
		l.items = append(l.items, pending{subject: subject, item: it})
		if rt == "DiagnosticReport" {
			if doc, ok := r.reportText(path, obj, it); ok {
				l.docs = append(l.docs, pendingDoc{subject: subject, doc: doc})
			}
		}
	}
}

// Records returns one record per Patient, in the order the patients were
// first seen, and an *OrphanError for every subject that is not a known
// patient. When exactly one patient was loaded and no Patient resource was
// rejected, resources whose subject is unknown (test data often carries a
// placeholder reference) are attached to that patient and still reported;
// when a Patient was rejected they are skipped instead, so one patient's
// data never lands in another's chart.
func (l *Loader) Records() ([]chart.Record, []error) {
	idx := map[string]int{}
	recs := make([]chart.Record, len(l.order))
	for i, id := range l.order {
		recs[i].Patient = *l.patients[id]
		idx[id] = i
	}
	orphans := map[string]int{}
	attach := len(recs) == 1 && l.badPatients == 0
	resolve := func(subject string) (int, bool) {
		id, ok := l.alias[subject]
		if !ok {
			orphans[subject]++
			return 0, attach
		}
		return idx[id], true
	}
	for _, p := range l.items {
		if i, ok := resolve(p.subject); ok {
			recs[i].Items = append(recs[i].Items, p.item)
		}
	}
	for _, p := range l.docs {
		if i, ok := resolve(p.subject); ok {
			recs[i].Documents = append(recs[i].Documents, p.doc)
		}
	}
	for _, p := range l.appts {
		// The patient is one participant among practitioners and
		// locations: the first that is a loaded patient, else the first
		// that names a Patient (reported as an orphan).
		subject := ""
		for _, s := range p.subjects {
			if _, ok := l.alias[s]; ok {
				subject = s
				break
			}
			if subject == "" && strings.HasPrefix(s, "Patient/") {
				subject = s
			}
		}
		if subject == "" && len(p.subjects) > 0 {
			subject = p.subjects[0]
		}
		if i, ok := resolve(subject); ok {
			recs[i].Appointments = append(recs[i].Appointments, p.appt)
		}
	}
	var errs []error
	keys := make([]string, 0, len(orphans))
	for k := range orphans {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := &OrphanError{Subject: k, Count: orphans[k]}
		if attach {
			e.AttachedTo = recs[0].Patient.ID
		}
		errs = append(errs, e)
	}
	return recs, errs
}

type reader struct {
	file     string
	resource string // the resource type being read, once known
	errs     *[]error
	opts     Options
}

func (r reader) fail(path, msg string) {
	*r.errs = append(*r.errs, &PathError{File: r.file, Path: path, Resource: r.resource, Msg: msg})
}

func (r reader) str(obj map[string]any, path, key string) string {
	v, ok := obj[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail(path+"."+key, "not a string")
	}
	return s
}

func (r reader) obj(obj map[string]any, path, key string) map[string]any {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		r.fail(path+"."+key, "not an object")
	}
	return o
}

func (r reader) arr(obj map[string]any, path, key string) []any {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		r.fail(path+"."+key, "not an array")
	}
	return a
}

// date reads a FHIR date or dateTime. Partial dates (YYYY, YYYY-MM) take the
// first day of the year or month.
func (r reader) date(obj map[string]any, path, key string) chart.Date {
	s := r.str(obj, path, key)
	if s == "" {
		return chart.Date{}
	}
	d, err := parseDate(s, r.opts.Location)
	if err != nil {
		r.fail(path+"."+key, err.Error())
	}
	return d
}

func parseDate(s string, loc *time.Location) (chart.Date, error) {
	switch len(s) {
	case 4:
		if y, err := strconv.Atoi(s); err == nil && y > 0 {
			return chart.D(y, time.January, 1), nil
		}
	case 7:
		if t, err := time.Parse("2006-01", s); err == nil {
			return chart.FromTime(t), nil
		}
	case 10:
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return chart.FromTime(t), nil
		}
	default:
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			if loc != nil {
				t = t.In(loc)
			}
			return chart.FromTime(t), nil
		}
	}
	return chart.Date{}, fmt.Errorf("bad date %q", s)
}

// period reads a Period object: start and end (end may be absent).
func (r reader) period(obj map[string]any, path, key string) (chart.Date, chart.Date, bool) {
	p := r.obj(obj, path, key)
	if p == nil {
		return chart.Date{}, chart.Date{}, false
	}
	pp := path + "." + key
	s, e := r.date(p, pp, "start"), r.date(p, pp, "end")
	if s.IsZero() {
		s = e
	}
	if !e.IsZero() && e.Before(s) {
		r.fail(pp, "end before start")
	}
	return s, e, true
}

// codes reads a CodeableConcept's codings, mapping system URIs to short names.
func (r reader) codes(obj map[string]any, path, key string) ([]chart.Code, string) {
	cc := r.obj(obj, path, key)
	if cc == nil {
		return nil, ""
	}
	return r.concept(cc, path+"."+key)
}

func (r reader) concept(cc map[string]any, path string) ([]chart.Code, string) {
	text := r.str(cc, path, "text")
	var out []chart.Code
	for i, c := range r.arr(cc, path, "coding") {
		cp := fmt.Sprintf("%s.coding[%d]", path, i)
		co, ok := c.(map[string]any)
		if !ok {
			r.fail(cp, "not an object")
			continue
		}
		code := r.str(co, cp, "code")
		if code == "" {
			continue
		}
		out = append(out, chart.Code{System: System(r.str(co, cp, "system")), Code: code})
		if text == "" {
			text = r.str(co, cp, "display")
		}
	}
	return out, text
}

func (r reader) conceptList(obj map[string]any, path, key string) ([]chart.Code, string) {
	var out []chart.Code
	text := ""
	for i, v := range r.arr(obj, path, key) {
		p := fmt.Sprintf("%s.%s[%d]", path, key, i)
		o, ok := v.(map[string]any)
		if !ok {
			r.fail(p, "not an object")
			continue
		}
		cs, t := r.concept(o, p)
		out = append(out, cs...)
		if text == "" {
			text = t
		}
	}
	return out, text
}

func (r reader) subject(obj map[string]any, path string) string {
	for _, key := range []string{"subject", "patient"} {
		if ref := r.obj(obj, path, key); ref != nil {
			return r.str(ref, path+"."+key, "reference")
		}
	}
	return ""
}

// System maps a FHIR code system URI to the engine's short name (see the
// chart package); unknown URIs are returned unchanged.
func System(uri string) string {
	switch strings.TrimSuffix(uri, "/") {
	case "http://loinc.org":
		return chart.LOINC
	case "http://snomed.info/sct":
		return chart.SNOMED
	case "http://www.ama-assn.org/go/cpt":
		return chart.CPT
	case "http://www.nlm.nih.gov/research/umls/hcpcs", "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
		"http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets":
		return chart.HCPCS
	case "http://hl7.org/fhir/sid/icd-10-cm":
		return chart.ICD10CM
	case "http://www.cms.gov/Medicare/Coding/ICD10":
		return chart.ICD10PCS
	case "http://hl7.org/fhir/sid/icd-9-cm":
		return chart.ICD9CM
	case "http://hl7.org/fhir/sid/cvx":
		return chart.CVX
	case "http://www.nlm.nih.gov/research/umls/rxnorm":
		return chart.RxNorm
	case "http://www.ada.org/cdt", "https://www.ada.org/cdt":
		return chart.CDT
	case "https://www.cdc.gov/nhsn/cdaportal/terminology/codesystem/hsloc.html":
		return chart.HSLOC
	case "http://terminology.hl7.org/CodeSystem/v3-ActCode", "http://hl7.org/fhir/v3/ActCode":
		return chart.ActCode
	case "http://terminology.hl7.org/CodeSystem/observation-category", "http://hl7.org/fhir/observation-category":
		return chart.ObservationCategory
	case "http://terminology.hl7.org/CodeSystem/v2-0074", "http://hl7.org/fhir/v2/0074":
		return chart.DiagnosticService
	case "http://dicom.nema.org/resources/ontology/DCM":
		return chart.DICOM
	case "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category":
		return chart.DocumentCategory
	case "urn:oid:2.16.840.1.113883.6.238":
		return chart.CDCREC
	}
	return uri
}

func (r reader) patient(path string, obj map[string]any) (chart.Patient, bool) {
	p := chart.Patient{ID: r.str(obj, path, "id")}
	if p.ID == "" {
		r.fail(path+".id", "Patient without id")
		return p, false
	}
	switch g := r.str(obj, path, "gender"); g {
	case "female":
		p.Sex = chart.SexFemale
	case "male":
		p.Sex = chart.SexMale
	case "other":
		p.Sex = chart.SexOther
	case "", "unknown":
		p.Sex = chart.SexUnknown
	default:
		r.fail(path+".gender", fmt.Sprintf("unknown gender %q", g))
	}
	p.BirthDate = r.date(obj, path, "birthDate")
	p.Deceased = r.date(obj, path, "deceasedDateTime")
	p.Races = r.races(obj, path)
	for i, n := range r.arr(obj, path, "name") {
		no, ok := n.(map[string]any)
		if !ok {
			r.fail(fmt.Sprintf("%s.name[%d]", path, i), "not an object")
			continue
		}
		if p.Name != "" {
			continue
		}
		var parts []string
		for _, g := range r.arr(no, path, "given") {
			if s, ok := g.(string); ok {
				parts = append(parts, s)
			}
		}
		if f, ok := no["family"].(string); ok {
			parts = append(parts, f)
		}
		p.Name = strings.Join(parts, " ")
	}
	for i, id := range r.arr(obj, path, "identifier") {
		io, ok := id.(map[string]any)
		if !ok {
			r.fail(fmt.Sprintf("%s.identifier[%d]", path, i), "not an object")
			continue
		}
		ip := fmt.Sprintf("%s.identifier[%d]", path, i)
		codes, _ := r.codes(io, ip, "type")
		isMR := slices.ContainsFunc(codes, func(c chart.Code) bool { return c.Code == "MR" })
		if v := r.str(io, ip, "value"); v != "" && (p.MRN == "" || isMR) {
			p.MRN = v
		}
	}
	return p, true
}

// races reads the US Core race extension: its ombCategory and detailed
// codings.
func (r reader) races(obj map[string]any, path string) []chart.Code {
	var out []chart.Code
	for i, e := range r.arr(obj, path, "extension") {
		ep := fmt.Sprintf("%s.extension[%d]", path, i)
		eo, ok := e.(map[string]any)
		if !ok {
			r.fail(ep, "not an object")
			continue
		}
		if u, _ := eo["url"].(string); !strings.HasSuffix(u, "/us-core-race") {
			continue
		}
		for j, sub := range r.arr(eo, ep, "extension") {
			sp := fmt.Sprintf("%s.extension[%d]", ep, j)
			so, ok := sub.(map[string]any)
			if !ok {
				r.fail(sp, "not an object")
				continue
			}
			if u, _ := so["url"].(string); u != "ombCategory" && u != "detailed" {
				continue
			}
			if c := r.obj(so, sp, "valueCoding"); c != nil {
				if code := r.str(c, sp+".valueCoding", "code"); code != "" {
					out = append(out, chart.Code{System: System(r.str(c, sp+".valueCoding", "system")), Code: code})
				}
			}
		}
	}
	return out
}

func (r reader) notDone(obj map[string]any, path string) bool {
	if b, ok := obj["doNotPerform"].(bool); ok && b {
		return true
	}
	for i, e := range r.arr(obj, path, "modifierExtension") {
		eo, ok := e.(map[string]any)
		if !ok {
			r.fail(fmt.Sprintf("%s.modifierExtension[%d]", path, i), "not an object")
			continue
		}
		if u, _ := eo["url"].(string); strings.HasSuffix(u, "doNotPerform") {
			if b, _ := eo["valueBoolean"].(bool); b {
				return true
			}
		}
	}
	return false
}

// item maps the resource types the engine reads. Types it does not read
// return ok == false without an error.
func (r reader) item(rt, path string, obj map[string]any) (string, chart.Item, bool) {
	it := chart.Item{Ref: rt + "/" + r.str(obj, path, "id"), Status: r.str(obj, path, "status")}
	var text string
	switch rt {
	case "Condition":
		it.Kind = chart.Condition
		it.Codes, text = r.codes(obj, path, "code")
		if s, e, ok := r.period(obj, path, "onsetPeriod"); ok {
			it.Start, it.End = s, e
		} else {
			it.Start = r.date(obj, path, "onsetDateTime")
		}
		if it.Start.IsZero() {
			it.Start = r.date(obj, path, "recordedDate")
		}
		if _, e, ok := r.period(obj, path, "abatementPeriod"); ok {
			it.End = e
		} else if e := r.date(obj, path, "abatementDateTime"); !e.IsZero() {
			it.End = e
		}
		clin, _ := r.codes(obj, path, "clinicalStatus")
		it.Status = firstCode(clin)
		if it.Status == "" && !it.End.IsZero() {
			it.Status = "resolved"
		}
		ver, _ := r.codes(obj, path, "verificationStatus")
		if v := firstCode(ver); v == "refuted" || v == "entered-in-error" {
			it.NotDone = true
		}
		it.BodySites, _ = r.conceptList(obj, path, "bodySite")
	case "Procedure":
		it.Kind = chart.Procedure
		it.Codes, text = r.codes(obj, path, "code")
		r.when(obj, path, "performed", &it)
		it.NotDone = it.Status == "not-done" || it.Status == "entered-in-error"
		it.BodySites, _ = r.conceptList(obj, path, "bodySite")
		it.Category, _ = r.codes(obj, path, "category")
	case "Observation":
		it.Kind = chart.Observation
		it.Codes, text = r.codes(obj, path, "code")
		// No fallback to "issued": that is when the result was released,
		// not when the test was done (the eCQMs read effective[x] only).
		r.when(obj, path, "effective", &it)
		r.value(obj, path, &it)
		it.NotDone = it.Status == "cancelled" || it.Status == "entered-in-error"
		it.BodySites, _ = r.codes(obj, path, "bodySite")
		it.Category, _ = r.conceptList(obj, path, "category")
	case "Encounter":
		it.Kind = chart.Encounter
		it.Codes, text = r.conceptList(obj, path, "type")
		if s, e, ok := r.period(obj, path, "period"); ok {
			it.Start, it.End = s, e
			if e.IsZero() && it.Status != "in-progress" {
				it.End = s
			}
		}
		if h := r.obj(obj, path, "hospitalization"); h != nil {
			it.Values, _ = r.codes(h, path+".hospitalization", "dischargeDisposition")
			it.HasValue = len(it.Values) > 0
		}
		it.Category = r.coding(obj, path, "class")
		st, _ := r.codes(obj, path, "serviceType")
		it.Category = append(it.Category, st...)
		it.NotDone = it.Status == "cancelled" || it.Status == "entered-in-error"
	case "Immunization":
		it.Kind = chart.Immunization
		it.Codes, text = r.codes(obj, path, "vaccineCode")
		it.Start = r.date(obj, path, "occurrenceDateTime")
		it.End = it.Start
		it.NotDone = it.Status == "not-done" || it.Status == "entered-in-error"
	case "MedicationRequest":
		it.Kind = chart.Medication
		it.Codes, text = r.codes(obj, path, "medicationCodeableConcept")
		it.Start = r.date(obj, path, "authoredOn")
		if dr := r.obj(obj, path, "dispenseRequest"); dr != nil {
			if s, e, ok := r.period(dr, path+".dispenseRequest", "validityPeriod"); ok {
				if it.Start.IsZero() {
					it.Start = s
				}
				it.End = e
			}
		}
		if it.End.IsZero() && it.Status != "active" {
			it.End = it.Start
		}
		it.NotDone = r.notDone(obj, path) || it.Status == "entered-in-error"
	case "DeviceRequest":
		it.Kind = chart.DeviceRequest
		it.Codes, text = r.codes(obj, path, "codeCodeableConcept")
		it.Start = r.date(obj, path, "authoredOn")
		it.End = it.Start
		it.NotDone = r.notDone(obj, path) || it.Status == "entered-in-error" || it.Status == "revoked"
	case "ServiceRequest":
		it.Kind = chart.ServiceRequest
		it.Codes, text = r.codes(obj, path, "code")
		it.Start = r.date(obj, path, "authoredOn")
		it.End = it.Start
		it.NotDone = r.notDone(obj, path) || it.Status == "entered-in-error"
		it.Category, _ = r.conceptList(obj, path, "category")
		pt, _ := r.codes(obj, path, "performerType")
		it.Category = append(it.Category, pt...)
	case "DiagnosticReport":
		it.Kind = chart.DiagnosticReport
		it.Codes, text = r.codes(obj, path, "code")
		r.when(obj, path, "effective", &it)
		if it.Start.IsZero() {
			it.Start = r.date(obj, path, "issued")
			it.End = it.Start
		}
		it.Values, _ = r.conceptList(obj, path, "conclusionCode")
		it.HasValue = len(it.Values) > 0 || obj["conclusion"] != nil || obj["result"] != nil
		it.NotDone = it.Status == "cancelled" || it.Status == "entered-in-error"
		it.Category, _ = r.conceptList(obj, path, "category")
	case "ImagingStudy":
		it.Kind = chart.ImagingStudy
		text = r.imagingStudy(path, obj, &it)
	default:
		return "", chart.Item{}, false
	}
	it.Text = text
	if len(it.Codes) == 0 && len(it.Category) == 0 {
		return "", chart.Item{}, false // nothing a rule could match or a sheet could place
	}
	return r.subject(obj, path), it, true
}

// when reads value[x] date fields: <prefix>DateTime, <prefix>Period, <prefix>Instant.
func (r reader) when(obj map[string]any, path, prefix string, it *chart.Item) {
	if s, e, ok := r.period(obj, path, prefix+"Period"); ok {
		it.Start, it.End = s, e
		if e.IsZero() {
			it.End = s
		}
		return
	}
	for _, k := range []string{prefix + "DateTime", prefix + "Instant"} {
		if d := r.date(obj, path, k); !d.IsZero() {
			it.Start, it.End = d, d
			return
		}
	}
}

func (r reader) value(obj map[string]any, path string, it *chart.Item) {
	for k := range obj {
		if strings.HasPrefix(k, "value") {
			it.HasValue = true
		}
	}
	if q := r.obj(obj, path, "valueQuantity"); q != nil {
		if n, ok := q["value"].(json.Number); ok {
			f, err := n.Float64()
			if err != nil {
				r.fail(path+".valueQuantity.value", "not a number")
			}
			it.Quantity, it.HasQuantity = f, true
		} else if q["value"] != nil {
			r.fail(path+".valueQuantity.value", "not a number")
		}
		it.Unit = r.str(q, path+".valueQuantity", "unit")
		if it.Unit == "" {
			it.Unit = r.str(q, path+".valueQuantity", "code")
		}
	}
	it.Values, _ = r.codes(obj, path, "valueCodeableConcept")
	for i, c := range r.arr(obj, path, "component") {
		cp := fmt.Sprintf("%s.component[%d]", path, i)
		if co, ok := c.(map[string]any); ok {
			for k := range co {
				if strings.HasPrefix(k, "value") {
					it.HasValue = true
				}
			}
		} else {
			r.fail(cp, "not an object")
		}
	}
}

func firstCode(cs []chart.Code) string {
	if len(cs) == 0 {
		return ""
	}
	return cs[0].Code
}

func (r reader) documentReference(path string, obj map[string]any) (string, chart.Document, bool) {
	d := chart.Document{Ref: "DocumentReference/" + r.str(obj, path, "id")}
	d.Category, d.Title = r.codes(obj, path, "type")
	cat, _ := r.conceptList(obj, path, "category")
	d.Category = append(d.Category, cat...)
	if desc := r.str(obj, path, "description"); desc != "" {
		d.Title = desc
	}
	d.Date = r.date(obj, path, "date")
	if ctx := r.obj(obj, path, "context"); ctx != nil {
		if s, _, ok := r.period(ctx, path+".context", "period"); ok && d.Date.IsZero() {
			d.Date = s
		}
		ps, _ := r.codes(ctx, path+".context", "practiceSetting")
		d.Category = append(d.Category, ps...)
	}
	var texts []string
	for i, c := range r.arr(obj, path, "content") {
		cp := fmt.Sprintf("%s.content[%d]", path, i)
		co, ok := c.(map[string]any)
		if !ok {
			r.fail(cp, "not an object")
			continue
		}
		if att := r.obj(co, cp, "attachment"); att != nil {
			if t, ok := r.attachmentText(att, cp+".attachment"); ok {
				texts = append(texts, t)
			}
		}
	}
	d.Text = strings.Join(texts, "\n")
	return r.subject(obj, path), d, d.Text != "" || d.Title != ""
}

func (r reader) attachmentText(att map[string]any, path string) (string, bool) {
	ct := r.str(att, path, "contentType")
	data := r.str(att, path, "data")
	if data == "" || (ct != "" && !strings.HasPrefix(ct, "text/")) {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		r.fail(path+".data", "bad base64")
		return "", false
	}
	return string(b), true
}

// reportText turns a DiagnosticReport's conclusion and text attachments
// into a document, so phrases in reports count too.
func (r reader) reportText(path string, obj map[string]any, it chart.Item) (chart.Document, bool) {
	var texts []string
	if c, _ := obj["conclusion"].(string); c != "" {
		texts = append(texts, c)
	}
	for i, a := range r.arr(obj, path, "presentedForm") {
		if ao, ok := a.(map[string]any); ok {
			if t, ok := r.attachmentText(ao, fmt.Sprintf("%s.presentedForm[%d]", path, i)); ok {
				texts = append(texts, t)
			}
		}
	}
	if len(texts) == 0 {
		return chart.Document{}, false
	}
	return chart.Document{Ref: it.Ref, Title: it.Text, Date: it.Start, Text: strings.Join(texts, "\n"), Category: it.Category}, true
}

// coding reads a single Coding (not a CodeableConcept), such as an
// Encounter's class.
func (r reader) coding(obj map[string]any, path, key string) []chart.Code {
	c := r.obj(obj, path, key)
	if c == nil {
		return nil
	}
	code := r.str(c, path+"."+key, "code")
	if code == "" {
		return nil
	}
	return []chart.Code{{System: System(r.str(c, path+"."+key, "system")), Code: code}}
}

// imagingStudy reads an ImagingStudy into it and returns its display text.
// Its codes are the procedure codes (Synthea writes none); its category
// is the modalities, from the study's modality list and from each series.
func (r reader) imagingStudy(path string, obj map[string]any, it *chart.Item) string {
	var text string
	it.Codes, text = r.conceptList(obj, path, "procedureCode")
	it.Start = r.date(obj, path, "started")
	it.End = it.Start
	it.NotDone = it.Status == "cancelled" || it.Status == "entered-in-error"
	if desc := r.str(obj, path, "description"); text == "" {
		text = desc
	}
	addModality := func(c map[string]any, p string) {
		code := r.str(c, p, "code")
		if code == "" {
			return
		}
		mc := chart.Code{System: System(r.str(c, p, "system")), Code: code}
		if !slices.Contains(it.Category, mc) {
			it.Category = append(it.Category, mc)
		}
	}
	for i, m := range r.arr(obj, path, "modality") {
		p := fmt.Sprintf("%s.modality[%d]", path, i)
		if mo, ok := m.(map[string]any); ok {
			addModality(mo, p)
		} else {
			r.fail(p, "not an object")
		}
	}
	var seriesText []string
	for i, s := range r.arr(obj, path, "series") {
		p := fmt.Sprintf("%s.series[%d]", path, i)
		so, ok := s.(map[string]any)
		if !ok {
			r.fail(p, "not an object")
			continue
		}
		if m := r.obj(so, p, "modality"); m != nil {
			addModality(m, p+".modality")
		}
		if b := r.obj(so, p, "bodySite"); b != nil {
			if code := r.str(b, p+".bodySite", "code"); code != "" {
				it.BodySites = append(it.BodySites, chart.Code{System: System(r.str(b, p+".bodySite", "system")), Code: code})
			}
		}
		switch desc := r.str(so, p, "description"); {
		case desc != "":
			seriesText = append(seriesText, desc)
		default:
			m, _ := so["modality"].(map[string]any)
			b, _ := so["bodySite"].(map[string]any)
			md, _ := m["display"].(string)
			bd, _ := b["display"].(string)
			if t := strings.TrimSpace(md + " " + strings.ToLower(bd)); t != "" {
				seriesText = append(seriesText, t)
			}
		}
	}
	if text == "" && len(seriesText) > 0 {
		text = seriesText[0]
	}
	return text
}

// appointment reads an Appointment: its start and end instants, status,
// visit type and the participants' references (the patient is one of
// them; Records picks it). The practitioner and location are the display
// names of participants whose references name a Practitioner (or
// PractitionerRole) and a Location. An appointment without a start is
// not kept: there is no visit to prepare for.
func (r reader) appointment(path string, obj map[string]any) ([]string, chart.Appointment, bool) {
	a := chart.Appointment{Ref: "Appointment/" + r.str(obj, path, "id"), Status: r.str(obj, path, "status")}
	a.Start = r.instant(obj, path, "start")
	a.End = r.instant(obj, path, "end")
	_, a.VisitType = r.codes(obj, path, "appointmentType")
	if a.VisitType == "" {
		_, a.VisitType = r.conceptList(obj, path, "serviceType")
	}
	if a.VisitType == "" {
		a.VisitType = r.str(obj, path, "description")
	}
	var subjects []string
	if s := r.subject(obj, path); s != "" {
		subjects = append(subjects, s) // R5 names the patient as subject
	}
	for i, p := range r.arr(obj, path, "participant") {
		pp := fmt.Sprintf("%s.participant[%d]", path, i)
		po, ok := p.(map[string]any)
		if !ok {
			r.fail(pp, "not an object")
			continue
		}
		actor := r.obj(po, pp, "actor")
		if actor == nil {
			continue
		}
		ref, display := r.str(actor, pp+".actor", "reference"), r.str(actor, pp+".actor", "display")
		switch {
		case strings.HasPrefix(ref, "Practitioner/") || strings.HasPrefix(ref, "PractitionerRole/"):
			if a.Provider == "" {
				a.Provider = display
			}
		case strings.HasPrefix(ref, "Location/"):
			if a.Location == "" {
				a.Location = display
			}
		case ref != "":
			subjects = append(subjects, ref)
		}
	}
	return subjects, a, !a.Start.IsZero()
}

// instant reads a FHIR instant (a date-time with a time zone offset).
func (r reader) instant(obj map[string]any, path, key string) time.Time {
	s := r.str(obj, path, key)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		r.fail(path+"."+key, fmt.Sprintf("bad instant %q: want a date and time with an offset", s))
		return time.Time{}
	}
	return t
}

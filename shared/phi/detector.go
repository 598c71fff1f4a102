package phi

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Options tune a Detector.
type Options struct {
	// KeepZIP3 keeps the first three digits of a ZIP code in its placeholder
	// ("[ZIP:021]"), as Safe Harbor allows, except for the three-digit areas
	// of 20,000 people or fewer, which are always fully redacted. By default
	// the whole ZIP code becomes "[ZIP]".
	KeepZIP3 bool
}

// Detector finds PHI in text. Build one with NewDetector and reuse it: it is
// immutable and safe for concurrent use.
type Detector struct {
	opts  Options
	dates datePatterns
	ids   idPatterns
	names nameModel
	addr  addressPatterns
}

// NewDetector compiles the patterns and loads the name dictionaries
// (a few milliseconds).
func NewDetector(opts Options) *Detector {
	return &Detector{opts: opts, dates: newDatePatterns(), ids: newIDPatterns(), names: newNameModel(), addr: newAddressPatterns()}
}

// Candidate priorities: when detections overlap they are merged into one
// span whose type is that of the highest priority (then the longest).
const (
	prioWeak    = 10 // bare long numbers
	prioName    = 30
	prioAddress = 40
	prioDate    = 50
	prioPattern = 60 // phone, checksummed numbers
	prioLabel   = 70 // a value after a label ("MRN: …")
	prioKnown   = 80 // the patient's own identifiers
	prioExact   = 90 // e-mail, URL, IP, SSN
)

type cand struct {
	s, e int // bytes
	t    Type
	prio int
}

type scan struct {
	d     *Detector
	text  string
	lower string // text with ASCII letters lowercased: same byte offsets
	known *compiledKnown
	kt    *knownText // computed on first use
	cands []cand
	// service dates found, and the byte offset of each
	service    []ServiceDate
	servicePos []int
}

func (sc *scan) add(s, e int, t Type, prio int) {
	// trim spaces and trailing punctuation a pattern may have taken
	for s < e && isSpace(sc.text[s]) {
		s++
	}
	for e > s && (isSpace(sc.text[e-1]) || strings.IndexByte(",;:", sc.text[e-1]) >= 0) {
		e--
	}
	if s < e {
		sc.cands = append(sc.cands, cand{s, e, t, prio})
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// Detect returns the identifiers in text, sorted and non-overlapping, with
// code-point offsets. known may be nil.
func (d *Detector) Detect(text string, known *Known) []Span {
	sc := d.run(text, known)
	return sc.spans()
}

func (d *Detector) run(text string, known *Known) *scan {
	sc := &scan{d: d, text: text, lower: asciiLower(text)}
	if known != nil {
		sc.known = d.compileKnown(known)
	}
	sc.detectExact()
	sc.detectLabelled()
	sc.detectPatterns()
	sc.detectDates()
	sc.detectAddresses()
	sc.detectNames()
	sc.detectKnown()
	sc.detectLongNumbers()
	sc.sortService()
	return sc
}

// sortService puts the dates of service in text order.
func (sc *scan) sortService() {
	idx := make([]int, len(sc.service))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return sc.servicePos[a] - sc.servicePos[b] })
	sorted := make([]ServiceDate, len(idx))
	for i, j := range idx {
		sorted[i] = sc.service[j]
	}
	sc.service = sorted
}

// Redact detects the identifiers in text and replaces each with its
// placeholder. Dates of service are extracted first. known may be nil.
func (d *Detector) Redact(text string, known *Known) Result {
	sc := d.run(text, known)
	merged := sc.merge()
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, c := range merged {
		b.WriteString(strings.ToValidUTF8(text[last:c.s], "\uFFFD"))
		b.WriteString(d.placeholder(text[c.s:c.e], c.t))
		last = c.e
	}
	b.WriteString(strings.ToValidUTF8(text[last:], "\uFFFD"))
	return Result{Redacted: Redacted{text: b.String()}, Spans: toSpans(text, merged), ServiceDates: sc.service}
}

// restrictedZIP3 are the three-digit ZIP areas that Safe Harbor requires to
// be replaced by 000 (20,000 people or fewer, per HHS guidance).
const restrictedZIP3 = " 036 059 063 102 203 556 692 790 821 823 830 831 878 879 884 890 893 "

func (d *Detector) placeholder(orig string, t Type) string {
	if t == ZIP && d.opts.KeepZIP3 {
		digits := digitsOf(orig)
		if len(digits) >= 5 && !strings.Contains(restrictedZIP3, " "+digits[:3]+" ") {
			return "[ZIP:" + digits[:3] + "]"
		}
	}
	return t.Placeholder()
}

func (sc *scan) spans() []Span { return toSpans(sc.text, sc.merge()) }

// merge sorts the candidates and joins overlapping ones.
func (sc *scan) merge() []cand {
	cs := sc.cands
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.s != b.s {
			return a.s - b.s
		}
		return b.e - a.e
	})
	var out []cand
	for _, c := range cs {
		if n := len(out); n > 0 && c.s < out[n-1].e {
			last := &out[n-1]
			if c.prio > last.prio || (c.prio == last.prio && c.e-c.s > last.e-last.s) {
				last.t, last.prio = c.t, c.prio
			}
			if c.e > last.e {
				last.e = c.e
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// toSpans converts byte offsets to code-point offsets.
func toSpans(text string, cs []cand) []Span {
	spans := make([]Span, 0, len(cs))
	cp, at := 0, 0
	count := func(to int) {
		for at < to {
			_, n := utf8.DecodeRuneInString(text[at:])
			at += n
			cp++
		}
	}
	for _, c := range cs {
		count(c.s)
		start := cp
		count(c.e)
		spans = append(spans, Span{Start: start, End: cp, Type: c.t})
	}
	return spans
}

// idPatterns are the patterns for contact details and numbers.
type idPatterns struct {
	email, url, domain, ipv4, ipv6, mac *regexp.Regexp
	ssn, ssnCtx, ssnMasked              *regexp.Regexp
	phone, phoneIntl, phoneLocal        *regexp.Regexp
	phoneLabel                          *regexp.Regexp
	labelled                            []labelPattern
	vin, dea, npi, mbi, card, udi       *regexp.Regexp
	longNum, alnumID                    *regexp.Regexp
	codeCtx                             *regexp.Regexp
}

type labelPattern struct {
	re   *regexp.Regexp
	t    Type
	prio int
}

// idValueLower is a value after a label, in asciiLower text: chunks of
// letters and digits, at least one digit in all, joined by dashes, slashes,
// dots or single spaces, after at most two short letter chunks.
const idValueLower = `((?:[a-z]{1,5}[ -]){0,2}[a-z0-9]*[0-9][a-z0-9]*(?:(?:[-/.]|\s-\s)[a-z0-9]+)*(?: [a-z0-9]*[0-9][a-z0-9]*)*)`

// labelSep is what may stand between a label and its value.
const labelSep = `\s*(?:(?:number|num|no\.?|#|id)\s*)?[:#=.]?\s*(?:-\s*)?(?:(?:is|was|of)\s+)?`

func newIDPatterns() idPatterns {
	lbl := func(labels string, t Type) labelPattern {
		prio := prioLabel
		if t == ID {
			prio = prioLabel - 5 // a generic "ID:" yields to a specific label
		}
		return labelPattern{ci(`\b(?:` + labels + `)` + labelSep + `\b` + idValueLower), t, prio}
	}
	const n = `\s*(?:#|no\.?|num(?:ber)?|id|identifier)`
	return idPatterns{
		email:      ci(`(?i)\b[a-z0-9][a-z0-9._%+'-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b`),
		url:        ci(`(?i)\b(?:(?:https?|ftp|sftp)://|www\.)[^\s<>"'\x60]+`),
		domain:     ci(`(?i)\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.(?:com|org|net|edu|gov|io|us|info|health|care|clinic|me|co|biz|mil)\b(?:/[^\s<>"']*)?`),
		ipv4:       regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b(?:/\d{1,2}\b)?`),
		ipv6:       ci(`(?i)(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?`),
		mac:        ci(`(?i)\b[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}\b`),
		ssn:        regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b|\b\d{3}\.\d{2}\.\d{4}\b`),
		ssnCtx:     ci(`(?i:\b(?:ssn|ss#|s\.s\.n\.?|soc(?:ial)?\.?\s*sec(?:urity)?\.?(?:\s*(?:number|no\.?|#|num))?))\s*[:#]?\s*(?:is\s+)?(\d{3}[- .]?\d{2}[- .]?\d{4}|\d{4}\b|\d[\doilsbz@|',.-]{7,12}\d\b)`),
		ssnMasked:  ci(`(?i)(?:\b|[*x#])[*x#]{3}[- ]?[*x#]{2}[- ]?\d{4}\b`),
		phone:      regexp.MustCompile(`(?:\+?1[\s.-]?)?(?:\(\s*[2-9]\d{2}\s*\)|\b[2-9]\d{2})[\s./-]?\d{3}[\s.-]?\d{4}\b(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?`),
		phoneIntl:  regexp.MustCompile(`\+[2-9]\d{0,2}[\s.-]?(?:\(?\d{1,4}\)?[\s.-]?){1,4}\d{2,4}\b`),
		phoneLocal: regexp.MustCompile(`\b\d{3}[-.]\d{4}\b`),
		phoneLabel: ci(`(?i)\b(?:fax|facsimile|f|phone|ph|tel|telephone|cell|mobile|home|work|office|pager|call|contact|daytime|evening|c|h|w|m|p|t)\b\.?\s*(?:#|no\.?|number)?\s*[:.]?\s*$`),
		labelled: []labelPattern{
			lbl(`vin|vehicle\s+identification\s+(?:number|no\.?|#)|vehicle`+n+`|(?:licen[cs]e|registration)\s+plate|plate|tag\s*(?:#|no\.?|number)`, Vehicle),
			lbl(`mrn|mr\s*#|mr\s*(?:no|num)\.?|mr\s+number|medical\s+record(?:\s*(?:number|no\.?|num|#))?|med\.?\s+rec(?:ord)?\.?|chart`+n+`|patient`+n+`|pt\.?`+n+`|hospital`+n+`|unit`+n+`|e?mpi|enterprise\s+id|record\s*(?:#|no\.?|number)`, MRN),
			lbl(`member`+n+`|subscriber`+n+`|policy(?:`+n+`)?|insurance`+n+`|(?:health\s+)?plan`+n+`|group`+n+`|medicaid(?:`+n+`)?|medicare(?:`+n+`|\s+beneficiary\s+identifier)?|mbi|hicn|beneficiary`+n+`|insured'?s?`+n+`|rx\s*(?:id|bin|pcn|grp|group)`, HealthPlan),
			lbl(`account(?:`+n+`)?|acct\.?(?:`+n+`)?|billing`+n+`|invoice`+n+`|claim`+n+`|encounter`+n+`|visit`+n+`|fin|har|csn|guarantor(?:`+n+`|\s+account)|financial`+n+`|statement`+n+`|card`+n+`|routing`+n+`|bank\s+account`, Account),
			lbl(`(?:driver'?s?\s+)?licen[cs]e(?:`+n+`)?|dl\s*#|dl\s+(?:no\.?|number)|dea(?:`+n+`|\s+reg(?:istration)?)?|npi(?:`+n+`)?|upin|certificate(?:`+n+`)?|cert\.?`+n+`|certification`+n+`|permit`+n+`|registration`+n+`|clia(?:`+n+`)?`, License),
			lbl(`serial(?:`+n+`)?|s/n|sn|udi|device`+n+`|model\s*/\s*serial|imei|mac\s+address|pacemaker`+n+`|implant`+n+`|(?:icd|generator|lead)\s+serial`, Device),
			lbl(`(?:finger|thumb|palm|voice|face)\s*print(?:\s*(?:template|scan|record|sample))?(?:`+n+`)?|(?:retina(?:l)?|iris)\s+scan(?:`+n+`)?|biometric(?:\s*(?:template|scan|record|sample))?(?:`+n+`)?|facial\s+(?:recognition|geometry|template)(?:`+n+`)?`, Biometric),
			lbl(`accession(?:`+n+`)?|specimen`+n+`|order`+n+`|requisition(?:`+n+`)?|case`+n+`|employee`+n+`|student`+n+`|badge`+n+`|reference`+n+`|ref\.?\s*#|confirmation`+n+`|ticket`+n+`|tracking`+n+`|control`+n+`|document`+n+`|report`+n+`|study`+n+`|file`+n+`|passport(?:`+n+`)?|id|identifier|barcode`, ID),
		},
		vin:     regexp.MustCompile(`\b[A-HJ-NPR-Z0-9]{17}\b`),
		dea:     regexp.MustCompile(`\b[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}\b`),
		npi:     regexp.MustCompile(`\b[12]\d{9}\b`),
		mbi:     regexp.MustCompile(`\b[1-9][A-Z][A-Z0-9]\d-?[A-Z][A-Z0-9]\d-?[A-Z]{2}\d{2}\b`),
		card:    regexp.MustCompile(`\b\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7}\b`),
		udi:     regexp.MustCompile(`\(01\)\s?\d{14}(?:\s?\(\d{2,4}\)\s?[A-Za-z0-9]+)*`),
		longNum: regexp.MustCompile(`\b[A-Z]{0,4}[-#]?\d[\d-]{5,}\d[A-Z]{0,2}\b`),
		alnumID: regexp.MustCompile(`\b(?:[A-Z]{1,4}\d{5,}[A-Z0-9]*|\d{5,}[A-Z]{1,4}\d*|[A-Z0-9]{2,6}-[A-Z0-9]{2,8}-[A-Z0-9]{2,8}(?:-[A-Z0-9]{1,8})*)\b`),
		codeCtx: ci(`(?i)\b(?:ndc|loinc|cpt|icd(?:-?10|-?9)?(?:-cm)?|hcpcs|snomed|rxnorm|cvx|lot|code|codes|dx)\b[\s:#]*(?:\S+\s+){0,2}$`),
	}
}

// detectExact finds e-mail addresses, URLs, IP and MAC addresses and SSNs.
func (sc *scan) detectExact() {
	p := &sc.d.ids
	t := sc.text
	l := sc.lower
	for _, m := range p.email.FindAllStringIndex(l, -1) {
		sc.add(m[0], m[1], Email, prioExact)
	}
	for _, m := range p.url.FindAllStringIndex(l, -1) {
		e := m[1]
		for e > m[0] && strings.IndexByte(".,;:!?)]}'\"", t[e-1]) >= 0 {
			e--
		}
		sc.add(m[0], e, URL, prioExact)
	}
	for _, m := range p.domain.FindAllStringIndex(l, -1) {
		if m[0] > 0 && t[m[0]-1] == '@' {
			continue
		}
		e := m[1]
		for e > m[0] && strings.IndexByte(".,;:!?)]}'\"", t[e-1]) >= 0 {
			e--
		}
		sc.add(m[0], e, URL, prioExact-1)
	}
	for _, m := range p.ipv4.FindAllStringIndex(t, -1) {
		// a version number or a dotted date is not an address: want four
		// parts not preceded by "v" and not followed by another dot-number.
		if m[0] > 0 && (t[m[0]-1] == 'v' || t[m[0]-1] == 'V' || t[m[0]-1] == '.') {
			continue
		}
		sc.add(m[0], m[1], IP, prioExact)
	}
	for _, m := range p.ipv6.FindAllStringIndex(l, -1) {
		s := t[m[0]:m[1]]
		if strings.Count(s, ":") < 2 || len(s) < 3 {
			continue
		}
		if _, err := netip.ParseAddr(strings.TrimSuffix(s, ":")); err != nil {
			continue
		}
		if !strings.ContainsAny(s, "abcdefABCDEF") && strings.Count(s, ":") < 3 {
			continue // 10:30:45 is a time
		}
		sc.add(m[0], m[1], IP, prioExact)
	}
	for _, m := range p.mac.FindAllStringIndex(l, -1) {
		sc.add(m[0], m[1], Device, prioExact)
	}
	for _, m := range p.ssn.FindAllStringIndex(t, -1) {
		if validSSN(digitsOf(t[m[0]:m[1]])) {
			sc.add(m[0], m[1], SSN, prioExact)
		} else {
			sc.add(m[0], m[1], ID, prioPattern)
		}
	}
	for _, m := range p.ssnCtx.FindAllStringSubmatchIndex(l, -1) {
		// The last alternative reads an OCR-damaged number after the
		// label ("219-0@9-9999"): letters and marks OCR puts for digits.
		if len(digitsOf(t[m[2]:m[3]])) >= 4 {
			sc.add(m[2], m[3], SSN, prioExact)
		}
	}
	for _, m := range p.ssnMasked.FindAllStringIndex(l, -1) {
		s := m[0]
		for s < m[1] && !(t[s] >= '0' && t[s] <= '9') {
			s++
		}
		sc.add(s, m[1], SSN, prioExact)
	}
}

// detectLabelled finds values after labels ("MRN: 123456", "Member ID …").
func (sc *scan) detectLabelled() {
	t := sc.text
	for _, lp := range sc.d.ids.labelled {
		for _, m := range lp.re.FindAllStringSubmatchIndex(sc.lower, -1) {
			s, e := m[2], m[3]
			// a leading chunk of letters belongs to the value only in capitals
			// ("XHP 4471 2290", not "for 4471")
			if sp := strings.IndexAny(t[s:e], " -"); sp > 0 && sp <= 5 && !strings.ContainsAny(t[s:s+sp], "0123456789") && strings.ToUpper(t[s:s+sp]) != t[s:s+sp] {
				s += sp + 1
			}
			v := t[s:e]
			// a trailing word after a space ("12345 today") is not part of it
			for strings.HasSuffix(v, ".") || strings.HasSuffix(v, "-") {
				v = v[:len(v)-1]
			}
			e = s + len(v)
			nd := len(digitsOf(v))
			if nd == 0 || (len(v) < 4 && lp.t != License) || (nd < 2 && lp.t != Vehicle) {
				continue
			}
			if lp.t == ID && sc.isCodeContext(m[0]) {
				continue
			}
			// a date after "Visit" or "Order" is a date, not an identifier
			if d := sc.d.dates; d.numeric.MatchString(v) && d.numeric.FindString(v) == v || d.iso.FindString(v) == v {
				continue
			}
			// dose and lab values are not identifiers
			if after := t[e:min(len(t), e+6)]; lp.t == ID && unitAfter(after) {
				continue
			}
			sc.add(s, e, lp.t, lp.prio)
		}
	}
}

// unitAfter reports whether s starts with a unit of measure.
func unitAfter(s string) bool {
	s = strings.TrimLeft(s, " ")
	for _, u := range []string{"mg", "mcg", "ml", "mL", "g/", "mmol", "mEq", "units", "%", "cm", "mm", "kg", "lb"} {
		if strings.HasPrefix(s, u) {
			return true
		}
	}
	return false
}

// isCodeContext reports whether the text just before byte i names a
// clinical code system (NDC, LOINC, CPT, ICD …), whose codes are not PHI.
func (sc *scan) isCodeContext(i int) bool {
	from := max(0, i-40)
	return sc.d.ids.codeCtx.MatchString(sc.lower[from:i])
}

// detectPatterns finds phone and fax numbers and checksummed numbers.
func (sc *scan) detectPatterns() {
	p := &sc.d.ids
	t := sc.text
	phoneType := func(s int) Type {
		from := max(0, s-30)
		before := sc.lower[from:s]
		fi := strings.LastIndex(before, "fax")
		if fi < 0 {
			fi = strings.LastIndex(before, "f:")
		}
		if fi < 0 {
			return Phone
		}
		for _, w := range []string{"phone", "tel", "cell", "mobile", "ph:", "p:", "t:"} {
			if strings.LastIndex(before, w) > fi {
				return Phone
			}
		}
		return Fax
	}
	for _, re := range []*regexp.Regexp{p.phone, p.phoneIntl} {
		for _, m := range re.FindAllStringIndex(t, -1) {
			s := m[0]
			// not inside a longer number or a dotted decimal
			if s > 0 && (isDigit(t[s-1]) || t[s-1] == '.' && s > 1 && isDigit(t[s-2])) {
				continue
			}
			if m[1] < len(t) && (isDigit(t[m[1]]) || t[m[1]] == '-' && m[1]+1 < len(t) && isDigit(t[m[1]+1])) {
				continue
			}
			if sc.isCodeContext(s) {
				continue
			}
			sc.add(s, m[1], phoneType(s), prioPattern)
		}
	}
	for _, m := range p.phoneLocal.FindAllStringIndex(t, -1) {
		if m[0] > 0 && (isDigit(t[m[0]-1]) || t[m[0]-1] == '-') {
			continue
		}
		if p.phoneLabel.MatchString(sc.lower[max(0, m[0]-25):m[0]]) {
			sc.add(m[0], m[1], phoneType(m[0]), prioPattern)
		}
	}
	for _, m := range p.vin.FindAllStringIndex(t, -1) {
		if validVIN(t[m[0]:m[1]]) {
			sc.add(m[0], m[1], Vehicle, prioPattern)
		}
	}
	for _, m := range p.dea.FindAllStringIndex(t, -1) {
		if validDEA(t[m[0]:m[1]]) {
			sc.add(m[0], m[1], License, prioPattern)
		}
	}
	for _, m := range p.npi.FindAllStringIndex(t, -1) {
		if validNPI(t[m[0]:m[1]]) && !sc.isCodeContext(m[0]) {
			sc.add(m[0], m[1], License, prioPattern-1)
		}
	}
	for _, m := range p.mbi.FindAllStringIndex(t, -1) {
		if validMBI(strings.ReplaceAll(t[m[0]:m[1]], "-", "")) {
			sc.add(m[0], m[1], HealthPlan, prioPattern)
		}
	}
	for _, m := range p.card.FindAllStringIndex(t, -1) {
		d := digitsOf(t[m[0]:m[1]])
		if len(d) >= 13 && len(d) <= 19 && luhn(d) && !sc.isCodeContext(m[0]) {
			sc.add(m[0], m[1], Account, prioPattern)
		}
	}
	for _, m := range p.udi.FindAllStringIndex(t, -1) {
		sc.add(m[0], m[1], Device, prioPattern)
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// detectLongNumbers marks any other long number as an identifier: seven
// digits or more, or five or more with letters, unless a code system is
// named just before it.
func (sc *scan) detectLongNumbers() {
	p := &sc.d.ids
	t := sc.text
	for _, re := range []*regexp.Regexp{p.longNum, p.alnumID} {
		for _, m := range re.FindAllStringIndex(t, -1) {
			v := t[m[0]:m[1]]
			nd := len(digitsOf(v))
			if re == p.longNum && nd < 7 || nd < 5 {
				continue
			}
			if m[0] > 0 && (t[m[0]-1] == '.' || t[m[0]-1] == ',') && m[0] > 1 && isDigit(t[m[0]-2]) {
				continue // 1,250,000 or 3.14159265
			}
			if m[1] < len(t) && (t[m[1]] == ',' || t[m[1]] == '.') && m[1]+1 < len(t) && isDigit(t[m[1]+1]) {
				continue
			}
			if sc.isCodeContext(m[0]) || unitAfter(t[m[1]:min(len(t), m[1]+6)]) {
				continue
			}
			sc.add(m[0], m[1], ID, prioWeak)
		}
	}
}

// asciiLower lowercases ASCII letters only, so that byte offsets in the
// result are those of s. Case-insensitive patterns run on it without the
// (?i) flag, which is several times slower in Go's regexp.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ci compiles a case-insensitive pattern written in lowercase to run on
// asciiLower text: the (?i) flags are dropped.
func ci(src string) *regexp.Regexp {
	return regexp.MustCompile(strings.NewReplacer("(?i)", "", "(?i:", "(?:").Replace(src))
}

// Package docgen generates labelled synthetic clinical documents for
// evaluating PHI detection: progress notes, letters, consult reports,
// discharge summaries, lab, imaging and pathology reports, e-mails and
// registration forms, in varied layouts, with identifiers of every Safe
// Harbor category injected in many formats and contexts, and with the exact
// span of each one. As in the i2b2 de-identification corpora, every contact
// detail, place and identifier is labelled whoever it belongs to (the
// practice's letterhead and e-mail, the clinician's NPI), because no
// detector can tell whose a phone number is.
//
// The generator is deliberately independent of the detector: its names,
// cities and phrasings are its own lists (many names are absent from the
// detector's census dictionaries), identifiers appear both after labels and
// bare, and every document carries hard negatives (drug names and doses,
// lab values, ICD-10/CPT/LOINC/NDC codes, years alone, ages under 90,
// eponyms, the verb "may"). Output is deterministic for a seed.
package docgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
)

// Label is one injected identifier: code points [Start, End) of Doc.Text.
type Label struct {
	Start, End int
	Type       phi.Type
	// Birth marks the patient's birth date (a DATE label).
	Birth bool
	Text  string
}

// Doc is one generated document.
type Doc struct {
	Kind string
	// Type is the document type a classifier should find.
	Type   doctype.Type
	Text   string
	Labels []Label
	// ServiceDate is the date written after the document's date-of-service
	// label; zero for kinds without one (letters, e-mails, forms).
	ServiceDate chart.Date
	// Patient holds the patient's own identifiers as the record would
	// have them (for matching with phi.Known).
	Patient phi.Known
}

// kind is one document template.
type kind struct {
	name  string
	typ   doctype.Type
	write func(*builder, *patient)
}

// phiKinds are the templates Generate draws from. The list is kept as it
// is so that a seed gives the same documents, and the PHI evaluation
// comparable numbers, from one version to the next; new templates go in
// allKinds only.
var phiKinds = []kind{
	{"progress note", doctype.Other, progressNote},
	{"referral letter", doctype.Consult, referralLetter},
	{"consult report", doctype.Consult, consultReport},
	{"discharge summary", doctype.Hospital, dischargeSummary},
	{"lab report", doctype.Lab, labReport},
	{"imaging report", doctype.Imaging, imagingReport},
	{"pathology report", doctype.Lab, pathologyReport},
	{"e-mail", doctype.Other, emailMessage},
	{"registration form", doctype.Other, registrationForm},
}

// allKinds adds the templates for the document pipeline's evaluation,
// which needs every document type.
var allKinds = append(append([]kind{}, phiKinds...), kind{"procedure report", doctype.Procedure, procedureReport})

// Generate returns n documents for seed, drawn from the nine kinds the
// PHI evaluation uses.
func Generate(seed uint64, n int) []Doc { return generateFrom(seed, n, phiKinds) }

// GenerateAll returns n documents for seed drawn from every kind,
// procedure reports included, so that every doctype.Type occurs.
func GenerateAll(seed uint64, n int) []Doc { return generateFrom(seed, n, allKinds) }

func generateFrom(seed uint64, n int, kinds []kind) []Doc {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	docs := make([]Doc, n)
	for i := range docs {
		docs[i] = generate(r, kinds)
	}
	return docs
}

// builder accumulates text and labels, counting code points.
type builder struct {
	r       *rand.Rand
	b       strings.Builder
	n       int
	labels  []Label
	service chart.Date
}

func (b *builder) t(s string) {
	b.b.WriteString(s)
	b.n += utf8.RuneCountInString(s)
}

func (b *builder) tf(f string, a ...any) { b.t(fmt.Sprintf(f, a...)) }

func (b *builder) p(t phi.Type, s string) {
	l := Label{Start: b.n, Type: t, Text: s}
	b.t(s)
	l.End = b.n
	b.labels = append(b.labels, l)
}

func (b *builder) pick(opts ...string) string { return opts[b.r.IntN(len(opts))] }

func (b *builder) chance(p float64) bool { return b.r.Float64() < p }

// person is a generated person.
type person struct {
	first, middle, last string
	female              bool
}

// patient is the document's subject.
type patient struct {
	person
	nick    string
	birth   chart.Date
	mrn     string
	ssn     string
	street  string
	unit    string
	city    string
	state   string
	zip     string
	phone   [3]string // area, exchange, line
	email   string
	plan    string
	account string
}

func generate(r *rand.Rand, kinds []kind) Doc {
	b := &builder{r: r}
	pt := newPatient(b)
	k := kinds[r.IntN(len(kinds))]
	k.write(b, pt)
	known := phi.Known{
		Names:     []string{pt.first + " " + pt.middle + " " + pt.last},
		BirthDate: pt.birth,
		MRNs:      []string{pt.mrn},
		IDs:       []string{pt.ssn, pt.plan, pt.account},
		Addresses: []string{pt.street, pt.city, pt.zip},
		Phones:    []string{pt.phone[0] + pt.phone[1] + pt.phone[2]},
		Emails:    []string{pt.email},
	}
	if pt.nick != "" {
		known.Names = append(known.Names, pt.nick)
	}
	return Doc{Kind: k.name, Type: k.typ, Text: b.b.String(), Labels: b.labels, ServiceDate: b.service, Patient: known}
}

func newPatient(b *builder) *patient {
	p := &patient{person: newPerson(b)}
	if b.chance(0.3) {
		p.nick = nickname(b, p.first)
	}
	y := 1925 + b.r.IntN(80)
	p.birth = chart.D(y, time.Month(1+b.r.IntN(12)), 1+b.r.IntN(28))
	p.mrn = mrn(b)
	p.ssn = ssn(b)
	p.street = street(b)
	if b.chance(0.4) {
		p.unit = b.pick("Apt ", "Apt. ", "Unit ", "Suite ", "#") + fmt.Sprint(1+b.r.IntN(40)) + b.pick("", "B", "C", "")
	}
	c := cities[b.r.IntN(len(cities))]
	p.city, p.state = c[0], c[1]
	p.zip = fmt.Sprintf("%05d", 1000+b.r.IntN(98000))
	p.phone = [3]string{fmt.Sprint(201 + b.r.IntN(780)), fmt.Sprint(200 + b.r.IntN(790)), fmt.Sprintf("%04d", b.r.IntN(10000))}
	p.email = email(b, p.person)
	p.plan = planID(b)
	p.account = fmt.Sprint(10000000 + b.r.IntN(89999999))
	return p
}

func newPerson(b *builder) person {
	female := b.chance(0.5)
	var first string
	if female {
		first = femaleFirst[b.r.IntN(len(femaleFirst))]
	} else {
		first = maleFirst[b.r.IntN(len(maleFirst))]
	}
	middle := ""
	if b.chance(0.6) {
		all := append(append([]string{}, femaleFirst...), maleFirst...)
		middle = all[b.r.IntN(len(all))]
	}
	last := surnames[b.r.IntN(len(surnames))]
	if b.chance(0.06) {
		last += "-" + surnames[b.r.IntN(len(surnames))]
	}
	return person{first: first, middle: middle, last: last, female: female}
}

func nickname(b *builder, first string) string {
	if n, ok := nicknames[first]; ok {
		return n
	}
	r := []rune(first)
	if len(r) > 4 {
		return string(r[:3]) + b.pick("i", "ie", "y", "")
	}
	return ""
}

// name writes a person's name in one of many formats, each word labelled.
func (b *builder) name(p person) {
	mi := ""
	if p.middle != "" {
		mi = p.middle[:1]
	}
	switch b.r.IntN(12) {
	case 0, 1, 2:
		b.p(phi.Name, p.first+" "+p.last)
	case 3:
		if mi != "" {
			b.p(phi.Name, p.first+" "+mi+". "+p.last)
		} else {
			b.p(phi.Name, p.first+" "+p.last)
		}
	case 4:
		b.p(phi.Name, strings.ToUpper(p.last))
		b.t(", ")
		b.p(phi.Name, strings.ToUpper(p.first))
	case 5:
		b.p(phi.Name, p.last)
		b.t(", ")
		b.p(phi.Name, p.first)
		if mi != "" {
			b.t(" ")
			b.p(phi.Name, mi)
		}
	case 6:
		if p.middle != "" {
			b.p(phi.Name, p.first+" "+p.middle+" "+p.last)
		} else {
			b.p(phi.Name, p.first+" "+p.last)
		}
	case 7:
		b.p(phi.Name, strings.ToUpper(p.first+" "+p.last))
	case 8:
		b.p(phi.Name, p.first[:1]+". "+p.last)
	default:
		b.p(phi.Name, p.first+" "+p.last)
	}
}

// honorific writes "Mr. Last" or "Ms. Last".
func (b *builder) honorific(p person) {
	if p.female {
		b.t(b.pick("Ms. ", "Mrs. ", "Ms ", "Mrs "))
	} else {
		b.t(b.pick("Mr. ", "Mr "))
	}
	b.p(phi.Name, p.last)
}

// provider writes a clinician's name in a signature style.
func (b *builder) provider() {
	p := newPerson(b)
	switch b.r.IntN(5) {
	case 0:
		b.t("Dr. ")
		b.p(phi.Name, p.last)
	case 1:
		b.t("Dr. ")
		b.p(phi.Name, p.first+" "+p.last)
	case 2:
		b.p(phi.Name, p.first+" "+p.last)
		b.t(b.pick(", MD", ", DO", " MD", ", NP", ", PA-C", ", RN", ", MD, FACP"))
	case 3:
		if p.middle != "" {
			b.p(phi.Name, p.first+" "+p.middle[:1]+". "+p.last)
		} else {
			b.p(phi.Name, p.first+" "+p.last)
		}
		b.t(b.pick(", M.D.", ", MD", ", DO", ", APRN"))
	default:
		b.t("Dr ")
		b.p(phi.Name, p.first+" "+p.last)
	}
}

// date writes d in one of many formats. withYear false allows formats
// without a year.
func (b *builder) date(d chart.Date, birth bool) {
	y, m, day := d.YMD()
	mon := m.String()
	formats := []string{
		fmt.Sprintf("%02d/%02d/%d", m, day, y),
		fmt.Sprintf("%d/%d/%d", m, day, y),
		fmt.Sprintf("%d-%d-%02d", m, day, y%100),
		fmt.Sprintf("%02d-%02d-%d", m, day, y),
		fmt.Sprintf("%d/%d/%02d", m, day, y%100),
		fmt.Sprintf("%d-%02d-%02d", y, m, day),
		fmt.Sprintf("%s %d, %d", mon, day, y),
		fmt.Sprintf("%s %d, %d", mon[:3], day, y),
		fmt.Sprintf("%s. %d%s, %d", mon[:3], day, ordinal(day), y),
		fmt.Sprintf("%d %s %d", day, mon, y),
		fmt.Sprintf("%d %s %d", day, mon[:3], y),
		fmt.Sprintf("%02d-%s-%d", day, mon[:3], y),
		fmt.Sprintf("%02d%s%d", day, strings.ToUpper(mon[:3]), y),
		fmt.Sprintf("%d%02d%02d", y, m, day),
		fmt.Sprintf("%d.%d.%d", m, day, y),
		fmt.Sprintf("%s %d%s %d", mon, day, ordinal(day), y),
		fmt.Sprintf("the %d%s of %s, %d", day, ordinal(day), mon, y),
	}
	if !birth {
		formats = append(formats, fmt.Sprintf("%s %d", mon[:3], day), fmt.Sprintf("%s %d%s", mon, day, ordinal(day)), fmt.Sprintf("%s %d", mon, y), fmt.Sprintf("%d/%d", m, day))
	}
	f := formats[b.r.IntN(len(formats))]
	if strings.HasPrefix(f, "the ") {
		b.t("the ")
		f = f[4:]
	}
	l := Label{Start: b.n, Type: phi.Date, Birth: birth, Text: f}
	b.t(f)
	l.End = b.n
	b.labels = append(b.labels, l)
}

func ordinal(d int) string {
	switch {
	case d >= 11 && d <= 13:
		return "th"
	case d%10 == 1:
		return "st"
	case d%10 == 2:
		return "nd"
	case d%10 == 3:
		return "rd"
	}
	return "th"
}

// recent returns a date of service in 2018–2025.
func (b *builder) recent() chart.Date {
	return chart.D(2018+b.r.IntN(8), time.Month(1+b.r.IntN(12)), 1+b.r.IntN(28))
}

func (b *builder) phone(t phi.Type, ph [3]string) {
	a, e, l := ph[0], ph[1], ph[2]
	f := b.pick(
		"("+a+") "+e+"-"+l, a+"-"+e+"-"+l, a+"."+e+"."+l, a+" "+e+" "+l, "+1 "+a+" "+e+" "+l,
		"1-"+a+"-"+e+"-"+l, a+e+l, "("+a+")"+e+"-"+l, "+1 ("+a+") "+e+"-"+l, a+"/"+e+"-"+l)
	if b.chance(0.08) {
		f += b.pick(" ext. ", " x", " ext ") + fmt.Sprint(10+b.r.IntN(900))
	}
	b.p(t, f)
}

func (b *builder) randPhone() [3]string {
	return [3]string{fmt.Sprint(201 + b.r.IntN(780)), fmt.Sprint(200 + b.r.IntN(790)), fmt.Sprintf("%04d", b.r.IntN(10000))}
}

func mrn(b *builder) string {
	switch b.r.IntN(5) {
	case 0:
		return fmt.Sprintf("%08d", b.r.IntN(100000000))
	case 1:
		return fmt.Sprintf("%d", 1000000+b.r.IntN(8999999))
	case 2:
		return fmt.Sprintf("E%07d", b.r.IntN(10000000))
	case 3:
		return fmt.Sprintf("MR-%06d", b.r.IntN(1000000))
	}
	return fmt.Sprintf("%03d-%02d-%02d", b.r.IntN(1000), b.r.IntN(100), b.r.IntN(100))
}

func ssn(b *builder) string {
	area := 1 + b.r.IntN(899)
	if area == 666 {
		area = 667
	}
	return fmt.Sprintf("%03d-%02d-%04d", area, 1+b.r.IntN(99), 1+b.r.IntN(9999))
}

func planID(b *builder) string {
	L := func() byte { return "ACDEFGHJKMNPQRTUVWXY"[b.r.IntN(20)] }
	switch b.r.IntN(4) {
	case 0:
		return fmt.Sprintf("%c%c%c %03d %03d %03d", L(), L(), L(), b.r.IntN(1000), b.r.IntN(1000), b.r.IntN(1000))
	case 1:
		return fmt.Sprintf("%c%09d", L(), b.r.IntN(1000000000))
	case 2: // Medicare MBI
		return fmt.Sprintf("%d%c%c%d-%c%c%d-%c%c%d%d", 1+b.r.IntN(9), L(), L(), b.r.IntN(10), L(), L(), b.r.IntN(10), L(), L(), b.r.IntN(10), b.r.IntN(10))
	}
	return fmt.Sprintf("%c%c%c%d", L(), L(), L(), 100000000+b.r.IntN(899999999))
}

func email(b *builder, p person) string {
	user := b.pick(
		strings.ToLower(p.first)+"."+strings.ToLower(p.last),
		strings.ToLower(p.first[:1]+p.last)+fmt.Sprint(b.r.IntN(100)),
		strings.ToLower(p.last)+"_"+strings.ToLower(p.first[:1]),
		strings.ToLower(p.first)+fmt.Sprint(1940+b.r.IntN(70)))
	user = strings.NewReplacer("'", "", " ", "", "-", "").Replace(user)
	return user + "@" + b.pick("example.com", "mail.example.org", "example.net", "inbox.example.com", "example-health.org")
}

func street(b *builder) string {
	n := fmt.Sprint(1 + b.r.IntN(9999))
	dir := b.pick("", "", "", "N. ", "S ", "East ", "W. ")
	return n + " " + dir + streetNames[b.r.IntN(len(streetNames))] + " " + b.pick("Street", "St", "St.", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive", "Dr.", "Court", "Ct", "Boulevard", "Blvd", "Way", "Place", "Terrace", "Circle", "Parkway", "Trail")
}

// address writes the patient's address in one of several layouts.
func (b *builder) address(p *patient) {
	st := p.street
	if p.unit != "" {
		st += b.pick(", ", " ") + p.unit
	}
	switch b.r.IntN(4) {
	case 0:
		b.p(phi.Address, st)
		b.t("\n")
		b.p(phi.Address, p.city)
		b.t(", " + p.state + " ")
		b.p(phi.ZIP, p.zip)
	case 1:
		b.p(phi.Address, st)
		b.t(", ")
		b.p(phi.Address, p.city)
		b.t(", " + p.state + " ")
		b.p(phi.ZIP, p.zip)
	case 2:
		b.p(phi.Address, st)
		b.t(", ")
		b.p(phi.Address, p.city)
		b.t(" " + p.state + " ")
		b.p(phi.ZIP, p.zip)
	default:
		b.p(phi.Address, "PO Box "+fmt.Sprint(1+b.r.IntN(9000)))
		b.t(", ")
		b.p(phi.Address, p.city)
		b.t(", " + stateName[p.state] + " ")
		b.p(phi.ZIP, p.zip+b.pick("", "", "-"+fmt.Sprintf("%04d", b.r.IntN(10000))))
	}
}

// serviceDate writes d as the document's date of service.
func (b *builder) serviceDate(d chart.Date) {
	b.service = d
	b.date(d, false)
}

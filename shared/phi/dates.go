package phi

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"healthprep.dev/shared/chart"
)

// monthPat matches an English month name or abbreviation (case-insensitive
// through the enclosing pattern).
const monthPat = `(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`

// ocrDigit is a digit or a letter OCR commonly reads in place of one.
const ocrDigit = `[0-9OoIl|]`

type datePatterns struct {
	numeric    *regexp.Regexp // 03/04/1961, 3-4-61, 3.4.1961 (and OCR look-alikes)
	iso        *regexp.Regexp // 1961-03-04, 1961/3/4, with an optional time
	compact    *regexp.Regexp // 19610304
	monthFirst *regexp.Regexp // March 4, 1961; Mar. 4th; Mar 4 '61
	dayFirst   *regexp.Regexp // 4 Mar 1961; 4th of March; 04-MAR-1961; 04MAR61
	monthYear  *regexp.Regexp // March 1961; Mar '61; 03/1961
	shortMD    *regexp.Regexp // 3/4 after a date word
	context    *regexp.Regexp // words that make a bare number a date
	monthAlone *regexp.Regexp // January … December as a word
	age        *regexp.Regexp // 92-year-old, 101 y/o
	ageLabel   *regexp.Regexp // aged 95, Age: 92, now 91
	service    *regexp.Regexp // labels of a date of service
	monthWord  *regexp.Regexp // a month name inside a matched date
	ocr        *strings.Replacer
}

func newDatePatterns() datePatterns {
	d := ocrDigit
	return datePatterns{
		monthWord:  regexp.MustCompile(`\b` + monthPat + `[a-z]*`),
		ocr:        strings.NewReplacer("o", "0", "i", "1", "l", "1", "|", "1"),
		numeric:    regexp.MustCompile(`\b` + d + `{1,2}[/.\-]` + d + `{1,2}[/.\-](?:` + d + `{4}|` + d + `{2})\b`),
		iso:        regexp.MustCompile(`\b(?:1[89]|20)\d{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b`),
		compact:    regexp.MustCompile(`\b(?:1[89]|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b`),
		monthFirst: ci(`(?i)\b` + monthPat + `\.?\s{0,2},?\s{0,2}(?:the\s+)?\d{1,2}(?:st|nd|rd|th)?\b(?:\s{0,2},?\s{0,2}(?:(?:1[89]|20)\d{2}\b|'\d{2}\b))?`),
		dayFirst: ci(`(?i)\b\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?[\s\-/.]{0,2}` + monthPat + `\b\.?(?:[\s,\-/.]{0,3}(?:(?:1[89]|20)\d{2}|'?\d{2})\b)?` +
			`|(?i)\b\d{1,2}` + monthPat + `(?:(?:1[89]|20)\d{2}|\d{2})\b`),
		monthYear:  ci(`(?i)\b` + monthPat + `\.?,?\s{1,2}(?:(?:1[89]|20)\d{2}|'\d{2})\b|\b(?:0?[1-9]|1[0-2])/(?:1[89]|20)\d{2}\b`),
		shortMD:    regexp.MustCompile(`\b(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])\b`),
		context:    ci(`(?i)(?:\b(?:on|since|dated?|from|until|through|thru|dos|dob|d\.o\.b|born|birth(?:day|date)?|seen|visit|admitted|discharged|collected|performed|drawn|expires?|exp|received|sent|reported|resulted|signed|printed|faxed|comparison|scheduled|appointment|appt|due|last|next)\b|\b(?:date|dos|dob)\s*(?:of\s+\w+\s*)?[:#]?)\s*[:#]?\s*$`),
		monthAlone: regexp.MustCompile(`\b(?:January|February|March|April|June|July|August|September|October|November|December)\b`),
		age: ci(`(?i)\b(?:9\d|1[01]\d|12[0-5])\s*(?:-\s*)?(?:years?|yrs?|y)\.?\s*(?:-\s*)?(?:old|o\.?)\b` +
			`|(?i)\b(?:9\d|1[01]\d|12[0-5])\s*(?:y/o|yo|y\.o\.?|yr\.?\s+old)(?:\b|\s|$)` +
			`|(?i)\b(?:9\d|1[01]\d)(?:\s*|-)(?:year|yr)s?(?:\s*|-)(?:old\s+)?(?:male|female|man|woman|m|f)\b`),
		ageLabel: ci(`(?i)\b(?:aged?|age:|age\s+is|now|turned|turns|turning)\s*(9\d|1[01]\d|12[0-5])\b`),
		service:  ci(`(?i)\b(?:date\s+of\s+service|service\s+date|dos|exam(?:ination)?\s+date|date\s+of\s+(?:exam(?:ination)?|study|procedure|surgery|visit|consultation|collection|admission|discharge|report)|study\s+date|collect(?:ed|ion\s+date)(?:\s+on)?|date\s+collected|specimen\s+collected|procedure\s+date|performed(?:\s+on)?|visit\s+date|encounter\s+date|surgery\s+date|admission\s+date|discharge\s+date|report(?:ed)?\s+date|date\s+reported|resulted(?:\s+on)?|received(?:\s+on)?)\b`),
	}
}

// monthNum returns the month named by a three-letter lowercase prefix.
func monthNum(p string) time.Month {
	for i, m := range [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if p == m {
			return time.Month(i + 1)
		}
	}
	return 0
}

// twoDigitYear expands a two-digit year: 00–49 are 2000–2049, 50–99 are
// 1950–1999.
func twoDigitYear(y int) int {
	if y < 50 {
		return 2000 + y
	}
	return 1900 + y
}

// parseDate reads a date matched by one of the date patterns. It returns
// the zero date when the text has no year or is not a calendar date.
// Numeric dates are read month first (US order) unless the first number
// cannot be a month; two-digit years follow twoDigitYear.
func (p *datePatterns) parseDate(s string) chart.Date {
	lower := strings.ToLower(strings.TrimSpace(s))
	var month time.Month
	rest := lower
	if loc := p.monthWord.FindStringIndex(lower); loc != nil {
		month = monthNum(lower[loc[0] : loc[0]+3])
		rest = lower[:loc[0]] + " " + lower[loc[1]:]
	} else {
		rest = p.ocr.Replace(lower)
	}
	var nums []string
	for i := 0; i < len(rest); {
		if rest[i] < '0' || rest[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		nums = append(nums, rest[i:j])
		i = j
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	if month != 0 {
		var day, year int
		for _, n := range nums {
			switch {
			case len(n) == 4 || (day != 0 && year == 0):
				year = atoi(n)
			case day == 0:
				day = atoi(n)
			}
		}
		if year == 0 || day == 0 {
			return chart.Date{}
		}
		if year < 100 {
			year = twoDigitYear(year)
		}
		return civil(year, month, day)
	}
	if len(nums) == 1 && len(nums[0]) == 8 {
		n := nums[0]
		return civil(atoi(n[:4]), time.Month(atoi(n[4:6])), atoi(n[6:]))
	}
	if len(nums) < 3 || len(nums) > 3 && len(nums[0]) != 4 {
		return chart.Date{}
	}
	a, b, c := atoi(nums[0]), atoi(nums[1]), atoi(nums[2])
	if len(nums[0]) == 4 { // year first
		return civil(a, time.Month(b), c)
	}
	if len(nums[2]) <= 2 {
		c = twoDigitYear(c)
	}
	if a > 12 { // day first
		return civil(c, time.Month(b), a)
	}
	return civil(c, time.Month(a), b)
}

// civil returns the date when it exists on the calendar, else zero.
func civil(y int, m time.Month, d int) chart.Date {
	if y < 1800 || y > 2200 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return chart.Date{}
	}
	return chart.D(y, m, d)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// dateRenderings returns the common written forms of d, for matching a
// known date in text whatever its format. They are compared after the
// normalisation of known.go (letters and digits only, OCR look-alikes
// folded), so separators do not matter.
func dateRenderings(d chart.Date) []string {
	if d.IsZero() {
		return nil
	}
	y, m, day := d.YMD()
	yy := y % 100
	mon := m.String()
	var out []string
	add := func(f string, args ...any) { out = append(out, sprintf(f, args...)) }
	for _, yr := range []string{strconv.Itoa(y), pad2(yy)} {
		add("%s%s%s", pad2(int(m)), pad2(day), yr)
		add("%d%d%s", int(m), day, yr)
		add("%s%s%s", pad2(day), pad2(int(m)), yr)
		add("%d%d%s", day, int(m), yr)
		add("%s%d%s", mon, day, yr)
		add("%s%d%s", mon[:3], day, yr)
		add("%d%s%s", day, mon, yr)
		add("%d%s%s", day, mon[:3], yr)
		add("%s%s%s", pad2(day), mon[:3], yr)
	}
	add("%d%s%s", y, pad2(int(m)), pad2(day))
	add("%d%d%d", y, int(m), day)
	add("%s%d%s", mon, day, ordinal(day)+strconv.Itoa(y))
	add("%s%d%s", mon[:3], day, ordinal(day)+strconv.Itoa(y))
	return out
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

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// sprintf is a tiny formatter for %s and %d, enough for dateRenderings,
// without pulling fmt into the hot path.
func sprintf(f string, args ...any) string {
	var b strings.Builder
	ai := 0
	for i := 0; i < len(f); i++ {
		if f[i] == '%' && i+1 < len(f) && ai < len(args) {
			switch v := args[ai].(type) {
			case string:
				b.WriteString(v)
			case int:
				b.WriteString(strconv.Itoa(v))
			}
			ai++
			i++
			continue
		}
		b.WriteByte(f[i])
	}
	return b.String()
}

// detectDates finds dates (every element but a bare year), ages over 89,
// and the dates of service among them.
func (sc *scan) detectDates() {
	p := &sc.d.dates
	t := sc.text
	found := func(s, e int, needParse bool) {
		d := p.parseDate(t[s:e])
		if needParse && d.IsZero() {
			return
		}
		sc.add(s, e, Date, prioDate)
		if !d.IsZero() {
			sc.serviceDate(s, d)
		}
	}
	for _, m := range p.numeric.FindAllStringIndex(t, -1) {
		v := t[m[0]:m[1]]
		if len(digitsOf(v)) < 3 || (m[0] > 0 && (t[m[0]-1] == '.' || t[m[0]-1] == '/' || isDigit(t[m[0]-1]))) {
			continue
		}
		if m[1] < len(t) && (t[m[1]] == '/' || t[m[1]] == '.' && m[1]+1 < len(t) && isDigit(t[m[1]+1])) {
			continue
		}
		if sc.isCodeContext(m[0]) {
			continue
		}
		found(m[0], m[1], true)
	}
	for _, re := range []*regexp.Regexp{p.iso, p.compact} {
		for _, m := range re.FindAllStringIndex(t, -1) {
			found(m[0], m[1], true)
		}
	}
	for _, re := range []*regexp.Regexp{p.monthFirst, p.dayFirst, p.monthYear} {
		for _, m := range re.FindAllStringIndex(sc.lower, -1) {
			v := t[m[0]:m[1]]
			if w := p.monthWord.FindString(strings.ToLower(v)); w != "" {
				orig := v[strings.Index(strings.ToLower(v), w):][:len(w)]
				if orig == "may" || orig == "mar" || orig == "jun" || orig == "jan" || orig == "dec" && re != p.dayFirst {
					continue // the verb "may", lowercase abbreviations
				}
			}
			found(m[0], m[1], false)
		}
	}
	for _, m := range p.shortMD.FindAllStringIndex(t, -1) {
		if m[0] > 0 && (isDigit(t[m[0]-1]) || t[m[0]-1] == '/' || t[m[0]-1] == '.') || m[1] < len(t) && (t[m[1]] == '/' || isDigit(t[m[1]])) {
			continue
		}
		ls, le := strings.LastIndexByte(t[:m[0]], '\n')+1, strings.IndexByte(t[m[1]:], '\n')
		if le < 0 {
			le = len(t)
		} else {
			le += m[1]
		}
		alone := strings.TrimSpace(t[ls:m[0]]) == "" && strings.TrimSpace(t[m[1]:le]) == ""
		if alone || p.context.MatchString(sc.lower[max(0, m[0]-30):m[0]]) {
			sc.add(m[0], m[1], Date, prioDate)
		}
	}
	for _, m := range p.monthAlone.FindAllStringIndex(t, -1) {
		sc.add(m[0], m[1], Date, prioName-1)
	}
	for _, m := range p.age.FindAllStringIndex(sc.lower, -1) {
		sc.add(m[0], m[1], Age, prioDate)
	}
	for _, m := range p.ageLabel.FindAllStringSubmatchIndex(sc.lower, -1) {
		if unitAfter(t[m[3]:min(len(t), m[3]+6)]) || m[3] < len(t) && (t[m[3]] == '.' || t[m[3]] == '/' || t[m[3]] == '%') && m[3]+1 < len(t) && isDigit(t[m[3]+1]) {
			continue
		}
		sc.add(m[2], m[3], Age, prioDate)
	}
}

// serviceDate records d as a date of service when a service label stands
// just before it on the same line.
func (sc *scan) serviceDate(s int, d chart.Date) {
	t := sc.text
	from := max(0, s-60)
	if nl := strings.LastIndexByte(t[from:s], '\n'); nl >= 0 {
		from += nl + 1
	}
	before := sc.lower[from:s]
	ms := sc.d.dates.service.FindAllStringIndex(before, -1)
	if len(ms) == 0 {
		return
	}
	m := ms[len(ms)-1]
	gap := strings.Trim(before[m[1]:], " \t:#=-–()")
	gap = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(gap, "on"), "of"))
	if gap != "" && len(gap) > 3 {
		return
	}
	label := strings.Join(strings.Fields(strings.ToLower(before[m[0]:m[1]])), " ")
	for _, prev := range sc.service {
		if prev.Date == d && prev.Label == label {
			return
		}
	}
	sc.service = append(sc.service, ServiceDate{Label: label, Date: d})
	sc.servicePos = append(sc.servicePos, s)
}

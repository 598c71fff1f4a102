package phi

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"healthprep.dev/shared/chart"
)

// Known holds the patient's own identifiers from the record. Text that
// matches them is redacted whatever its format, tolerating OCR errors.
type Known struct {
	// Names are full names and name variants (legal, preferred, maiden,
	// nicknames), e.g. "Maria Elena Lopez", "Lena". Each word is matched on
	// its own (words of two letters or fewer only next to another), and the
	// initials of each full name ("M.E.L.", "ML") are matched too.
	Names []string
	// BirthDate is matched in every common rendering (03/04/1961, 3-4-61,
	// 19610304, March 4th, 1961, 4 Mar 1961 …).
	BirthDate chart.Date
	// Dates are other personal dates (death, admission) matched the same way.
	Dates []chart.Date
	// MRNs are medical record numbers.
	MRNs []string
	// IDs are any other identifiers: SSN, health-plan, account, licence.
	IDs []string
	// Addresses are address lines, cities and postal codes.
	Addresses []string
	// Phones are telephone and fax numbers in any format.
	Phones []string
	// Emails are e-mail addresses.
	Emails []string
}

type knownPattern struct {
	norm string // normalised (see fold)
	t    Type
}

type compiledKnown struct {
	words    map[string]bool // folded name words of 3+ letters
	short    map[string]bool // folded name words of 1–2 letters
	fuzzy    []string        // folded name words of 5+ letters, for edit distance 1
	initials []string        // "ML", "MEL"
	patterns []knownPattern  // identifiers, dates, addresses: folded, separators dropped
}

// fold maps a rune to the class OCR confuses it with: lowercase, and
// 0/o, 1/l/i/|, 5/s, 8/b, 2/z each become one symbol. ok is false for
// anything that is not a letter or a digit.
func fold(r rune) (rune, bool) {
	r = unicode.ToLower(r)
	switch r {
	case '0', 'o':
		return '0', true
	case '1', 'l', 'i', '|', '!':
		return '1', true
	case '5', 's':
		return '5', true
	case '8', 'b':
		return '8', true
	case '2', 'z':
		return '2', true
	}
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		return r, true
	}
	return 0, false
}

// foldString folds s, drops everything but letters and digits, and turns
// "rn" into "m".
func foldString(s string) string {
	var b strings.Builder
	for _, r := range s {
		if f, ok := fold(r); ok {
			b.WriteRune(f)
		}
	}
	return strings.ReplaceAll(b.String(), "rn", "m")
}

func (d *Detector) compileKnown(k *Known) *compiledKnown {
	ck := &compiledKnown{words: map[string]bool{}, short: map[string]bool{}}
	for _, n := range k.Names {
		var inits []rune
		for _, w := range strings.FieldsFunc(n, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '’' }) {
			for _, part := range append([]string{w}, strings.FieldsFunc(w, func(r rune) bool { return r == '\'' || r == '’' })...) {
				f := foldString(part)
				switch n := utf8.RuneCountInString(f); {
				case n == 0:
				case n <= 2:
					ck.short[f] = true
				default:
					ck.words[f] = true
					if n >= 5 {
						ck.fuzzy = append(ck.fuzzy, f)
					}
				}
			}
			r, _ := utf8.DecodeRuneInString(w)
			inits = append(inits, unicode.ToUpper(r))
		}
		if len(inits) >= 2 && len(inits) <= 4 {
			ck.initials = append(ck.initials, string(inits))
			if len(inits) > 2 { // first and last only
				ck.initials = append(ck.initials, string([]rune{inits[0], inits[len(inits)-1]}))
			}
		}
	}
	addAll := func(ss []string, t Type, minLen int) {
		for _, s := range ss {
			if f := foldString(s); utf8.RuneCountInString(f) >= minLen {
				ck.patterns = append(ck.patterns, knownPattern{f, t})
			}
		}
	}
	addAll(k.MRNs, MRN, 4)
	addAll(k.IDs, ID, 4)
	addAll(k.Emails, Email, 4)
	addAll(k.Addresses, Address, 4)
	for _, p := range k.Phones {
		digits := digitsOf(p)
		if len(digits) == 11 && digits[0] == '1' {
			digits = digits[1:]
		}
		if len(digits) >= 7 {
			ck.patterns = append(ck.patterns, knownPattern{foldString(digits), Phone})
		}
		if len(digits) == 10 { // the local part alone
			ck.patterns = append(ck.patterns, knownPattern{foldString(digits[3:]), Phone})
		}
	}
	for _, dt := range append([]chart.Date{k.BirthDate}, k.Dates...) {
		for _, r := range dateRenderings(dt) {
			ck.patterns = append(ck.patterns, knownPattern{foldString(r), Date})
		}
	}
	return ck
}

// folded is the text projected onto its folded letters and digits, with
// the byte offset in the text of each folded byte.
type folded struct {
	s   string
	off []int // off[i] = byte offset in the text of folded byte i
	end []int // end[i] = byte offset just after the source rune of byte i
}

func foldText(t string) folded {
	buf := make([]byte, 0, len(t))
	off := make([]int, 0, len(t))
	end := make([]int, 0, len(t))
	prevR := false
	for i, r := range t {
		f, ok := fold(r)
		if !ok {
			prevR = false
			continue
		}
		n := utf8.RuneLen(r)
		if f == 'n' && prevR { // "rn" reads as "m"
			buf[len(buf)-1] = 'm'
			end[len(end)-1] = i + n
			prevR = false
			continue
		}
		before := len(buf)
		buf = utf8.AppendRune(buf, f)
		for k := before; k < len(buf); k++ {
			off = append(off, i)
			end = append(end, i+n)
		}
		prevR = f == 'r'
	}
	return folded{s: string(buf), off: off, end: end}
}

// knownText is what detectKnown needs of the text whatever the patient:
// computed once per text, so that matching many patients stays cheap.
type knownText struct {
	ft    folded
	toks  [][]int  // name-like words
	ftoks []string // each word folded
}

func (sc *scan) knownText() *knownText {
	if sc.kt != nil {
		return sc.kt
	}
	kt := &knownText{ft: foldText(sc.text), toks: sc.d.names.word.FindAllStringIndex(sc.text, -1)}
	kt.ftoks = make([]string, len(kt.toks))
	for i, l := range kt.toks {
		kt.ftoks[i] = foldString(sc.text[l[0]:l[1]])
	}
	sc.kt = kt
	return kt
}

// detectKnown marks the patient's own identifiers.
func (sc *scan) detectKnown() {
	ck := sc.known
	if ck == nil {
		return
	}
	t := sc.text
	kt := sc.knownText()
	if len(ck.patterns) > 0 {
		ft := kt.ft
		for _, p := range ck.patterns {
			from := 0
			for {
				i := strings.Index(ft.s[from:], p.norm)
				if i < 0 {
					break
				}
				i += from
				s, e := ft.off[i], ft.end[i+len(p.norm)-1]
				from = i + 1
				// whole words only: not inside a longer number or word
				if s > 0 && isAlnumBefore(t, s) || e < len(t) && isAlnumAt(t, e) {
					continue
				}
				sc.add(s, e, p.t, prioKnown)
			}
		}
	}
	toks := kt.toks
	for n, l := range toks {
		w := t[l[0]:l[1]]
		f := kt.ftoks[n]
		for _, suf := range []string{"'5", "5"} { // possessive: Lopez's
			if strings.HasSuffix(strings.ToLower(w), "'s") || strings.HasSuffix(strings.ToLower(w), "’s") {
				f = strings.TrimSuffix(f, suf)
			}
		}
		match := ck.words[f]
		if !match && strings.ContainsAny(w, "-'’") { // Vasquez-Whitfield, O'Brien
			for _, part := range strings.FieldsFunc(w, func(r rune) bool { return r == '-' || r == '\'' || r == '’' }) {
				match = match || ck.words[foldString(part)]
			}
		}
		if !match && utf8.RuneCountInString(f) >= 4 {
			for _, k := range ck.fuzzy {
				if editDistance1(f, k) {
					match = true
					break
				}
			}
		}
		if !match && ck.short[f] && w[0] >= 'A' && w[0] <= 'Z' {
			// a short name part counts next to another name word
			for _, nb := range []int{n - 1, n + 1} {
				if nb >= 0 && nb < len(toks) && ck.words[kt.ftoks[nb]] {
					match = true
				}
			}
		}
		if match {
			sc.add(l[0], l[1], Name, prioKnown)
		}
	}
	for _, in := range ck.initials {
		sc.findInitials(in)
	}
}

// findInitials marks "ML", "M.L.", "M. L." as a name.
func (sc *scan) findInitials(in string) {
	t := sc.text
	for i := 0; i < len(t); i++ {
		if t[i] != in[0] || (i > 0 && isAlnumAt(t, i-1)) {
			continue
		}
		j, k := i, 0
		for k < len(in) && j < len(t) && t[j] == in[k] {
			j++
			k++
			if j < len(t) && t[j] == '.' {
				j++
			}
			if k < len(in) && j < len(t) && t[j] == ' ' && j+1 < len(t) && t[j+1] == in[k] && j > 0 && t[j-1] == '.' {
				j++
			}
		}
		if k == len(in) && (j >= len(t) || !isAlnumAt(t, j)) {
			e := j
			for e > i && t[e-1] == '.' {
				e--
			}
			sc.add(i, e, Name, prioKnown)
		}
	}
}

func isAlnumAt(t string, i int) bool {
	r, _ := utf8.DecodeRuneInString(t[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isAlnumBefore(t string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(t[:i])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// editDistance1 reports whether a and b differ by at most one inserted,
// deleted or substituted byte (both are folded, mostly ASCII).
func editDistance1(a, b string) bool {
	if a == b {
		return true
	}
	la, lb := len(a), len(b)
	if la-lb > 1 || lb-la > 1 || la < 5 && lb < 5 {
		return false
	}
	i := 0
	for i < la && i < lb && a[i] == b[i] {
		i++
	}
	switch {
	case la == lb:
		return a[i+1:] == b[i+1:]
	case la > lb:
		return a[i+1:] == b[i:]
	default:
		return a[i:] == b[i+1:]
	}
}

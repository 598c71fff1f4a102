package screening

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Polarity says how a phrase was mentioned in a document.
type Polarity string

// The polarities of a phrase mention.
const (
	// Affirmed: the text says it happened ("screening colonoscopy 3/2021").
	Affirmed Polarity = "affirmed"
	// Negated: the text says it did not happen or is not on file
	// ("no colonoscopy on file", "mammogram not done").
	Negated Polarity = "negated"
	// Refused: the patient declined or refused it ("patient refuses
	// colonoscopy", "mammogram declined").
	Refused Polarity = "refused"
	// Pending: it is planned, ordered or due, not done ("due for mammogram",
	// "colonoscopy scheduled").
	Pending Polarity = "pending"
)

// PhraseMatch is one mention of a phrase in a text.
type PhraseMatch struct {
	Phrase   string   // the phrase as configured
	Start    int      // byte offset of the first matched word
	End      int      // byte offset just after the last matched word
	Polarity Polarity // whether the mention counts as evidence of completion
}

// PhraseMatcher finds phrases in free text as whole words, tolerant of case,
// punctuation, hyphenation, common OCR confusions (0/o, 1/l, 5/s, |/l) and one
// wrong, missing or extra letter in words of five letters or more. Each
// mention is classified by the negation, refusal and "pending" cues in the
// same sentence: up to four words before it, or up to three after it.
//
// A PhraseMatcher is immutable and safe for concurrent use.
type PhraseMatcher struct {
	phrases []compiledPhrase
}

type compiledPhrase struct {
	text  string
	words []string
}

// NewPhraseMatcher compiles phrases. Empty phrases are ignored.
func NewPhraseMatcher(phrases ...string) PhraseMatcher {
	var m PhraseMatcher
	for _, p := range phrases {
		t := newText(nil, false, p)
		words := make([]string, len(t.toks))
		for i, tok := range t.toks {
			words[i] = t.words[tok.word]
		}
		if len(words) > 0 {
			m.phrases = append(m.phrases, compiledPhrase{text: p, words: words})
		}
	}
	return m
}

// Empty reports whether the matcher has no phrases.
func (m PhraseMatcher) Empty() bool { return len(m.phrases) == 0 }

// Find returns every mention of every phrase in text, in text order.
// Overlapping mentions of different phrases are all reported.
func (m PhraseMatcher) Find(text string) []PhraseMatch {
	if len(m.phrases) == 0 || text == "" {
		return nil
	}
	t := newText(nil, true, text)
	return findTokens(nil, m.phrases, &t)
}

// text is a tokenized text: its words, each stored once, and the tokens
// that refer to them, with an index of the words by length so that
// phrases whose first word cannot occur are skipped without a scan.
type text struct {
	toks []token
	// spans are the byte offsets of each token, when asked for.
	spans []span
	// words are the distinct normalised words, in order of first
	// appearance.
	words []string
	// byLen lists the indexes of words sorted by word length (stable);
	// lenStart[l] is the first position in byLen of a word of length l
	// or more.
	byLen    []int32
	lenStart []int
}

type token struct {
	word int32 // index into text.words
	// sentence numbers the sentences modulo 2³²: numbers are only
	// compared between tokens a few words apart, and 2³² sentence breaks
	// between them would take more than 4 GiB of text.
	sentence uint32
}

type span struct{ start, end int }

// newText tokenizes parts as one text, each part after the first starting
// a new sentence as if they were joined by ".\n" (a document's title and
// body). ids is scratch space for the word index and may be nil; withSpans
// records byte offsets (as in the joined text).
func newText(ids map[string]int32, withSpans bool, parts ...string) text {
	if ids == nil {
		ids = map[string]int32{}
	}
	size := 0
	for _, p := range parts {
		size += len(p) + 2
	}
	z := tokenizer{ids: ids, t: text{toks: make([]token, 0, size/5+1)}, withSpans: withSpans}
	if withSpans {
		z.t.spans = make([]span, 0, size/5+1)
	}
	base := 0
	for i, p := range parts {
		if i > 0 {
			z.sentence += 2 // the "." and the newline before this part
			base += 2
		}
		z.add(p, base)
		base += len(p)
	}
	t := &z.t
	maxLen := 0
	t.byLen = make([]int32, len(t.words))
	for i, w := range t.words {
		t.byLen[i] = int32(i)
		maxLen = max(maxLen, len(w))
	}
	slices.SortStableFunc(t.byLen, func(a, b int32) int { return len(t.words[a]) - len(t.words[b]) })
	t.lenStart = make([]int, maxLen+2)
	k := 0
	for l := range t.lenStart {
		for k < len(t.byLen) && len(t.words[t.byLen[k]]) < l {
			k++
		}
		t.lenStart[l] = k
	}
	return *t
}

// ofLen returns the indexes of the words of length l.
func (t *text) ofLen(l int) []int32 {
	if l < 0 || l+1 >= len(t.lenStart) {
		return nil
	}
	return t.byLen[t.lenStart[l]:t.lenStart[l+1]]
}

// mayContain reports whether some word of t matches w. Only words of
// about the same length can (see wordMatches), and below five letters
// only the same word.
func (t *text) mayContain(w string) bool {
	lo, hi := len(w)-1, len(w)+1
	if len(w) < 5 {
		lo, hi = len(w), len(w)
	}
	for l := lo; l <= hi; l++ {
		for _, id := range t.ofLen(l) {
			if wordMatches(w, t.words[id]) {
				return true
			}
		}
	}
	return false
}

// appendIn appends the mentions of m's phrases in t to dst.
func (m PhraseMatcher) appendIn(dst []PhraseMatch, t *text) []PhraseMatch {
	var buf [8]compiledPhrase
	live := buf[:0]
	for _, p := range m.phrases {
		if t.mayContain(p.words[0]) {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return dst
	}
	return findTokens(dst, live, t)
}

// findTokens appends the mentions of phrases in t to out, in token order
// and, at one token, in the order of phrases. Start and End are set when t
// has spans.
func findTokens(out []PhraseMatch, phrases []compiledPhrase, t *text) []PhraseMatch {
	toks := t.toks
	for i := range toks {
		for _, p := range phrases {
			if i+len(p.words) > len(toks) {
				continue
			}
			ok := true
			for j, w := range p.words {
				tok := toks[i+j]
				if j > 0 && tok.sentence != toks[i].sentence {
					ok = false
					break
				}
				if !wordMatches(w, t.words[tok.word]) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			last := i + len(p.words) - 1
			m := PhraseMatch{Phrase: p.text, Polarity: classify(t, i, last)}
			if t.spans != nil {
				m.Start, m.End = t.spans[i].start, t.spans[last].end
			}
			out = append(out, m)
		}
	}
	return out
}

// tokenizer fills a text. Words that normalise to themselves (most of
// them) are indexed as slices of the input; the others are normalised in
// buf and copied once per distinct word, so a document costs a handful of
// allocations rather than one per word.
type tokenizer struct {
	t         text
	ids       map[string]int32
	withSpans bool
	sentence  uint32
	buf       []byte
}

// add tokenizes s, whose first byte is at offset base of the whole. Words
// are lowercased, OCR confusions in words that are mostly letters are
// normalised, and sentences are numbered. Sentence breaks are . ! ? ; :
// and newlines, except a period inside a number.
func (z *tokenizer) add(s string, base int) {
	i := 0
	for i < len(s) {
		r, size := decodeRune(s, i)
		if isWordRune(r) {
			j := i
			// normal: lowercase ASCII letters and digits only, and no OCR
			// digits to read as letters (appendNormalized would copy it)
			normal := true
			letters, digits, confusable := 0, 0, false
			for j < len(s) {
				r2, s2 := decodeRune(s, j)
				if !isWordRune(r2) {
					// keep "3.5" together, and "e.g" style abbreviations out of sentence breaks
					if r2 == '.' && j+1 < len(s) && j > i && isDigit(s[j-1]) && isDigit(s[j+1]) {
						normal = false
						j += s2
						continue
					}
					break
				}
				switch {
				case r2 >= 'a' && r2 <= 'z':
					letters++
				case r2 >= '0' && r2 <= '9':
					digits++
					confusable = confusable || r2 == '0' || r2 == '1' || r2 == '5'
				case r2 == '|':
					confusable = true
				default: // capitals, apostrophes, non-ASCII
					normal = false
				}
				j += s2
			}
			z.word(s[i:j], normal && (!confusable || letters <= digits))
			if z.withSpans {
				z.t.spans = append(z.t.spans, span{base + i, base + j})
			}
			i = j
			continue
		}
		switch r {
		case '.', '!', '?', ';', ':', '\n':
			z.sentence++
		}
		i += size
	}
}

// decodeRune is utf8.DecodeRuneInString(s[i:]) with a shortcut for ASCII.
func decodeRune(s string, i int) (rune, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return rune(b), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// word adds a token for w; normal says that w is its own normal form,
// which saves rewriting it.
func (z *tokenizer) word(w string, normal bool) {
	var id int32
	if normal {
		id = z.id(w, nil)
	} else {
		z.buf = appendNormalized(z.buf[:0], w)
		id = z.id(w, z.buf)
	}
	z.t.toks = append(z.t.toks, token{word: id, sentence: z.sentence})
}

// id returns the index in words of norm, or of w when norm is nil,
// adding it when it is new.
func (z *tokenizer) id(w string, norm []byte) int32 {
	if norm != nil {
		if id, ok := z.ids[string(norm)]; ok {
			return id
		}
		if string(norm) != w {
			w = string(norm)
		}
	} else if id, ok := z.ids[w]; ok {
		return id
	}
	id := int32(len(z.t.words))
	z.ids[w] = id
	z.t.words = append(z.t.words, w)
	return id
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '|' || r == '\''
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// appendNormalized appends w to dst lowercased, without apostrophes and,
// when letters outnumber digits, with OCR digit confusions read as the
// letters they resemble.
func appendNormalized(dst []byte, w string) []byte {
	if isASCII(w) {
		return appendNormalizedASCII(dst, w)
	}
	letters, digits := 0, 0
	for _, r := range w {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		}
	}
	for _, r := range strings.ToLower(w) {
		if r == '\'' {
			continue
		}
		if letters > digits {
			switch r {
			case '0':
				r = 'o'
			case '1', '|':
				r = 'l'
			case '5':
				r = 's'
			}
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// wordMatches compares a phrase word with a text word: equal, or for words
// of five or more letters, one edit apart (OCR and spelling slips).
func wordMatches(want, got string) bool {
	if want == got {
		return true
	}
	if len(want) < 5 || len(got) < 4 {
		return false
	}
	return withinOneEdit(want, got)
}

func withinOneEdit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		// one substitution, or one transposition
		if i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] {
			return true
		}
		return a[i+1:] == b[i+1:]
	}
	return a[i:] == b[i+1:]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// appendNormalizedASCII is appendNormalized for an ASCII word, without
// the copy strings.ToLower makes.
func appendNormalizedASCII(dst []byte, w string) []byte {
	letters, digits := 0, 0
	for i := 0; i < len(w); i++ {
		switch b := w[i]; {
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z':
			letters++
		case b >= '0' && b <= '9':
			digits++
		}
	}
	for i := 0; i < len(w); i++ {
		b := w[i]
		switch {
		case b == '\'':
			continue
		case b >= 'A' && b <= 'Z':
			b += 'a' - 'A'
		case letters > digits && b == '0':
			b = 'o'
		case letters > digits && (b == '1' || b == '|'):
			b = 'l'
		case letters > digits && b == '5':
			b = 's'
		}
		dst = append(dst, b)
	}
	return dst
}

// cue lists are small and fixed; functions keep them immutable.
func preCue(w string) Polarity {
	switch w {
	case "no", "not", "never", "denies", "denied", "without", "none", "cannot", "unable", "nor":
		return Negated
	case "declined", "declines", "decline", "refused", "refuses", "refuse", "refusal", "refusing", "declining":
		return Refused
	case "due", "overdue", "needs", "need", "recommend", "recommended", "schedule", "scheduled",
		"order", "ordered", "ordering", "refer", "referred", "referral", "discussed", "plan", "planned", "consider", "will":
		return Pending
	}
	return Affirmed
}

func postCue(w string) Polarity {
	switch w {
	case "declined", "refused", "refuses":
		return Refused
	case "not", "never", "deferred", "cancelled", "canceled":
		return Negated
	case "scheduled", "ordered", "pending", "due", "overdue", "recommended", "postponed", "planned", "requested":
		return Pending
	}
	return Affirmed
}

// classify looks for cues around the mention toks[first..last] within the
// same sentence. Refusal wins over negation, negation over pending. The word
// "but" ends the look-back ("no polyps but colonoscopy done").
func classify(t *text, first, last int) Polarity {
	toks := t.toks
	best := Affirmed
	rank := func(p Polarity) int {
		switch p {
		case Pending:
			return 1
		case Negated:
			return 2
		case Refused:
			return 3
		}
		return 0
	}
	take := func(p Polarity) {
		if rank(p) > rank(best) {
			best = p
		}
	}
	sent := toks[first].sentence
	for k := first - 1; k >= 0 && k >= first-4 && toks[k].sentence == sent; k-- {
		w := t.words[toks[k].word]
		if w == "but" || w == "and" {
			break
		}
		take(preCue(w))
	}
	for k := last + 1; k < len(toks) && k <= last+3 && toks[k].sentence == sent; k++ {
		w := t.words[toks[k].word]
		if w == "but" || w == "and" {
			break
		}
		take(postCue(w))
	}
	return best
}

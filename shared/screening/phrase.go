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
		var words []string
		for _, t := range tokenize(p) {
			words = append(words, t.word)
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
	return m.findTokens(tokenize(text))
}

// text is a tokenized document with an index of its distinct words, so
// that phrases whose first word cannot occur are skipped without a scan.
type text struct {
	toks  []token
	exact map[string]struct{}
	// words are the distinct words sorted by length (stable, so in order
	// of first appearance within a length); byLen[l] is the index of the
	// first word of length l or more.
	words []string
	byLen []int
}

// newText tokenizes a document's title and body as one text: the title is
// its own sentence, as if the two were joined by ".\n".
func newText(title, body string) *text {
	var z tokenizer
	z.toks = make([]token, 0, (len(title)+len(body))/5+1)
	z.add(title, 0)
	z.sentence += 2 // the "." and the newline after the title
	z.add(body, len(title)+2)
	t := &text{toks: z.finish(), exact: make(map[string]struct{}, 64)}
	maxLen := 0
	for _, tok := range t.toks {
		if _, ok := t.exact[tok.word]; !ok {
			t.exact[tok.word] = struct{}{}
			t.words = append(t.words, tok.word)
			maxLen = max(maxLen, len(tok.word))
		}
	}
	slices.SortStableFunc(t.words, func(a, b string) int { return len(a) - len(b) })
	t.byLen = make([]int, maxLen+2)
	k := 0
	for l := range t.byLen {
		for k < len(t.words) && len(t.words[k]) < l {
			k++
		}
		t.byLen[l] = k
	}
	return t
}

// ofLen returns the distinct words of length l.
func (t *text) ofLen(l int) []string {
	if l < 0 || l+1 >= len(t.byLen) {
		return nil
	}
	return t.words[t.byLen[l]:t.byLen[l+1]]
}

// mayContain reports whether some word of t matches w.
func (t *text) mayContain(w string) bool {
	if _, ok := t.exact[w]; ok {
		return true
	}
	if len(w) < 5 {
		return false
	}
	for l := len(w) - 1; l <= len(w)+1; l++ {
		for _, cand := range t.ofLen(l) {
			if wordMatches(w, cand) {
				return true
			}
		}
	}
	return false
}

func (m PhraseMatcher) findIn(t *text) []PhraseMatch {
	var live []compiledPhrase
	for _, p := range m.phrases {
		if t.mayContain(p.words[0]) {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return PhraseMatcher{phrases: live}.findTokens(t.toks)
}

func (m PhraseMatcher) findTokens(toks []token) []PhraseMatch {
	var out []PhraseMatch
	for i := range toks {
		for _, p := range m.phrases {
			if i+len(p.words) > len(toks) {
				continue
			}
			ok := true
			for j, w := range p.words {
				t := toks[i+j]
				if j > 0 && t.sentence != toks[i].sentence {
					ok = false
					break
				}
				if !wordMatches(w, t.word) {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			last := i + len(p.words) - 1
			out = append(out, PhraseMatch{
				Phrase:   p.text,
				Start:    toks[i].start,
				End:      toks[last].end,
				Polarity: classify(toks, i, last),
			})
		}
	}
	return out
}

type token struct {
	word       string
	start, end int
	sentence   int
}

// tokenize splits text into lowercase words, normalising OCR confusions in
// words that are mostly letters, and numbers sentences. Sentence breaks are
// . ! ? ; : and newlines, except a period inside a number.
func tokenize(text string) []token {
	var z tokenizer
	z.add(text, 0)
	return z.finish()
}

// tokenizer accumulates the tokens of one or more strings. Words that
// normalise to themselves (most of them) are kept as slices of the input;
// the others are written back to back into buf, which becomes a single
// string in finish, so a document costs a handful of allocations rather
// than one per word.
type tokenizer struct {
	toks     []token
	sentence int
	buf      []byte
	fixups   []fixup
}

// fixup says that toks[tok].word is buf[lo:hi].
type fixup struct{ tok, lo, hi int }

// add tokenizes text, whose first byte is at offset base of the whole.
func (z *tokenizer) add(text string, base int) {
	i := 0
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if isWordRune(r) {
			j := i
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !isWordRune(r2) {
					// keep "3.5" together, and "e.g" style abbreviations out of sentence breaks
					if r2 == '.' && j+1 < len(text) && j > i && isDigit(text[j-1]) && isDigit(text[j+1]) {
						j += s2
						continue
					}
					break
				}
				j += s2
			}
			z.word(text[i:j], base+i, base+j)
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

func (z *tokenizer) word(w string, start, end int) {
	tok := token{word: w, start: start, end: end, sentence: z.sentence}
	if !isNormal(w) {
		lo := len(z.buf)
		z.buf = appendNormalized(z.buf, w)
		if string(z.buf[lo:]) == w {
			z.buf = z.buf[:lo]
		} else {
			z.fixups = append(z.fixups, fixup{tok: len(z.toks), lo: lo, hi: len(z.buf)})
		}
	}
	z.toks = append(z.toks, tok)
}

// finish returns the tokens, with the rewritten words in place.
func (z *tokenizer) finish() []token {
	if len(z.fixups) > 0 {
		s := string(z.buf)
		for _, f := range z.fixups {
			z.toks[f.tok].word = s[f.lo:f.hi]
		}
	}
	return z.toks
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '|' || r == '\''
}

// isNormal reports, for an ASCII word, whether appendNormalized would
// copy it unchanged: no capitals, no apostrophes and no OCR digits to read as
// letters. Words with other characters are not checked and report false.
func isNormal(w string) bool {
	letters, digits, confusable := 0, 0, false
	for k := 0; k < len(w); k++ {
		switch b := w[k]; {
		case b >= 'a' && b <= 'z':
			letters++
		case b >= '0' && b <= '9':
			digits++
			confusable = confusable || b == '0' || b == '1' || b == '5'
		case b == '|':
			confusable = true
		default: // capitals, apostrophes, non-ASCII
			return false
		}
	}
	return !confusable || letters <= digits
}

// appendNormalized appends w to dst lowercased, without apostrophes and,
// when letters outnumber digits, with OCR digit confusions read as the
// letters they resemble.
func appendNormalized(dst []byte, w string) []byte {
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
func classify(toks []token, first, last int) Polarity {
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
		if toks[k].word == "but" || toks[k].word == "and" {
			break
		}
		take(preCue(toks[k].word))
	}
	for k := last + 1; k < len(toks) && k <= last+3 && toks[k].sentence == sent; k++ {
		if toks[k].word == "but" || toks[k].word == "and" {
			break
		}
		take(postCue(toks[k].word))
	}
	return best
}

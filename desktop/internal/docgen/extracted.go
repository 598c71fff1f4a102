package docgen

import (
	"strings"
	"unicode/utf8"

	"healthprep.dev/shared/phi"
)

// A document that went through a PDF or a scan and OCR comes back as
// different text: other line breaks and spacing, and on scans misread
// characters and lost or split words. Its labels no longer apply by
// offset, so the extracted text is aligned to the generated one token by
// token (a run of letters or digits, as in Score), by minimum edit
// distance, and each label follows its tokens.

// tok is one token: code points [s, e) of its text.
type tok struct {
	s, e int
	text string
}

func tokens(text string) []tok {
	var out []tok
	runes := []rune(text)
	for i := 0; i < len(runes); {
		if !isTokenRune(runes[i]) {
			i++
			continue
		}
		j := i
		for j < len(runes) && isTokenRune(runes[j]) {
			j++
		}
		out = append(out, tok{i, j, strings.ToLower(string(runes[i:j]))})
		i = j
	}
	return out
}

// align returns, for each token of a, the index of the token of b it is
// aligned with (matched or substituted), or -1 when it was dropped.
func align(a, b []tok) []int {
	n, m := len(a), len(b)
	w := m + 1
	d := make([]int32, (n+1)*w)
	for i := 0; i <= n; i++ {
		d[i*w] = int32(i)
	}
	for j := 0; j <= m; j++ {
		d[j] = int32(j)
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			sub := d[(i-1)*w+j-1]
			if a[i-1].text != b[j-1].text {
				sub++
			}
			d[i*w+j] = min(sub, d[(i-1)*w+j]+1, d[i*w+j-1]+1)
		}
	}
	out := make([]int, n)
	for i, j := n, m; i > 0 || j > 0; {
		switch {
		case i > 0 && j > 0 && d[i*w+j] == d[(i-1)*w+j-1]+boolInt(a[i-1].text != b[j-1].text):
			out[i-1] = j - 1
			i, j = i-1, j-1
		case i > 0 && d[i*w+j] == d[(i-1)*w+j]+1:
			out[i-1] = -1
			i--
		default:
			j--
		}
	}
	return out
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// ScoreExtracted scores detection on the extracted text of generated
// documents: texts[i] is what came out of docs[i], spans[i] what the
// detector found in it. Recall counts the labelled tokens that survived
// extraction (aligned with a token of the extracted text); Dropped counts
// those that did not (lost by OCR: absent from the text, so not leaked).
// An extracted token covered by a span is a true positive when it is
// aligned with a labelled token.
func ScoreExtracted(docs []Doc, texts []string, spans [][]phi.Span) (Report, int) {
	rep := Report{Docs: len(docs), PerCategory: map[phi.Type]Count{}}
	dropped := 0
	for di, d := range docs {
		src := tokens(d.Text)
		runes := []rune(d.Text)
		label := make([]phi.Type, len(runes))
		birth := make([]bool, len(runes))
		for _, l := range d.Labels {
			for i := l.Start; i < l.End; i++ {
				label[i], birth[i] = l.Type, l.Birth
			}
		}
		out := tokens(texts[di])
		covered := make([]bool, utf8.RuneCountInString(texts[di]))
		for _, s := range spans[di] {
			for i := s.Start; i < s.End && i < len(covered); i++ {
				covered[i] = true
			}
		}
		hit := make([]bool, len(out))
		for k, t := range out {
			for i := t.s; i < t.e; i++ {
				hit[k] = hit[k] || covered[i]
			}
		}
		phiOut := make([]bool, len(out))
		for si, oi := range align(src, out) {
			t := src[si]
			var ty phi.Type
			isBirth := false
			for i := t.s; i < t.e; i++ {
				if label[i] != "" {
					ty, isBirth = label[i], isBirth || birth[i]
				}
			}
			if ty == "" {
				continue
			}
			if oi < 0 {
				dropped++
				continue
			}
			phiOut[oi] = true
			found := hit[oi]
			for _, cat := range []phi.Type{ty, BirthDate} {
				if cat == BirthDate && !isBirth {
					continue
				}
				c := rep.PerCategory[cat]
				c.Tokens++
				if found {
					c.Found++
				}
				rep.PerCategory[cat] = c
			}
			rep.Overall.Tokens++
			if found {
				rep.Overall.Found++
			} else if len(rep.Misses) < 20 {
				rep.Misses = append(rep.Misses, string(ty)+" "+t.text+" read as "+out[oi].text)
			}
		}
		for k := range out {
			if !hit[k] {
				continue
			}
			rep.Detected++
			if phiOut[k] {
				rep.TruePos++
			} else if len(rep.FalsePositives) < 20 {
				rep.FalsePositives = append(rep.FalsePositives, out[k].text)
			}
		}
	}
	return rep, dropped
}

// ErrorRates is an OCR error tally: edit operations over reference length,
// for characters and for words.
type ErrorRates struct {
	CharEdits, Chars int
	WordEdits, Words int
}

// CER is the character error rate.
func (e ErrorRates) CER() float64 { return ratio(e.CharEdits, e.Chars) }

// WER is the word error rate.
func (e ErrorRates) WER() float64 { return ratio(e.WordEdits, e.Words) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Add tallies one page or document: want is the true text, got the
// recognised one. Whitespace is normalised first (runs become one space),
// since layout is not what OCR is judged on.
func (e *ErrorRates) Add(want, got string) {
	w, g := strings.Fields(want), strings.Fields(got)
	e.WordEdits += editDistance(w, g)
	e.Words += len(w)
	wr, gr := []rune(strings.Join(w, " ")), []rune(strings.Join(g, " "))
	e.CharEdits += editDistance(wr, gr)
	e.Chars += len(wr)
}

func editDistance[T comparable](a, b []T) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

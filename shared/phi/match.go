package phi

// Mentions says which of one patient's own identifiers a text holds, found
// the way Known identifiers are redacted: tolerant of OCR errors (0/O,
// 1/l/I, 5/S, rn/m, one wrong letter in a long name word) and of format
// (any separators, any date rendering).
type Mentions struct {
	// MRN: one of the patient's MRNs appears as a whole word.
	MRN bool
	// NameWords is how many distinct words (three letters or more) of the
	// patient's names appear.
	NameWords int
	// BirthDate: the birth date appears in some rendering.
	BirthDate bool
}

// Confident reports whether the mentions identify the patient on their
// own: an MRN, or at least two words of their name together with their
// birth date. A name alone (common names repeat) or a birth date alone
// (shared by many) is not enough.
func (m Mentions) Confident() bool {
	return m.MRN || m.NameWords >= 2 && m.BirthDate
}

// Mentions finds k's identifiers in text (see Mentions). It only reads k's
// names, birth date and MRNs.
func (d *Detector) Mentions(text string, k *Known) Mentions {
	return d.mentions(&scan{d: d, text: text}, k)
}

// mentions finds k's identifiers in sc's text; sc's knownText is reused
// across calls.
func (d *Detector) mentions(sc *scan, k *Known) Mentions {
	var m Mentions
	if k == nil {
		return m
	}
	sc.known = d.compileKnown(&Known{Names: k.Names, MRNs: k.MRNs, BirthDate: k.BirthDate})
	sc.cands = sc.cands[:0]
	sc.detectKnown()
	words := map[string]bool{}
	for _, c := range sc.cands {
		switch c.t {
		case MRN:
			m.MRN = true
		case Date:
			m.BirthDate = true
		case Name:
			if f := foldString(sc.text[c.s:c.e]); len(f) >= 3 {
				words[f] = true
			}
		}
	}
	m.NameWords = len(words)
	return m
}

// Candidate is a patient a document may be about: an ID (which is not
// matched) and their identifiers.
type Candidate struct {
	ID    string
	Known Known
}

// Match is the outcome of MatchPatient.
type Match struct {
	// ID is the one candidate the text confidently names; "" when none or
	// several do.
	ID string
	// Confident lists every candidate confidently named, in input order:
	// more than one means the text is ambiguous and a person must choose.
	Confident []string
}

// MatchPatient finds which candidate text is about: the single candidate
// whose identifiers it confidently mentions (Mentions.Confident). An MRN
// match outranks name and birth date matches: when exactly one candidate
// is named by MRN it is chosen even if others match by name and birth
// date. Otherwise, when several candidates match, none is chosen.
func (d *Detector) MatchPatient(text string, cands []Candidate) Match {
	var out Match
	var byMRN []string
	sc := &scan{d: d, text: text}
	for _, c := range cands {
		m := d.mentions(sc, &c.Known)
		if !m.Confident() {
			continue
		}
		out.Confident = append(out.Confident, c.ID)
		if m.MRN {
			byMRN = append(byMRN, c.ID)
		}
	}
	switch {
	case len(byMRN) == 1:
		out.ID = byMRN[0]
	case len(byMRN) == 0 && len(out.Confident) == 1:
		out.ID = out.Confident[0]
	}
	return out
}

package phi

import (
	_ "embed"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The public-domain name lists; see dict/SOURCE.md.
var (
	//go:embed dict/first.txt
	firstNamesTxt string
	//go:embed dict/last.txt
	lastNamesTxt string
	//go:embed dict/common.txt
	commonNamesTxt string
)

// singleSurnameRank is how common a surname must be (its rank in the
// census list) to count as a name on its own, without a given name, title
// or label beside it.
const singleSurnameRank = 30000

// hardStop are capitalised words that are never taken for names by the
// dictionary rules: credentials, institutions, section headings, form
// labels, eponyms, race and ethnicity, days. After a title ("Dr. Graves")
// or a label ("Patient: …") they still can be.
const hardStop = `mr mrs ms mx dr prof md m.d do d.o rn np pa pa-c phd mbbs dds dmd facp facs facc faafp aprn fnp fnp-c fnp-bc cnm lcsw dpm od pharmd rd pt dpt ot msn bsn crna ma lpn cna esq mph ms msw rph
clinic hospital center centre medical health healthcare associates group pharmacy laboratory laboratories lab labs department dept university institute college school services service practice partners specialists care memorial general regional community radiology imaging cardiology oncology surgery surgical internal medicine pediatrics pediatric orthopedics orthopaedics neurology urology dermatology gastroenterology obstetrics gynecology psychiatry emergency urgent primary inc llc corp company insurance blue cross shield aetna cigna humana medicare medicaid united kaiser anthem mayo
history present illness assessment plan impression findings finding procedure procedures indication indications technique comparison conclusion conclusions diagnosis diagnoses medication medications allergies allergy review systems physical exam examination vitals vital signs results result report note notes summary discharge admission course follow followup instructions disposition consult consultation reason referral chief complaint subjective objective social family past problem problems list orders order signature signed electronically dictated transcribed attending resident physician provider nurse patient name date time age sex gender male female dob mrn address phone fax email city state zip country policy member account specimen collected received reported final preliminary amended addendum page re subject dear sincerely regards thank cc attn visit office appointment pathology cytology microbiology chemistry hematology urinalysis specimen source clinical information negative positive normal abnormal left right bilateral none unknown yes no other total
hodgkin hodgkins non-hodgkin parkinson parkinsons alzheimer alzheimers crohn crohns cushing cushings addison addisons hashimoto hashimotos raynaud raynauds sjogren sjogrens kaposi guillain barre tourette tourettes huntington huntingtons apgar gleason glasgow foley holter doppler whipple nissen babinski romberg valsalva trendelenburg snellen papanicolaou pap lyme mallampati karnofsky kussmaul korotkoff cheyne ecog nyha cha2ds2 hba1c psa tsh ldl hdl bmi bp ekg ecg ct mri pet cbc cmp bmp inr ptt na cl co2 bun cr ca mg phos alt ast alp ggt ldh ck wbc rbc hgb hct mcv mch mchc rdw plt esr crp ft4 tg egfr gfr lft ua
white black asian hispanic latino latina caucasian african american native hawaiian pacific islander alaska
monday tuesday wednesday thursday friday saturday sunday january february march july september october november december christmas easter thanksgiving
lord god jesus christ bible
mexico canada china india vietnam philippines cuba haiti brazil guatemala honduras salvador korea japan germany france italy poland russia ukraine nigeria ethiopia somalia kenya iran iraq pakistan england ireland scotland
allegra lyrica`

// softStop words are names that are also common capitalised words in
// clinical and ordinary text (states, months, modal verbs, eponyms that are
// also common surnames): never a name on their own, but still one next to a
// given name or surname ("Virginia Smith", "Thomas Wilson").
const softStop = `alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri montana nebraska nevada hampshire jersey york carolina dakota ohio oklahoma oregon pennsylvania rhode island tennessee texas utah vermont virginia washington wisconsin wyoming puerto rico columbia
april may june august will mark bill grant rose hope faith joy grace page chase lane long young brown green gray grey king hill wood cook bell park rice price love little cross
graves bell down wilson barrett murphy paget baker colles bennett turner fowler wells allen thompson tanner beck berg morse braden hamilton duke gail child pugh weber hartmann barr epstein stokes adams bishop mccune albright`

// eponymNoun are words that, after a surname, make it an eponym ("Wilson
// disease", "Murphy's sign", "Foley catheter") rather than a person.
const eponymNoun = `disease diseases syndrome sign signs test tests score scores scale criteria classification stage stages lymphoma esophagus palsy catheter monitor procedure operation fracture maneuver manoeuvre position reflex phenomenon node nodes cyst contracture chart index equation formula method technique repair fundoplication tube bag drain balloon coma depression balance fall law ratio body bodies cell cells triad tumor tumour sarcoma ulcer diverticulum hernia bundle block pouch sheath line lines stain solution ring rings nodule nodules murmur disorder type anomaly malformation deformity nerve gland duct canal space point maneuvers incision approach sequence lesion lesions spots criteria`

// titles precede a person's name.
const titles = `mr mrs ms mx miss dr doctor prof professor rev sr sister fr father nurse`

// nameSuffixes may follow a name.
const nameSuffixes = `jr sr ii iii iv`

// particles may stand lowercase inside a name ("Ana de la Cruz").
const particles = `de la del da das dos di du van von der den ter le bin bint al el st ibn mac`

type nameModel struct {
	first, common, stop, soft, eponym, title, suffix, particle, cityWord, greeting map[string]bool
	last                                                                           map[string]int

	word       *regexp.Regexp
	strong     *regexp.Regexp // "Patient:", "Name:" … at the end of the text given
	weak       *regexp.Regexp // "wife", "Dear", "by" …
	credential *regexp.Regexp // "John Smith, MD"
	signOff    *regexp.Regexp // "Sincerely,\n\nJohn"
}

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

func newNameModel() nameModel {
	last := map[string]int{}
	for i, w := range strings.Split(lastNamesTxt, "\n") {
		if w != "" {
			if _, dup := last[w]; !dup {
				last[w] = i + 1
			}
		}
	}
	return nameModel{
		first:      set(firstNamesTxt),
		last:       last,
		common:     set(commonNamesTxt),
		stop:       set(hardStop),
		soft:       set(softStop),
		eponym:     set(eponymNoun),
		title:      set(titles),
		suffix:     set(nameSuffixes),
		particle:   set(particles),
		cityWord:   set(`new north south east west san santa saint st fort port lake mount el la los las des`),
		word:       regexp.MustCompile(`\p{L}[\p{L}\p{M}]*(?:['’\-]\p{L}[\p{L}\p{M}]*)*`),
		strong:     ci(`(?i)\b(?:patient(?:'s)?(?:\s+(?:full\s+)?name)?|pt\.?(?:\s+name)?|(?:full|legal|preferred|last|first|middle|given|family|maiden|guarantor|subscriber|insured|member|contact|parent|guardian|spouse|caregiver|mother'?s?|father'?s?|emergency\s+contact|next\s+of\s+kin|nok|provider|physician|doctor|clinician)\s*name|name|provider|physician|attending(?:\s+physician)?|referring(?:\s+(?:physician|provider|doctor))?|ordering(?:\s+(?:physician|provider))?|pcp|primary\s+care(?:\s+(?:physician|provider))?|surgeon|assistant|anesthesiologist|radiologist|pathologist|interpreted\s+by|dictated\s+by|transcribed\s+by|(?:electronically\s+)?signed\s+by|reviewed\s+by|verified\s+by|performed\s+by|seen\s+by|authenticated\s+by|cc|to|from|attn|attention|guarantor|emergency\s+contact|contact|next\s+of\s+kin|nok|spouse|mother|father|guardian|caregiver|subscriber|insured|policy\s*holder|responsible\s+party|parent|resident|fellow|nurse|witness|interpreter|author|technologist|sonographer|pharmacist|therapist|counselor|case\s+manager|social\s+worker|re|patient\s+re|first|last|middle|given|family|surname|maiden|preferred|alias|aka|my\s+name\s+is|this\s+is)\s*:$`),
		weak:       ci(`(?i)\b(?:this\s+is|my\s+name\s+is|i\s+am|i'm|dear|sincerely|regards|respectfully|thanks|thank\s+you|wife|husband|spouse|partner|son|daughter|mother|father|mom|dad|brother|sister|grandmother|grandfather|grandson|granddaughter|aunt|uncle|niece|nephew|cousin|friend|neighbor|neighbour|boyfriend|girlfriend|fiance|fiancee|caregiver|guardian|by|with|from|to|per|named|called|patient|pt|cc|and|or|seen\s+by|referred\s+by|accompanied\s+by|discussed\s+with|spoke\s+with|talked\s+with|message\s+(?:left\s+)?for|left\s+for|call(?:ed)?|contact(?:ed)?|informed|told|asked)[,:]?\s+`),
		signOff:    ci(`(?i)\b(?:sincerely(?:\s+yours)?|yours\s+(?:truly|sincerely)|regards|best\s+regards|kind\s+regards|respectfully|thanks|thank\s+you|best|cheers|warmly|cordially|with\s+gratitude)[ \t]*[,.!]?[ \t]*\r?\n\s*`),
		credential: regexp.MustCompile(`((?:\p{Lu}[\p{L}'’\-]+|\p{Lu}\.?)(?:[ \t]+(?:(?:de|del|la|las|los|van|von|der|den|da|di|du|le|bin|al)[ \t]+)*(?:\p{Lu}[\p{L}'’\-]+|\p{Lu}\.|\p{Lu}(?:[ \t]))){0,3}),?[ \t]+(?:(?:MD|DO|RN|NP|PA-C|PA|PhD|MBBS|DDS|DMD|FACP|FACS|APRN|FNP|FNP-C|FNP-BC|CNM|LCSW|DPM|PharmD|RD|DPT|MSN|BSN|CRNA|LPN|CNA|MPH|RPh)\b|M\.D\.|D\.O\.|Ph\.D\.)`),
	}
}

// nameTok is a word with what the name rules need to know about it.
type nameTok struct {
	s, e     int
	text     string
	key      string // lowercase, without a possessive 's
	cap      bool   // Capitalised (upper first, some lower after)
	allCaps  bool
	initial  bool // a single capital letter
	sentInit bool // first word of a sentence, line or field
	colon    bool // directly followed by ':'
}

func (sc *scan) nameTokens() []nameTok {
	t := sc.text
	locs := sc.d.names.word.FindAllStringIndex(t, -1)
	toks := make([]nameTok, 0, len(locs))
	for _, l := range locs {
		w := t[l[0]:l[1]]
		r, _ := utf8.DecodeRuneInString(w)
		k := strings.ToLower(w)
		for _, suf := range []string{"'s", "’s", "'", "’"} {
			k = strings.TrimSuffix(k, suf)
		}
		tk := nameTok{s: l[0], e: l[1], text: w, key: k}
		if unicode.IsUpper(r) {
			lower, upper := 0, 0
			for _, c := range w {
				if unicode.IsLower(c) {
					lower++
				} else if unicode.IsUpper(c) {
					upper++
				}
			}
			tk.initial = upper == 1 && lower == 0 && utf8.RuneCountInString(w) == 1
			tk.cap = lower > 0
			tk.allCaps = lower == 0 && upper >= 2
		}
		tk.sentInit = sentenceInitial(t, l[0])
		tk.colon = l[1] < len(t) && t[l[1]] == ':'
		toks = append(toks, tk)
	}
	return toks
}

// sentenceInitial reports whether the word at byte i starts a sentence,
// line or field.
func sentenceInitial(t string, i int) bool {
	for j := i - 1; j >= 0; j-- {
		c := t[j]
		switch c {
		case ' ', '\t', '"', '\'', '(', '[':
			continue
		case '\n', '\r', '.', '!', '?', ':', ';', '*', '-', '|', '>':
			return true
		}
		if c >= 0x80 { // bullets and dashes
			r, _ := utf8.DecodeLastRuneInString(t[:j+1])
			return r == '•' || r == '–' || r == '—' || r == '·'
		}
		return false
	}
	return true
}

// gap returns what separates tokens a and b.
func gap(t string, a, b nameTok) string { return t[a.e:b.s] }

// joinable reports whether two name words may belong to one name: on one
// line, separated by a space, a hyphen or an initial's full stop.
func joinable(g string) bool {
	switch strings.TrimRight(g, " ") {
	case "", ".", "-":
		return len(g) <= 3 && !strings.Contains(g, "  ")
	}
	return false
}

func (m *nameModel) inDict(k string) bool {
	if m.first[k] || m.last[k] > 0 {
		return true
	}
	if i := strings.IndexAny(k, "-'’"); i > 0 { // Smith-Jones, O'Brien
		for _, p := range strings.FieldsFunc(k, func(r rune) bool { return r == '-' || r == '\'' || r == '’' }) {
			if m.first[p] || m.last[p] > 0 {
				return true
			}
		}
	}
	return false
}

// detectNames applies the name rules: titles, labels, credentials,
// dictionary pairs and single dictionary names.
func (sc *scan) detectNames() {
	m := &sc.d.names
	t := sc.text
	toks := sc.nameTokens()
	if len(toks) == 0 {
		return
	}
	mark := make([]bool, len(toks))
	idx := func(pos int) int { // first token starting at or after pos
		lo, hi := 0, len(toks)
		for lo < hi {
			mid := (lo + hi) / 2
			if toks[mid].s < pos {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo
	}
	nameish := func(k nameTok) bool { return k.cap || k.allCaps || k.initial }
	// eponym: "Wilson disease", "Murphy's sign", "Child-Pugh"
	eponym := func(i int) bool {
		if i+1 < len(toks) && joinable(gap(t, toks[i], toks[i+1])) && m.eponym[strings.ToLower(toks[i+1].text)] {
			return true
		}
		return strings.HasPrefix(strings.ToLower(t[max(0, toks[i].s-4):toks[i].s]), "non-")
	}
	// seq marks a name starting at token i; strong allows words the
	// dictionaries do not know.
	seq := func(i int, strong bool) {
		if i >= len(toks) || !nameish(toks[i]) || toks[i].colon && !toks[i].initial {
			return
		}
		if !strong && m.stop[toks[i].key] {
			return
		}
		if strong && m.stop[toks[i].key] && !m.inDict(toks[i].key) {
			return
		}
		mark[i] = true
		n, comma := 1, false
		for j := i + 1; j < len(toks) && n < 5; j++ {
			g := gap(t, toks[j-1], toks[j])
			k := toks[j]
			if !joinable(g) {
				// "SMITH, JOHN" and "Smith, John A." after a strong label
				if strong && !comma && strings.TrimRight(g, " ") == "," && len(g) <= 3 && (k.cap || k.allCaps) && !m.stop[k.key] {
					comma = true
				} else {
					break
				}
			}
			if k.colon && !k.initial {
				break
			}
			switch {
			case k.initial, m.suffix[k.key]:
			case m.particle[k.key] && j+1 < len(toks) && toks[j+1].cap:
			case nameish(k) && (!m.stop[k.key] || strong && m.inDict(k.key)) && (m.inDict(k.key) || strong && n < 3) && !eponym(j):
			default:
				return
			}
			mark[j] = true
			n++
		}
	}
	// titles
	for i, k := range toks {
		if m.title[k.key] && (k.cap || k.allCaps) && i+1 < len(toks) {
			g := gap(t, k, toks[i+1])
			if (g == " " || g == ". " || g == "." || g == "  ") && nameish(toks[i+1]) {
				seq(i+1, true)
			}
		}
	}
	// strong labels
	// strong labels end in a colon: look only before each colon
	for c := strings.IndexByte(t, ':'); c >= 0; {
		from := max(0, c-48)
		if lm := m.strong.FindStringIndex(sc.lower[from : c+1]); lm != nil && from+lm[1] == c+1 {
			end := c + 1
			for end < len(t) && (t[end] == ' ' || t[end] == '\t') {
				end++
			}
			if i := idx(end); i < len(toks) && !strings.ContainsAny(t[end:toks[i].s], "\n\r") && toks[i].s-end < 4 {
				seq(i, true)
			}
		}
		n := strings.IndexByte(t[c+1:], ':')
		if n < 0 {
			break
		}
		c += 1 + n
	}
	// weak labels: the dictionaries, or a capital in mid-sentence
	for _, lm := range m.weak.FindAllStringIndex(sc.lower, -1) {
		i := idx(lm[1])
		if i >= len(toks) || toks[i].s != lm[1] {
			continue
		}
		k := toks[i]
		lead := strings.ToLower(strings.Join(strings.Fields(strings.TrimRight(t[lm[0]:lm[1]], " ,:\n")), " "))
		intro := lead == "this is" || lead == "my name is" || lead == "i am" || lead == "i'm"
		if intro && (k.cap || k.allCaps || k.initial) && !m.stop[k.key] {
			seq(i, true)
			continue
		}
		if !k.cap || m.stop[k.key] || eponym(i) {
			continue
		}
		known := m.inDict(k.key) && !m.soft[k.key] && !(m.common[k.key] && k.sentInit)
		midSentence := !k.sentInit && !m.common[k.key] && !m.soft[k.key]
		if lead == "with" || lead == "and" || lead == "or" || lead == "to" || lead == "from" || lead == "by" || lead == "per" || lead == "patient" || lead == "pt" {
			// common words: only known names
			midSentence = false
		}
		if known || midSentence {
			seq(i, false)
		}
	}
	// sign-offs: the name on the next line
	for _, sm := range m.signOff.FindAllStringIndex(sc.lower, -1) {
		if i := idx(sm[1]); i < len(toks) && toks[i].s == sm[1] && (toks[i].cap || toks[i].allCaps || toks[i].initial) && !m.title[toks[i].key] {
			seq(i, true)
		}
	}
	// credentials: "John A. Smith, MD"
	for _, cm := range m.credential.FindAllStringSubmatchIndex(t, -1) {
		i := idx(cm[2])
		for ; i < len(toks) && toks[i].e <= cm[3]; i++ {
			if m.stop[toks[i].key] && !m.inDict(toks[i].key) || m.title[toks[i].key] || m.greeting[toks[i].key] || toks[i].colon {
				continue
			}
			if !nameish(toks[i]) {
				continue
			}
			mark[i] = true
		}
	}
	// dictionary rules
	for i := 0; i < len(toks); i++ {
		k := toks[i]
		if mark[i] || !(k.cap || k.allCaps) || m.stop[k.key] || k.colon || eponym(i) {
			continue
		}
		isFirst := m.first[k.key]
		// pair: given name (+ initials) + surname
		if isFirst {
			j := i + 1
			for j < len(toks) && toks[j].initial && joinable(gap(t, toks[j-1], toks[j])) {
				j++
			}
			if j < len(toks) && joinable(gap(t, toks[j-1], toks[j])) {
				l := toks[j]
				okCase := (k.cap && l.cap) || (k.allCaps && l.allCaps && !m.common[k.key] && !m.common[l.key])
				if okCase && !m.stop[l.key] && !l.colon && m.inDict(l.key) && !eponym(j) && !(m.common[k.key] && m.common[l.key] && k.sentInit && m.soft[l.key]) {
					for x := i; x <= j; x++ {
						mark[x] = true
					}
					continue
				}
			}
		}
		// "N. Weber": an initial, a full stop, a surname
		lowerBefore := i > 1 && !toks[i-2].cap && !toks[i-2].allCaps && !toks[i-1].sentInit
		if i > 0 && toks[i-1].initial && k.cap && (m.last[k.key] > 0 || lowerBefore && !m.inDict(k.key) && !k.sentInit) && !m.common[k.key] && !m.soft[k.key] && gap(t, toks[i-1], k) == ". " &&
			(toks[i-1].s == 0 || t[toks[i-1].s-1] == ' ' || t[toks[i-1].s-1] == '\n') && (i < 2 || !m.title[toks[i-2].key]) {
			mark[i-1], mark[i] = true, true
			continue
		}
		// "Smith, John"
		if m.last[k.key] > 0 && i+1 < len(toks) {
			l := toks[i+1]
			g := gap(t, k, l)
			if strings.TrimRight(g, " ") == "," && len(g) <= 2 && m.first[l.key] && (k.cap && l.cap || k.allCaps && l.allCaps) && !m.stop[l.key] && !m.soft[l.key] && !m.common[l.key] {
				mark[i], mark[i+1] = true, true
				continue
			}
		}
		// a single name
		if !k.cap || m.soft[k.key] {
			continue
		}
		rank := m.last[k.key]
		if !isFirst && (rank == 0 || rank > singleSurnameRank) {
			continue
		}
		if i+1 < len(toks) && toks[i+1].colon && joinable(gap(t, k, toks[i+1])) {
			continue // "First name:" is a label
		}
		if m.common[k.key] && (k.sentInit || sc.titleCasePhrase(toks, i)) {
			continue
		}
		mark[i] = true
	}
	// extend marked names over neighbouring initials and dictionary names
	for i := range toks {
		if !mark[i] {
			continue
		}
		for j := i + 1; j < len(toks) && !mark[j] && joinable(gap(t, toks[j-1], toks[j])); j++ {
			k := toks[j]
			if m.particle[k.key] && j+1 < len(toks) && (toks[j+1].cap || toks[j+1].allCaps) && joinable(gap(t, k, toks[j+1])) {
				mark[j], mark[j+1] = true, true
				j++
				continue
			}
			unknown := k.cap && !m.inDict(k.key) && !m.stop[k.key] && !m.soft[k.key] && !k.sentInit && !k.colon &&
				(j+1 >= len(toks) || !joinable(gap(t, k, toks[j+1])) || !toks[j+1].cap)
			if k.colon && !k.initial || !(k.initial || m.suffix[k.key] || unknown || (k.cap || k.allCaps) && m.inDict(k.key) && !m.stop[k.key] && !eponym(j)) {
				break
			}
			mark[j] = true
		}
		for j := i - 1; j >= 0 && !mark[j] && joinable(gap(t, toks[j], toks[j+1])); j-- {
			k := toks[j]
			if !(k.initial || k.cap && m.first[k.key] && !m.stop[k.key] && !m.soft[k.key] && !m.title[k.key]) {
				break
			}
			mark[j] = true
		}
	}
	for i := 0; i < len(toks); i++ {
		if !mark[i] {
			continue
		}
		j := i
		for j+1 < len(toks) && mark[j+1] && joinable(gap(t, toks[j], toks[j+1])) {
			j++
		}
		sc.add(toks[i].s, toks[j].e, Name, prioName)
		i = j
	}
}

// titleCasePhrase reports whether token i stands in a run of capitalised
// words that are not names ("Medical Record Number", "Blood Pressure"):
// headings and labels, not people.
func (sc *scan) titleCasePhrase(toks []nameTok, i int) bool {
	m := &sc.d.names
	t := sc.text
	other := func(j int) bool {
		k := toks[j]
		return (k.cap || k.allCaps) && (m.stop[k.key] || !m.inDict(k.key))
	}
	if i > 0 && joinable(gap(t, toks[i-1], toks[i])) && other(i-1) {
		return true
	}
	return i+1 < len(toks) && joinable(gap(t, toks[i], toks[i+1])) && other(i+1)
}

package screening

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"healthprep.dev/shared/chart"
)

// Evaluate returns one Result per screening type of the engine, in library
// order, for rec on asOf, applying the per-patient overrides. It never
// fails: facts it needs but does not have yield cannot_evaluate results.
// Items and documents dated after asOf are ignored.
func (e *Engine) Evaluate(rec chart.Record, asOf chart.Date, overrides []Override) []Result {
	ix := newIndex(&rec)
	results := make([]Result, len(e.types))
	for i, t := range e.types {
		results[i] = e.evaluateType(ix, t, asOf, overridesFor(overrides, t.ID))
	}
	e.resolveVariants(results)
	return results
}

func overridesFor(all []Override, id string) []Override {
	var out []Override
	for _, o := range all {
		if o.TypeID == id {
			out = append(out, o)
		}
	}
	// Latest decision last, so it wins; stable on ties.
	slices.SortStableFunc(out, func(a, b Override) int { return a.At.Compare(b.At) })
	return out
}

// index is a record prepared for matching: items by code, documents as
// words. Built once per evaluation.
type index struct {
	rec *chart.Record
	// The items carrying each code, in item order: code k (codes[k],
	// codeID[codes[k]] == k) is on items codeItems[codeStart[k]:codeStart[k+1]].
	codeID    map[chart.Code]int32
	codes     []chart.Code
	codeStart []int32
	codeItems []int32
	docs      []text
	// matched memoises match: one evaluation asks the same question many
	// times (a shared exclusion for each type, followed_by for each
	// candidate item), and the answer depends only on the key.
	matched map[matchKey][]hit
	// Scratch space for matchOnce, which takes each while using it (it
	// can recurse through followed; a nested call makes its own).
	// seen[i] == seenGen marks item i as visited by the current call.
	seen     []uint32
	seenGen  uint32
	hitBuf   []hit
	mentions []PhraseMatch
}

type matchKey struct {
	c         *ccrit
	defTiming Timing
	wantAll   bool
}

// itemsWith returns the indexes of the items that carry code, in order.
func (ix *index) itemsWith(code chart.Code) []int32 {
	k, ok := ix.codeID[code]
	if !ok {
		return nil
	}
	return ix.codeItems[ix.codeStart[k]:ix.codeStart[k+1]]
}

func newIndex(rec *chart.Record) *index {
	ix := &index{rec: rec, codeID: map[chart.Code]int32{}}
	// First pass: number the codes and count their items; occ holds the
	// code number of each (item, code) pair, -1 for a code repeated on
	// one item. Second pass: place the items.
	n := 0
	for _, it := range rec.Items {
		n += len(it.Codes)
	}
	occ := make([]int32, 0, n)
	var count, last []int32
	for i, it := range rec.Items {
		for _, c := range it.Codes {
			k, ok := ix.codeID[c]
			if !ok {
				k = int32(len(ix.codes))
				ix.codeID[c] = k
				ix.codes = append(ix.codes, c)
				count = append(count, 0)
				last = append(last, -1)
			}
			if last[k] == int32(i) {
				occ = append(occ, -1)
				continue
			}
			last[k] = int32(i)
			count[k]++
			occ = append(occ, k)
		}
	}
	ix.codeStart = make([]int32, len(ix.codes)+1)
	for k, c := range count {
		ix.codeStart[k+1] = ix.codeStart[k] + c
	}
	next := count[:0] // reused: the next free place of each code
	next = append(next, ix.codeStart[:len(ix.codes)]...)
	ix.codeItems = make([]int32, ix.codeStart[len(ix.codes)])
	j := 0
	for i, it := range rec.Items {
		for range it.Codes {
			if k := occ[j]; k >= 0 {
				ix.codeItems[next[k]] = int32(i)
				next[k]++
			}
			j++
		}
	}
	ix.docs = make([]text, len(rec.Documents))
	var ids map[string]int32 // the word index, reused from one document to the next
	if len(rec.Documents) > 0 {
		ids = make(map[string]int32, 256)
	}
	for i, d := range rec.Documents {
		clear(ids)
		ix.docs[i] = newText(ids, false, d.Title, d.Text)
	}
	return ix
}

// hit is one item or document that matched a criterion.
type hit struct {
	item     int // -1 for documents
	doc      int // -1 for items
	code     chart.Code
	phrase   string
	date     chart.Date // completion date: end of the item, or the document date
	ref      string
	polarity Polarity
}

func (h hit) less(o hit) int {
	// latest first, then by reference: a total order independent of input order
	if c := o.date.Compare(h.date); c != 0 {
		return c
	}
	if c := cmp.Compare(h.ref, o.ref); c != 0 {
		return c
	}
	if c := cmp.Compare(h.code.String(), o.code.String()); c != 0 {
		return c
	}
	return cmp.Compare(h.phrase, o.phrase)
}

func window(c *ccrit, asOf chart.Date) chart.Date {
	switch {
	case c.ytd:
		y, _, _ := asOf.YMD()
		return chart.D(y, time.January, 1)
	case !c.within.IsZero():
		return c.within.SubFrom(asOf).AddDays(1)
	}
	return chart.Date{}
}

func endOf(it *chart.Item) chart.Date {
	if it.End.IsZero() {
		return it.Start
	}
	return it.End
}

// match returns every item and document that satisfies c on asOf, sorted
// latest first. Items recorded as not done never match; documents match
// only when the mention is affirmed unless wantAll is set.
//
// The patient and as-of date are the same for every call on one index, so
// the answer is computed once per criterion, timing and wantAll; callers
// must not modify the slice.
func (ix *index) match(c *ccrit, p *chart.Patient, asOf chart.Date, defTiming Timing, wantAll bool) []hit {
	k := matchKey{c, defTiming, wantAll}
	if hs, ok := ix.matched[k]; ok {
		return hs
	}
	hs := ix.matchOnce(c, p, asOf, defTiming, wantAll)
	if ix.matched == nil {
		ix.matched = map[matchKey][]hit{}
	}
	ix.matched[k] = hs
	return hs
}

func (ix *index) matchOnce(c *ccrit, p *chart.Patient, asOf chart.Date, defTiming Timing, wantAll bool) []hit {
	if c.races != nil && !anyIn(p.Races, c.races) {
		return nil
	}
	lo := window(c, asOf)
	hits := ix.hitBuf[:0]
	ix.hitBuf = nil
	if c.codes != nil {
		seen := ix.seen
		ix.seen = nil
		if seen == nil {
			seen = make([]uint32, len(ix.rec.Items))
		}
		ix.seenGen++
		if ix.seenGen == 0 { // wrapped: forget every mark
			clear(seen)
			ix.seenGen = 1
		}
		gen := ix.seenGen
		visit := func(i int32) {
			if seen[i] == gen {
				return
			}
			seen[i] = gen
			it := &ix.rec.Items[i]
			if h, ok := ix.matchItem(c, p, it, asOf, lo, defTiming); ok {
				h.item, h.doc = int(i), -1
				hits = append(hits, h)
			}
		}
		if len(c.codeList) <= len(ix.codes) {
			for _, code := range c.codeList {
				for _, i := range ix.itemsWith(code) {
					visit(i)
				}
			}
		} else {
			for k, code := range ix.codes {
				if _, ok := c.codes[code]; ok {
					for _, i := range ix.codeItems[ix.codeStart[k]:ix.codeStart[k+1]] {
						visit(i)
					}
				}
			}
		}
		ix.seen = seen
	}
	if !c.phrases.Empty() {
		for di, d := range ix.rec.Documents {
			if d.Date.IsZero() || d.Date.After(asOf) || (!lo.IsZero() && d.Date.Before(lo)) {
				continue
			}
			ix.mentions = c.phrases.appendIn(ix.mentions[:0], &ix.docs[di])
			for _, m := range ix.mentions {
				if m.Polarity != Affirmed && !wantAll {
					continue
				}
				hits = append(hits, hit{item: -1, doc: di, phrase: m.Phrase, date: d.Date, ref: d.Ref, polarity: m.Polarity})
			}
		}
	}
	slices.SortFunc(hits, hit.less)
	var out []hit
	if len(hits) > 0 {
		out = slices.Clone(hits)
	}
	ix.hitBuf = hits[:0]
	return out
}

func (ix *index) matchItem(c *ccrit, p *chart.Patient, it *chart.Item, asOf, lo chart.Date, defTiming Timing) (hit, bool) {
	if it.NotDone || it.Start.IsZero() || it.Start.After(asOf) {
		return hit{}, false
	}
	if len(c.kinds) > 0 && !slices.Contains(c.kinds, it.Kind) {
		return hit{}, false
	}
	var code chart.Code
	found := false
	for _, ic := range it.Codes {
		if _, ok := c.codes[ic]; ok {
			code, found = ic, true
			break
		}
	}
	if !found {
		return hit{}, false
	}
	if c.mostRecentOnly && ix.newerWithCodes(c, it, asOf) {
		return hit{}, false
	}
	if c.values != nil && !anyIn(it.Values, c.values) {
		return hit{}, false
	}
	if c.bodySites != nil && !anyIn(it.BodySites, c.bodySites) {
		return hit{}, false
	}
	if c.requireValue && !it.HasValue {
		return hit{}, false
	}
	if (c.valueAtLeast != nil || c.valueBelow != nil) &&
		(!it.HasQuantity || c.valueAtLeast != nil && it.Quantity < *c.valueAtLeast || c.valueBelow != nil && it.Quantity >= *c.valueBelow) {
		return hit{}, false
	}
	if len(c.statuses) > 0 && !slices.Contains(c.statuses, it.Status) {
		return hit{}, false
	}
	if c.activeOnly && !isActive(it) {
		return hit{}, false
	}
	end := endOf(it)
	timing := cmp.Or(c.timing, defTiming)
	switch timing {
	case TimingStarts:
		if !lo.IsZero() && it.Start.Before(lo) {
			return hit{}, false
		}
	case TimingEnds:
		if end.After(asOf) || (!lo.IsZero() && end.Before(lo)) {
			return hit{}, false
		}
	default: // overlaps
		if !lo.IsZero() && !it.Ongoing() && end.Before(lo) {
			return hit{}, false
		}
	}
	done := end
	if done.After(asOf) {
		done = asOf // still ongoing on the as-of date
	}
	if c.hasMinAgeEv || c.hasMaxAge {
		age, ok := chart.AgeAt(p.BirthDate, it.Start)
		if !ok || (c.hasMinAgeEv && age.InMonths() < c.minAgeEv) || (c.hasMaxAge && age.InMonths() > c.maxAgeEv) {
			return hit{}, false
		}
	}
	if len(c.followedBy) > 0 && !ix.followed(c, p, it, asOf) {
		return hit{}, false
	}
	return hit{code: code, date: done, ref: it.Ref, polarity: Affirmed}, true
}

// followed reports whether an item matching c.followedBy starts on or after
// it and within c.followedWithin of it.
func (ix *index) followed(c *ccrit, p *chart.Patient, it *chart.Item, asOf chart.Date) bool {
	limit := c.followedWithin.AddTo(it.Start)
	for _, f := range c.followedBy {
		for _, h := range ix.match(f, p, asOf, TimingStarts, false) {
			if h.item < 0 {
				continue
			}
			s := ix.rec.Items[h.item].Start
			if !s.Before(it.Start) && !s.After(limit) {
				return true
			}
		}
	}
	return false
}

// newerWithCodes reports whether another item with c's codes, dated on or
// before asOf, is more recent than it.
func (ix *index) newerWithCodes(c *ccrit, it *chart.Item, asOf chart.Date) bool {
	end := endOf(it)
	for _, code := range c.codeList {
		for _, i := range ix.itemsWith(code) {
			o := &ix.rec.Items[i]
			if o == it || o.NotDone || len(c.kinds) > 0 && !slices.Contains(c.kinds, o.Kind) {
				continue
			}
			if oe := endOf(o); !oe.After(asOf) && oe.After(end) {
				return true
			}
		}
	}
	return false
}

func isActive(it *chart.Item) bool {
	switch it.Status {
	case "", "active", "recurrence", "relapse":
		return true
	}
	return false
}

func anyIn(codes []chart.Code, set codeSet) bool {
	for _, c := range codes {
		if _, ok := set[c]; ok {
			return true
		}
	}
	return false
}

func (ix *index) evidence(h hit, role Role, rule string) Evidence {
	ev := Evidence{Role: role, Rule: rule, Source: h.ref, Date: h.date}
	if h.item >= 0 {
		it := &ix.rec.Items[h.item]
		code := h.code
		ev.Code = &code
		ev.Kind = it.Kind
		ev.Text = it.Text
		if it.HasQuantity {
			q := it.Quantity
			ev.Quantity, ev.Unit = &q, it.Unit
		}
	} else {
		d := ix.rec.Documents[h.doc]
		ev.Document, ev.Phrase = d.Title, h.phrase
	}
	return ev
}

func sourcesOf(t *ctype) []Source { return slices.Clone(t.Sources) }

func (e *Engine) evaluateType(ix *index, t *ctype, asOf chart.Date, ovs []Override) Result {
	r := Result{ID: t.ID, Name: t.Name, Group: t.Group, Sources: sourcesOf(t)}
	p := &ix.rec.Patient
	if asOf.IsZero() {
		return cannot(r, "as-of date", "No as-of date was given.")
	}
	// Sex.
	if len(t.Sexes) > 0 && !slices.Contains(t.Sexes, p.Sex) {
		switch {
		case p.Sex == chart.SexMale || p.Sex == chart.SexFemale:
			return notEligible(r, fmt.Sprintf("Applies to %s patients; the patient is %s.", joinSexes(t.Sexes), p.Sex))
		case t.UnknownSex == UnknownSexInclude:
		case t.UnknownSex == UnknownSexExclude:
			return notEligible(r, fmt.Sprintf("Applies to %s patients; the patient's sex is %s.", joinSexes(t.Sexes), sexWord(p.Sex)))
		default:
			return cannot(r, "sex", fmt.Sprintf("Cannot evaluate: applies to %s patients and the patient's sex is %s.", joinSexes(t.Sexes), sexWord(p.Sex)))
		}
	}
	if !p.Deceased.IsZero() && !p.Deceased.After(asOf) {
		return notEligible(r, fmt.Sprintf("The patient died on %s.", p.Deceased))
	}
	// Age.
	if t.hasMin || t.hasMax {
		if p.BirthDate.IsZero() {
			return cannot(r, "birth date", fmt.Sprintf("Cannot evaluate: the birth date is unknown and the screening applies to ages %s.", ageRange(t)))
		}
		on := asOf
		if t.AgeAt == AgeAtYearStart {
			y, _, _ := asOf.YMD()
			on = chart.D(y, time.January, 1)
		}
		age, ok := chart.AgeAt(p.BirthDate, on)
		if !ok {
			return notEligible(r, fmt.Sprintf("The patient was not born on %s.", on))
		}
		if (t.hasMin && age.InMonths() < t.minAge) || (t.hasMax && age.InMonths() > t.maxAge) {
			basis := ""
			if t.AgeAt == AgeAtYearStart {
				basis = " on " + on.String()
			}
			return notEligible(r, fmt.Sprintf("Age %s%s is outside %s.", ageWords(age), basis, ageRange(t)))
		}
	}
	// Triggers.
	if len(t.triggers) > 0 {
		var best []hit
		for _, c := range t.triggers {
			if hs := ix.match(c, p, asOf, TimingOverlaps, false); len(hs) > 0 {
				best = append(best, hs[0])
			}
		}
		if len(best) == 0 {
			return untriggered(ix, t, p, asOf, r)
		}
		slices.SortFunc(best, hit.less)
		r.Evidence = append(r.Evidence, ix.evidence(best[0], RoleTrigger, "trigger"))
	}
	for _, c := range t.requires {
		hs := ix.match(c, p, asOf, TimingOverlaps, false)
		if len(hs) == 0 {
			r.Evidence = nil
			return notEligible(r, fmt.Sprintf("Requires %s on file; none found.", strings.ToLower(c.label)))
		}
		r.Evidence = append(r.Evidence, ix.evidence(hs[0], RoleTrigger, "requires"))
	}
	// Overrides that remove it.
	for _, o := range ovs {
		if o.Kind == NotApplicable {
			r.Status = Excluded
			r.Evidence = append(r.Evidence, overrideEvidence(o))
			r.Reason = fmt.Sprintf("Marked not applicable by %s on %s%s.", o.By, o.At, why(o))
			return r
		}
	}
	// Exclusions.
	for _, ex := range t.exclusions {
		if evs, ok := ix.excluded(ex, p, asOf); ok {
			r.Status = Excluded
			r.Evidence = append(r.Evidence, evs...)
			r.Reason = fmt.Sprintf("Excluded: %s (%s).", ex.Name, describe(evs))
			return r
		}
	}
	return e.completion(ix, t, asOf, ovs, r)
}

// untriggered is the result when none of t's triggers matches: not
// eligible, or cannot_evaluate when the fact the triggers read is not on
// file at all (see UnknownTrigger).
func untriggered(ix *index, t *ctype, p *chart.Patient, asOf chart.Date, r Result) Result {
	if t.UnknownTrigger == nil {
		return notEligible(r, "None of the conditions that select this screening is on file.")
	}
	var known []hit
	for _, c := range t.knownIf {
		if hs := ix.match(c, p, asOf, TimingOverlaps, false); len(hs) > 0 {
			known = append(known, hs[0])
		}
	}
	if len(known) == 0 {
		return cannot(r, t.UnknownTrigger.Missing, fmt.Sprintf("Cannot evaluate: no %s on file to tell whether this screening applies.", t.UnknownTrigger.Missing))
	}
	slices.SortFunc(known, hit.less)
	ev := ix.evidence(known[0], RoleTrigger, "known_if")
	what := ev.Text
	if ev.Quantity != nil {
		what = strings.TrimSpace(fmt.Sprintf("%s %g %s", what, *ev.Quantity, ev.Unit))
	}
	return notEligible(r, fmt.Sprintf("None of the conditions that select this screening is on file (latest %s: %s on %s, %s).",
		t.UnknownTrigger.Missing, what, ev.Date, ev.Source))
}

// excluded reports whether every group of ex has a match and no Unless
// criterion matches, with the evidence.
func (ix *index) excluded(ex *cexclusion, p *chart.Patient, asOf chart.Date) ([]Evidence, bool) {
	if ex.hasMinAge {
		age, ok := chart.AgeAt(p.BirthDate, asOf)
		if !ok || age.InMonths() < ex.minAge {
			return nil, false
		}
	}
	var evs []Evidence
	for _, g := range ex.groups {
		var best []hit
		for _, c := range g {
			if hs := ix.match(c, p, asOf, TimingOverlaps, false); len(hs) > 0 {
				best = append(best, hs[0])
			}
		}
		if len(best) == 0 {
			return nil, false
		}
		slices.SortFunc(best, hit.less)
		evs = append(evs, ix.evidence(best[0], RoleExclusion, ex.ID))
	}
	for _, c := range ex.unless {
		if len(ix.match(c, p, asOf, TimingOverlaps, false)) > 0 {
			return nil, false
		}
	}
	return evs, true
}

func (e *Engine) completion(ix *index, t *ctype, asOf chart.Date, ovs []Override, r Result) Result {
	p := &ix.rec.Patient
	var custom chart.Period
	for _, o := range ovs {
		if o.Kind == CustomInterval {
			custom = o.Interval
		}
	}
	type cover struct {
		h        hit
		next     chart.Date
		lifetime bool
		rule     EvidenceRule
		override *Override
	}
	var best *cover
	better := func(c cover) bool {
		if best == nil {
			return true
		}
		if c.lifetime != best.lifetime {
			return c.lifetime
		}
		if k := c.next.Compare(best.next); k != 0 {
			return k > 0
		}
		return c.h.less(best.h) < 0
	}
	// series is the best started, unfinished dose series.
	type series struct {
		rule        EvidenceRule
		valid       int
		last        hit // the latest dose given
		next        chart.Date
		initialized bool
	}
	var started series
	var refusals, notDone []Evidence
	for _, ev := range t.evidence {
		hs := ix.match(ev.crit, p, asOf, TimingEnds, true)
		refused := 0
		for _, h := range hs {
			if h.polarity == Refused {
				refused++
			}
		}
		refusals = slices.Grow(refusals, refused)
		var doses []hit
		affirmed := false
		for _, h := range hs {
			switch h.polarity {
			case Affirmed:
				if ev.rule.Doses > 1 {
					doses = append(doses, h)
					continue
				}
				if affirmed {
					continue
				}
				affirmed = true
				if len(ev.with) > 0 {
					var ok bool
					if h, ok = ix.withAll(ev, h, p, asOf); !ok {
						continue
					}
				}
				c := cover{h: h, rule: ev.rule}
				c.next, c.lifetime = ev.nextAfter(h.date, custom)
				if better(c) {
					best = &c
				}
				r.Evidence = append(r.Evidence, ix.evidence(h, RoleCompletion, ev.rule.ID))
			case Refused:
				refusals = append(refusals, ix.evidence(h, RoleRefusal, ev.rule.ID))
			}
		}
		if len(doses) > 0 {
			valid, done := countDoses(doses, ev.rule.Doses, ev.rule.MinSpacing)
			for _, h := range doses {
				r.Evidence = append(r.Evidence, ix.evidence(h, RoleCompletion, ev.rule.ID))
			}
			if done != nil {
				c := cover{h: *done, rule: ev.rule}
				c.next, c.lifetime = ev.nextAfter(done.date, custom)
				if better(c) {
					best = &c
				}
			} else if latest := doses[0]; !started.initialized || valid > started.valid ||
				valid == started.valid && latest.date.After(started.last.date) {
				started = series{rule: ev.rule, valid: valid, last: latest, next: nextDose(latest.date, ev.rule.MinSpacing), initialized: true}
			}
		}
		notDone = append(notDone, ix.notDone(ev, asOf)...)
	}
	for i, o := range ovs {
		if o.Kind != DoneElsewhere || o.Date.IsZero() || o.Date.After(asOf) {
			continue
		}
		first := t.evidence[0]
		c := cover{h: hit{date: o.Date, ref: "override"}, override: &ovs[i], rule: EvidenceRule{ID: "override", Name: first.rule.Name}}
		c.next, c.lifetime = first.nextAfter(o.Date, custom)
		if better(c) {
			best = &c
		}
		r.Evidence = append(r.Evidence, overrideEvidence(o))
	}
	sortEvidence(r.Evidence)
	r.Evidence = slices.Grow(r.Evidence, len(ovs)+len(refusals)+len(notDone))
	var tail []string
	for _, o := range ovs {
		if o.Kind == RefusedByPatient {
			r.Evidence = append(r.Evidence, overrideEvidence(o))
			tail = append(tail, fmt.Sprintf("Refusal recorded by %s on %s%s.", o.By, o.At, why(o)))
		}
	}
	if len(refusals) > 0 {
		sortEvidence(refusals)
		r.Evidence = append(r.Evidence, refusals...)
		tail = append(tail, fmt.Sprintf("Declined per %s on %s.", docName(refusals[0]), refusals[0].Date))
	}
	if len(notDone) > 0 {
		sortEvidence(notDone)
		r.Evidence = append(r.Evidence, notDone...)
	}

	switch {
	case best == nil && started.initialized:
		r.LastDone, r.NextDue = started.last.date, started.next
		done := fmt.Sprintf("%d of %d doses of %s, the latest on %s%s", started.valid, started.rule.Doses,
			strings.ToLower(started.rule.Name), started.last.date, via(started.last, nil))
		switch {
		case asOf.Before(started.next):
			r.Status = DueSoon
			r.Reason = fmt.Sprintf("%s; the next dose is due from %s.", done, started.next)
		case asOf.Before(t.grace.AddTo(started.next)):
			r.Status = Due
			r.Reason = fmt.Sprintf("%s; the next dose has been due since %s.", done, started.next)
		default:
			r.Status = Overdue
			r.Reason = fmt.Sprintf("%s; the next dose is overdue since %s.", done, t.grace.AddTo(started.next))
		}
	case best == nil:
		r.Status = Due
		r.Reason = fmt.Sprintf("No record of %s.", ruleNames(t))
	case best.lifetime:
		r.Status = Complete
		r.LastDone = best.h.date
		r.Reason = fmt.Sprintf("%s on %s%s; not repeated.", best.rule.Name, best.h.date, via(best.h, best.override))
	default:
		r.LastDone = best.h.date
		r.NextDue = best.next
		r.Status = statusFor(asOf, best.next, t.dueSoon, t.grace)
		done := fmt.Sprintf("%s on %s%s", best.rule.Name, best.h.date, via(best.h, best.override))
		switch r.Status {
		case Complete:
			r.Reason = fmt.Sprintf("%s; next due %s.", done, best.next)
		case DueSoon:
			r.Reason = fmt.Sprintf("%s; due %s, within %d days.", done, best.next, asOf.DaysUntil(best.next))
		case Due:
			r.Reason = fmt.Sprintf("Last %s; due since %s.", lowerFirst(done), best.next)
		case Overdue:
			r.Reason = fmt.Sprintf("Last %s; overdue since %s.", lowerFirst(done), t.grace.AddTo(best.next))
		}
	}
	for _, o := range ovs {
		if o.Kind == Postponed && !o.Date.IsZero() && asOf.Before(o.Date) && (r.Status == Due || r.Status == Overdue) {
			r.Status = DueSoon
			r.NextDue = o.Date
			r.Evidence = append(r.Evidence, overrideEvidence(o))
			tail = append(tail, fmt.Sprintf("Postponed until %s by %s on %s%s.", o.Date, o.By, o.At, why(o)))
		}
	}
	if len(tail) > 0 {
		r.Reason += " " + strings.Join(tail, " ")
	}
	return r
}

// nextAfter is when a completion of ev on done is due again, or lifetime
// when it never is. A custom interval (an override) wins over the rule's
// interval or season.
func (ev cevidence) nextAfter(done chart.Date, custom chart.Period) (next chart.Date, lifetime bool) {
	switch {
	case !custom.IsZero():
		return custom.AddTo(done), false
	case ev.renewDay != 0:
		return renewal(done, ev.renewMonth, ev.renewDay), false
	case ev.rule.Interval.IsZero():
		return chart.Date{}, true
	}
	return ev.rule.Interval.AddTo(done), false
}

// renewal returns the first month/day date strictly after done: the start
// of the next season.
func renewal(done chart.Date, m time.Month, d int) chart.Date {
	y, _, _ := done.YMD()
	if r := chart.D(y, m, d); r.After(done) {
		return r
	}
	return chart.D(y+1, m, d)
}

// countDoses counts the valid doses among hits (sorted latest first):
// taken from the earliest, each counts when it falls at least spacing and
// at least a day after the previous valid one. It returns the count and,
// when the series reaches want, the dose that completed it.
func countDoses(hits []hit, want int, spacing chart.Period) (int, *hit) {
	valid := 0
	var last chart.Date
	for i := len(hits) - 1; i >= 0; i-- {
		h := hits[i]
		if valid > 0 && (!h.date.After(last) || h.date.Before(spacing.AddTo(last))) {
			continue
		}
		valid++
		last = h.date
		if valid == want {
			return valid, &hits[i]
		}
	}
	return valid, nil
}

// nextDose is when the next dose of a series may be given after a dose on
// last: MinSpacing later, and never on the same day.
func nextDose(last chart.Date, spacing chart.Period) chart.Date {
	if n := spacing.AddTo(last); n.After(last) {
		return n
	}
	return last.AddDays(1)
}

// withAll checks that each companion criterion of ev has a match; the
// completion then dates from the oldest of the latest matches.
func (ix *index) withAll(ev cevidence, h hit, p *chart.Patient, asOf chart.Date) (hit, bool) {
	for _, w := range ev.with {
		hs := ix.match(w, p, asOf, TimingEnds, false)
		if len(hs) == 0 {
			return h, false
		}
		if hs[0].date.Before(h.date) {
			h.date = hs[0].date
		}
	}
	return h, true
}

// notDone lists items with the rule's codes recorded as not done.
func (ix *index) notDone(ev cevidence, asOf chart.Date) []Evidence {
	var out []Evidence
	for _, code := range ev.crit.codeList {
		for _, i := range ix.itemsWith(code) {
			it := &ix.rec.Items[i]
			if !it.NotDone || it.Start.IsZero() || it.Start.After(asOf) {
				continue
			}
			c := code
			out = append(out, Evidence{Role: RoleNotDone, Rule: ev.rule.ID, Source: it.Ref, Kind: it.Kind, Code: &c, Date: it.Start, Text: it.Text})
		}
	}
	return out
}

// statusFor applies the due-soon window and the grace period to a next-due
// date: complete before the window, due_soon inside it, due from the
// next-due date itself, overdue once the grace period has passed.
func statusFor(asOf, next chart.Date, soon, grace chart.Period) Status {
	switch {
	case asOf.Before(soon.SubFrom(next)):
		return Complete
	case asOf.Before(next):
		return DueSoon
	case asOf.Before(grace.AddTo(next)):
		return Due
	}
	return Overdue
}

func (e *Engine) resolveVariants(results []Result) {
	done := make([]bool, len(results))
	for i := range results {
		g := e.groups[i]
		if len(g) < 2 || done[i] {
			continue
		}
		winner := -1
		for _, j := range g {
			done[j] = true
			if results[j].Status == NotEligible {
				continue
			}
			if winner < 0 || e.types[j].Priority > e.types[winner].Priority {
				winner = j
			}
		}
		if winner < 0 {
			continue
		}
		for _, j := range g {
			if j == winner || results[j].Status == NotEligible {
				continue
			}
			results[j] = Result{
				ID: results[j].ID, Name: results[j].Name, Group: results[j].Group, Status: Superseded,
				SupersededBy: results[winner].ID, Sources: results[j].Sources,
				Reason: fmt.Sprintf("Superseded by %s, the more specific variant that applies.", results[winner].Name),
			}
		}
	}
}

func sortEvidence(evs []Evidence) {
	slices.SortStableFunc(evs, func(a, b Evidence) int {
		if c := b.Date.Compare(a.Date); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		return cmp.Compare(a.Rule, b.Rule)
	})
}

func cannot(r Result, missing, reason string) Result {
	r.Status, r.Missing, r.Reason = CannotEvaluate, missing, reason
	return r
}

func notEligible(r Result, reason string) Result {
	r.Status, r.Reason = NotEligible, reason
	return r
}

func overrideEvidence(o Override) Evidence {
	d := o.Date
	if d.IsZero() {
		d = o.At
	}
	return Evidence{Role: RoleOverride, Rule: string(o.Kind), Source: "override", Date: d, Text: strings.TrimSpace(o.By + ": " + o.Why)}
}

func why(o Override) string {
	if o.Why == "" {
		return ""
	}
	return ": " + o.Why
}

func via(h hit, o *Override) string {
	switch {
	case o != nil:
		return fmt.Sprintf(" (done elsewhere, recorded by %s)", o.By)
	case h.item < 0:
		return fmt.Sprintf(" (document %s)", h.ref)
	case h.ref != "":
		return fmt.Sprintf(" (%s)", h.ref)
	}
	return ""
}

func docName(ev Evidence) string {
	if ev.Document != "" {
		return ev.Document
	}
	return ev.Source
}

func describe(evs []Evidence) string {
	parts := make([]string, len(evs))
	for i, ev := range evs {
		what := ev.Text
		if what == "" && ev.Code != nil {
			what = ev.Code.String()
		}
		if ev.Phrase != "" {
			what = fmt.Sprintf("%q in %s", ev.Phrase, docName(ev))
		}
		parts[i] = fmt.Sprintf("%s, %s", strings.TrimSpace(what+" "+paren(ev.Source)), ev.Date)
	}
	return strings.Join(parts, "; ")
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "[" + s + "]"
}

func ruleNames(t *ctype) string {
	names := make([]string, len(t.evidence))
	for i, ev := range t.evidence {
		names[i] = strings.ToLower(ev.rule.Name)
	}
	switch len(names) {
	case 1:
		return names[0]
	case 2:
		return names[0] + " or " + names[1]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func joinSexes(s []chart.Sex) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, " or ")
}

func sexWord(s chart.Sex) string {
	if s == "" {
		return string(chart.SexUnknown)
	}
	return string(s)
}

func ageWords(a chart.Age) string {
	if a.Months == 0 {
		return fmt.Sprintf("%dy", a.Years)
	}
	return fmt.Sprintf("%dy%dm", a.Years, a.Months)
}

func ageRange(t *ctype) string {
	switch {
	case t.hasMin && t.hasMax:
		return t.MinAge + "–" + t.MaxAge
	case t.hasMin:
		return t.MinAge + " and over"
	}
	return "up to " + t.MaxAge
}

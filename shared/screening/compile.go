package screening

import (
	"fmt"
	"slices"
	"time"

	"healthprep.dev/shared/chart"
)

// Engine evaluates compiled screening types. It is immutable and safe for
// concurrent use; build one per library (and per organisation when the
// organisation overrides the library).
type Engine struct {
	version string
	types   []*ctype
	// groupOf maps a type index to the indexes of its group (itself alone
	// when it has no group).
	groups [][]int
}

type ctype struct {
	Type
	index          int
	minAge, maxAge int
	hasMin, hasMax bool
	triggers       []*ccrit
	requires       []*ccrit
	knownIf        []*ccrit
	evidence       []cevidence
	exclusions     []*cexclusion
	dueSoon, grace chart.Period
}

type cevidence struct {
	rule EvidenceRule
	crit *ccrit
	with []*ccrit
	// renewMonth and renewDay are set for seasonal rules (RenewsOn).
	renewMonth time.Month
	renewDay   int
}

type cexclusion struct {
	Exclusion
	minAge    int
	hasMinAge bool
	groups    [][]*ccrit
	unless    []*ccrit
}

type codeSet map[chart.Code]struct{}

type ccrit struct {
	kinds                  []chart.Kind
	codes                  codeSet
	codeList               []chart.Code
	values                 codeSet
	bodySites              codeSet
	requireValue           bool
	statuses               []string
	activeOnly             bool
	minAgeEv, maxAgeEv     int
	hasMinAgeEv, hasMaxAge bool
	phrases                PhraseMatcher
	within                 chart.Period
	ytd                    bool
	timing                 Timing
	followedBy             []*ccrit
	followedWithin         chart.Period
	mostRecentOnly         bool
	valueAtLeast           *float64
	valueBelow             *float64
	races                  codeSet
	// label names what the criterion looks for, for reasons ("Diabetes").
	label string
}

// Compile validates lib and builds an Engine. Every problem is reported in
// one *ValidationError: unknown code systems and code sets, negative or
// malformed intervals and ages, duplicate IDs, missing citations, and
// overlapping variants of one group (same priority).
func Compile(lib Library) (*Engine, error) {
	c := compiler{lib: lib, shared: map[string]*cexclusion{}}
	for _, name := range sortedKeys(lib.CodeSets) {
		for _, sys := range sortedKeys(lib.CodeSets[name].Codes) {
			if !chart.IsKnownSystem(sys) {
				c.problem("code set %q: unknown code system %q", name, sys)
			}
			for i, code := range lib.CodeSets[name].Codes[sys] {
				if code == "" {
					c.problem("code set %q: %s code %d is empty", name, sys, i)
				}
			}
		}
	}
	for i, ex := range lib.Exclusions {
		where := fmt.Sprintf("exclusion %q", ex.ID)
		if ex.ID == "" {
			c.problem("exclusion %d: missing id", i)
		}
		if _, dup := c.shared[ex.ID]; dup {
			c.problem("%s: duplicate id", where)
		}
		c.shared[ex.ID] = c.exclusion(where, ex)
	}
	if lib.Version == "" {
		c.problem("missing version")
	}
	e := &Engine{version: lib.Version}
	ids := map[string]bool{}
	for i, t := range lib.Types {
		where := fmt.Sprintf("type %q", t.ID)
		if t.ID == "" {
			where = fmt.Sprintf("type %d", i)
			c.problem("%s: missing id", where)
		}
		if ids[t.ID] {
			c.problem("%s: duplicate id", where)
		}
		ids[t.ID] = true
		e.types = append(e.types, c.typ(where, i, t))
	}
	c.checkGroups(e)
	if len(c.problems) > 0 {
		return nil, &ValidationError{Problems: c.problems}
	}
	return e, nil
}

type compiler struct {
	lib      Library
	shared   map[string]*cexclusion
	problems []string
}

func (c *compiler) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *compiler) typ(where string, index int, t Type) *ctype {
	ct := &ctype{Type: t, index: index}
	if t.Name == "" {
		c.problem("%s: missing name", where)
	}
	if len(t.Sources) == 0 {
		c.problem("%s: no cited source", where)
	}
	for _, s := range t.Sexes {
		switch s {
		case chart.SexFemale, chart.SexMale, chart.SexOther, chart.SexUnknown:
		default:
			c.problem("%s: unknown sex %q", where, s)
		}
	}
	switch t.UnknownSex {
	case "", UnknownSexCannotEvaluate, UnknownSexInclude, UnknownSexExclude:
	default:
		c.problem("%s: unknown_sex %q: want cannot_evaluate, include or not_eligible", where, t.UnknownSex)
	}
	switch t.AgeAt {
	case "", AgeAtAsOf, AgeAtYearStart:
	default:
		c.problem("%s: age_at %q: want as_of or year_start", where, t.AgeAt)
	}
	var err error
	if t.MinAge != "" {
		ct.hasMin = true
		if ct.minAge, err = ageBound(t.MinAge, false); err != nil {
			c.problem("%s: min_age: %v", where, err)
		}
	}
	if t.MaxAge != "" {
		ct.hasMax = true
		if ct.maxAge, err = ageBound(t.MaxAge, true); err != nil {
			c.problem("%s: max_age: %v", where, err)
		}
	}
	if ct.hasMin && ct.hasMax && ct.minAge > ct.maxAge {
		c.problem("%s: min_age %s is above max_age %s", where, t.MinAge, t.MaxAge)
	}
	for i, tr := range t.Triggers {
		ct.triggers = append(ct.triggers, c.crit(fmt.Sprintf("%s trigger %d", where, i), tr))
	}
	for i, rq := range t.Requires {
		ct.requires = append(ct.requires, c.crit(fmt.Sprintf("%s requires %d", where, i), rq))
	}
	if u := t.UnknownTrigger; u != nil {
		if len(t.Triggers) == 0 {
			c.problem("%s: unknown_trigger without triggers", where)
		}
		if u.Missing == "" {
			c.problem("%s: unknown_trigger: missing names no fact", where)
		}
		if len(u.KnownIf) == 0 {
			c.problem("%s: unknown_trigger: no known_if criteria", where)
		}
		for i, k := range u.KnownIf {
			ct.knownIf = append(ct.knownIf, c.crit(fmt.Sprintf("%s unknown_trigger known_if %d", where, i), k))
		}
	}
	if len(t.Evidence) == 0 {
		c.problem("%s: no evidence rules", where)
	}
	ruleIDs := map[string]bool{}
	for i, r := range t.Evidence {
		w := fmt.Sprintf("%s evidence %q", where, r.ID)
		if r.ID == "" {
			w = fmt.Sprintf("%s evidence %d", where, i)
			c.problem("%s: missing id", w)
		}
		if ruleIDs[r.ID] {
			c.problem("%s: duplicate id", w)
		}
		ruleIDs[r.ID] = true
		if r.Name == "" {
			c.problem("%s: missing name", w)
		}
		c.period(w+" interval", r.Interval)
		ce := cevidence{rule: r, crit: c.crit(w, r.Criterion)}
		for j, wc := range r.With {
			ce.with = append(ce.with, c.crit(fmt.Sprintf("%s with %d", w, j), wc))
		}
		if r.RenewsOn != "" {
			md, err := time.Parse("01-02", r.RenewsOn)
			switch {
			case err != nil || len(r.RenewsOn) != 5:
				c.problem("%s: renews_on %q: want MM-DD", w, r.RenewsOn)
			case md.Month() == time.February && md.Day() == 29:
				c.problem("%s: renews_on %q: 29 February is not in every year", w, r.RenewsOn)
			default:
				ce.renewMonth, ce.renewDay = md.Month(), md.Day()
			}
			if !r.Interval.IsZero() {
				c.problem("%s: both interval and renews_on", w)
			}
		}
		c.period(w+" min_spacing", r.MinSpacing)
		switch {
		case r.Doses < 0:
			c.problem("%s: negative doses %d", w, r.Doses)
		case r.Doses > 1 && len(r.With) > 0:
			c.problem("%s: a series (doses) cannot also need companion tests (with)", w)
		case r.Doses <= 1 && !r.MinSpacing.IsZero():
			c.problem("%s: min_spacing without a series (doses above 1)", w)
		}
		ct.evidence = append(ct.evidence, ce)
	}
	for _, id := range t.ExcludeIf {
		ex, ok := c.shared[id]
		if !ok {
			c.problem("%s: exclude_if %q: no such shared exclusion", where, id)
			continue
		}
		ct.exclusions = append(ct.exclusions, ex)
	}
	for _, ex := range t.Exclusions {
		ct.exclusions = append(ct.exclusions, c.exclusion(fmt.Sprintf("%s exclusion %q", where, ex.ID), ex))
	}
	ct.dueSoon = t.DueSoon
	if ct.dueSoon.IsZero() {
		ct.dueSoon = chart.Period{N: 30, Unit: chart.Days}
	}
	ct.grace = t.Grace
	if ct.grace.IsZero() {
		ct.grace = chart.Period{N: 3, Unit: chart.Months}
	}
	c.period(where+" due_soon", t.DueSoon)
	c.period(where+" grace", t.Grace)
	return ct
}

func (c *compiler) period(where string, p chart.Period) {
	if p.N < 0 {
		c.problem("%s: negative period %d", where, p.N)
	}
	switch p.Unit {
	case 0, chart.Days, chart.Weeks, chart.Months, chart.Years:
	default:
		c.problem("%s: unknown unit %q", where, string(p.Unit))
	}
}

func (c *compiler) exclusion(where string, ex Exclusion) *cexclusion {
	ce := &cexclusion{Exclusion: ex}
	if ex.Name == "" {
		c.problem("%s: missing name", where)
	}
	if ex.MinAge != "" {
		ce.hasMinAge = true
		var err error
		if ce.minAge, err = ageBound(ex.MinAge, false); err != nil {
			c.problem("%s: min_age: %v", where, err)
		}
	}
	groups := ex.All
	if len(ex.Any) > 0 {
		groups = append([]Group{{Any: ex.Any}}, groups...)
	}
	if len(groups) == 0 {
		c.problem("%s: no criteria", where)
	}
	for gi, g := range groups {
		if len(g.Any) == 0 {
			c.problem("%s group %d: empty", where, gi)
		}
		var cg []*ccrit
		for i, cr := range g.Any {
			cg = append(cg, c.crit(fmt.Sprintf("%s group %d criterion %d", where, gi, i), cr))
		}
		ce.groups = append(ce.groups, cg)
	}
	for i, cr := range ex.Unless {
		ce.unless = append(ce.unless, c.crit(fmt.Sprintf("%s unless %d", where, i), cr))
	}
	return ce
}

func (c *compiler) codes(where string, inline []chart.Code, sets []string) (codeSet, []chart.Code) {
	if len(inline) == 0 && len(sets) == 0 {
		return nil, nil
	}
	cs := codeSet{}
	var list []chart.Code
	add := func(code chart.Code) {
		if !chart.IsKnownSystem(code.System) {
			c.problem("%s: unknown code system %q", where, code.System)
			return
		}
		if _, ok := cs[code]; !ok {
			cs[code] = struct{}{}
			list = append(list, code)
		}
	}
	for _, code := range inline {
		add(code)
	}
	for _, name := range sets {
		set, ok := c.lib.CodeSets[name]
		if !ok {
			c.problem("%s: unknown code set %q", where, name)
			continue
		}
		for _, sys := range sortedKeys(set.Codes) {
			for _, code := range set.Codes[sys] {
				add(chart.Code{System: sys, Code: code})
			}
		}
	}
	return cs, list
}

func (c *compiler) crit(where string, cr Criterion) *ccrit {
	cc := &ccrit{
		kinds:          cr.Kinds,
		requireValue:   cr.RequireValue,
		statuses:       cr.Statuses,
		activeOnly:     cr.ActiveOnly,
		phrases:        NewPhraseMatcher(cr.Phrases...),
		within:         cr.Within,
		ytd:            cr.YearToDate,
		timing:         cr.Timing,
		followedWithin: cr.FollowedWithin,
		mostRecentOnly: cr.MostRecentOnly,
	}
	cc.codes, cc.codeList = c.codes(where, cr.Codes, cr.CodeSets)
	cc.values, _ = c.codes(where+" values", cr.ValueCodes, cr.ValueSets)
	cc.bodySites, _ = c.codes(where+" body sites", cr.BodySites, nil)
	cc.races, _ = c.codes(where+" races", cr.Races, nil)
	cc.valueAtLeast, cc.valueBelow = cr.ValueAtLeast, cr.ValueBelow
	if cr.ValueAtLeast != nil && cr.ValueBelow != nil && *cr.ValueAtLeast >= *cr.ValueBelow {
		c.problem("%s: value_at_least %g is not below value_below %g", where, *cr.ValueAtLeast, *cr.ValueBelow)
	}
	if (cr.ValueAtLeast != nil || cr.ValueBelow != nil) && cc.codes == nil {
		c.problem("%s: a numeric bound needs codes: documents have no values", where)
	}
	switch {
	case len(cr.CodeSets) > 0 && c.lib.CodeSets[cr.CodeSets[0]].Name != "":
		cc.label = c.lib.CodeSets[cr.CodeSets[0]].Name
	case len(cr.CodeSets) > 0:
		cc.label = cr.CodeSets[0]
	case len(cr.Phrases) > 0:
		cc.label = cr.Phrases[0]
	case len(cr.Codes) > 0:
		cc.label = cr.Codes[0].String()
	}
	if cc.codes == nil && cc.phrases.Empty() {
		c.problem("%s: needs codes, code sets or phrases", where)
	}
	for _, k := range cr.Kinds {
		if !slices.Contains(allKinds(), k) {
			c.problem("%s: unknown kind %q", where, k)
		}
	}
	switch cr.Timing {
	case "", TimingOverlaps, TimingStarts, TimingEnds:
	default:
		c.problem("%s: timing %q: want overlaps, starts or ends", where, cr.Timing)
	}
	if cr.YearToDate && !cr.Within.IsZero() {
		c.problem("%s: both within and year_to_date", where)
	}
	c.period(where+" within", cr.Within)
	var err error
	if cr.MinAgeAtEvent != "" {
		cc.hasMinAgeEv = true
		if cc.minAgeEv, err = ageBound(cr.MinAgeAtEvent, false); err != nil {
			c.problem("%s: min_age_at_event: %v", where, err)
		}
	}
	if cr.MaxAgeAtEvent != "" {
		cc.hasMaxAge = true
		if cc.maxAgeEv, err = ageBound(cr.MaxAgeAtEvent, true); err != nil {
			c.problem("%s: max_age_at_event: %v", where, err)
		}
	}
	for i, f := range cr.FollowedBy {
		cc.followedBy = append(cc.followedBy, c.crit(fmt.Sprintf("%s followed_by %d", where, i), f))
	}
	if len(cr.FollowedBy) > 0 && cr.FollowedWithin.IsZero() {
		c.problem("%s: followed_by needs followed_within", where)
	}
	return cc
}

func allKinds() []chart.Kind {
	return []chart.Kind{chart.Condition, chart.Procedure, chart.Observation, chart.Encounter, chart.Immunization,
		chart.Medication, chart.DeviceRequest, chart.ServiceRequest, chart.DiagnosticReport}
}

// checkGroups builds the variant groups and rejects variants of one group
// that could both apply with the same priority.
func (c *compiler) checkGroups(e *Engine) {
	byGroup := map[string][]int{}
	e.groups = make([][]int, len(e.types))
	for i, t := range e.types {
		if t.Group == "" {
			e.groups[i] = []int{i}
			continue
		}
		byGroup[t.Group] = append(byGroup[t.Group], i)
	}
	for _, g := range sortedKeys(byGroup) {
		members := byGroup[g]
		for _, i := range members {
			e.groups[i] = members
		}
		for x := 0; x < len(members); x++ {
			for y := x + 1; y < len(members); y++ {
				a, b := e.types[members[x]], e.types[members[y]]
				if a.Priority == b.Priority && agesOverlap(a, b) && sexesOverlap(a.Sexes, b.Sexes) {
					c.problem("group %q: variants %q and %q overlap with the same priority %d; give the more specific one a higher priority",
						g, a.ID, b.ID, a.Priority)
				}
			}
		}
	}
}

func agesOverlap(a, b *ctype) bool {
	lo := func(t *ctype) int {
		if t.hasMin {
			return t.minAge
		}
		return 0
	}
	hi := func(t *ctype) int {
		if t.hasMax {
			return t.maxAge
		}
		return 1 << 30
	}
	return lo(a) <= hi(b) && lo(b) <= hi(a)
}

func sexesOverlap(a, b []chart.Sex) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, s := range a {
		if slices.Contains(b, s) {
			return true
		}
	}
	return false
}

// Version returns the library version the engine was compiled from.
func (e *Engine) Version() string { return e.version }

// Types returns the screening types in library order.
func (e *Engine) Types() []Type {
	out := make([]Type, len(e.types))
	for i, t := range e.types {
		out[i] = t.Type
	}
	return out
}

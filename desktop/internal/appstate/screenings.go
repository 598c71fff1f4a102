package appstate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// ScreeningSettings is where the organisation's changes to the screening
// library are kept.
type ScreeningSettings interface {
	// ScreeningConfig returns the library and the organisation's changes.
	ScreeningConfig(ctx context.Context) (ScreeningConfig, error)
	// SaveScreeningSettings stores validated changes.
	SaveScreeningSettings(ctx context.Context, org preset.OrgSettings) error
}

// ScreeningConfig is a screening library with an organisation's changes
// (enabled types, ages, intervals). Its methods return changed copies; the
// receiver is never modified.
type ScreeningConfig struct {
	Base screening.Library
	Org  preset.OrgSettings
}

// ScreeningRow is one type in the screening list.
type ScreeningRow struct {
	ID      string
	Name    string
	Enabled bool
	Changed bool // the organisation changed ages or intervals
	Summary string
}

// Rows lists every type of the library with whether the organisation uses
// it.
func (c ScreeningConfig) Rows() []ScreeningRow {
	eff := c.effectiveTypes()
	rows := make([]ScreeningRow, 0, len(c.Base.Types))
	for _, t := range c.Base.Types {
		r := ScreeningRow{ID: t.ID, Name: t.Name, Enabled: !slices.Contains(c.Org.Disabled, t.ID)}
		_, r.Changed = c.Org.Types[t.ID]
		r.Summary = summary(eff[t.ID])
		if !r.Enabled {
			r.Summary = "Not used by this organisation"
		}
		rows = append(rows, r)
	}
	return rows
}

// effectiveTypes applies the settings type by type, ignoring errors (for
// display: a saved configuration is valid).
func (c ScreeningConfig) effectiveTypes() map[string]screening.Type {
	out := map[string]screening.Type{}
	for _, t := range c.Base.Types {
		s, ok := c.Org.Types[t.ID]
		if ok {
			t = applyType(t, s)
		}
		out[t.ID] = t
	}
	return out
}

func applyType(t screening.Type, s preset.TypeSettings) screening.Type {
	t.Evidence = slices.Clone(t.Evidence)
	if s.MinAge != "" {
		t.MinAge = s.MinAge
	}
	if s.MaxAge != "" {
		t.MaxAge = s.MaxAge
	}
	if !s.DueSoon.IsZero() {
		t.DueSoon = s.DueSoon
	}
	if !s.Grace.IsZero() {
		t.Grace = s.Grace
	}
	for i, r := range t.Evidence {
		if p, ok := s.Intervals[r.ID]; ok {
			t.Evidence[i].Interval = p
		}
	}
	return t
}

// summary is "Ages 50y–74y · every 2y (mammogram)".
func summary(t screening.Type) string {
	var parts []string
	switch {
	case t.MinAge != "" && t.MaxAge != "":
		parts = append(parts, "Ages "+t.MinAge+"–"+t.MaxAge)
	case t.MinAge != "":
		parts = append(parts, "From age "+t.MinAge)
	case t.MaxAge != "":
		parts = append(parts, "Up to age "+t.MaxAge)
	}
	var ev []string
	for _, r := range t.Evidence {
		if !r.Interval.IsZero() {
			ev = append(ev, "every "+r.Interval.String()+" ("+strings.ToLower(r.Name)+")")
		}
	}
	if len(ev) > 2 {
		ev = append(ev[:2], "...")
	}
	if len(ev) > 0 {
		parts = append(parts, strings.Join(ev, ", "))
	}
	return strings.Join(parts, " · ")
}

// Effective returns the library the organisation's workstations would
// use, validated by the shared preset rules.
func (c ScreeningConfig) Effective() (screening.Library, error) {
	return preset.Apply(c.Base, c.Org)
}

// SetEnabled turns a type on or off.
func (c ScreeningConfig) SetEnabled(id string, on bool) (ScreeningConfig, error) {
	if !slices.ContainsFunc(c.Base.Types, func(t screening.Type) bool { return t.ID == id }) {
		return c, fmt.Errorf("screening type %q: %w", id, ErrNotFound)
	}
	out := c.clone()
	out.Org.Disabled = slices.DeleteFunc(out.Org.Disabled, func(s string) bool { return s == id })
	if !on {
		out.Org.Disabled = append(out.Org.Disabled, id)
		slices.Sort(out.Org.Disabled)
	}
	if _, err := out.Effective(); err != nil {
		return c, &RefusedError{Message: validationText(err)}
	}
	return out, nil
}

func (c ScreeningConfig) clone() ScreeningConfig {
	out := c
	out.Org.Disabled = slices.Clone(c.Org.Disabled)
	out.Org.Types = maps.Clone(c.Org.Types)
	out.Org.Added = slices.Clone(c.Org.Added)
	return out
}

// TypeForm is the screening editor's form for one type, as typed: ages
// like "50y" or "74y11m", periods like "2y", "6m", "30d".
type TypeForm struct {
	ID      string
	Name    string // shown, not edited
	MinAge  string
	MaxAge  string
	DueSoon string
	Grace   string
	// Rules are the evidence rules, in the library's order.
	Rules []RuleField
}

// RuleField is one evidence rule's interval on the form.
type RuleField struct {
	ID, Name string
	Interval string // "" for a rule without one (lifetime, doses)
}

// Form returns the form of type id with the effective values.
func (c ScreeningConfig) Form(id string) (TypeForm, error) {
	t, ok := c.effectiveTypes()[id]
	if !ok {
		return TypeForm{}, fmt.Errorf("screening type %q: %w", id, ErrNotFound)
	}
	f := TypeForm{ID: id, Name: t.Name, MinAge: t.MinAge, MaxAge: t.MaxAge, DueSoon: t.DueSoon.String(), Grace: t.Grace.String()}
	for _, r := range t.Evidence {
		f.Rules = append(f.Rules, RuleField{ID: r.ID, Name: r.Name, Interval: r.Interval.String()})
	}
	return f, nil
}

// WithForm returns the configuration with the form's values for its type.
// It fails with a *FormError naming each bad field ("min_age", "max_age",
// "due_soon", "grace", "rule:<id>", and "type" for what the shared preset
// rules refuse as a whole, such as a minimum age above the maximum).
func (c ScreeningConfig) WithForm(f TypeForm) (ScreeningConfig, error) {
	var base screening.Type
	i := slices.IndexFunc(c.Base.Types, func(t screening.Type) bool { return t.ID == f.ID })
	if i < 0 {
		return c, fmt.Errorf("screening type %q: %w", f.ID, ErrNotFound)
	}
	base = c.Base.Types[i]
	errs := collect{}
	var s preset.TypeSettings
	age := func(field, v, libV string) string {
		v = strings.TrimSpace(v)
		if v == "" || v == libV {
			return ""
		}
		if _, err := parseAge(v); err != nil {
			errs.add(field, "Write an age like 50y or 74y11m.")
		}
		return v
	}
	s.MinAge = age("min_age", f.MinAge, base.MinAge)
	s.MaxAge = age("max_age", f.MaxAge, base.MaxAge)
	period := func(field, v string, libV chart.Period, msg string) chart.Period {
		v = strings.TrimSpace(v)
		if v == "" {
			return chart.Period{}
		}
		p, err := chart.ParsePeriod(v)
		switch {
		case err != nil:
			errs.add(field, msg)
		case p.IsZero():
			errs.add(field, "Must be longer than zero.")
		case p == libV:
			return chart.Period{}
		}
		return p
	}
	s.DueSoon = period("due_soon", f.DueSoon, base.DueSoon, "Write a period like 30d, 6w or 2m.")
	s.Grace = period("grace", f.Grace, base.Grace, "Write a period like 3m or 90d.")
	for _, rf := range f.Rules {
		j := slices.IndexFunc(base.Evidence, func(r screening.EvidenceRule) bool { return r.ID == rf.ID })
		if j < 0 {
			errs.add("rule:"+rf.ID, "This rule is not in the library.")
			continue
		}
		lib := base.Evidence[j].Interval
		if strings.TrimSpace(rf.Interval) == "" {
			if !lib.IsZero() {
				errs.add("rule:"+rf.ID, "Enter an interval like 2y or 6m.")
			}
			continue
		}
		if lib.IsZero() {
			errs.add("rule:"+rf.ID, "This rule has no interval (it counts once or by doses).")
			continue
		}
		if p := period("rule:"+rf.ID, rf.Interval, lib, "Write an interval like 2y, 18m or 90d."); !p.IsZero() {
			if s.Intervals == nil {
				s.Intervals = map[string]chart.Period{}
			}
			s.Intervals[rf.ID] = p
		}
	}
	if err := errs.err(); err != nil {
		return c, err
	}
	out := c.clone()
	if out.Org.Types == nil {
		out.Org.Types = map[string]preset.TypeSettings{}
	}
	if s.MinAge == "" && s.MaxAge == "" && s.DueSoon.IsZero() && s.Grace.IsZero() && len(s.Intervals) == 0 {
		delete(out.Org.Types, f.ID)
	} else {
		out.Org.Types[f.ID] = s
	}
	if len(out.Org.Types) == 0 {
		out.Org.Types = nil
	}
	if _, err := out.Effective(); err != nil {
		return c, &FormError{Fields: map[string]string{"type": validationText(err)}}
	}
	return out, nil
}

// parseAge accepts "50y", "6m", "74y11m".
func parseAge(s string) (chart.Age, error) {
	var a chart.Age
	rest := s
	if i := strings.IndexByte(rest, 'y'); i > 0 {
		if _, err := fmt.Sscanf(rest[:i], "%d", &a.Years); err != nil {
			return a, err
		}
		rest = rest[i+1:]
	}
	if rest != "" {
		if !strings.HasSuffix(rest, "m") {
			return a, fmt.Errorf("bad age %q", s)
		}
		if _, err := fmt.Sscanf(strings.TrimSuffix(rest, "m"), "%d", &a.Months); err != nil {
			return a, err
		}
	}
	if s == "" || a.Years < 0 || a.Months < 0 || a.Years > 130 || strings.ContainsAny(s, " +-") {
		return a, fmt.Errorf("bad age %q", s)
	}
	return a, nil
}

// validationText turns the shared rules' validation error into one
// sentence for the editor (the library's own words, without the wrapping
// prefixes).
func validationText(err error) string {
	msg := err.Error()
	for _, p := range []string{"org settings: ", "presets: ", "decoding presets: ", "screening: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return "The screening library refuses this: " + msg
}

// ExportSettings encodes the organisation's changes as JSON (the format
// ImportSettings reads).
func (c ScreeningConfig) ExportSettings() ([]byte, error) {
	b, err := json.MarshalIndent(c.Org, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("exporting screening settings: %w", err)
	}
	return append(b, '\n'), nil
}

// ImportSettings replaces the organisation's changes with those in data,
// after checking them with the shared preset rules. On error c is
// unchanged and the error says what is wrong in a sentence.
func (c ScreeningConfig) ImportSettings(data []byte) (ScreeningConfig, error) {
	var org preset.OrgSettings
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&org); err != nil {
		return c, &RefusedError{Message: "This file is not a HealthPrep screening settings export (" + jsonProblem(err) + ")"}
	}
	out := ScreeningConfig{Base: c.Base, Org: org}
	if _, err := out.Effective(); err != nil {
		return c, &RefusedError{Message: validationText(err)}
	}
	return out, nil
}

func jsonProblem(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	if len(msg) > 120 {
		msg = msg[:120] + "..."
	}
	return msg
}

// Preview is a screening's result on a sample patient with the saved
// settings and with the edited ones.
type Preview struct {
	Patient string
	Saved   screening.Result
	Edited  screening.Result
}

// Changed reports whether the edit changes the sample's result.
func (p Preview) Changed() bool {
	return p.Saved.Status != p.Edited.Status || p.Saved.NextDue != p.Edited.NextDue
}

// ResultText is a result in one line: "! Due · next due 2025-03-01 ·
// reason".
func ResultText(r screening.Result) string {
	if r.ID == "" {
		return "Not evaluated (turned off)"
	}
	s := prepsheet.StatusSymbol(r.Status) + " " + prepsheet.StatusLabel(r.Status)
	if !r.NextDue.IsZero() {
		s += " · next due " + r.NextDue.String()
	}
	return s + " · " + r.Reason
}

// PreviewType evaluates type id on rec at asOf with the saved and the
// edited configuration. A type turned off yields a zero Result.
func PreviewType(saved, edited ScreeningConfig, id string, rec chart.Record, asOf chart.Date) (Preview, error) {
	p := Preview{Patient: rec.Patient.Name}
	for _, side := range []struct {
		c   ScreeningConfig
		out *screening.Result
	}{{saved, &p.Saved}, {edited, &p.Edited}} {
		lib, err := side.c.Effective()
		if err != nil {
			return p, &RefusedError{Message: validationText(err)}
		}
		eng, err := screening.Compile(lib)
		if err != nil {
			return p, &RefusedError{Message: validationText(err)}
		}
		for _, r := range eng.Evaluate(rec, asOf, nil) {
			if r.ID == id {
				*side.out = r
			}
		}
	}
	return p, nil
}

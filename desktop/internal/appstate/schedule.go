package appstate

import (
	"slices"
	"strings"
	"unicode"
)

// AllProviders and AllLocations are the filter values that keep every row.
const (
	AllProviders = "All providers"
	AllLocations = "All locations"
)

// Filter narrows a day's rows: by provider, by location, and by a search
// query matching the patient's name (every word of the query starts a word
// of the name, in any order, ignoring case) or MRN (the query's digits and
// letters as a prefix of the MRN's).
type Filter struct {
	Provider string // "" or AllProviders: any
	Location string // "" or AllLocations: any
	Query    string
}

// Apply returns the rows of d that pass f, in schedule order.
func (f Filter) Apply(rows []Row) []Row {
	q := words(f.Query)
	mrnq := compact(f.Query)
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		if f.Provider != "" && f.Provider != AllProviders && r.Provider != f.Provider {
			continue
		}
		if f.Location != "" && f.Location != AllLocations && r.Location != f.Location {
			continue
		}
		if len(q) > 0 && !nameMatches(words(r.Name), q) && !(mrnq != "" && strings.HasPrefix(compact(r.MRN), mrnq)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// Providers returns the filter choices for providers: AllProviders, then
// every provider on the day, sorted.
func (d Day) Providers() []string {
	return choices(d.Rows, AllProviders, func(r Row) string { return r.Provider })
}

// Locations returns the filter choices for locations (see Providers).
func (d Day) Locations() []string {
	return choices(d.Rows, AllLocations, func(r Row) string { return r.Location })
}

func choices(rows []Row, all string, field func(Row) string) []string {
	var vals []string
	for _, r := range rows {
		if v := field(r); v != "" {
			vals = append(vals, v)
		}
	}
	slices.Sort(vals)
	return append([]string{all}, slices.Compact(vals)...)
}

// nameMatches reports whether every query word starts some word of the
// name.
func nameMatches(name, query []string) bool {
	for _, q := range query {
		if !slices.ContainsFunc(name, func(w string) bool { return strings.HasPrefix(w, q) }) {
			return false
		}
	}
	return true
}

// words splits s into lower-case words of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// compact keeps the lower-case letters and digits of s.
func compact(s string) string {
	return strings.Join(words(s), "")
}

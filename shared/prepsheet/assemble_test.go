package prepsheet_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests' zones do not depend on the machine

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/prepsheettest"
	"healthprep.dev/shared/screening"
)

func chicago(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatalf("loading zone: %v", err)
	}
	return loc
}

func d(y int, m time.Month, day int) chart.Date { return chart.D(y, m, day) }

func assemble(t *testing.T, in prepsheet.Input) prepsheet.Sheet {
	t.Helper()
	s, err := prepsheet.Assemble(in)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	return s
}

// noon returns midday UTC on day, an instant whose UTC date is day.
func noon(day chart.Date) time.Time { return day.Time().Add(12 * time.Hour) }

func TestLookbackWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		asOf     chart.Date
		lookback prepsheet.Lookback
		entry    prepsheet.Entry
		listed   bool
		since    chart.Date
	}{
		{"lab exactly 12 months back is listed", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2024, 3, 14)}, true, d(2024, 3, 14)},
		{"lab one day outside is not", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2024, 3, 13)}, false, d(2024, 3, 14)},
		{"lab on the as-of date is listed", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2025, 3, 14)}, true, d(2024, 3, 14)},
		{"lab after the as-of date is not", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2025, 3, 15)}, false, d(2024, 3, 14)},
		{"imaging exactly 24 months back is listed", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Imaging, Date: d(2023, 3, 14)}, true, d(2023, 3, 14)},
		{"imaging one day outside 24 months is not", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Imaging, Date: d(2023, 3, 13)}, false, d(2023, 3, 14)},
		{"consult at the 12-month edge", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Consult, Date: d(2024, 3, 14)}, true, d(2024, 3, 14)},
		{"document one day outside", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Document, Date: d(2024, 3, 13)}, false, d(2024, 3, 14)},
		{"hospital stay that ended inside the window is listed", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Hospital, Date: d(2024, 3, 1), End: d(2024, 3, 14)}, true, d(2024, 3, 14)},
		{"hospital stay that ended one day outside is not", d(2025, 3, 14), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Hospital, Date: d(2024, 3, 1), End: d(2024, 3, 13)}, false, d(2024, 3, 14)},
		{"org window of 6 months: edge listed", d(2025, 3, 14), prepsheet.Lookback{LabsMonths: 6},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2024, 9, 14)}, true, d(2024, 9, 14)},
		{"org window of 6 months: one day outside", d(2025, 3, 14), prepsheet.Lookback{LabsMonths: 6},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2024, 9, 13)}, false, d(2024, 9, 14)},
		{"month end clamps: 1 month before 31 March is 28 February", d(2025, 3, 31), prepsheet.Lookback{LabsMonths: 1},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2025, 2, 28)}, true, d(2025, 2, 28)},
		{"month end clamps: 27 February is outside", d(2025, 3, 31), prepsheet.Lookback{LabsMonths: 1},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2025, 2, 27)}, false, d(2025, 2, 28)},
		{"leap day: 12 months before 2024-02-29 is 2023-02-28", d(2024, 2, 29), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2023, 2, 28)}, true, d(2023, 2, 28)},
		{"leap day: 2023-02-27 is outside", d(2024, 2, 29), prepsheet.Lookback{},
			prepsheet.Entry{Category: prepsheet.Lab, Date: d(2023, 2, 27)}, false, d(2023, 2, 28)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.entry.Title, tt.entry.Ref = "entry", "Observation/1"
			s := assemble(t, prepsheet.Input{AsOf: noon(tt.asOf), Lookback: tt.lookback, Entries: []prepsheet.Entry{tt.entry}})
			for _, sec := range s.Sections() {
				want := 0
				if sec.Category == tt.entry.Category && tt.listed {
					want = 1
				}
				if got := len(sec.Entries); got != want {
					t.Errorf("section %s lists %d entries, want %d", sec.Category, got, want)
				}
				if sec.Category == tt.entry.Category && sec.Since != tt.since {
					t.Errorf("section %s since %s, want %s", sec.Category, sec.Since, tt.since)
				}
			}
		})
	}
}

func TestDefaultLookbackMonths(t *testing.T) {
	t.Parallel()
	s := assemble(t, prepsheet.Input{AsOf: noon(d(2025, 3, 14))})
	want := map[prepsheet.Category]int{prepsheet.Lab: 12, prepsheet.Imaging: 24, prepsheet.Consult: 12, prepsheet.Hospital: 12, prepsheet.Document: 12}
	for _, sec := range s.Sections() {
		if sec.Months != want[sec.Category] {
			t.Errorf("%s window is %d months, want %d", sec.Category, sec.Months, want[sec.Category])
		}
	}
}

func TestEmptySectionsSaySo(t *testing.T) {
	t.Parallel()
	s := assemble(t, prepsheet.Input{AsOf: noon(d(2025, 3, 14)), Lookback: prepsheet.Lookback{ConsultsMonths: 1}})
	want := map[prepsheet.Category]string{
		prepsheet.Lab:      "None in the last 12 months.",
		prepsheet.Imaging:  "None in the last 24 months.",
		prepsheet.Consult:  "None in the last month.",
		prepsheet.Hospital: "None in the last 12 months.",
		prepsheet.Document: "None in the last 12 months.",
	}
	for _, sec := range s.Sections() {
		if sec.EmptyText != want[sec.Category] {
			t.Errorf("%s empty text %q, want %q", sec.Category, sec.EmptyText, want[sec.Category])
		}
	}
	if got, want := s.Conditions.EmptyText, "None recorded."; got != want {
		t.Errorf("conditions empty text %q, want %q", got, want)
	}
	var b strings.Builder
	if err := prepsheet.WriteText(&b, &s); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(b.String(), w) {
			t.Errorf("text rendering lacks %q", w)
		}
	}
}

func TestSectionsNewestFirst(t *testing.T) {
	t.Parallel()
	s := assemble(t, prepsheettest.Typical(chicago(t)))
	var got []string
	for _, e := range s.Labs.Entries {
		got = append(got, e.Date.String())
	}
	want := []string{"2025-01-15", "2024-12-01", "2024-09-01", "2024-06-01", "2024-03-14"}
	if !slices.Equal(got, want) {
		t.Errorf("lab dates %v, want %v", got, want)
	}
	got = nil
	for _, e := range s.Hospital.Entries {
		got = append(got, e.Ref)
	}
	if want := []string{"Encounter/ed-2024-12", "Encounter/adm-2024-03"}; !slices.Equal(got, want) {
		t.Errorf("hospital refs %v, want %v", got, want)
	}
	if s.Documents.Undated != 1 {
		t.Errorf("documents undated = %d, want 1", s.Documents.Undated)
	}
	got = nil
	for _, c := range s.Conditions.Entries {
		got = append(got, c.Name)
	}
	if want := []string{"Type 2 diabetes mellitus", "Essential hypertension", "Hyperlipidemia"}; !slices.Equal(got, want) {
		t.Errorf("active conditions %v, want %v (newest onset first, unknown onset last, resolved and refuted left out)", got, want)
	}
}

func TestActiveConditions(t *testing.T) {
	t.Parallel()
	asOf := d(2025, 3, 14)
	tests := []struct {
		name   string
		item   chart.Item
		listed bool
	}{
		{"active, no end", chart.Item{Status: "active", Start: d(2020, 1, 1)}, true},
		{"no status, no end", chart.Item{Start: d(2020, 1, 1)}, true},
		{"recurrence", chart.Item{Status: "recurrence", Start: d(2020, 1, 1)}, true},
		{"resolved", chart.Item{Status: "resolved", Start: d(2020, 1, 1)}, false},
		{"inactive", chart.Item{Status: "inactive", Start: d(2020, 1, 1)}, false},
		{"ended on the as-of date", chart.Item{Status: "active", Start: d(2020, 1, 1), End: asOf}, false},
		{"ends after the as-of date", chart.Item{Status: "active", Start: d(2020, 1, 1), End: asOf.AddDays(1)}, true},
		{"begins after the as-of date", chart.Item{Status: "active", Start: asOf.AddDays(1)}, false},
		{"entered in error", chart.Item{Status: "active", Start: d(2020, 1, 1), NotDone: true}, false},
		{"not a condition", chart.Item{Kind: chart.Procedure, Status: "active", Start: d(2020, 1, 1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			it := tt.item
			if it.Kind == "" {
				it.Kind = chart.Condition
			}
			it.Text, it.Ref = "Condition X", "Condition/x"
			s := assemble(t, prepsheet.Input{AsOf: noon(asOf), Conditions: []chart.Item{it}})
			if got := len(s.Conditions.Entries) == 1; got != tt.listed {
				t.Errorf("listed = %v, want %v", got, tt.listed)
			}
		})
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	asOf := d(2025, 3, 14)
	tests := []struct {
		name  string
		birth chart.Date
		want  string
	}{
		{"birthday on the as-of date", d(1962, 3, 14), "63 years"},
		{"birthday tomorrow", d(1962, 3, 15), "62 years"},
		{"exactly two years", d(2023, 3, 14), "2 years"},
		{"one day short of two years", d(2023, 3, 15), "23 months"},
		{"eighteen months", d(2023, 9, 14), "18 months"},
		{"one month", d(2025, 2, 14), "1 month"},
		{"newborn", d(2025, 3, 10), "0 months"},
		{"born on a leap day, common-year birthday on 28 February", d(2024, 2, 29), "12 months"},
		{"unknown birth date", chart.Date{}, "unknown"},
		{"birth after the as-of date", d(2025, 3, 15), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := assemble(t, prepsheet.Input{AsOf: noon(asOf), Patient: chart.Patient{BirthDate: tt.birth}})
			if got := s.Header.Age.Label; got != tt.want {
				t.Errorf("age %q, want %q", got, tt.want)
			}
			if s.Header.Age.Known != (tt.want != "unknown") {
				t.Errorf("age known = %v for %q", s.Header.Age.Known, tt.want)
			}
		})
	}
	// 2026-02-28 is the leap-day child's second birthday in a common year.
	s := assemble(t, prepsheet.Input{AsOf: noon(d(2026, 2, 28)), Patient: chart.Patient{BirthDate: d(2024, 2, 29)}})
	if got, want := s.Header.Age.Label, "2 years"; got != want {
		t.Errorf("leap-day child on 2026-02-28: age %q, want %q", got, want)
	}
}

func TestAsOfIsTheDateInTheClinicsZone(t *testing.T) {
	t.Parallel()
	// 03:30 UTC on 15 March is still 14 March in Chicago.
	in := prepsheet.Input{AsOf: time.Date(2025, 3, 15, 3, 30, 0, 0, time.UTC), Location: chicago(t),
		Patient: chart.Patient{BirthDate: d(1962, 3, 15)},
		Entries: []prepsheet.Entry{{Category: prepsheet.Lab, Title: "x", Date: d(2024, 3, 14)}}}
	s := assemble(t, in)
	if got, want := s.AsOf, d(2025, 3, 14); got != want {
		t.Errorf("as-of %s, want %s", got, want)
	}
	if got, want := s.Header.Age.Label, "62 years"; got != want {
		t.Errorf("age %q, want %q (birthday is tomorrow in Chicago)", got, want)
	}
	if len(s.Labs.Entries) != 1 {
		t.Errorf("lab at the Chicago window edge not listed")
	}
	if got, want := s.TimeZone, "America/Chicago"; got != want {
		t.Errorf("time zone %q, want %q", got, want)
	}
	in.Location = nil
	if got, want := assemble(t, in).AsOf, d(2025, 3, 15); got != want {
		t.Errorf("without a zone (UTC) as-of %s, want %s", got, want)
	}
}

func TestScreeningOrder(t *testing.T) {
	t.Parallel()
	r := func(id string, st screening.Status, next chart.Date) screening.Result {
		return screening.Result{ID: id, Name: "Screening " + id, Status: st, NextDue: next}
	}
	results := []screening.Result{
		r("ne", screening.NotEligible, chart.Date{}),
		r("complete-late", screening.Complete, d(2026, 1, 1)),
		r("complete-once", screening.Complete, chart.Date{}),
		r("complete-early", screening.Complete, d(2025, 6, 1)),
		r("excl", screening.Excluded, chart.Date{}),
		r("cannot", screening.CannotEvaluate, chart.Date{}),
		r("soon", screening.DueSoon, d(2025, 4, 1)),
		r("due-dated", screening.Due, d(2025, 3, 1)),
		r("due-never", screening.Due, chart.Date{}),
		r("over-recent", screening.Overdue, d(2024, 1, 1)),
		r("over-old", screening.Overdue, d(2020, 1, 1)),
		{ID: "variant", Name: "General variant", Status: screening.Superseded, SupersededBy: "due-dated"},
	}
	s := assemble(t, prepsheet.Input{AsOf: noon(d(2025, 3, 14)), Screenings: results})
	var got []string
	for _, it := range s.Screenings {
		got = append(got, it.ID)
	}
	want := []string{"over-old", "over-recent", "due-never", "due-dated", "soon", "cannot", "complete-early", "complete-late", "complete-once", "excl", "ne"}
	if !slices.Equal(got, want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
	wantNotes := []prepsheet.SupersededNote{{ID: "variant", Name: "General variant", ByID: "due-dated", ByName: "Screening due-dated"}}
	if !reflect.DeepEqual(s.Superseded, wantNotes) {
		t.Errorf("superseded notes %+v, want %+v", s.Superseded, wantNotes)
	}
	var b strings.Builder
	if err := prepsheet.WriteText(&b, &s); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	if i := strings.Index(text, "General variant"); i < 0 || !strings.Contains(text[i-20:], "Not shown: General variant (superseded by Screening due-dated)") {
		t.Errorf("superseded variant should appear only in the footnote; text:\n%s", text)
	}
}

func TestEvidenceLines(t *testing.T) {
	t.Parallel()
	s := assemble(t, prepsheettest.Typical(chicago(t)))
	byID := map[string]prepsheet.ScreeningItem{}
	for _, it := range s.Screenings {
		byID[it.ID] = it
	}
	tests := []struct {
		id   string
		want string
	}{
		{"colorectal", "2013-02-01 Colonoscopy (CPT 45378) [Procedure/colo-2013]"},
		{"cervical", "2015-06-02 exclusion: Total hysterectomy (SNOMED 116140006) [Procedure/hyst-2015]"},
		{"depression", `2024-11-20 "PHQ-9" in Clinic note [DocumentReference/note-2024-11]`},
		{"a1c-diabetic", "2024-12-01 Hemoglobin A1c (LOINC 4548-4): 9.4 % [Observation/a1c-2024-12]"},
		{"tobacco", "2025-04-10 override (postponed): Dr. Priya Patel: patient request [override]"},
	}
	for _, tt := range tests {
		it, ok := byID[tt.id]
		if !ok || len(it.Evidence) == 0 {
			t.Errorf("%s: no evidence", tt.id)
			continue
		}
		if got := prepsheet.EvidenceText(it.Evidence[0]); got != tt.want {
			t.Errorf("%s: first evidence %q, want %q", tt.id, got, tt.want)
		}
	}
	if got := byID["colorectal"].Sources; !slices.Equal(got, []string{"USPSTF 2021 (CMS130)"}) {
		t.Errorf("colorectal sources %q", got)
	}
}

func TestAssembleIgnoresInputOrder(t *testing.T) {
	t.Parallel()
	in := prepsheettest.Typical(chicago(t))
	want := assemble(t, in)
	rev := in
	rev.Screenings = slices.Clone(in.Screenings)
	slices.Reverse(rev.Screenings)
	for i := range rev.Screenings {
		rev.Screenings[i].Evidence = slices.Clone(rev.Screenings[i].Evidence)
		slices.Reverse(rev.Screenings[i].Evidence)
	}
	rev.Conditions = slices.Clone(in.Conditions)
	slices.Reverse(rev.Conditions)
	rev.Entries = slices.Clone(in.Entries)
	slices.Reverse(rev.Entries)
	if got := assemble(t, rev); !reflect.DeepEqual(got, want) {
		t.Errorf("reversing the inputs changed the sheet:\n got %+v\nwant %+v", got, want)
	}
}

func TestAssembleRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*prepsheet.Input)
		want string
	}{
		{"no as-of time", func(in *prepsheet.Input) { in.AsOf = time.Time{} }, "as-of time is zero"},
		{"negative lookback", func(in *prepsheet.Input) { in.Lookback.ImagingMonths = -1 }, "imaging lookback is -1 months"},
		{"unknown category", func(in *prepsheet.Input) {
			in.Entries = append(in.Entries, prepsheet.Entry{Category: "radiology", Title: "x"})
		}, `unknown category "radiology"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := prepsheettest.Typical(chicago(t))
			tt.edit(&in)
			_, err := prepsheet.Assemble(in)
			if !errors.Is(err, prepsheet.ErrBadInput) {
				t.Fatalf("error %v, want ErrBadInput", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), in.Patient.Name) || strings.Contains(err.Error(), in.Patient.MRN) {
				t.Errorf("error %q carries PHI", err)
			}
		})
	}
}

func TestEntryFromItem(t *testing.T) {
	t.Parallel()
	it := chart.Item{Kind: chart.Observation, Ref: "Observation/1", Text: "Hemoglobin A1c", Start: d(2025, 1, 2), End: d(2025, 1, 2),
		Quantity: 9.4, Unit: "%", HasQuantity: true, Codes: []chart.Code{{System: chart.LOINC, Code: "4548-4"}}}
	got, ok := prepsheet.EntryFromItem(prepsheet.Lab, it)
	want := prepsheet.Entry{Category: prepsheet.Lab, Ref: "Observation/1", Date: d(2025, 1, 2), Title: "Hemoglobin A1c", Detail: "9.4 %"}
	if !ok || got != want {
		t.Errorf("EntryFromItem = %+v, %v; want %+v, true", got, ok, want)
	}
	it.NotDone = true
	if _, ok := prepsheet.EntryFromItem(prepsheet.Lab, it); ok {
		t.Errorf("an item recorded as not done became an entry")
	}
	stay := chart.Item{Kind: chart.Encounter, Ref: "Encounter/2", Start: d(2025, 1, 2), End: d(2025, 1, 5),
		Codes: []chart.Code{{System: chart.SNOMED, Code: "183452005"}}}
	got, _ = prepsheet.EntryFromItem(prepsheet.Hospital, stay)
	if got.End != d(2025, 1, 5) || got.Title != "SNOMED 183452005" {
		t.Errorf("stay entry %+v: want end 2025-01-05 and the code as title", got)
	}
}

func TestWrap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"one two three", 7, []string{"one two", "three"}},
		{"Núñez-Øverby Zoë", 12, []string{"Núñez-Øverby", "Zoë"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"a\nb", 10, []string{"a", "b"}},
		{"  two  spaces ", 20, []string{"two spaces"}},
		{"tab\there", 20, []string{"tab here"}},
		{"short line", 20, []string{"short line"}},
	}
	for _, tt := range tests {
		if got := prepsheet.Wrap(tt.text, tt.width); !slices.Equal(got, tt.want) {
			t.Errorf("Wrap(%q, %d) = %q, want %q", tt.text, tt.width, got, tt.want)
		}
	}
}

func TestEvidenceLineFields(t *testing.T) {
	t.Parallel()
	loc := chicago(t)
	a1c := 9.4
	// The clinic note's pages are separated by form feeds: page 1 says the
	// PHQ-9 was not done (negated, not the evidence), page 3 affirms it.
	note := chart.Document{Ref: "DocumentReference/note-2024-11", Title: "Clinic note", Date: d(2024, 11, 20),
		Text: "Page 1 of 3. PHQ-9 not done at intake.\fVitals reviewed, see page 1.\fPHQ-9 completed, score 4."}
	refusal := chart.Document{Ref: "DocumentReference/letter-7", Title: "Outside letter", Date: d(2024, 5, 2),
		Text: "Colonoscopy report attached.\fPatient declined colonoscopy."}
	tests := []struct {
		name string
		docs []chart.Document
		id   string // screening
		line int    // evidence line of the screening
		want prepsheet.EvidenceLine
	}{
		{"coded result with a value", nil, "a1c-diabetic", 0, prepsheet.EvidenceLine{
			Role: screening.RoleCompletion, Source: "Observation/a1c-2024-12", Date: d(2024, 12, 1),
			Description: "Hemoglobin A1c (LOINC 4548-4): 9.4 %", Kind: prepsheet.EvidenceCoded,
			ItemKind: chart.Observation, System: chart.LOINC, Code: "4548-4", Display: "Hemoglobin A1c", Value: &a1c, Unit: "%"}},
		{"coded exclusion", nil, "cervical", 0, prepsheet.EvidenceLine{
			Role: screening.RoleExclusion, Source: "Procedure/hyst-2015", Date: d(2015, 6, 2),
			Description: "exclusion: Total hysterectomy (SNOMED 116140006)", Kind: prepsheet.EvidenceCoded,
			ItemKind: chart.Procedure, System: chart.SNOMED, Code: "116140006", Display: "Total hysterectomy"}},
		{"document match on page 3", []chart.Document{refusal, note}, "depression", 0, prepsheet.EvidenceLine{
			Role: screening.RoleCompletion, Source: "DocumentReference/note-2024-11", Date: d(2024, 11, 20),
			Description: `"PHQ-9" in Clinic note`, Kind: prepsheet.EvidenceDocument,
			DocumentID: "note-2024-11", DocumentTitle: "Clinic note", Phrase: "PHQ-9", Page: 3}},
		{"document not given: page unknown", nil, "depression", 0, prepsheet.EvidenceLine{
			Role: screening.RoleCompletion, Source: "DocumentReference/note-2024-11", Date: d(2024, 11, 20),
			Description: `"PHQ-9" in Clinic note`, Kind: prepsheet.EvidenceDocument,
			DocumentID: "note-2024-11", DocumentTitle: "Clinic note", Phrase: "PHQ-9"}},
		{"phrase only in the title: page unknown", []chart.Document{{Ref: note.Ref, Title: "PHQ-9", Text: "Nothing here."}}, "depression", 0,
			prepsheet.EvidenceLine{Role: screening.RoleCompletion, Source: "DocumentReference/note-2024-11", Date: d(2024, 11, 20),
				Description: `"PHQ-9" in Clinic note`, Kind: prepsheet.EvidenceDocument,
				DocumentID: "note-2024-11", DocumentTitle: "Clinic note", Phrase: "PHQ-9"}},
		{"refusal: the refused mention's page", []chart.Document{refusal}, "colorectal", 0, prepsheet.EvidenceLine{
			Role: screening.RoleRefusal, Rule: "colonoscopy", Source: "DocumentReference/letter-7", Date: d(2024, 5, 2),
			Description: `refusal: "colonoscopy" in Outside letter`, Kind: prepsheet.EvidenceDocument,
			DocumentID: "letter-7", DocumentTitle: "Outside letter", Phrase: "colonoscopy", Page: 2}},
		{"override", nil, "tobacco", 0, prepsheet.EvidenceLine{
			Role: screening.RoleOverride, Rule: "postponed", Source: "override", Date: d(2025, 4, 10),
			Description: "override (postponed): Dr. Priya Patel: patient request", Kind: prepsheet.EvidenceOverride}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := prepsheettest.Typical(loc)
			in.Documents = tt.docs
			for i, r := range in.Screenings {
				if r.ID == "colorectal" {
					r.Evidence = append(slices.Clone(r.Evidence), screening.Evidence{Role: screening.RoleRefusal, Rule: "colonoscopy",
						Source: refusal.Ref, Document: refusal.Title, Phrase: "colonoscopy", Date: refusal.Date})
					in.Screenings[i] = r
				}
			}
			s := assemble(t, in)
			for _, it := range s.Screenings {
				if it.ID != tt.id {
					continue
				}
				if tt.line >= len(it.Evidence) {
					t.Fatalf("%s has %d evidence lines, want line %d", tt.id, len(it.Evidence), tt.line)
				}
				if got := it.Evidence[tt.line]; !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got  %+v\nwant %+v", got, tt.want)
				}
				return
			}
			t.Fatalf("no screening %s", tt.id)
		})
	}
}

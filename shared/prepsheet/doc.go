// Package prepsheet assembles and renders the prep sheet: the one page (or
// few) a clinic's staff read before a visit. A Sheet holds the patient
// header, the screening checklist from the screening engine ordered by
// urgency, the active conditions, and the recent labs, imaging, consults,
// hospital/ED visits and documents, each limited to the organisation's
// lookback window and listed newest first.
//
// Entries turns a chart record into the lookback entries, by a documented
// mapping table from FHIR categories, encounter classes and document types
// to sections (see Classify and ClassifyDocument), and NextAppointment
// picks the visit a sheet prepares for.
//
// Assemble is a pure function of its Input: the clock, the time zone and
// the organisation's settings are parameters, and the same input always
// gives the same Sheet. The Sheet itself is the structured rendering (JSON
// tagged, for the desktop UI and sync); WriteText renders fixed-width plain
// text, and the pdf subpackage a print-ready PDF.
//
// Lookback windows are calendar windows with an inclusive lower bound: with
// a 12-month window and an as-of date of 2025-03-14, an entry dated
// 2024-03-14 is listed and one dated 2024-03-13 is not. Month steps use the
// chart package's rule (clamped to the end of the month: 12 months before
// 2025-02-28 is 2024-02-28, and 1 month before 2025-03-31 is 2025-02-28).
// Entries dated after the as-of date are not listed (they are plans, not
// results), and undated entries are counted but not listed, so a sheet
// never pretends a section is empty when it is not.
package prepsheet

// Package screening decides, for one patient on one as-of date, which
// preventive screenings are complete, due soon, due, overdue, not eligible,
// excluded, cannot be evaluated, or superseded by a more specific variant —
// with the reason in a sentence, the evidence that decided it (chart item or
// document, code, date) and the guideline it follows.
//
// The rules are data: a Library of screening Types (eligibility by sex, age
// and trigger conditions; evidence rules each with its own interval;
// exclusions) and shared code sets. Compile validates a Library and turns it
// into an Engine; Engine.Evaluate is pure and deterministic: the result
// depends only on the record, the as-of date and the overrides given, not on
// the order of the record's items.
//
// Dates use chart.Date arithmetic: "next due" is the last completion plus
// the evidence rule's interval, with month and year steps clamped to the end
// of the month (2024-02-29 + 1y = 2025-02-28). A screening is due on its
// next-due date, due soon from DueSoon before it (default 30 days), and
// overdue once Grace has passed after it (default 3 months).
package screening

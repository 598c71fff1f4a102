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
//
// Never done is due, not overdue: "never screened" is not late — nothing
// on file says a screening was missed — while a completion that lapsed
// more than the grace period ago is overdue. The statuses are therefore
// not a strict ladder in the patient's coverage: adding an old record can
// turn due into overdue without the patient being any less covered. The
// ordering the engine guarantees (more evidence never makes a status
// worse) is excluded = complete > due_soon > due = overdue; due and
// overdue share a rank because both mean "act at this visit".
//
// Two evidence rules are not plain intervals. A seasonal rule (RenewsOn,
// e.g. influenza with "08-01") counts a completion until the first renewal
// date after it: a season runs 1 August to 31 July, a dose counts for the
// season that contains it and is due again from 1 August of the next. A
// series (Doses, MinSpacing, e.g. two RZV doses at least 8 weeks apart) is
// complete only on its last valid dose; a started series is due_soon until
// the next dose may be given, then due, then overdue.
//
// Eligibility can depend on a measured fact: a trigger may bound a numeric
// result (ValueAtLeast, e.g. BMI 25), read the patient's recorded race (a
// lower BMI threshold for Asian American adults), and, with UnknownTrigger,
// report cannot_evaluate naming the fact (e.g. "body mass index") when it
// is not on file rather than a silent not_eligible. Requires adds facts that
// must all be present as well as one trigger.
package screening

package screening

import (
	"healthprep.dev/shared/chart"
)

// Status is the outcome for one screening.
type Status string

// The statuses, from the prep sheet's point of view.
const (
	// Complete: done, and not due again for longer than the due-soon window.
	Complete Status = "complete"
	// DueSoon: done, next due within the due-soon window (or postponed).
	DueSoon Status = "due_soon"
	// Due: never done, or next-due date reached within the grace period.
	Due Status = "due"
	// Overdue: the grace period after the next-due date has passed.
	Overdue Status = "overdue"
	// NotEligible: the patient is outside the type's sex, age or triggers.
	NotEligible Status = "not_eligible"
	// Excluded: an exclusion (or a "not applicable" override) removes it.
	Excluded Status = "excluded"
	// CannotEvaluate: a fact the rule needs is missing (Result.Missing).
	CannotEvaluate Status = "cannot_evaluate"
	// Superseded: a more specific variant of the same group applies.
	Superseded Status = "superseded"
)

// Role says why an evidence item is listed.
type Role string

// The evidence roles.
const (
	RoleCompletion Role = "completion"
	RoleExclusion  Role = "exclusion"
	RoleTrigger    Role = "trigger"
	RoleRefusal    Role = "refusal"
	RoleNotDone    Role = "not_done"
	RoleOverride   Role = "override"
)

// Evidence is one chart item, document mention or override that decided
// (part of) a result.
type Evidence struct {
	Role Role `json:"role"`
	// Rule is the evidence rule, exclusion or trigger it matched.
	Rule string `json:"rule,omitempty"`
	// Source is the chart reference ("Procedure/abc", "DocumentReference/x")
	// or "override".
	Source string      `json:"source"`
	Kind   chart.Kind  `json:"kind,omitempty"`
	Code   *chart.Code `json:"code,omitempty"`
	// Document and Phrase are set for document mentions.
	Document string     `json:"document,omitempty"`
	Phrase   string     `json:"phrase,omitempty"`
	Date     chart.Date `json:"date"`
	Text     string     `json:"text,omitempty"`
	// Quantity is a numeric result (e.g. an A1c of 9.4 %), when there is one.
	Quantity *float64 `json:"quantity,omitempty"`
	Unit     string   `json:"unit,omitempty"`
}

// Result is the outcome of one screening type for one patient.
type Result struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Group  string `json:"group,omitempty"`
	Status Status `json:"status"`
	// LastDone is the date of the completion that decides the status; zero
	// when never done.
	LastDone chart.Date `json:"last_done"`
	// NextDue is when the screening is (or was) due next; zero when never
	// done (due now) or when it does not apply.
	NextDue chart.Date `json:"next_due"`
	// Reason is one plain sentence a clinician can read.
	Reason string `json:"reason"`
	// Missing names the fact a cannot_evaluate result lacks.
	Missing string `json:"missing,omitempty"`
	// SupersededBy is the ID of the variant that applies instead.
	SupersededBy string     `json:"superseded_by,omitempty"`
	Evidence     []Evidence `json:"evidence,omitempty"`
	Sources      []Source   `json:"sources"`
}

// OverrideKind is what a per-patient override says.
type OverrideKind string

// The override kinds.
const (
	// Postponed until Override.Date: shown as due_soon with that next-due date.
	Postponed OverrideKind = "postponed"
	// DoneElsewhere on Override.Date: counts as a completion.
	DoneElsewhere OverrideKind = "done_elsewhere"
	// RefusedByPatient: the status is kept (it is still due) and the
	// refusal is stated in the reason and evidence.
	RefusedByPatient OverrideKind = "refused"
	// NotApplicable: the screening is excluded for this patient.
	NotApplicable OverrideKind = "not_applicable"
	// CustomInterval: Override.Interval replaces every evidence interval.
	CustomInterval OverrideKind = "custom_interval"
)

// Override is a per-patient decision by a person, with who, when and why.
type Override struct {
	TypeID   string       `json:"type_id"`
	Kind     OverrideKind `json:"kind"`
	Date     chart.Date   `json:"date,omitzero"`
	Interval chart.Period `json:"interval,omitzero"`
	By       string       `json:"by"`
	At       chart.Date   `json:"at"`
	Why      string       `json:"why,omitempty"`
}

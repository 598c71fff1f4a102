package appstate

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

// Override is a person's decision about one screening of one patient, as
// the override dialog collects it.
type Override struct {
	PatientID     string
	AppointmentID string
	TypeID        string
	Kind          screening.OverrideKind
	// DateText is the date as typed (YYYY-MM-DD): the new due date of a
	// postponement, the date a screening was done elsewhere. Other kinds
	// take no date.
	DateText string
	Reason   string
}

// OverrideKinds returns the kinds a person can choose, in the dialog's
// order.
func OverrideKinds() []screening.OverrideKind {
	return []screening.OverrideKind{screening.Postponed, screening.DoneElsewhere, screening.RefusedByPatient, screening.NotApplicable}
}

// KindLabel is how the dialog names a kind.
func KindLabel(k screening.OverrideKind) string {
	switch k {
	case screening.Postponed:
		return "Postpone until"
	case screening.DoneElsewhere:
		return "Done elsewhere on"
	case screening.RefusedByPatient:
		return "Refused by patient"
	case screening.NotApplicable:
		return "Not applicable"
	}
	return string(k)
}

// NeedsDate reports whether kind k takes a date.
func NeedsDate(k screening.OverrideKind) bool {
	return k == screening.Postponed || k == screening.DoneElsewhere
}

// MaxReason is the longest reason accepted, in characters.
const MaxReason = 500

// MaxPostponeMonths is how far ahead a screening can be postponed.
const MaxPostponeMonths = 12

// ErrInvalidOverride matches every *OverrideError with errors.Is.
var ErrInvalidOverride = errors.New("invalid override")

// OverrideError says what is wrong with an Override, field by field, in
// sentences for the person who typed it.
type OverrideError struct {
	Kind, Date, Reason string
}

func (e *OverrideError) Error() string {
	var parts []string
	for _, s := range []string{e.Kind, e.Date, e.Reason} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// Is makes errors.Is(err, ErrInvalidOverride) true.
func (e *OverrideError) Is(target error) bool { return target == ErrInvalidOverride }

// Validate checks o against today's date (in the clinic's time zone) and
// returns the screening override to record, or an *OverrideError:
// a kind is required; a postponement needs a date after today and at most
// MaxPostponeMonths ahead; "done elsewhere" needs a date not after today; a
// reason of at most MaxReason characters is always required.
func (o Override) Validate(today chart.Date) (screening.Override, error) {
	var e OverrideError
	var date chart.Date
	switch {
	case o.Kind == "":
		e.Kind = "Choose what to record."
	case !validKind(o.Kind):
		e.Kind = "That kind of override is not offered."
	case NeedsDate(o.Kind):
		d, err := chart.ParseDate(strings.TrimSpace(o.DateText))
		switch {
		case strings.TrimSpace(o.DateText) == "":
			e.Date = "Enter a date (YYYY-MM-DD)."
		case err != nil:
			e.Date = "Enter the date as YYYY-MM-DD, for example " + today.AddDays(30).String() + "."
		case o.Kind == screening.Postponed && !d.After(today):
			e.Date = "A postponement needs a date after today."
		case o.Kind == screening.Postponed && d.After(today.AddMonths(MaxPostponeMonths)):
			e.Date = fmt.Sprintf("Postpone by at most %d months (until %s).", MaxPostponeMonths, today.AddMonths(MaxPostponeMonths))
		case o.Kind == screening.DoneElsewhere && d.After(today):
			e.Date = "The date it was done cannot be in the future."
		default:
			date = d
		}
	}
	reason := strings.TrimSpace(o.Reason)
	switch {
	case reason == "":
		e.Reason = "Give a reason."
	case utf8.RuneCountInString(reason) > MaxReason:
		e.Reason = fmt.Sprintf("Keep the reason under %d characters.", MaxReason)
	}
	if e != (OverrideError{}) {
		return screening.Override{}, &e
	}
	return screening.Override{TypeID: o.TypeID, Kind: o.Kind, Date: date, At: today, Why: reason}, nil
}

func validKind(k screening.OverrideKind) bool {
	for _, v := range OverrideKinds() {
		if v == k {
			return true
		}
	}
	return false
}

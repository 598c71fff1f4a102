package chart

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Date is a civil calendar date with no time of day and no time zone. The
// zero Date means "unknown" and reports IsZero.
type Date struct {
	// days counts days since 1970-01-01 plus dayBase, so that 0 is the zero value.
	days int32
}

const dayBase = 1 << 24 // about 45,000 years before 1970

// D returns the date year-month-day. Out-of-range days and months are
// normalised the way time.Date does (D(2025, 2, 30) is 2 March); use
// ParseDate for strict input.
func D(year int, month time.Month, day int) Date {
	t := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	return Date{days: int32(t.Unix()/86400) + dayBase}
}

// FromTime returns the calendar date of t in t's own location.
func FromTime(t time.Time) Date {
	y, m, d := t.Date()
	return D(y, m, d)
}

// ParseDate parses YYYY-MM-DD strictly.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("parsing date %q: want YYYY-MM-DD", s)
	}
	return FromTime(t), nil
}

// IsZero reports whether d is the zero (unknown) date.
func (d Date) IsZero() bool { return d.days == 0 }

// Time returns d as midnight UTC.
func (d Date) Time() time.Time {
	return time.Unix(int64(d.days-dayBase)*86400, 0).UTC()
}

// YMD returns the year, month and day of d.
func (d Date) YMD() (int, time.Month, int) { return d.Time().Date() }

// String formats d as YYYY-MM-DD, or "" for the zero date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format(time.DateOnly)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.days < e.days:
		return -1
	case d.days > e.days:
		return 1
	}
	return 0
}

// Before reports whether d is strictly before e.
func (d Date) Before(e Date) bool { return d.days < e.days }

// After reports whether d is strictly after e.
func (d Date) After(e Date) bool { return d.days > e.days }

// AddDays returns d moved by n days (n may be negative).
func (d Date) AddDays(n int) Date {
	if d.IsZero() {
		return d
	}
	return Date{days: d.days + int32(n)}
}

// DaysUntil returns the number of days from d to e (negative when e is before d).
func (d Date) DaysUntil(e Date) int { return int(e.days - d.days) }

// AddMonths returns d moved by n calendar months, keeping the day of the
// month and clamping it to the last day of the target month: 2024-01-31 + 1
// month is 2024-02-29, 2025-01-31 + 1 month is 2025-02-28.
func (d Date) AddMonths(n int) Date {
	if d.IsZero() {
		return d
	}
	y, m, day := d.YMD()
	total := y*12 + int(m) - 1 + n
	ty, tm := total/12, time.Month(total%12+1)
	if last := daysIn(ty, tm); day > last {
		day = last
	}
	return D(ty, tm, day)
}

// AddYears returns d moved by n years with the same clamping rule as
// AddMonths: 2024-02-29 + 1 year is 2025-02-28.
func (d Date) AddYears(n int) Date { return d.AddMonths(12 * n) }

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// MarshalText implements encoding.TextMarshaler (YYYY-MM-DD, or empty).
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Unit is the unit of a Period.
type Unit byte

// The units of a Period.
const (
	Days   Unit = 'd'
	Weeks  Unit = 'w'
	Months Unit = 'm'
	Years  Unit = 'y'
)

// Period is a calendar length such as 10 years, 27 months or 30 days. Months
// and years follow the clamping rule of Date.AddMonths. The zero Period is
// "no period".
type Period struct {
	N    int
	Unit Unit
}

// ErrBadPeriod is returned (wrapped) for malformed or negative periods.
var ErrBadPeriod = errors.New("bad period")

// ParsePeriod parses "10y", "27m", "2w" or "30d". Negative or unitless
// values are rejected.
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return Period{}, fmt.Errorf("%w %q: want a number and a unit (d, w, m or y)", ErrBadPeriod, s)
	}
	u := Unit(s[len(s)-1])
	switch u {
	case Days, Weeks, Months, Years:
	default:
		return Period{}, fmt.Errorf("%w %q: unknown unit %q (want d, w, m or y)", ErrBadPeriod, s, string(u))
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil {
		return Period{}, fmt.Errorf("%w %q: not a whole number", ErrBadPeriod, s)
	}
	if n < 0 {
		return Period{}, fmt.Errorf("%w %q: negative", ErrBadPeriod, s)
	}
	return Period{N: n, Unit: u}, nil
}

// IsZero reports whether p is the zero period.
func (p Period) IsZero() bool { return p.N == 0 }

// String formats p as it is parsed ("10y"), or "" for the zero period.
func (p Period) String() string {
	if p.IsZero() {
		return ""
	}
	return strconv.Itoa(p.N) + string(p.Unit)
}

// AddTo returns d moved forward by p.
func (p Period) AddTo(d Date) Date { return p.step(d, 1) }

// SubFrom returns d moved back by p.
func (p Period) SubFrom(d Date) Date { return p.step(d, -1) }

func (p Period) step(d Date, sign int) Date {
	switch p.Unit {
	case Days:
		return d.AddDays(sign * p.N)
	case Weeks:
		return d.AddDays(sign * 7 * p.N)
	case Months:
		return d.AddMonths(sign * p.N)
	case Years:
		return d.AddYears(sign * p.N)
	}
	return d
}

// MarshalText implements encoding.TextMarshaler.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Period) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = Period{}
		return nil
	}
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Age is a completed age in whole years and months.
type Age struct {
	Years, Months int
}

// InMonths returns the age as a number of whole months.
func (a Age) InMonths() int { return a.Years*12 + a.Months }

// AgeAt returns the completed age of someone born on birth at date on. A
// person born on 29 February has their birthday on 28 February in common
// years (the clamping rule of AddYears). It returns false when on is before
// birth or either date is unknown.
func AgeAt(birth, on Date) (Age, bool) {
	if birth.IsZero() || on.IsZero() || on.Before(birth) {
		return Age{}, false
	}
	by, bm, _ := birth.YMD()
	oy, om, _ := on.YMD()
	months := (oy-by)*12 + int(om-bm)
	if birth.AddMonths(months).After(on) {
		months--
	}
	return Age{Years: months / 12, Months: months % 12}, true
}

package chart

import (
	"testing"
	"time"
)

func TestAddMonthsClampsToMonthEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2024-01-31", 1, "2024-02-29"}, // leap year
		{"2025-01-31", 1, "2025-02-28"},
		{"2025-03-31", -1, "2025-02-28"},
		{"2025-08-31", 1, "2025-09-30"},
		{"2025-12-15", 1, "2026-01-15"},
		{"2025-01-15", -13, "2023-12-15"},
		{"2024-02-29", 12, "2025-02-28"}, // leap day + 1 year
		{"2024-02-29", 48, "2028-02-29"},
	}
	for _, tt := range tests {
		d, _ := ParseDate(tt.from)
		if got := d.AddMonths(tt.n).String(); got != tt.want {
			t.Errorf("%s + %d months = %s, want %s", tt.from, tt.n, got, tt.want)
		}
	}
}

func TestAgeAt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		birth, on string
		want      Age
		ok        bool
	}{
		{"1975-12-31", "2025-12-31", Age{50, 0}, true}, // birthday on the as-of date
		{"1975-12-31", "2025-12-30", Age{49, 11}, true},
		{"2000-02-29", "2025-02-28", Age{25, 0}, true}, // leap-day birthday in a common year
		{"2000-02-29", "2025-02-27", Age{24, 11}, true},
		{"2000-01-31", "2000-02-29", Age{0, 1}, true}, // month end
		{"2000-01-31", "2000-02-28", Age{0, 0}, true},
		{"2025-06-01", "2025-05-31", Age{}, false}, // not born yet
	}
	for _, tt := range tests {
		b, _ := ParseDate(tt.birth)
		o, _ := ParseDate(tt.on)
		got, ok := AgeAt(b, o)
		if got != tt.want || ok != tt.ok {
			t.Errorf("AgeAt(%s, %s) = %v, %v; want %v, %v", tt.birth, tt.on, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Period
		wantErr bool
	}{
		{"10y", Period{10, Years}, false},
		{"27m", Period{27, Months}, false},
		{"30d", Period{30, Days}, false},
		{"2w", Period{2, Weeks}, false},
		{"-1y", Period{}, true},
		{"5", Period{}, true},
		{"5x", Period{}, true},
		{"y", Period{}, true},
	}
	for _, tt := range tests {
		got, err := ParsePeriod(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDateRoundTripsFarDates(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0001-01-01", "1899-12-31", "1970-01-01", "2099-02-28", "9999-12-31"} {
		d, err := ParseDate(s)
		if err != nil || d.String() != s || d.IsZero() {
			t.Errorf("ParseDate(%q) = %v (%v), want it back", s, d, err)
		}
	}
	if got := FromTime(time.Date(2025, 1, 1, 23, 30, 0, 0, time.FixedZone("EST", -5*3600))); got.String() != "2025-01-01" {
		t.Errorf("FromTime keeps the written local date: got %s, want 2025-01-01", got)
	}
}

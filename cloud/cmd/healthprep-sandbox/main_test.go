package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := parse([]string{"-write-demo", dir, "-patients", "12", "-start", "2025-06-02", "-seed", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(cfg, &out); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "patients", "*.json"))
	if len(files) != 12 || !strings.Contains(out.String(), "wrote 12 patients and 12 appointments") {
		t.Errorf("%d patient files, output %q; want 12 and a summary", len(files), out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "schedule.json")); err != nil {
		t.Error(err)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-start", "June"}, "-start must be YYYY-MM-DD"},
		{[]string{"-backend-client-id", "x"}, "-backend-client-id and -backend-jwks-url go together"},
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"-tz", "Mars/Olympus_Mons"}, `-tz "Mars/Olympus_Mons" is not an IANA time zone such as America/New_York`},
	} {
		if _, err := parse(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%v) = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestDemoScheduleInClinicZone: with -tz the demo clinic's visits are
// booked 08:00–16:30 on the clinic's clock, whatever this machine's zone,
// starting on -start's date there.
func TestDemoScheduleInClinicZone(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"America/New_York", "Asia/Kolkata", "UTC"} {
		t.Run(zone, func(t *testing.T) {
			t.Parallel()
			loc, err := time.LoadLocation(zone)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cfg, err := parse([]string{"-write-demo", dir, "-patients", "30", "-start", "2025-06-02", "-tz", zone}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if err := run(cfg, io.Discard); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "schedule.json"))
			if err != nil {
				t.Fatal(err)
			}
			var bundle struct {
				Entry []struct {
					Resource struct{ ResourceType, Start, End string }
				}
			}
			if err := json.Unmarshal(b, &bundle); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range bundle.Entry {
				if e.Resource.ResourceType != "Appointment" {
					continue
				}
				n++
				start, err1 := time.Parse(time.RFC3339, e.Resource.Start)
				end, err2 := time.Parse(time.RFC3339, e.Resource.End)
				if err1 != nil || err2 != nil {
					t.Fatalf("appointment %s–%s: %v %v", e.Resource.Start, e.Resource.End, err1, err2)
				}
				s, f := start.In(loc), end.In(loc)
				if s.Hour() < 8 || f.Hour()*60+f.Minute() > 16*60+30 || s.Format(time.DateOnly) < "2025-06-02" {
					t.Errorf("visit %s–%s in %s; want 08:00–16:30 there from 2025-06-02", s.Format(time.DateTime), f.Format(time.TimeOnly), zone)
				}
			}
			if n != 30 {
				t.Errorf("%d appointments; want 30", n)
			}
		})
	}
}

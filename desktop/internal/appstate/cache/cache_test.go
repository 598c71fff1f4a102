package cache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/cache"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// Friday 14 March 2025, 07:45 in Chicago.
var (
	chicago = mustZone("America/Chicago")
	now     = time.Date(2025, 3, 14, 7, 45, 0, 0, chicago)
	today   = chart.D(2025, 3, 14)
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CST", -6*3600)
	}
	return loc
}

type bundle struct {
	store  *localstore.Store
	src    *cache.Source
	engine *screening.Engine
	recs   []chart.Record
}

// setup returns a store holding n demo patients over 10 working days from
// today, their appointments and chart items, and a Source over it.
func setup(tb testing.TB, n int) *bundle {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	keys, err := keystore.NewInsecureFile(dir)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(dir, "profile.db"), DeviceKeys: keys, Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	if err := store.Initialize(ctx); err != nil {
		tb.Fatal(err)
	}
	lib, err := preset.Default()
	if err != nil {
		tb.Fatal(err)
	}
	engine, err := screening.Compile(lib)
	if err != nil {
		tb.Fatal(err)
	}
	recs := demo.Generate(7, n, today, 10, chicago)
	err = store.Update(ctx, func(tx *localstore.Tx) error {
		for _, r := range recs {
			if err := tx.PutPatient(r.Patient); err != nil {
				return err
			}
			for _, a := range r.Appointments {
				if err := tx.PutAppointment(localstore.Appointment{ID: strings.TrimPrefix(a.Ref, "Appointment/"), PatientID: r.Patient.ID,
					Start: a.Start, End: a.End, Provider: a.Provider, Location: a.Location, VisitType: a.VisitType, Status: a.Status}); err != nil {
					return err
				}
			}
			for _, it := range r.Items {
				if err := tx.PutChartItem(localstore.ChartItem{ID: it.Ref, PatientID: r.Patient.ID, Item: it}); err != nil {
					return err
				}
			}
			for _, d := range r.Documents {
				if err := tx.PutDocument(localstore.Document{ID: d.Ref, PatientID: r.Patient.ID, Title: d.Title, Date: d.Date, Text: d.Text}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	src := cache.New(store, engine, cache.Options{Location: chicago, Now: func() time.Time { return now }})
	return &bundle{store: store, src: src, engine: engine, recs: recs}
}

// putSheet caches a sheet computed elsewhere for appointment id, as of day.
func (b *bundle) putSheet(tb testing.TB, rec chart.Record, day chart.Date) {
	tb.Helper()
	a := rec.Appointments[0]
	sh, err := appstate.ComputeSheet(b.engine, rec, nil, appstate.Visit{Start: a.Start, Provider: a.Provider}, chartLookback(), chicago, now)
	if err != nil {
		tb.Fatal(err)
	}
	sh.AsOf = day
	id := strings.TrimPrefix(a.Ref, "Appointment/")
	if err := b.store.Update(context.Background(), func(tx *localstore.Tx) error {
		return tx.PutPrepSheet(localstore.PrepSheet{AppointmentID: id, PatientID: rec.Patient.ID, Sheet: sh})
	}); err != nil {
		tb.Fatal(err)
	}
}

func TestDayListsTodaysAppointmentsWithCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 40)
	day, err := b.src.Day(ctx, today)
	if err != nil {
		t.Fatal(err)
	}
	// 40 patients over 10 working days: 4 today.
	if len(day.Rows) != 4 {
		t.Fatalf("Day(%s) has %d rows, want 4", today, len(day.Rows))
	}
	for i, r := range day.Rows {
		rec := b.recByID(r.PatientID)
		if r.Name != rec.Patient.Name || r.MRN != rec.Patient.MRN || !r.Counted {
			t.Errorf("row %d = %+v, want patient %s %s, counted", i, r, rec.Patient.Name, rec.Patient.MRN)
		}
		if i > 0 && r.Start.Before(day.Rows[i-1].Start) {
			t.Errorf("row %d starts %v before row %d", i, r.Start, i-1)
		}
		sh, err := b.src.Sheet(ctx, r.AppointmentID)
		if err != nil {
			t.Fatal(err)
		}
		if due, overdue := appstate.Counts(&sh.Sheet); due != r.Due || overdue != r.Overdue {
			t.Errorf("row %d counts %d/%d, its sheet says %d/%d", i, r.Due, r.Overdue, due, overdue)
		}
	}
	if empty, err := b.src.Day(ctx, chart.D(2025, 3, 15)); err != nil || len(empty.Rows) != 0 {
		t.Errorf("Saturday: %d rows, %v; want none", len(empty.Rows), err)
	}
}

func (b *bundle) recByID(id string) chart.Record {
	for _, r := range b.recs {
		if r.Patient.ID == id {
			return r
		}
	}
	return chart.Record{}
}

func TestSheetOrigin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 20)
	day, err := b.src.Day(ctx, today)
	if err != nil || len(day.Rows) < 2 {
		t.Fatalf("Day: %d rows, %v", len(day.Rows), err)
	}
	current, old := b.recByID(day.Rows[0].PatientID), b.recByID(day.Rows[1].PatientID)
	b.putSheet(t, current, today)
	b.putSheet(t, old, today.AddDays(-3))

	tests := []struct {
		name string
		id   string
		want appstate.Origin
	}{
		{"cloud's sheet for today is shown", day.Rows[0].AppointmentID, appstate.Cached},
		{"a sheet of another day is recomputed", day.Rows[1].AppointmentID, appstate.Recomputed},
	}
	for _, tt := range tests {
		got, err := b.src.Sheet(ctx, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Origin != tt.want || got.AsOf != today {
			t.Errorf("%s: origin %v as of %s, want %v as of %s", tt.name, got.Origin, got.AsOf, tt.want, today)
		}
	}
	if _, err := b.src.Sheet(ctx, "no-such-appointment"); !errors.Is(err, appstate.ErrNotFound) {
		t.Errorf("unknown appointment: %v, want ErrNotFound", err)
	}

	// An override recorded today makes the cloud's sheet out of date.
	o := appstate.Override{PatientID: current.Patient.ID, AppointmentID: day.Rows[0].AppointmentID, TypeID: "blood_pressure",
		Kind: screening.NotApplicable, Reason: "measured at home, reviewed"}
	if err := b.src.SaveOverride(ctx, o, appstate.User{Name: "Jamie Rivera, RN"}); err != nil {
		t.Fatal(err)
	}
	got, err := b.src.Sheet(ctx, day.Rows[0].AppointmentID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != appstate.Recomputed {
		t.Errorf("after an override: origin %v, want Recomputed", got.Origin)
	}
	for _, it := range got.Screenings {
		if it.ID == "blood_pressure" && it.Status != screening.Excluded && it.Status != screening.NotEligible {
			t.Errorf("blood_pressure after not-applicable override: %s, want excluded", it.Status)
		}
	}
}

func TestSaveOverrideWritesOverrideAndOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 10)
	pid := b.recs[0].Patient.ID
	o := appstate.Override{PatientID: pid, TypeID: "colorectal_cancer", Kind: screening.DoneElsewhere, DateText: "2024-11-02", Reason: "colonoscopy at St. Mary's"}
	if err := b.src.SaveOverride(ctx, o, appstate.User{Name: "Jamie Rivera, RN"}); err != nil {
		t.Fatal(err)
	}
	ovs, err := b.store.Overrides(ctx, pid)
	if err != nil || len(ovs) != 1 {
		t.Fatalf("Overrides = %v, %v; want 1", ovs, err)
	}
	want := screening.Override{TypeID: "colorectal_cancer", Kind: screening.DoneElsewhere, Date: chart.D(2024, 11, 2), By: "Jamie Rivera, RN", At: today, Why: "colonoscopy at St. Mary's"}
	if ovs[0].Override != want {
		t.Errorf("stored override %+v, want %+v", ovs[0].Override, want)
	}
	out, err := b.store.Outbox(ctx, 10)
	if err != nil || len(out) != 1 || out[0].Kind != cache.OutboxKind {
		t.Fatalf("Outbox = %+v, %v; want one %q entry", out, err, cache.OutboxKind)
	}
	var sent localstore.Override
	if err := json.Unmarshal(out[0].Payload, &sent); err != nil || sent.ID != ovs[0].ID || sent.Override != want {
		t.Errorf("outbox payload %+v (%v), want the stored override %s", sent, err, ovs[0].ID)
	}

	// Invalid input: the person's message, nothing stored or queued.
	bad := o
	bad.DateText = "2099-01-01"
	err = b.src.SaveOverride(ctx, bad, appstate.User{})
	if !errors.Is(err, appstate.ErrInvalidOverride) || err.Error() != "The date it was done cannot be in the future." {
		t.Errorf("SaveOverride(future) = %v, want the invalid-date message", err)
	}
	if out, _ := b.store.Outbox(ctx, 10); len(out) != 1 {
		t.Errorf("outbox has %d entries after a rejected override, want 1", len(out))
	}
}

func TestRecordPrintWritesOneOutboxEntryPerSheet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, 2)
	at := time.Date(2025, 3, 14, 7, 50, 0, 0, time.UTC)
	if err := b.src.RecordPrint(ctx, []string{"appt-1", "appt-2"}, at, appstate.User{ID: "user-nurse", Name: "Jamie Rivera, RN"}); err != nil {
		t.Fatal(err)
	}
	out, err := b.store.Outbox(ctx, 10)
	if err != nil || len(out) != 2 {
		t.Fatalf("Outbox = %+v, %v; want 2 entries", out, err)
	}
	for i, id := range []string{"appt-1", "appt-2"} {
		if out[i].Kind != appstate.PrintOutboxKind {
			t.Errorf("entry %d kind %q, want %q", i, out[i].Kind, appstate.PrintOutboxKind)
		}
		// No PHI: exactly the appointment, the time and the user's ID.
		want := fmt.Sprintf(`{"appointment_id":%q,"printed_at":"2025-03-14T07:50:00Z","user_id":"user-nurse"}`, id)
		if got := string(out[i].Payload); got != want {
			t.Errorf("entry %d payload\n got %s\nwant %s", i, got, want)
		}
	}
}

// BenchmarkScheduleDay builds one day's schedule (rows, names, due/overdue
// counts) from a store caching 2,000 patients over 10 working days (about
// 200 on the day), with the cloud's sheets cached for the day (the normal
// case after a sync). Target: cold start to a usable schedule ≤ 1.5 s.
func BenchmarkScheduleDay(b *testing.B) {
	for _, mode := range []string{"cached-sheets", "offline-recompute"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			bu := setup(b, 2000)
			if mode == "cached-sheets" {
				for _, r := range bu.recs {
					if chart.FromTime(r.Appointments[0].Start.In(chicago)) == today {
						bu.putSheet(b, r, today)
					}
				}
			}
			b.ResetTimer()
			for b.Loop() {
				src := cache.New(bu.store, bu.engine, cache.Options{Location: chicago, Now: func() time.Time { return now }})
				day, err := src.Day(ctx, today)
				if err != nil || len(day.Rows) != 200 {
					b.Fatalf("Day: %d rows, %v", len(day.Rows), err)
				}
			}
		})
	}
}

// BenchmarkSwitchSheet opens the sheets of a day's appointments one after
// the other, as a person moving down the schedule does. Target: ≤ 100 ms.
func BenchmarkSwitchSheet(b *testing.B) {
	for _, mode := range []string{"cached-sheets", "offline-recompute"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			bu := setup(b, 2000)
			if mode == "cached-sheets" {
				for _, r := range bu.recs {
					if chart.FromTime(r.Appointments[0].Start.In(chicago)) == today {
						bu.putSheet(b, r, today)
					}
				}
			}
			day, err := bu.src.Day(ctx, today)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := bu.src.Sheet(ctx, day.Rows[i%len(day.Rows)].AppointmentID); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func chartLookback() prepsheet.Lookback { return prepsheet.DefaultLookback() }

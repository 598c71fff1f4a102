package appstate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

func TestFilterApply(t *testing.T) {
	t.Parallel()
	rows := []appstate.Row{
		{AppointmentID: "1", Name: "Maria Alvarez", MRN: "MRN100001", Provider: "Dr. A", Location: "Main"},
		{AppointmentID: "2", Name: "James O'Brien-Chen", MRN: "MRN-100-222", Provider: "Dr. B", Location: "Main"},
		{AppointmentID: "3", Name: "Mariana Santos", MRN: "MRN300003", Provider: "Dr. A", Location: "River"},
	}
	tests := []struct {
		name string
		f    appstate.Filter
		want []string
	}{
		{"no filter keeps all", appstate.Filter{}, []string{"1", "2", "3"}},
		{"all choices keep all", appstate.Filter{Provider: appstate.AllProviders, Location: appstate.AllLocations}, []string{"1", "2", "3"}},
		{"provider", appstate.Filter{Provider: "Dr. A"}, []string{"1", "3"}},
		{"location", appstate.Filter{Location: "River"}, []string{"3"}},
		{"provider and location", appstate.Filter{Provider: "Dr. B", Location: "River"}, nil},
		{"name prefix, any case", appstate.Filter{Query: "MAR"}, []string{"1", "3"}},
		{"two words any order", appstate.Filter{Query: "santos mar"}, []string{"3"}},
		{"hyphenated surname", appstate.Filter{Query: "chen"}, []string{"2"}},
		{"apostrophe", appstate.Filter{Query: "o'brien"}, []string{"2"}},
		{"mrn prefix ignoring punctuation", appstate.Filter{Query: "mrn100222"}, []string{"2"}},
		{"mrn digits are not a name", appstate.Filter{Query: "3000"}, nil},
		{"no match", appstate.Filter{Query: "zzz"}, nil},
		{"blank query", appstate.Filter{Query: "  "}, []string{"1", "2", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, r := range tt.f.Apply(rows) {
				got = append(got, r.AppointmentID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Apply(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

func TestDayChoices(t *testing.T) {
	t.Parallel()
	d := appstate.Day{Rows: []appstate.Row{{Provider: "Dr. B", Location: "Main"}, {Provider: "Dr. A"}, {Provider: "Dr. B", Location: "Main"}}}
	if got, want := d.Providers(), []string{appstate.AllProviders, "Dr. A", "Dr. B"}; !slices.Equal(got, want) {
		t.Errorf("Providers() = %v, want %v", got, want)
	}
	if got, want := d.Locations(), []string{appstate.AllLocations, "Main"}; !slices.Equal(got, want) {
		t.Errorf("Locations() = %v, want %v", got, want)
	}
}

func TestOverrideValidate(t *testing.T) {
	t.Parallel()
	today := chart.D(2025, 3, 14)
	base := appstate.Override{PatientID: "p1", TypeID: "colorectal_cancer", Reason: "patient asked"}
	with := func(k screening.OverrideKind, date, reason string) appstate.Override {
		o := base
		o.Kind, o.DateText, o.Reason = k, date, reason
		return o
	}
	tests := []struct {
		name string
		in   appstate.Override
		// wantDate is the override's date when valid; wantErr the
		// message a person reads otherwise.
		wantDate chart.Date
		wantErr  string
	}{
		{"postpone", with(screening.Postponed, "2025-06-01", "r"), chart.D(2025, 6, 1), ""},
		{"postpone trims spaces", with(screening.Postponed, " 2025-06-01 ", "r"), chart.D(2025, 6, 1), ""},
		{"postpone to the limit", with(screening.Postponed, "2026-03-14", "r"), chart.D(2026, 3, 14), ""},
		{"postpone past the limit", with(screening.Postponed, "2026-03-15", "r"), chart.Date{}, "Postpone by at most 12 months (until 2026-03-14)."},
		{"postpone to today", with(screening.Postponed, "2025-03-14", "r"), chart.Date{}, "A postponement needs a date after today."},
		{"postpone without date", with(screening.Postponed, "", "r"), chart.Date{}, "Enter a date (YYYY-MM-DD)."},
		{"bad date", with(screening.Postponed, "14/03/2025", "r"), chart.Date{}, "Enter the date as YYYY-MM-DD, for example 2025-04-13."},
		{"done elsewhere today", with(screening.DoneElsewhere, "2025-03-14", "r"), chart.D(2025, 3, 14), ""},
		{"done elsewhere in the future", with(screening.DoneElsewhere, "2025-03-15", "r"), chart.Date{}, "The date it was done cannot be in the future."},
		{"refused ignores a date", with(screening.RefusedByPatient, "garbage", "r"), chart.Date{}, ""},
		{"not applicable", with(screening.NotApplicable, "", "hysterectomy"), chart.Date{}, ""},
		{"no kind, no reason", with("", "", " "), chart.Date{}, "Choose what to record. Give a reason."},
		{"unknown kind", with(screening.CustomInterval, "", "r"), chart.Date{}, "That kind of override is not offered."},
		{"reason too long", with(screening.NotApplicable, "", strings.Repeat("é", appstate.MaxReason+1)), chart.Date{}, "Keep the reason under 500 characters."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.in.Validate(today)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, appstate.ErrInvalidOverride) {
					t.Fatalf("Validate() error = %v, want %q (ErrInvalidOverride)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() error = %v, want none", err)
			}
			if got.Date != tt.wantDate || got.Kind != tt.in.Kind || got.At != today || got.TypeID != tt.in.TypeID || got.Why != strings.TrimSpace(tt.in.Reason) {
				t.Errorf("Validate() = %+v, want kind %s date %s at %s", got, tt.in.Kind, tt.wantDate, today)
			}
		})
	}
}

// fakeAuth accepts one password; it records Lock calls.
type fakeAuth struct {
	locks   int
	offline bool
}

func (a *fakeAuth) SignIn(_ context.Context, c appstate.Credentials) (appstate.SignedIn, error) {
	if c.Password != "right" {
		return appstate.SignedIn{}, appstate.ErrWrongPassword
	}
	return appstate.SignedIn{User: appstate.User{Name: "N", Email: c.Email}, Org: appstate.Org{Name: "O"}, Offline: a.offline}, nil
}

func (a *fakeAuth) Unlock(_ context.Context, _ appstate.User, pw string) error {
	if pw != "right" {
		return appstate.ErrWrongPassword
	}
	return nil
}

func (a *fakeAuth) Lock() { a.locks++ }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestSessionSignInIdleLockUnlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &clock{t: time.Date(2025, 3, 14, 7, 45, 0, 0, time.UTC)}
	auth := &fakeAuth{}
	s := appstate.NewSession(auth, 15*time.Minute, clk.now)
	var seen []appstate.Status
	s.Subscribe(func(st appstate.Status) { seen = append(seen, st) })

	err := s.SignIn(ctx, appstate.Credentials{Email: "n@x", Password: "wrong"})
	if !errors.Is(err, appstate.ErrWrongPassword) || s.Status().SignedIn || len(seen) != 0 {
		t.Fatalf("SignIn(wrong) = %v, signed in %v, %d updates; want ErrWrongPassword, no change", err, s.Status().SignedIn, len(seen))
	}
	if got, want := appstate.SignInMessage(err), "Wrong email or password. Check them and try again."; got != want {
		t.Errorf("SignInMessage = %q, want %q", got, want)
	}
	if err := s.SignIn(ctx, appstate.Credentials{Email: "n@x", Password: "right"}); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(14 * time.Minute)
	if s.CheckIdle() {
		t.Fatal("locked after 14 min, want unlocked until 15")
	}
	s.Touch()
	clk.t = clk.t.Add(14 * time.Minute)
	if s.CheckIdle() {
		t.Fatal("locked 14 min after activity, want unlocked")
	}
	clk.t = clk.t.Add(time.Minute)
	if !s.CheckIdle() || !s.Status().Locked || auth.locks != 1 {
		t.Fatalf("after 15 idle min: locked %v, store locks %d; want locked, 1", s.Status().Locked, auth.locks)
	}
	if err := s.Unlock(ctx, "nope"); !errors.Is(err, appstate.ErrWrongPassword) || !s.Status().Locked {
		t.Fatalf("Unlock(wrong) = %v, locked %v; want ErrWrongPassword, still locked", err, s.Status().Locked)
	}
	if err := s.Unlock(ctx, "right"); err != nil || s.Status().Locked {
		t.Fatalf("Unlock(right) = %v, locked %v", err, s.Status().Locked)
	}
	if got := seen[len(seen)-1]; got.Locked || !got.SignedIn {
		t.Errorf("last update %+v, want signed in and unlocked", got)
	}
}

func TestStatusTexts(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		st         appstate.Status
		wantSync   string
		wantBanner string
	}{
		{"synced", appstate.Status{Online: true, LastSync: now.Add(-5 * time.Minute)}, "Synced 5 min ago", ""},
		{"never synced", appstate.Status{Online: true}, "Synced never", ""},
		{"syncing with progress", appstate.Status{Online: true, Syncing: true, Progress: appstate.Progress{Applied: 120, Seq: 40, Latest: 160}}, "Syncing... 25% (120 changes)", ""},
		{"syncing, feed size unknown", appstate.Status{Online: true, Syncing: true}, "Syncing...", ""},
		{"failed", appstate.Status{Online: true, SyncError: "timeout", LastSync: now.Add(-2 * time.Hour)}, "Sync failed: timeout - last sync at 07:00", ""},
		{"offline", appstate.Status{LastSync: now.Add(-26 * time.Hour)}, "Offline - last sync on 2025-03-13 07:00", "OFFLINE - working from this workstation's copy (last sync on 2025-03-13 07:00)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.st.SyncText(now); got != tt.wantSync {
				t.Errorf("SyncText = %q, want %q", got, tt.wantSync)
			}
			if got := tt.st.OfflineBanner(now); !strings.HasPrefix(got, tt.wantBanner) || (tt.wantBanner == "") != (got == "") {
				t.Errorf("OfflineBanner = %q, want it to start with %q", got, tt.wantBanner)
			}
		})
	}
}

func TestSessionSyncProgress(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)
	s := appstate.NewSession(&fakeAuth{}, 0, func() time.Time { return at })
	s.SetOnline(false)
	s.SyncStarted()
	s.SyncProgress(appstate.Progress{Applied: 10, Seq: 5, Latest: 10})
	if st := s.Status(); !st.Syncing || st.Progress.Fraction() != 0.5 {
		t.Fatalf("during sync: %+v, want syncing at 0.5", st)
	}
	s.SyncDone(at, errors.New("connection refused"))
	if st := s.Status(); st.Syncing || st.SyncError != "connection refused" || !st.LastSync.IsZero() || st.Online {
		t.Fatalf("after failed sync: %+v", st)
	}
	s.SyncDone(at, nil)
	if st := s.Status(); st.SyncError != "" || st.LastSync != at || !st.Online {
		t.Fatalf("after sync: %+v, want online, last sync %v", st, at)
	}
}

func TestCachedIsCurrent(t *testing.T) {
	t.Parallel()
	day := chart.D(2025, 3, 14)
	sheet := &prepsheet.Sheet{AsOf: day}
	tests := []struct {
		name string
		day  chart.Date
		ovs  []screening.Override
		want bool
	}{
		{"same day, no overrides", day, nil, true},
		{"another day", day.AddDays(1), nil, false},
		{"older override", day, []screening.Override{{At: day.AddDays(-1)}}, true},
		{"override recorded today", day, []screening.Override{{At: day}}, false},
	}
	for _, tt := range tests {
		if got := appstate.CachedIsCurrent(sheet, tt.day, tt.ovs); got != tt.want {
			t.Errorf("%s: CachedIsCurrent = %v, want %v", tt.name, got, tt.want)
		}
	}
}

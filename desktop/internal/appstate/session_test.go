package appstate_test

import (
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
)

func TestRestoreLastSync(t *testing.T) {
	t.Parallel()
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Skip("no time zone database on this machine: the Chicago clock text cannot be checked")
	}
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, chicago)
	recorded := time.Date(2026, 11, 22, 22, 5, 0, 0, time.UTC) // 16:05 in Chicago, yesterday
	tests := []struct {
		name     string
		before   func(*appstate.Session)
		want     time.Time
		wantText string
	}{
		{"fresh window shows the recorded sync", func(*appstate.Session) {}, recorded, "Synced on 2026-11-22 16:05"},
		{"a newer sync in this window wins", func(s *appstate.Session) { s.SyncDone(now.Add(-time.Minute), nil) }, now.Add(-time.Minute), "Synced 1 min ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := appstate.NewSession(&fakeAuth{}, 0, func() time.Time { return now })
			s.SetOnline(false)
			tt.before(s)
			s.RestoreLastSync(recorded)
			st := s.Status()
			if !st.LastSync.Equal(tt.want) {
				t.Errorf("LastSync = %v, want %v", st.LastSync, tt.want)
			}
			st.Online = true
			if got := st.SyncText(now); got != tt.wantText {
				t.Errorf("SyncText = %q, want %q (clock times in the clinic's zone)", got, tt.wantText)
			}
		})
	}
	s := appstate.NewSession(&fakeAuth{}, 0, func() time.Time { return now })
	s.SetOnline(false)
	s.RestoreLastSync(recorded)
	if s.Status().Online {
		t.Error("RestoreLastSync turned the session online; only a sync may")
	}
}

func TestSetClinic(t *testing.T) {
	t.Parallel()
	s := appstate.NewSession(&fakeAuth{}, 10*time.Minute, nil)
	var revs []int
	s.Subscribe(func(st appstate.Status) { revs = append(revs, st.ClinicRev) })
	tokyo := time.FixedZone("JST", 9*3600)
	s.SetClinic(appstate.Clinic{Location: tokyo, IdleLock: 2 * time.Minute})
	s.SetClinic(appstate.Clinic{Location: tokyo})
	if got := s.IdleLock(); got != appstate.DefaultIdleLock {
		t.Errorf("idle lock after settings without one = %v, want the default %v", got, appstate.DefaultIdleLock)
	}
	if got := s.Clinic().Location; got != tokyo {
		t.Errorf("Clinic().Location = %v, want JST", got)
	}
	if len(revs) != 2 || revs[0] != 1 || revs[1] != 2 {
		t.Errorf("subscribers saw ClinicRev %v, want [1 2]", revs)
	}
}

// TestStatusWho: the status bar names the person (display name, else
// email) and the organisation, without a dangling separator when one is
// unknown.
func TestStatusWho(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		user appstate.User
		org  string
		want string
	}{
		{"name and org", appstate.User{Email: "jr@clinic.example", Name: "Jamie Rivera, RN"}, "Demo Family Clinic", "Jamie Rivera, RN · Demo Family Clinic"},
		{"no display name", appstate.User{Email: "jr@clinic.example", Name: " "}, "Demo Family Clinic", "jr@clinic.example · Demo Family Clinic"},
		{"no org name", appstate.User{Email: "jr@clinic.example", Name: "Jamie Rivera, RN"}, "", "Jamie Rivera, RN"},
		{"neither", appstate.User{}, "", ""},
	} {
		st := appstate.Status{SignedIn: true, User: tc.user, Org: appstate.Org{Name: tc.org}}
		if got := st.Who(); got != tc.want {
			t.Errorf("%s: Who() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

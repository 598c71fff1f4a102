package demo_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/screening"
)

func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	a := demo.Generate(3, 50, chart.D(2025, 3, 14), 5, time.UTC)
	b := demo.Generate(3, 50, chart.D(2025, 3, 14), 5, time.UTC)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Generate with one seed gave two different clinics")
	}
	for _, r := range a {
		wd := r.Appointments[0].Start.Weekday()
		if wd == time.Saturday || wd == time.Sunday {
			t.Errorf("%s has an appointment on %s", r.Patient.ID, wd)
		}
	}
}

func TestClinicShowsEveryStatusKind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 7, 45, 0, 0, time.UTC)
	c, err := demo.NewClinic(200, func() time.Time { return now }, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	day, err := c.Source.Day(ctx, c.Today)
	if err != nil || len(day.Rows) != 20 {
		t.Fatalf("Day: %d rows, %v; want 20", len(day.Rows), err)
	}
	seen := map[screening.Status]bool{}
	for _, r := range day.Rows {
		sh, err := c.Source.Sheet(ctx, r.AppointmentID)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range sh.Screenings {
			seen[it.Status] = true
		}
	}
	for _, s := range []screening.Status{screening.Overdue, screening.Due, screening.Complete, screening.NotEligible} {
		if !seen[s] {
			t.Errorf("no %s screening on the demo day: the screenshots would not show it", s)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := demo.NewClinic(1, time.Now, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		reachable bool
		cred      appstate.Credentials
		want      error
		offline   bool
	}{
		{"nurse online", true, appstate.Credentials{Email: demo.NurseEmail, Password: demo.DemoPassword}, nil, false},
		{"wrong password", true, appstate.Credentials{Email: demo.NurseEmail, Password: "x"}, appstate.ErrWrongPassword, false},
		{"admin needs a code", true, appstate.Credentials{Email: demo.AdminEmail, Password: demo.DemoPassword}, appstate.ErrTOTPRequired, false},
		{"admin wrong code", true, appstate.Credentials{Email: demo.AdminEmail, Password: demo.DemoPassword, TOTP: "000000"}, appstate.ErrWrongTOTP, false},
		{"admin with code", true, appstate.Credentials{Email: demo.AdminEmail, Password: demo.DemoPassword, TOTP: demo.AdminTOTPCode}, nil, false},
		{"nurse offline", false, appstate.Credentials{Email: demo.NurseEmail, Password: demo.DemoPassword}, nil, true},
		{"admin never here offline", false, appstate.Credentials{Email: demo.AdminEmail, Password: demo.DemoPassword}, appstate.ErrNotOnThisWorkstation, false},
	}
	for _, tt := range tests {
		c.Auth.SetReachable(tt.reachable)
		got, err := c.Auth.SignIn(ctx, tt.cred)
		if err != tt.want || got.Offline != tt.offline {
			t.Errorf("%s: SignIn = %+v, %v; want offline %v, %v", tt.name, got, err, tt.offline, tt.want)
		}
	}
}

package demo

import (
	"fmt"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// The demo accounts' credentials (made up, for the demo clinic only).
const (
	NurseEmail    = "nurse@demo-clinic.example"
	AdminEmail    = "admin@demo-clinic.example"
	DemoPassword  = "demo-password-1"
	AdminTOTPCode = "246810"
)

// Clinic is the demo clinic: its sources, accounts and dates.
type Clinic struct {
	Source *Source
	// Documents are the demo documents (quarantine, review, page images).
	Documents *Documents
	Auth      *Auth
	Org       appstate.Org
	Nurse     appstate.User
	Location  *time.Location
	// Today is now's date in Location; the first schedule day.
	Today   chart.Date
	Records []chart.Record
}

// NewClinic builds the demo clinic with n patients on the 10 working days
// from now's date (in loc), with the built-in screening library.
func NewClinic(n int, now func() time.Time, loc *time.Location) (*Clinic, error) {
	lib, err := preset.Default()
	if err != nil {
		return nil, fmt.Errorf("loading screening library: %w", err)
	}
	engine, err := screening.Compile(lib)
	if err != nil {
		return nil, fmt.Errorf("compiling screening library: %w", err)
	}
	today := chart.FromTime(now().In(loc))
	recs := Generate(1, n, today, 10, loc)
	org := appstate.Org{ID: "org-demo", Name: "Demo Family Clinic"}
	nurse := appstate.User{ID: "user-nurse", Email: NurseEmail, Name: "Jamie Rivera, RN", Role: "nurse"}
	admin := appstate.User{ID: "user-admin", Email: AdminEmail, Name: "Pat Morgan", Role: "admin"}
	return &Clinic{
		Source:    NewSource(engine, recs, loc, now),
		Documents: NewDocuments(recs, now),
		Auth:      NewAuth(org, Account{User: nurse, Password: DemoPassword, Offline: true}, Account{User: admin, Password: DemoPassword, TOTP: AdminTOTPCode}),
		Org:       org,
		Nurse:     nurse,
		Location:  loc,
		Today:     today,
		Records:   recs,
	}, nil
}

package remote_test

import (
	"context"
	"path/filepath"
	"testing"

	v1 "healthprep.dev/proto/gen/healthprep/v1"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/fakecloud"
)

// TestSignInNamesThePerson: the status bar shows who signed in and for
// which organisation, from the cloud's WhoAmI (display name, else email)
// and GetOrg, online and then offline; a cloud whose WhoAmI does not say
// the email or name (older clouds) still gets the address the person typed,
// never an empty name.
func TestSignInNamesThePerson(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		bare    bool
		account fakecloud.Account
		typed   string
		want    string
	}{
		{"display name", false, fakecloud.Account{Email: "nurse@clinic.example", Name: "Nico Nurse"}, "nurse@clinic.example", "Nico Nurse · Test Clinic"},
		{"no display name", false, fakecloud.Account{Email: "ma@clinic.example", Name: "  "}, "MA@clinic.example ", "ma@clinic.example · Test Clinic"},
		{"WhoAmI without email and name", true, fakecloud.Account{Email: "nurse@clinic.example", Name: "Nico Nurse"}, " Nurse@Clinic.example", "nurse@clinic.example · Test Clinic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			if tc.bare {
				b.cloud.Stop()
				b.cloud = fakecloud.New(fakecloud.Options{OrgName: "Test Clinic", BareWhoAmI: true})
				b.url = b.cloud.Start()
				t.Cleanup(b.cloud.Stop)
				b.auth = remote.NewAuth(remote.Options{BaseURL: b.url, DeviceID: "device-1", Store: b.store,
					Directory: remote.NewFileDirectory(filepath.Join(t.TempDir(), "signins.json"))})
			}
			acc := tc.account
			acc.Password, acc.Role = password, v1.Role_ROLE_NURSE
			b.cloud.AddAccount(acc)
			ctx := context.Background()
			s := appstate.NewSession(b.auth, 0, nil)

			if err := s.SignIn(ctx, appstate.Credentials{Email: tc.typed, Password: password}); err != nil {
				t.Fatalf("online sign-in: %v", err)
			}
			if got := s.Status().Who(); got != tc.want {
				t.Errorf("online: status bar shows %q, want %q", got, tc.want)
			}
			s.SignOut()
			b.cloud.Stop()
			if err := s.SignIn(ctx, appstate.Credentials{Email: tc.typed, Password: password}); err != nil {
				t.Fatalf("offline sign-in: %v", err)
			}
			if st := s.Status(); st.Online || st.Who() != tc.want {
				t.Errorf("offline: status bar shows %q (online %v), want %q offline", st.Who(), st.Online, tc.want)
			}
		})
	}
}

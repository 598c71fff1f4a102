package remote_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "healthprep.dev/proto/gen/healthprep/v1"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/fakecloud"
	"healthprep.dev/shared/preset"
)

// TestScreeningsOverTheWire: Screenings reads the organisation's settings
// over the default library, saves against the version it read, and turns
// the cloud's refusals into sentences.
func TestScreeningsOverTheWire(t *testing.T) {
	t.Parallel()
	cloud := fakecloud.New(fakecloud.Options{})
	cloud.AddAccount(fakecloud.Account{ID: "admin", Email: "admin@clinic.example", Password: password, Role: v1.Role_ROLE_ADMIN})
	cloud.AddAccount(fakecloud.Account{ID: "nurse", Email: "nurse@clinic.example", Password: password, Role: v1.Role_ROLE_NURSE})
	url := cloud.Start()
	t.Cleanup(cloud.Stop)
	as := func(user string) *remote.Screenings {
		tok := cloud.SessionToken(user)
		return remote.NewScreenings(remote.NewAdmin(url, nil, func() string { return tok }, "device-1"))
	}
	ctx := context.Background()
	admin, nurse := as("admin"), as("nurse")

	cfg, err := admin.ScreeningConfig(ctx)
	def, _ := preset.Default()
	if err != nil || len(cfg.Base.Types) != len(def.Types) || len(cfg.Org.Disabled) != 0 {
		t.Fatalf("ScreeningConfig before any save = %d types, %+v, %v; want the default library, no changes", len(cfg.Base.Types), cfg.Org, err)
	}
	id := def.Types[0].ID
	if err := admin.SaveScreeningSettings(ctx, preset.OrgSettings{Disabled: []string{id}}); err != nil {
		t.Fatalf("saving: %v", err)
	}
	if _, v := cloud.ScreeningSettings(); v != 1 {
		t.Errorf("cloud version after the save = %d; want 1", v)
	}
	// The next save is against the version just saved.
	if err := admin.SaveScreeningSettings(ctx, preset.OrgSettings{}); err != nil {
		t.Fatalf("saving again: %v", err)
	}

	tests := []struct {
		name string
		s    *remote.Screenings
		in   preset.OrgSettings
		want string // RefusedError message; "" for ErrPermissionDenied
	}{
		{"unknown type", admin, preset.OrgSettings{Disabled: []string{"no_such_type"}}, `the screening library refuses these settings: disabled type "no_such_type" is not in the library`},
		{"a nurse", nurse, preset.OrgSettings{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.SaveScreeningSettings(ctx, tt.in)
			var re *appstate.RefusedError
			switch {
			case tt.want == "" && !errors.Is(err, appstate.ErrPermissionDenied):
				t.Errorf("SaveScreeningSettings: %v; want ErrPermissionDenied", err)
			case tt.want != "" && (!errors.As(err, &re) || re.Message != tt.want):
				t.Errorf("SaveScreeningSettings: %v; want the refusal %q", err, tt.want)
			}
		})
	}
	// Someone else saves: this editor's next save is refused, theirs stays.
	cloud.SetScreeningSettings(preset.OrgSettings{Disabled: []string{id}})
	err = admin.SaveScreeningSettings(ctx, preset.OrgSettings{})
	var re *appstate.RefusedError
	if !errors.As(err, &re) || !strings.HasPrefix(re.Message, "Someone else saved the screening settings") {
		t.Errorf("saving a stale version: %v; want the conflict explained", err)
	}
	if org, v := cloud.ScreeningSettings(); v != 3 || len(org.Disabled) != 1 {
		t.Errorf("cloud after the refused save: version %d, %+v; want version 3 unchanged", v, org)
	}
	// Reading again picks up their version; saving then works.
	if cfg, err := admin.ScreeningConfig(ctx); err != nil || len(cfg.Org.Disabled) != 1 {
		t.Fatalf("reading again: %+v, %v", cfg.Org, err)
	}
	if err := admin.SaveScreeningSettings(ctx, preset.OrgSettings{}); err != nil {
		t.Errorf("saving after reading again: %v", err)
	}
	// Signed in offline: no session, no cloud.
	offline := remote.NewScreenings(remote.NewAdmin(url, nil, func() string { return "" }, ""))
	if _, err := offline.ScreeningConfig(ctx); !errors.Is(err, appstate.ErrOfflineOnly) {
		t.Errorf("ScreeningConfig offline: %v; want ErrOfflineOnly", err)
	}
}

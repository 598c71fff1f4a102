package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/screeningcfg"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// setupScreening serves the API with the real screening settings store on
// Postgres (org A exists there) and fake sessions.
func setupScreening(t *testing.T) (c.ScreeningServiceClient, *screeningcfg.Store) {
	t.Helper()
	db := tenancy.New(pg.NewDB(t).AppPool(t))
	err := db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO organizations (id, name, slug, timezone) VALUES ($1, 'A', 'clinic-a', 'UTC')`, orgA)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := screeningcfg.New(db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakes{orgs: &fakeOrgs{}, users: &fakeUsers{}, auth: &fakeAuth{}, audit: &fakeAudit{}}
	h, _ := Handler(Services{Authenticator: fakeAuthn{}, Orgs: f.orgs, Users: f.users, Auth: f.auth, Audit: f.audit, Screenings: st}, Options{})
	url, client := serveH2C(t, h)
	return c.NewScreeningServiceClient(client, url), st
}

// TestScreeningSettingsOverTheWire: every role reads, an admin saves, a
// stale version and invalid settings are refused with a sentence and
// change nothing.
func TestScreeningSettingsOverTheWire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl, st := setupScreening(t)
	id := st.Library().Types[0].ID

	got, err := cl.GetScreeningSettings(ctx, as("ma", &v1.GetScreeningSettingsRequest{}))
	if err != nil || got.Msg.GetSettings().GetVersion() != 0 || got.Msg.GetSettings().GetSettingsJson() != "{}" {
		t.Fatalf("GetScreeningSettings as an MA before any save = %v, %v; want version 0, {}", got, err)
	}
	saved, err := cl.UpdateScreeningSettings(ctx, as("admin", &v1.UpdateScreeningSettingsRequest{SettingsJson: `{"disabled":["` + id + `"]}`}))
	if err != nil || saved.Msg.GetSettings().GetVersion() != 1 || saved.Msg.GetSettings().GetUpdatedBy() != tokens["admin"].UserID.String() {
		t.Fatalf("UpdateScreeningSettings = %v, %v; want version 1 by the admin", saved, err)
	}
	if _, err := cl.UpdateScreeningSettings(ctx, as("nurse", &v1.UpdateScreeningSettingsRequest{SettingsJson: `{}`, Version: 1})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a nurse saving: %v; want PermissionDenied", err)
	}

	tests := []struct {
		name     string
		json     string
		version  int64
		wantCode connect.Code
		wantMsg  string
	}{
		{"stale version", `{}`, 0, connect.CodeAborted, msgScreeningConflict},
		{"not JSON", `{disabled`, 1, connect.CodeInvalidArgument, "settings_json: these are not HealthPrep screening settings (invalid character 'd' looking for beginning of object key string)"},
		{"unknown field", `{"enabled":[]}`, 1, connect.CodeInvalidArgument, `settings_json: these are not HealthPrep screening settings (unknown field "enabled")`},
		{"unknown type", `{"disabled":["no-such-type"]}`, 1, connect.CodeInvalidArgument, `the screening library refuses these settings: disabled type "no-such-type" is not in the library`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cl.UpdateScreeningSettings(ctx, as("admin", &v1.UpdateScreeningSettingsRequest{SettingsJson: tt.json, Version: tt.version}))
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != tt.wantCode || ce.Message() != tt.wantMsg {
				t.Errorf("UpdateScreeningSettings(%s): %v; want %v %q", tt.json, err, tt.wantCode, tt.wantMsg)
			}
		})
	}
	got, err = cl.GetScreeningSettings(ctx, as("nurse", &v1.GetScreeningSettingsRequest{}))
	if err != nil || got.Msg.GetSettings().GetVersion() != 1 || got.Msg.GetSettings().GetSettingsJson() != `{"disabled":["`+id+`"]}` {
		t.Errorf("after refusals GetScreeningSettings = %v, %v; want version 1 unchanged", got, err)
	}
	if _, err := cl.GetScreeningSettings(ctx, as("admin", &v1.GetScreeningSettingsRequest{OrgId: orgB.String()})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("an admin reading another org: %v; want PermissionDenied", err)
	}
}

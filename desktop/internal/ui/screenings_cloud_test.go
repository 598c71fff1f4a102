package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	v1 "healthprep.dev/proto/gen/healthprep/v1"

	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/fakecloud"
	"healthprep.dev/shared/preset"
)

// setupCloudScreenings is setupAdmin with the screening settings kept by
// the fake cloud's ScreeningService (the real app's wiring:
// remote.NewScreenings over the admin's session).
func setupCloudScreenings(t *testing.T) *adminBundle {
	t.Helper()
	ab := &adminBundle{cloud: fakecloud.New(fakecloud.Options{OrgID: "org-demo", OrgName: "Demo Family Clinic",
		Now: func() time.Time { return time.Date(2025, 3, 14, 7, 45, 0, 0, time.UTC) }})}
	ab.cloud.AddAccount(fakecloud.Account{ID: "user-admin", Email: demo.AdminEmail, Name: "Pat Morgan", Password: demo.DemoPassword, Role: v1.Role_ROLE_ADMIN, TOTP: demo.AdminTOTPCode})
	base := ab.cloud.Start()
	t.Cleanup(ab.cloud.Stop)
	tok := ab.cloud.SessionToken("user-admin")
	ab.bundle = setup(t, func(b *bundle, d *Deps) {
		admin := remote.NewAdmin(base, nil, func() string { return tok }, "")
		d.Users, d.Devices, d.Epic, d.Audit, d.Screenings = admin, admin, admin, admin, remote.NewScreenings(admin)
		d.Samples = b.clinic.Records[:3]
	})
	return ab
}

// TestScreeningEditorOverTheCloud: the editor saves to the cloud; invalid
// edits never leave the workstation; a save after someone else's is
// refused with what to do, Discard loads theirs, and saving again works.
func TestScreeningEditorOverTheCloud(t *testing.T) {
	ab := setupCloudScreenings(t)
	v := ab.signInAdmin(pageScreenings).screenings
	if len(v.toggl) < 10 || !v.save.Disabled() {
		t.Fatalf("screening list: %d types, save enabled %v before any change", len(v.toggl), !v.save.Disabled())
	}
	first, second, third := v.saved.Base.Types[0].ID, v.saved.Base.Types[1].ID, v.saved.Base.Types[2].ID

	// Validation error: the field says what is wrong, Save stays off and
	// nothing reaches the cloud.
	v.selectType(first)
	ab.wait()
	v.fields["min_age"].SetText("99y")
	ab.wait()
	if got := v.typeMsg.Text; !strings.HasPrefix(got, "The screening library refuses this:") || !v.save.Disabled() {
		t.Errorf("min age above max: message %q, save enabled %v; want the library's refusal and Save off", got, !v.save.Disabled())
	}
	v.fields["min_age"].SetText(v.saved.Base.Types[0].MinAge)
	ab.wait()
	if n := ab.cloud.Calls("UpdateScreeningSettings"); n != 0 {
		t.Errorf("UpdateScreeningSettings called %d times by invalid edits; want 0", n)
	}

	// Save: the change reaches the cloud as version 1.
	v.toggl[second].SetChecked(false)
	ab.wait()
	test.Tap(v.save)
	ab.wait()
	org, version := ab.cloud.ScreeningSettings()
	if version != 1 || len(org.Disabled) != 1 || org.Disabled[0] != second {
		t.Fatalf("cloud after saving: version %d, %+v; want version 1 with %s off", version, org, second)
	}
	if !strings.HasPrefix(v.msg.Text, "Saved.") || !v.save.Disabled() {
		t.Errorf("after saving: message %q, save enabled %v", v.msg.Text, !v.save.Disabled())
	}

	// Version conflict: another admin saves; this editor's save is refused
	// and the other admin's settings stay.
	theirs := preset.OrgSettings{Disabled: []string{third}}
	ab.cloud.SetScreeningSettings(theirs)
	v.toggl[second].SetChecked(true)
	ab.wait()
	test.Tap(v.save)
	ab.wait()
	if !strings.Contains(v.msg.Text, "Someone else saved the screening settings") || !strings.Contains(v.msg.Text, "Discard your changes") {
		t.Errorf("saving after someone else: message %q; want the conflict explained", v.msg.Text)
	}
	if org, version := ab.cloud.ScreeningSettings(); version != 2 || len(org.Disabled) != 1 || org.Disabled[0] != third {
		t.Fatalf("cloud after the refused save: version %d, %+v; want the other admin's version 2", version, org)
	}
	// Discard loads theirs; the change made again saves as version 3.
	test.Tap(v.revert)
	ab.wait()
	if v.toggl[third].Checked || !v.toggl[second].Checked {
		t.Fatalf("after Discard: %s on %v, %s on %v; want the other admin's settings", third, v.toggl[third].Checked, second, v.toggl[second].Checked)
	}
	v.toggl[first].SetChecked(false)
	ab.wait()
	test.Tap(v.save)
	ab.wait()
	if org, version := ab.cloud.ScreeningSettings(); version != 3 || len(org.Disabled) != 2 {
		t.Errorf("cloud after saving again: version %d, %+v; want version 3 with two types off", version, org)
	}
}

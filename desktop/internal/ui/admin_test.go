package ui

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "healthprep.dev/proto/gen/healthprep/v1"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/demo"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/fakecloud"
)

type adminBundle struct {
	*bundle
	cloud      *fakecloud.Cloud
	screenings *demo.Screenings
	deviceID   string
	opened     []string // URLs opened in the "browser"
	openFile   string   // what the import dialog reads
	savedPath  string   // where SaveFile writes
}

// setupAdmin is setup with the admin screens over a fake cloud (the real
// protocol on a loopback HTTP/2 server) holding the demo admin, one nurse
// and one workstation; screening settings are kept in memory.
func setupAdmin(t *testing.T) *adminBundle {
	t.Helper()
	ab := &adminBundle{cloud: fakecloud.New(fakecloud.Options{OrgID: "org-demo", OrgName: "Demo Family Clinic",
		Now: func() time.Time { return time.Date(2025, 3, 14, 7, 45, 0, 0, time.UTC) }})}
	ab.cloud.AddAccount(fakecloud.Account{ID: "user-admin", Email: demo.AdminEmail, Name: "Pat Morgan", Password: demo.DemoPassword, Role: v1.Role_ROLE_ADMIN, TOTP: demo.AdminTOTPCode})
	base := ab.cloud.Start()
	t.Cleanup(ab.cloud.Stop)
	ab.deviceID = ab.cloud.AddDevice("Front desk PC", "windows/amd64", "1.0.0", "Pat Morgan", time.Date(2025, 3, 14, 7, 40, 0, 0, time.UTC))
	tok := ab.cloud.SessionToken("user-admin")
	var err error
	if ab.screenings, err = demo.NewScreenings(); err != nil {
		t.Fatal(err)
	}
	ab.savedPath = filepath.Join(t.TempDir(), "saved")
	ab.bundle = setup(t, func(b *bundle, d *Deps) {
		admin := remote.NewAdmin(base, nil, func() string { return tok }, "")
		d.Users, d.Devices, d.Epic, d.Audit, d.Screenings = admin, admin, admin, admin, ab.screenings
		d.Samples = b.clinic.Records[:3]
		d.OpenURL = func(u *url.URL) error { ab.opened = append(ab.opened, u.String()); return nil }
		d.OpenFile = func(done func(io.ReadCloser, error)) { done(os.Open(ab.openFile)) }
		d.SaveFile = func(_ string, done func(io.WriteCloser, error)) { done(os.Create(ab.savedPath)) }
	})
	return ab
}

// signInAdmin signs the admin in (with the code) and opens the
// Administration tab on page.
func (ab *adminBundle) signInAdmin(page string) *adminScreen {
	ab.t.Helper()
	s := ab.ui.signIn
	s.email.SetText("")
	test.Type(s.email, demo.AdminEmail)
	test.Type(s.password, demo.DemoPassword)
	test.Tap(s.submit)
	ab.wait()
	test.Type(s.totp, demo.AdminTOTPCode)
	test.Tap(s.submit)
	ab.wait()
	m := ab.ui.main
	if m == nil || m.tabs == nil {
		ab.t.Fatalf("the admin signed in without an Administration tab (message %q)", s.message.Text)
	}
	m.tabs.SelectIndex(1)
	ab.wait()
	if page != pageChecklist {
		m.admin.open(page)
		ab.wait()
	}
	return m.admin
}

func TestAdministrationOnlyForAdmins(t *testing.T) {
	ab := setupAdmin(t)
	ab.signIn() // the nurse
	if ab.ui.main.tabs != nil {
		t.Fatal("a nurse sees the Administration tab")
	}
	ab.session.SignOut()
	adm := ab.signInAdmin(pageChecklist)
	v := adm.checklist
	var got []string
	for _, st := range v.steps {
		got = append(got, st.Title+": "+st.State())
	}
	want := "Connect Epic: To do, Review screening presets: To do, Invite staff: To do, Run the first sync: To do"
	if strings.Join(got, ", ") != want {
		t.Fatalf("checklist of a new organisation:\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
	// Skip the Epic step; it can be taken back.
	test.Tap(v.rows[appstate.StepEpic].skip)
	ab.wait()
	if st := v.steps[0]; !st.Skipped || v.rows[appstate.StepEpic].skip.Text != "Back to to-do" {
		t.Errorf("after skipping, the Epic step is %s", st.State())
	}
	// Open leads to the page that does the step.
	test.Tap(v.rows[appstate.StepInvite].open)
	ab.wait()
	if adm.shown != pageUsers {
		t.Fatalf("Open on Invite staff shows %q", adm.shown)
	}
	// Inviting someone completes the step.
	test.Type(adm.users.email, "nurse2@demo-clinic.example")
	adm.users.role.SetSelected("Nurse")
	test.Tap(adm.users.invite)
	ab.wait()
	adm.open(pageChecklist)
	ab.wait()
	if st := v.steps[2]; !st.Done {
		t.Errorf("after an invite, Invite staff is %s", st.State())
	}
}

func TestUsersScreen(t *testing.T) {
	ab := setupAdmin(t)
	nurse := ab.cloud.AddAccount(fakecloud.Account{Email: "jamie@demo-clinic.example", Name: "Jamie Rivera", Password: "x", Role: v1.Role_ROLE_NURSE})
	v := ab.signInAdmin(pageUsers).users
	if len(v.memberRows) != 2 || v.memberRows["user-admin"].deactivate.Disabled() == false {
		t.Fatalf("people: %d rows; the admin can deactivate themselves: %v", len(v.memberRows), !v.memberRows["user-admin"].deactivate.Disabled())
	}
	// Bad input: messages beside the fields, nothing sent.
	test.Type(v.email, "not an email")
	test.Tap(v.invite)
	ab.wait()
	if v.emailMsg.Text != "Enter one email address, like name@clinic.org." || v.roleMsg.Text != "Choose the person's role." {
		t.Errorf("bad invite: email %q, role %q", v.emailMsg.Text, v.roleMsg.Text)
	}
	if n := ab.cloud.Calls("InviteUser"); n != 0 {
		t.Fatalf("an invalid invite reached the cloud (%d calls)", n)
	}
	v.email.SetText("")
	test.Type(v.email, "Sam@Demo-Clinic.example")
	v.role.SetSelected("Medical assistant")
	test.Tap(v.invite)
	ab.wait()
	if !strings.HasPrefix(v.msg.Text, "Invited sam@demo-clinic.example as Medical assistant.") || v.emailMsg.Visible() || len(v.inviteRows) != 1 {
		t.Fatalf("invite: message %q, %d invites listed", v.msg.Text, len(v.inviteRows))
	}
	// The cloud's refusal, in its words.
	test.Type(v.email, "sam@demo-clinic.example")
	v.role.SetSelected("Nurse")
	test.Tap(v.invite)
	ab.wait()
	if v.msg.Text != "This person already has a pending invite: resend it instead." {
		t.Errorf("duplicate invite: %q", v.msg.Text)
	}
	var row *inviteRow
	for _, r := range v.inviteRows {
		row = r
	}
	test.Tap(row.resend)
	ab.wait()
	for _, r := range v.inviteRows {
		row = r
	}
	if !strings.HasPrefix(row.status.Text, "Pending, sent 2 times") {
		t.Errorf("after resending: %q", row.status.Text)
	}
	test.Tap(row.cancel)
	ab.wait()
	if len(v.inviteRows) != 0 || ab.cloud.Invites()[0].Status != v1.InviteStatus_INVITE_STATUS_CANCELLED {
		t.Errorf("after cancelling: %d invites listed", len(v.inviteRows))
	}
	// Change role, then deactivate (confirmed).
	v.memberRows[nurse].role.SetSelected("Medical assistant")
	ab.wait()
	if a, _ := ab.cloud.Account(nurse); a.Role != v1.Role_ROLE_MA {
		t.Errorf("role after changing it: %s", a.Role)
	}
	test.Tap(v.memberRows[nurse].deactivate)
	box := ab.ui.lastConfirm
	test.Tap(box.no)
	if a, _ := ab.cloud.Account(nurse); a.Deactivated {
		t.Fatal("Cancel deactivated the user")
	}
	test.Tap(v.memberRows[nurse].deactivate)
	test.Tap(ab.ui.lastConfirm.yes)
	ab.wait()
	if a, _ := ab.cloud.Account(nurse); !a.Deactivated || !v.memberRows[nurse].deactivate.Disabled() || v.msg.Text != "Jamie Rivera was deactivated." {
		t.Errorf("after deactivating: cloud %v, button disabled %v, message %q", a.Deactivated, v.memberRows[nurse].deactivate.Disabled(), v.msg.Text)
	}
}

func TestDevicesScreen(t *testing.T) {
	ab := setupAdmin(t)
	v := ab.signInAdmin(pageDevices).devices
	btn := v.rows[ab.deviceID]
	if btn == nil || !strings.Contains(test.RenderObjectToMarkup(v.list), "Last sync 5 min ago") {
		t.Fatalf("the workstation is not listed with its last sync: %s", test.RenderObjectToMarkup(v.list))
	}
	test.Tap(btn)
	box := ab.ui.lastConfirm
	test.Tap(box.yes)
	ab.wait()
	if d, _ := ab.cloud.Device(ab.deviceID); d.RevokedAt != nil || !strings.HasPrefix(box.msg.Text, "Say why") {
		t.Fatalf("revoke without a reason: revoked %v, message %q", d.RevokedAt != nil, box.msg.Text)
	}
	test.Type(box.extra.(*widget.Entry), "Replaced by a new PC")
	test.Tap(box.yes)
	ab.wait()
	d, _ := ab.cloud.Device(ab.deviceID)
	if d.RevokedAt == nil || !v.rows[ab.deviceID].Disabled() || v.msg.Text != "Front desk PC was revoked." {
		t.Errorf("after revoking: revoked %v, button disabled %v, message %q", d.RevokedAt != nil, v.rows[ab.deviceID].Disabled(), v.msg.Text)
	}
}

func TestScreeningEditor(t *testing.T) {
	ab := setupAdmin(t)
	v := ab.signInAdmin(pageScreenings).screenings
	if len(v.toggl) < 10 || !v.save.Disabled() {
		t.Fatalf("screening list: %d types, save enabled %v before any change", len(v.toggl), !v.save.Disabled())
	}
	id := v.saved.Base.Types[0].ID
	v.selectType(id)
	ab.wait()
	if !strings.HasPrefix(v.before.Text, "Now: ") || !strings.HasPrefix(v.preview.Text, "With your changes: no difference") {
		t.Fatalf("preview before editing: %q / %q", v.before.Text, v.preview.Text)
	}
	// Validation as one types: the field's message, the preview waits.
	v.fields["min_age"].SetText("fifty")
	ab.wait()
	if got := v.msgs["min_age"].Text; got != "Write an age like 50y or 74y11m." || !v.save.Disabled() {
		t.Errorf("min age fifty: %q, save enabled %v", got, !v.save.Disabled())
	}
	// The shared rules' own refusal: minimum above maximum.
	v.fields["min_age"].SetText("99y")
	ab.wait()
	if got := v.typeMsg.Text; !strings.HasPrefix(got, "The screening library refuses this:") || !strings.Contains(got, "above max_age") {
		t.Errorf("min age above max: %q", got)
	}
	// A valid change is previewed on the sample patient and saved.
	v.fields["min_age"].SetText(v.saved.Base.Types[0].MinAge)
	for k, e := range v.fields {
		if strings.HasPrefix(k, "rule:") {
			e.SetText("1y")
			break
		}
	}
	ab.wait()
	if v.typeMsg.Visible() || v.save.Disabled() || !strings.HasPrefix(v.preview.Text, "With your changes:") {
		t.Fatalf("valid edit: type message %q, save enabled %v, preview %q", v.typeMsg.Text, !v.save.Disabled(), v.preview.Text)
	}
	// Turn another type off.
	other := v.saved.Base.Types[1].ID
	v.toggl[other].SetChecked(false)
	ab.wait()
	test.Tap(v.save)
	ab.wait()
	org, saves := ab.screenings.Saved()
	if saves != 1 || len(org.Types[id].Intervals) != 1 || len(org.Disabled) != 1 || org.Disabled[0] != other {
		t.Fatalf("saved %d times: %+v", saves, org)
	}
	if !v.save.Disabled() || !strings.HasPrefix(v.msg.Text, "Saved.") {
		t.Errorf("after saving: save enabled %v, message %q", !v.save.Disabled(), v.msg.Text)
	}
	// Export, then import: a bad file is refused with a sentence, the
	// export comes back as it was.
	test.Tap(findButton(t, v.root, "Export..."))
	exported, err := os.ReadFile(ab.savedPath)
	if err != nil || !strings.Contains(string(exported), `"disabled"`) {
		t.Fatalf("export: %s, %v", exported, err)
	}
	ab.openFile = filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(ab.openFile, []byte(`{"disabled": ["no_such_type"]}`), 0o600)
	test.Tap(findButton(t, v.root, "Import..."))
	if !strings.HasPrefix(v.msg.Text, "The screening library refuses this:") || !strings.Contains(v.msg.Text, "no_such_type") {
		t.Errorf("importing a bad file: %q", v.msg.Text)
	}
	v.toggl[other].SetChecked(true)
	ab.wait()
	ab.openFile = ab.savedPath
	test.Tap(findButton(t, v.root, "Import..."))
	if v.toggl[other].Checked || !strings.HasPrefix(v.msg.Text, "Imported settings (1 types off, 1 changed)") {
		t.Errorf("importing the export: %s on %v, message %q", other, v.toggl[other].Checked, v.msg.Text)
	}
}

func TestEpicScreen(t *testing.T) {
	ab := setupAdmin(t)
	v := ab.signInAdmin(pageEpic).epic
	if md := test.RenderObjectToMarkup(v.reg); !strings.Contains(md, "https://cloud.healthprep.example/epic/callback") || !strings.Contains(md, "jwks.json") {
		t.Fatalf("registration values not shown: %s", md)
	}
	if !strings.HasPrefix(v.status.Text, "Not configured") {
		t.Errorf("status of a new organisation: %q", v.status.Text)
	}
	test.Type(v.fhirURL, "http://fhir.example.org/api/FHIR/R4")
	test.Tap(v.saveBtn)
	ab.wait()
	if v.msgs["client_id"].Text != "Enter the client ID Epic gave HealthPrep." || !strings.HasPrefix(v.msgs["fhir_base_url"].Text, "Use https") {
		t.Errorf("bad form: %q / %q", v.msgs["client_id"].Text, v.msgs["fhir_base_url"].Text)
	}
	if ab.cloud.Calls("UpdateEpicConfig") != 0 {
		t.Fatal("an invalid form reached the cloud")
	}
	test.Type(v.clientID, "client-123")
	v.fhirURL.SetText("https://fhir.example.org/api/FHIR/R4")
	test.Type(v.secret, "s3cret")
	test.Tap(v.saveBtn)
	ab.wait()
	if !strings.HasPrefix(v.status.Text, "Configured, not connected") || v.secret.Text != "" {
		t.Fatalf("after saving: status %q, secret kept in the form %v", v.status.Text, v.secret.Text != "")
	}
	test.Tap(v.connect)
	ab.wait()
	if len(ab.opened) != 1 || !strings.HasPrefix(ab.opened[0], "https://fhir.example.org/oauth2/authorize?") {
		t.Fatalf("Connect to Epic opened %v", ab.opened)
	}
	ab.cloud.SetEpicStatus(&v1.GetEpicStatusResponse{Configured: true, Connected: true, LastError: "Epic refused the token: invalid_client",
		LastErrorAt: timestamppb.New(time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC))})
	v.load()
	ab.wait()
	if !strings.HasPrefix(v.status.Text, "Connected") || !strings.Contains(v.problems.Text, "invalid_client") {
		t.Errorf("connected with an error: %q / %q", v.status.Text, v.problems.Text)
	}
}

func TestAuditViewer(t *testing.T) {
	ab := setupAdmin(t)
	adm := ab.signInAdmin(pageUsers)
	test.Type(adm.users.email, "sam@demo-clinic.example")
	adm.users.role.SetSelected("Nurse")
	test.Tap(adm.users.invite)
	ab.wait()
	adm.open(pageAudit)
	ab.wait()
	v := adm.audit
	if len(v.entries) != 1 || v.entries[0].Action != "user.invite" {
		t.Fatalf("audit log: %+v", v.entries)
	}
	test.Type(v.since, "14/03/2025")
	test.Tap(v.search)
	ab.wait()
	if v.msgs["since"].Text != "Enter the date as YYYY-MM-DD." {
		t.Errorf("bad date: %q", v.msgs["since"].Text)
	}
	v.since.SetText("2025-03-14")
	v.action.SetText("auth.")
	test.Tap(v.search)
	ab.wait()
	if len(v.entries) != 0 || v.count.Text != "0 entries shown, newest first" {
		t.Errorf("filtered to auth.: %d entries, %q", len(v.entries), v.count.Text)
	}
	v.action.SetText("user.")
	test.Tap(v.export)
	ab.wait()
	csv, err := os.ReadFile(ab.savedPath)
	if err != nil || !strings.HasPrefix(string(csv), "seq,at,") || !strings.Contains(string(csv), "user.invite") || v.msg.Text != "Exported the matching entries as CSV." {
		t.Errorf("CSV export: %q, %v, message %q", csv, err, v.msg.Text)
	}
}

// findButton finds the button labelled text under o.
func findButton(t *testing.T, o fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	for _, c := range test.LaidOutObjects(o) {
		if b, ok := c.(*widget.Button); ok && b.Text == text {
			return b
		}
	}
	t.Fatalf("no button %q", text)
	return nil
}

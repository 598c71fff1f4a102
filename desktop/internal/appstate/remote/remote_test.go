package remote_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "healthprep.dev/proto/gen/healthprep/v1"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/remote"
	"healthprep.dev/desktop/internal/fakecloud"
	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
)

type bundle struct {
	cloud   *fakecloud.Cloud
	url     string
	store   *localstore.Store
	auth    *remote.Auth
	admin   *remote.Admin
	adminID string
	nurseID string
}

const password = "correct horse battery"

// setup starts a fake cloud with an admin (TOTP 123456) and a nurse, and
// an enrolled workstation profile (its store initialised and locked).
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{cloud: fakecloud.New(fakecloud.Options{OrgName: "Test Clinic"})}
	b.adminID = b.cloud.AddAccount(fakecloud.Account{Email: "admin@clinic.example", Name: "Ada Admin", Password: password, Role: v1.Role_ROLE_ADMIN, TOTP: "123456"})
	b.nurseID = b.cloud.AddAccount(fakecloud.Account{Email: "nurse@clinic.example", Name: "Nico Nurse", Password: password, Role: v1.Role_ROLE_NURSE})
	b.url = b.cloud.Start()
	t.Cleanup(b.cloud.Stop)
	dir := t.TempDir()
	keys, err := keystore.Open(keystore.Config{Backend: keystore.BackendInsecureFile, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b.store, err = localstore.Open(ctx, localstore.Options{Path: filepath.Join(dir, "profile.db"), DeviceKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.store.Close() })
	if err := b.store.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	b.store.Lock()
	b.auth = remote.NewAuth(remote.Options{BaseURL: b.url, DeviceID: "device-1", Store: b.store,
		Directory: remote.NewFileDirectory(filepath.Join(dir, "signins.json"))})
	b.admin = remote.NewAdmin(b.url, nil, b.auth.Token, "device-1")
	return b
}

func TestSignInOnlineThenOffline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	// Offline before any online sign-in: no key for this person.
	b.cloud.Stop()
	if _, err := b.auth.SignIn(ctx, appstate.Credentials{Email: "nurse@clinic.example", Password: password}); !errors.Is(err, appstate.ErrNotOnThisWorkstation) {
		t.Fatalf("offline sign-in before any online one: %v, want ErrNotOnThisWorkstation", err)
	}
	b.url = b.cloud.Start()
	b.auth = remote.NewAuth(remote.Options{BaseURL: b.url, DeviceID: "device-1", Store: b.store,
		Directory: remote.NewFileDirectory(filepath.Join(t.TempDir(), "signins.json"))})

	if _, err := b.auth.SignIn(ctx, appstate.Credentials{Email: "nurse@clinic.example", Password: "wrong"}); !errors.Is(err, appstate.ErrWrongPassword) {
		t.Fatalf("wrong password online: %v, want ErrWrongPassword", err)
	}
	if !b.store.Locked() {
		t.Fatal("a refused sign-in unlocked the store")
	}
	in, err := b.auth.SignIn(ctx, appstate.Credentials{Email: " Nurse@Clinic.example", Password: password})
	if err != nil {
		t.Fatalf("online sign-in: %v", err)
	}
	want := appstate.SignedIn{User: appstate.User{ID: b.nurseID, Email: "nurse@clinic.example", Name: "Nico Nurse", Role: appstate.RoleNurse},
		Org: appstate.Org{ID: "org-fake", Name: "Test Clinic"}}
	if in != want || b.store.Locked() || b.auth.Token() == "" {
		t.Fatalf("online sign-in: got %+v (store locked %v, token %v), want %+v", in, b.store.Locked(), b.auth.Token() != "", want)
	}

	// The cloud goes away: the same person signs in with the password wrap.
	b.auth.Lock()
	b.cloud.Stop()
	if _, err := b.auth.SignIn(ctx, appstate.Credentials{Email: "nurse@clinic.example", Password: "wrong"}); !errors.Is(err, appstate.ErrWrongPassword) || !b.store.Locked() {
		t.Fatalf("wrong password offline: %v (store locked %v), want ErrWrongPassword and locked", err, b.store.Locked())
	}
	in, err = b.auth.SignIn(ctx, appstate.Credentials{Email: "nurse@clinic.example", Password: password})
	want.Offline = true
	if err != nil || in != want || b.store.Locked() || b.auth.Token() != "" {
		t.Fatalf("offline sign-in: %+v, %v (locked %v, token kept %v), want %+v", in, err, b.store.Locked(), b.auth.Token() != "", want)
	}
	if _, err := b.admin.Members(ctx); !errors.Is(err, appstate.ErrOfflineOnly) {
		t.Errorf("admin call after an offline sign-in: %v, want ErrOfflineOnly", err)
	}
	// Idle lock and unlock work offline too.
	b.auth.Lock()
	if err := b.auth.Unlock(ctx, in.User, "nope"); !errors.Is(err, appstate.ErrWrongPassword) {
		t.Errorf("unlock with a wrong password: %v", err)
	}
	if err := b.auth.Unlock(ctx, in.User, password); err != nil || b.store.Locked() {
		t.Errorf("unlock: %v, locked %v", err, b.store.Locked())
	}
}

func TestSignInWithSecondFactor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	cr := appstate.Credentials{Email: "admin@clinic.example", Password: password}
	if _, err := b.auth.SignIn(ctx, cr); !errors.Is(err, appstate.ErrTOTPRequired) || !b.store.Locked() {
		t.Fatalf("no code: %v, want ErrTOTPRequired with the store locked", err)
	}
	cr.TOTP = "000000"
	if _, err := b.auth.SignIn(ctx, cr); !errors.Is(err, appstate.ErrWrongTOTP) || !b.store.Locked() {
		t.Fatalf("wrong code: %v, want ErrWrongTOTP with the store locked", err)
	}
	cr.TOTP = "123456"
	in, err := b.auth.SignIn(ctx, cr)
	if err != nil || in.User.Role != appstate.RoleAdmin || !in.User.IsAdmin() {
		t.Fatalf("right code: %+v, %v", in, err)
	}
	members, err := b.admin.Members(ctx)
	if err != nil || len(members) != 2 {
		t.Fatalf("members after the admin signed in: %d, %v", len(members), err)
	}
}

func TestTOTPEnrolmentRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.cloud.AddAccount(fakecloud.Account{Email: "new@clinic.example", Password: password, Role: v1.Role_ROLE_ADMIN, MustEnrolTOTP: true})
	_, err := b.auth.SignIn(context.Background(), appstate.Credentials{Email: "new@clinic.example", Password: password})
	if !errors.Is(err, appstate.ErrTOTPEnrolmentRequired) || !strings.Contains(appstate.SignInMessage(err), "web page") {
		t.Fatalf("an account that must enrol: %v (%q)", err, appstate.SignInMessage(err))
	}
}

func (b *bundle) signInAdmin(t *testing.T) {
	t.Helper()
	if _, err := b.auth.SignIn(context.Background(), appstate.Credentials{Email: "admin@clinic.example", Password: password, TOTP: "123456"}); err != nil {
		t.Fatal(err)
	}
}

func TestUserAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.signInAdmin(t)
	ctx := context.Background()
	in, err := b.admin.InviteUser(ctx, appstate.InviteRequest{Email: "ma@clinic.example", Role: appstate.RoleMA})
	if err != nil || in.Status != "pending" || in.Role != appstate.RoleMA || in.Sent != 1 {
		t.Fatalf("invite: %+v, %v", in, err)
	}
	_, err = b.admin.InviteUser(ctx, appstate.InviteRequest{Email: "ma@clinic.example", Role: appstate.RoleMA})
	if got, want := appstate.AdminMessage(err), "This person already has a pending invite: resend it instead."; got != want {
		t.Errorf("second invite: %q, want %q", got, want)
	}
	if in, err = b.admin.ResendInvite(ctx, in.ID); err != nil || in.Sent != 2 {
		t.Errorf("resend: %+v, %v", in, err)
	}
	if in, err = b.admin.CancelInvite(ctx, in.ID); err != nil || in.Status != "cancelled" {
		t.Errorf("cancel: %+v, %v", in, err)
	}
	if list, err := b.admin.Invites(ctx); err != nil || len(list) != 0 {
		t.Errorf("invites after cancelling: %+v, %v", list, err)
	}
	m, err := b.admin.ChangeRole(ctx, b.nurseID, appstate.RoleMA)
	if err != nil || m.Role != appstate.RoleMA {
		t.Errorf("change role: %+v, %v", m, err)
	}
	if m, err = b.admin.Deactivate(ctx, b.nurseID); err != nil || m.Active {
		t.Errorf("deactivate: %+v, %v", m, err)
	}
	if _, err := b.admin.Deactivate(ctx, b.adminID); !strings.Contains(appstate.AdminMessage(err), "cannot change your own account") {
		t.Errorf("deactivating oneself: %q", appstate.AdminMessage(err))
	}
	var actions []string
	for _, e := range b.cloud.Audit() {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, "user.invite user.invite_resend user.invite_cancel user.role_change user.deactivate") {
		t.Errorf("audit log: %s", got)
	}
	// The audit viewer's query and CSV export.
	f, err := appstate.AuditForm{Action: "user.", Outcome: "success"}.Filter(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	entries, next, err := b.admin.QueryAudit(ctx, f, "")
	if err != nil || len(entries) != 5 || next != "" || entries[0].Action != "user.deactivate" {
		t.Fatalf("audit query: %d entries, next %q, %v", len(entries), next, err)
	}
	var csv bytes.Buffer
	if err := b.admin.ExportAuditCSV(ctx, f, &csv); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(csv.String()), "\n"); len(lines) != 6 || !strings.HasPrefix(lines[0], "seq,at,") {
		t.Errorf("CSV export: %d lines: %q", len(lines), csv.String())
	}
}

func TestNurseIsRefusedAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.auth.SignIn(context.Background(), appstate.Credentials{Email: "nurse@clinic.example", Password: password}); err != nil {
		t.Fatal(err)
	}
	_, err := b.admin.Devices(context.Background())
	if !errors.Is(err, appstate.ErrPermissionDenied) {
		t.Fatalf("a nurse listing devices: %v, want ErrPermissionDenied", err)
	}
}

func TestObserveSync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 5 {
		b.cloud.AddChange(&v1.SyncChange{Kind: v1.SyncEntityKind_SYNC_ENTITY_KIND_CONFIG, Id: "unknown-" + string(rune('a'+i)), Payload: []byte(`{}`)})
	}
	dev := b.cloud.AddDevice("Front desk", "linux/amd64", "dev", "Ada Admin", time.Time{})
	tok := b.cloud.DeviceToken(dev)
	session := appstate.NewSession(nil, 0, nil)
	var seen []appstate.Status
	session.Subscribe(func(st appstate.Status) { seen = append(seen, st) })
	cloud := remote.Observe(syncagent.NewConnectCloud(b.url, func() (string, error) { return tok, nil }, dev), session, nil)
	if _, ok := cloud.(syncagent.Watcher); !ok {
		t.Error("the observed cloud lost the watch stream")
	}
	ctx := context.Background()
	// Pull pages of 2 straight from the cloud, as the agent does.
	cur := ""
	for {
		p, err := cloud.Pull(ctx, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		cur = p.Next
		if !p.HasMore {
			break
		}
	}
	if len(seen) != 3 || !seen[0].Syncing || seen[0].Progress.Fraction() != 0.4 || seen[1].Progress.Applied != 4 {
		t.Fatalf("progress while pulling 5 changes by 2: %+v", seen)
	}
	if st := session.Status(); st.Syncing || !st.Online || st.LastSync.IsZero() || st.SyncError != "" {
		t.Fatalf("after the last page: %+v", st)
	}
	// The cloud goes away: offline, in words.
	b.cloud.Stop()
	if _, err := cloud.Pull(ctx, cur, 2); err == nil {
		t.Fatal("pull from a stopped cloud worked")
	}
	st := session.Status()
	if st.Online || st.SyncError != "cloud unreachable" || !strings.HasPrefix(st.OfflineBanner(time.Now()), "OFFLINE") {
		t.Fatalf("cloud stopped: %+v", st)
	}
}

package api

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/device"
	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/keyring"
	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/memstore"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// TestSuspendedOrganisationEndToEnd drives the real stack (identity, org,
// device registry on Postgres as the app role, Connect over HTTP/2): a root
// admin suspends a clinic; its open session, its people's sign-in, its
// enrolled workstation and an unused enrolment code are all refused with
// the one suspension answer (PermissionDenied, the message, and
// Healthprep-Suspended: organization — never the revoked refusal); the
// refused sign-in is in the clinic's audit log; the root admin keeps
// working and reinstates the clinic, after which the same session, the
// same device token and the same code work again.
func TestSuspendedOrganisationEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := &cluster{db: pg.NewDB(t), mail: &mailbox{}}
	keys, err := keyring.NewLocal([]byte(strings.Repeat("K", keyring.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	db := tenancy.New(cl.db.AppPool(t))
	ids, err := identity.New(db, keys, cl.mail, time.Now, identity.Config{
		BaseURL: "https://hp.test", EmailHashKey: []byte(strings.Repeat("e", 32)), Password: cheap,
	})
	if err != nil {
		t.Fatal(err)
	}
	idAPI := Identity{Svc: ids}
	h, _ := Handler(Services{Authenticator: idAPI, Orgs: org.NewStore(db, time.Now), Users: idAPI, Auth: idAPI, Audit: AuditStore{DB: db},
		Sync: syncfeed.New(memstore.New(), syncfeed.Options{}), Devices: device.New(db, nil)}, Options{})
	url, hc := serveH2C(t, h)
	n := &instance{url: url, http: hc, id: ids, tenant: db,
		orgs: c.NewOrgServiceClient(hc, url), users: c.NewUserServiceClient(hc, url),
		auth: c.NewAuthServiceClient(hc, url), audit: c.NewAuditServiceClient(hc, url)}
	devices, syncc := c.NewDeviceServiceClient(hc, url), c.NewSyncServiceClient(hc, url)
	root := cl.rootSession(t, n, n)

	created, err := n.orgs.CreateOrg(ctx, withToken(root, &v1.CreateOrgRequest{Name: "Lakeside Clinic", Slug: "lakeside"}))
	if err != nil {
		t.Fatal(err)
	}
	orgID := created.Msg.GetOrganization().GetId()
	setStatus := func(s v1.OrgStatus, reason string) {
		t.Helper()
		if _, err := n.orgs.SetOrgStatus(ctx, withToken(root, &v1.SetOrgStatusRequest{OrgId: orgID, Status: s, Reason: reason})); err != nil {
			t.Fatalf("SetOrgStatus(%v) as root: %v", s, err)
		}
	}
	setStatus(v1.OrgStatus_ORG_STATUS_LIVE, "contract signed")
	const nurse, nursePass = "nurse@lakeside.test", "a long and unusual passphrase 7"
	if _, err := n.users.InviteUser(ctx, withToken(root, &v1.InviteUserRequest{OrgId: orgID, Email: nurse, Role: v1.Role_ROLE_NURSE})); err != nil {
		t.Fatal(err)
	}
	acc, err := n.auth.AcceptInvite(ctx, connect.NewRequest(&v1.AcceptInviteRequest{Token: cl.mail.token(t, nurse), Password: nursePass, DisplayName: "Nurse"}))
	if err != nil {
		t.Fatal(err)
	}
	session := acc.Msg.GetSessionToken()
	code := func() string {
		t.Helper()
		r, err := devices.IssueEnrolmentCode(ctx, withToken(root, &v1.IssueEnrolmentCodeRequest{OrgId: orgID}))
		if err != nil {
			t.Fatal(err)
		}
		return r.Msg.GetCode()
	}
	en, err := devices.EnrolDevice(ctx, connect.NewRequest(&v1.EnrolDeviceRequest{Code: code(), Name: "Front desk"}))
	if err != nil {
		t.Fatal(err)
	}
	workstation, spare := en.Msg.GetDeviceToken(), code()

	calls := []struct {
		name     string
		call     func() error
		wantCode connect.Code // while suspended; every call succeeds after reinstatement
		wantMsg  string
	}{
		{"open session reads its org", func() error {
			_, err := n.orgs.GetOrg(ctx, withToken(session, &v1.GetOrgRequest{}))
			return err
		}, connect.CodePermissionDenied, msgSuspended},
		{"sign-in with the right password", func() error {
			_, err := n.auth.SignIn(ctx, connect.NewRequest(&v1.SignInRequest{Email: nurse, Password: nursePass}))
			return err
		}, connect.CodePermissionDenied, msgSuspended},
		{"workstation pulls with its device token", func() error {
			_, err := syncc.Pull(ctx, withToken(workstation, &v1.PullRequest{ProtocolVersion: 2}))
			return err
		}, connect.CodePermissionDenied, msgSuspended},
		{"workstation enrols with an unused code", func() error {
			_, err := devices.EnrolDevice(ctx, connect.NewRequest(&v1.EnrolDeviceRequest{Code: spare, Name: "Room 2"}))
			return err
		}, connect.CodePermissionDenied, msgSuspended},
	}
	for _, tt := range calls {
		if err := tt.call(); err != nil {
			t.Fatalf("%s before suspension: %v", tt.name, err)
		}
	}
	spare = code() // the one above was used

	setStatus(v1.OrgStatus_ORG_STATUS_SUSPENDED, "unpaid invoices")
	for _, tt := range calls {
		err := tt.call()
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != tt.wantCode || ce.Message() != tt.wantMsg {
			t.Errorf("%s while suspended: %v; want %v %q", tt.name, err, tt.wantCode, tt.wantMsg)
			continue
		}
		if ce.Meta().Get(SuspendedHeader) != "organization" || ce.Meta().Get(RevokedHeader) != "" {
			t.Errorf("%s while suspended: metadata %v; want %s: organization and no %s", tt.name, ce.Meta(), SuspendedHeader, RevokedHeader)
		}
		t.Logf("%s while suspended: %v", tt.name, ce)
	}
	// A wrong password says wrong password: suspension is told only to
	// someone who knows the password.
	_, err = n.auth.SignIn(ctx, connect.NewRequest(&v1.SignInRequest{Email: nurse, Password: "not the passphrase at all"}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.HasSuffix(err.Error(), identity.ErrInvalidCredentials.Error()) {
		t.Errorf("wrong password while suspended: %v; want Unauthenticated %q", err, identity.ErrInvalidCredentials)
	}

	// The root admin still works, sees the refusal in the clinic's log,
	// and reinstates it.
	got, err := n.orgs.GetOrg(ctx, withToken(root, &v1.GetOrgRequest{OrgId: orgID}))
	if err != nil || got.Msg.GetOrganization().GetStatus() != v1.OrgStatus_ORG_STATUS_SUSPENDED {
		t.Fatalf("GetOrg as root while suspended = %v, %v; want suspended", got, err)
	}
	log, err := n.audit.QueryAudit(ctx, withToken(root, &v1.QueryAuditRequest{Filter: &v1.AuditFilter{OrgId: orgID, Action: "auth.signin",
		Outcome: v1.AuditOutcome_AUDIT_OUTCOME_FAILURE}}))
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, e := range log.Msg.GetEntries() {
		reasons[e.GetDetails()["reason"]]++
	}
	if reasons["org_suspended"] != 1 || reasons["wrong_password"] != 1 {
		t.Errorf("refused sign-ins in the clinic's audit log by reason: %v; want org_suspended 1, wrong_password 1", reasons)
	}
	setStatus(v1.OrgStatus_ORG_STATUS_LIVE, "paid")
	for _, tt := range calls {
		if err := tt.call(); err != nil {
			t.Errorf("%s after reinstatement: %v; want accepted", tt.name, err)
		}
	}
	if v, err := n.audit.VerifyAuditChain(ctx, withToken(root, &v1.VerifyAuditChainRequest{OrgId: orgID})); err != nil || !v.Msg.GetOk() {
		t.Errorf("VerifyAuditChain = %v, %v; want ok", v, err)
	}
}

package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/device"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/memstore"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

type deviceBundle struct {
	devices c.DeviceServiceClient
	sync    c.SyncServiceClient
	orgs    c.OrgServiceClient
}

// setupDevices serves the API with the real device registry on Postgres
// (org A exists there), the real feed in memory and fake sessions.
func setupDevices(t *testing.T) deviceBundle {
	t.Helper()
	db := tenancy.New(pg.NewDB(t).AppPool(t))
	err := db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO organizations (id, name, slug, timezone) VALUES ($1, 'A', 'clinic-a', 'UTC')`, orgA)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakes{orgs: &fakeOrgs{}, users: &fakeUsers{}, auth: &fakeAuth{}, audit: &fakeAudit{}}
	h, _ := Handler(Services{Authenticator: fakeAuthn{}, Orgs: f.orgs, Users: f.users, Auth: f.auth, Audit: f.audit,
		Sync: syncfeed.New(memstore.New(), syncfeed.Options{WatchInterval: 10 * time.Millisecond}), Devices: device.New(db, nil)}, Options{})
	url, client := serveH2C(t, h)
	return deviceBundle{devices: c.NewDeviceServiceClient(client, url), sync: c.NewSyncServiceClient(client, url), orgs: c.NewOrgServiceClient(client, url)}
}

// TestDeviceEndToEnd: an admin issues a code, a workstation enrols with it
// and syncs with its device token (and may do nothing else), the admin
// sees its last sync and revokes it, and the next call gets the distinct
// revoked refusal.
func TestDeviceEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupDevices(t)
	code, err := b.devices.IssueEnrolmentCode(ctx, as("admin", &v1.IssueEnrolmentCodeRequest{}))
	if err != nil {
		t.Fatalf("IssueEnrolmentCode: %v", err)
	}
	if _, err := b.devices.IssueEnrolmentCode(ctx, as("nurse", &v1.IssueEnrolmentCodeRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a nurse issuing a code: %v; want PermissionDenied", err)
	}
	en, err := b.devices.EnrolDevice(ctx, connect.NewRequest(&v1.EnrolDeviceRequest{Code: code.Msg.GetCode(), Name: "Room 4", Os: "linux/amd64", Version: "0.1"}))
	if err != nil {
		t.Fatalf("EnrolDevice: %v", err)
	}
	tok := en.Msg.GetDeviceToken()
	if en.Msg.GetOrgId() != orgA.String() {
		t.Errorf("enrolled into %s; want org A", en.Msg.GetOrgId())
	}
	_, err = b.devices.EnrolDevice(ctx, connect.NewRequest(&v1.EnrolDeviceRequest{Code: code.Msg.GetCode(), Name: "Again"}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodePermissionDenied || ce.Message() != "code: this enrolment code is not valid (unknown, already used or expired); ask an administrator for a new one" {
		t.Errorf("reusing the code: %v", err)
	}

	if _, err := b.sync.Pull(ctx, as(tok, &v1.PullRequest{ProtocolVersion: 2})); err != nil {
		t.Fatalf("Pull with the device token: %v", err)
	}
	if _, err := b.orgs.GetOrg(ctx, as(tok, &v1.GetOrgRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("GetOrg with a device token: %v; want PermissionDenied", err)
	}
	if _, err := b.devices.ListDevices(ctx, as(tok, &v1.ListDevicesRequest{})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("ListDevices with a device token: %v; want PermissionDenied", err)
	}
	list, err := b.devices.ListDevices(ctx, as("admin", &v1.ListDevicesRequest{}))
	if err != nil || len(list.Msg.GetDevices()) != 1 || list.Msg.GetDevices()[0].GetLastSyncAt() == nil || list.Msg.GetDevices()[0].GetName() != "Room 4" {
		t.Fatalf("ListDevices = %v, %v; want Room 4 with a last sync", list, err)
	}
	if _, err := b.devices.RevokeDevice(ctx, as("admin", &v1.RevokeDeviceRequest{DeviceId: "nope"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("revoking a bad id: %v; want InvalidArgument", err)
	}
	if _, err := b.devices.RevokeDevice(ctx, as("admin", &v1.RevokeDeviceRequest{DeviceId: en.Msg.GetDeviceId(), Reason: "lost"})); err != nil {
		t.Fatalf("RevokeDevice: %v", err)
	}
	_, err = b.sync.Pull(ctx, as(tok, &v1.PullRequest{ProtocolVersion: 2}))
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated || ce.Meta().Get(RevokedHeader) != "device" {
		t.Errorf("Pull after revocation: %v; want Unauthenticated with %s: device", err, RevokedHeader)
	}
	// An unknown device token is an ordinary sign-in failure, not a revocation.
	_, err = b.sync.Pull(ctx, as(device.TokenPrefix+"00000000000040008000000000000001_x", &v1.PullRequest{}))
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated || ce.Meta().Get(RevokedHeader) != "" {
		t.Errorf("Pull with an unknown device token: %v; want plain Unauthenticated", err)
	}
}

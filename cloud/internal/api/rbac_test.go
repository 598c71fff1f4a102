package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// procedure is one RPC of healthprep.v1, found from the descriptors.
type procedure struct {
	path      string
	streaming bool
}

// allProcedures lists every RPC of every service in healthprep.v1, from the
// generated descriptors, so a new RPC is tested without anyone remembering.
func allProcedures(t *testing.T) []procedure {
	t.Helper()
	var out []procedure
	for _, fd := range []protoreflect.FileDescriptor{
		v1.File_healthprep_v1_org_proto, v1.File_healthprep_v1_user_proto,
		v1.File_healthprep_v1_auth_proto, v1.File_healthprep_v1_audit_proto,
		v1.File_healthprep_v1_sync_proto,
		v1.File_healthprep_v1_epic_proto,
		v1.File_healthprep_v1_device_proto,
		v1.File_healthprep_v1_screening_proto,
	} {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				out = append(out, procedure{
					path:      fmt.Sprintf("/%s/%s", sd.FullName(), md.Name()),
					streaming: md.IsStreamingServer() || md.IsStreamingClient(),
				})
			}
		}
	}
	if len(out) < 25 {
		t.Fatalf("found %d procedures in the descriptors; want at least 25", len(out))
	}
	return out
}

// want is the access specification, written out by hand (not derived from
// the rules table it checks): for each procedure, who may call it.
// "public" means anyone, signed in or not. "2fa" marks the procedures a
// session that still owes its second factor may call, "enrol" those a
// session that must first set up a second factor may call.
var want = map[string]string{
	c.OrgServiceCreateOrgProcedure:         "root",
	c.OrgServiceGetOrgProcedure:            "root admin nurse ma",
	c.OrgServiceUpdateOrgSettingsProcedure: "root admin",
	c.OrgServiceSetOrgStatusProcedure:      "root",
	c.OrgServiceListOrgsProcedure:          "root",

	c.UserServiceListUsersProcedure:          "root admin",
	c.UserServiceListInvitesProcedure:        "root admin",
	c.UserServiceInviteUserProcedure:         "root admin",
	c.UserServiceResendInviteProcedure:       "root admin",
	c.UserServiceCancelInviteProcedure:       "root admin",
	c.UserServiceChangeUserRoleProcedure:     "root admin",
	c.UserServiceDeactivateUserProcedure:     "root admin",
	c.UserServiceRevokeUserSessionsProcedure: "root admin",

	c.AuthServiceSignInProcedure:                "public",
	c.AuthServiceRequestPasswordResetProcedure:  "public",
	c.AuthServiceCompletePasswordResetProcedure: "public",
	c.AuthServiceAcceptInviteProcedure:          "public",
	c.AuthServiceVerifySecondFactorProcedure:    "root admin nurse ma 2fa",
	c.AuthServiceStartTotpEnrolmentProcedure:    "root admin nurse ma enrol",
	c.AuthServiceConfirmTotpEnrolmentProcedure:  "root admin nurse ma enrol",
	c.AuthServiceSignOutProcedure:               "root admin nurse ma 2fa enrol",
	c.AuthServiceWhoAmIProcedure:                "root admin nurse ma 2fa enrol",

	c.AuditServiceQueryAuditProcedure:       "root admin",
	c.AuditServiceExportAuditCsvProcedure:   "root admin",
	c.AuditServiceVerifyAuditChainProcedure: "root admin",

	// ---- Epic (issue 5) ----
	c.EpicServiceGetEpicConfigProcedure:       "root admin",
	c.EpicServiceUpdateEpicConfigProcedure:    "root admin",
	c.EpicServiceGetEpicRegistrationProcedure: "root admin",
	c.EpicServiceStartEpicConnectProcedure:    "root admin",
	c.EpicServiceGetEpicStatusProcedure:       "root admin",
	c.EpicServiceListQuarantineProcedure:      "root admin",
	c.EpicServiceFindPatientByMrnProcedure:    "root admin nurse ma",

	// ---- workstation sync (issue 6) ----
	c.SyncServicePullProcedure:  "root admin nurse ma",
	c.SyncServicePushProcedure:  "root admin nurse ma",
	c.SyncServiceWatchProcedure: "root admin nurse ma",

	// ---- workstation devices (issue 6) ----
	c.DeviceServiceIssueEnrolmentCodeProcedure: "root admin",
	c.DeviceServiceEnrolDeviceProcedure:        "public",
	c.DeviceServiceListDevicesProcedure:        "root admin",
	c.DeviceServiceRevokeDeviceProcedure:       "root admin",

	c.ScreeningServiceGetScreeningSettingsProcedure:    "root admin nurse ma",
	c.ScreeningServiceUpdateScreeningSettingsProcedure: "root admin",
}

// call invokes any procedure with an empty request message (valid for
// every message type) and returns the error code, or 0 for success.
func call(ctx context.Context, f *fakes, p procedure, token string, header http.Header) (connect.Code, error) {
	cl := connect.NewClient[emptypb.Empty, emptypb.Empty](f.client, f.url+p.path)
	req := connect.NewRequest(&emptypb.Empty{})
	if token != "" {
		req.Header().Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		req.Header()[k] = vs
	}
	var err error
	if p.streaming {
		var st *connect.ServerStreamForClient[emptypb.Empty]
		st, err = cl.CallServerStream(ctx, req)
		if err == nil {
			for st.Receive() {
			}
			err = st.Err()
			st.Close()
		}
	} else {
		_, err = cl.CallUnary(ctx, req)
	}
	if err == nil {
		return 0, nil
	}
	return connect.CodeOf(err), err
}

// TestEveryProcedureHasARule fails when an RPC exists in the protos but not
// in the rules table or in this test's specification.
func TestEveryProcedureHasARule(t *testing.T) {
	t.Parallel()
	for _, p := range allProcedures(t) {
		if _, ok := rules[p.path]; !ok {
			t.Errorf("procedure %s has no entry in the RBAC rules table", p.path)
		}
		if _, ok := want[p.path]; !ok {
			t.Errorf("procedure %s has no entry in this test's access specification", p.path)
		}
	}
	if len(rules) != len(want) {
		t.Errorf("rules table has %d entries, specification %d; a stale entry?", len(rules), len(want))
	}
}

// TestRBACMatrix calls every RPC as every kind of caller over a real HTTP/2
// server and checks it is allowed, refused with PermissionDenied, or refused
// with Unauthenticated exactly as the specification says. A valid session
// of a suspended organisation is refused everything but the public
// procedures, with the suspension refusal.
func TestRBACMatrix(t *testing.T) {
	t.Parallel()
	f := setupFakes(t, Options{})
	callers := []struct {
		name  string
		token string
	}{
		{"anonymous", ""},
		{"tampered token", "admin.tampered"},
		{"unknown token", "no-such-session"},
		{"root", "root"},
		{"admin", "admin"},
		{"nurse", "nurse"},
		{"ma", "ma"},
		{"2fa", "admin-2fa"},
		{"enrol", "admin-enrol"},
		{"suspended", suspendedToken},
	}
	procs := allProcedures(t)
	sort.Slice(procs, func(i, j int) bool { return procs[i].path < procs[j].path })
	for _, p := range procs {
		allowed := strings.Fields(want[p.path])
		public := want[p.path] == "public"
		for _, cl := range callers {
			t.Run(p.path+"/"+cl.name, func(t *testing.T) {
				t.Parallel()
				var wantCode connect.Code
				switch {
				case public:
					wantCode = 0
				case cl.name == "suspended":
					wantCode = connect.CodePermissionDenied
				case cl.token == "" || tokens[cl.token] == (Principal{}):
					wantCode = connect.CodeUnauthenticated
				case contains(allowed, cl.name):
					wantCode = 0
				default:
					wantCode = connect.CodePermissionDenied
				}
				got, err := call(context.Background(), f, p, cl.token, nil)
				// Allowed calls may still fail validation on an empty
				// request; what matters is that RBAC let them through.
				if wantCode == 0 && (got == connect.CodePermissionDenied || got == connect.CodeUnauthenticated) {
					t.Errorf("%s as %s: refused with %v (%v); want allowed", p.path, cl.name, got, err)
				}
				if wantCode != 0 && got != wantCode {
					t.Errorf("%s as %s: code %v (%v); want %v", p.path, cl.name, got, err, wantCode)
				}
				var ce *connect.Error
				if suspended := errors.As(err, &ce) && ce.Meta().Get(SuspendedHeader) == "organization" && ce.Message() == msgSuspended; suspended != (cl.name == "suspended" && !public) {
					t.Errorf("%s as %s: %v; is the suspension refusal: %v, want %v", p.path, cl.name, err, suspended, !suspended)
				}
			})
		}
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// TestRefusedCallsReachNothing checks that a refused call never reaches a
// domain service.
func TestRefusedCallsReachNothing(t *testing.T) {
	t.Parallel()
	f := setupFakes(t, Options{})
	for _, p := range allProcedures(t) {
		if want[p.path] == "public" {
			continue
		}
		if _, err := call(context.Background(), f, p, "", nil); err == nil {
			t.Errorf("%s anonymous: allowed", p.path)
		}
		if _, err := call(context.Background(), f, p, suspendedToken, nil); err == nil {
			t.Errorf("%s by a suspended organisation: allowed", p.path)
		}
	}
	for _, p := range []procedure{{path: c.OrgServiceCreateOrgProcedure}, {path: c.AuditServiceExportAuditCsvProcedure, streaming: true}} {
		if _, err := call(context.Background(), f, p, "nurse", nil); err == nil {
			t.Errorf("%s as nurse: allowed", p.path)
		}
	}
	if n := f.calls(); n != 0 {
		t.Errorf("refused calls reached the domain %d times; want 0", n)
	}
}

// TestOrgScope checks that only a root admin may name another organisation,
// for unary requests, for audit filters, and on a server stream.
func TestOrgScope(t *testing.T) {
	t.Parallel()
	f := setupFakes(t, Options{})
	orgs := c.NewOrgServiceClient(f.client, f.url)
	users := c.NewUserServiceClient(f.client, f.url)
	auditc := c.NewAuditServiceClient(f.client, f.url)
	tests := []struct {
		name     string
		token    string
		org      string
		wantCode connect.Code
		wantMsg  string
	}{
		{"admin, own org", "admin", orgA.String(), 0, ""},
		{"admin, empty means own", "admin", "", 0, ""},
		{"admin, other org", "admin", orgB.String(), connect.CodePermissionDenied, msgOtherOrg},
		{"admin, malformed org", "admin", "not-a-uuid", connect.CodeInvalidArgument, msgBadOrgID},
		{"root, any org", "root", orgB.String(), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			check := func(what string, err error) {
				t.Helper()
				if got := connect.CodeOf(err); (err == nil) != (tt.wantCode == 0) || (err != nil && got != tt.wantCode) {
					t.Errorf("%s: error %v; want code %v", what, err, tt.wantCode)
					return
				}
				var ce *connect.Error
				if errors.As(err, &ce) && ce.Message() != tt.wantMsg {
					t.Errorf("%s: message %q; want %q", what, ce.Message(), tt.wantMsg)
				}
			}
			auth := func(r interface{ Header() http.Header }) { r.Header().Set("Authorization", "Bearer "+tt.token) }

			r1 := connect.NewRequest(&v1.GetOrgRequest{OrgId: tt.org})
			auth(r1)
			_, err := orgs.GetOrg(ctx, r1)
			check("GetOrg", err)

			r2 := connect.NewRequest(&v1.ListUsersRequest{OrgId: tt.org})
			auth(r2)
			_, err = users.ListUsers(ctx, r2)
			check("ListUsers", err)

			r3 := connect.NewRequest(&v1.QueryAuditRequest{Filter: &v1.AuditFilter{OrgId: tt.org}})
			auth(r3)
			_, err = auditc.QueryAudit(ctx, r3)
			check("QueryAudit", err)

			r4 := connect.NewRequest(&v1.ExportAuditCsvRequest{Filter: &v1.AuditFilter{OrgId: tt.org}})
			auth(r4)
			st, err := auditc.ExportAuditCsv(ctx, r4)
			if err == nil {
				for st.Receive() {
				}
				err = st.Err()
				st.Close()
			}
			check("ExportAuditCsv", err)
		})
	}
}

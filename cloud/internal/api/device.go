package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/device"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// RoleDevice is the role of an enrolled workstation calling with its
// device token. It is not among Roles: a device may call only the
// procedures whose rule names it (sync).
const RoleDevice Role = "device"

// Devices is the workstation registry (device.Store).
type Devices interface {
	IssueCode(ctx context.Context, actor device.Actor, org tenancy.OrgID, valid time.Duration) (string, time.Time, error)
	Enrol(ctx context.Context, in device.Enrolment) (device.Enrolled, error)
	Authenticate(ctx context.Context, token string) (device.Device, error)
	List(ctx context.Context, org tenancy.OrgID, includeRevoked bool) ([]device.Device, error)
	Revoke(ctx context.Context, actor device.Actor, org tenancy.OrgID, id uuid.UUID, reason string) (device.Device, error)
}

// ErrRevoked is what an Authenticator returns (wrapped or not) for
// credentials that were revoked (not merely expired): the API answers with
// the distinct refusal that tells a workstation to crypto-shred its cache.
var ErrRevoked = errors.New("credentials were revoked")

// Revocation metadata (see proto/healthprep/v1/device.proto).
const (
	RevokedHeader   = "Healthprep-Revoked"
	SyncErrorHeader = "Healthprep-Sync-Error"
	msgRevoked      = "this workstation was revoked by an administrator of your organisation; its local data has been made unreadable"
)

func revokedError() error {
	e := connect.NewError(connect.CodeUnauthenticated, errors.New(msgRevoked))
	e.Meta().Set(RevokedHeader, "device")
	return e
}

// deviceAuthn authenticates device tokens with the device registry and
// everything else with the session authenticator.
type deviceAuthn struct {
	sessions Authenticator
	devices  Devices
}

func (a deviceAuthn) Authenticate(ctx context.Context, token string) (Principal, error) {
	if !strings.HasPrefix(token, device.TokenPrefix) {
		return a.sessions.Authenticate(ctx, token)
	}
	d, err := a.devices.Authenticate(ctx, token)
	switch {
	case errors.Is(err, device.ErrRevoked):
		return Principal{}, ErrRevoked
	case errors.Is(err, device.ErrOrgSuspended):
		return Principal{}, ErrOrgSuspended
	case errors.Is(err, device.ErrInvalidToken):
		return Principal{}, ErrSessionInvalid
	case err != nil:
		return Principal{}, err
	}
	return Principal{UserID: d.EnrolledBy, OrgID: d.OrgID, Role: RoleDevice, DeviceID: d.ID}, nil
}

type deviceServer struct {
	devices Devices
	errs    errorMapper
}

var _ c.DeviceServiceHandler = (*deviceServer)(nil)

var errNoDevices = connect.NewError(connect.CodeUnimplemented, errors.New("device enrolment is not available on this server"))

func deviceActor(ctx context.Context) device.Actor {
	cl := CallerFrom(ctx)
	return device.Actor{UserID: cl.Principal.UserID, Role: string(cl.Principal.Role), IP: cl.IP}
}

// wire maps the registry's errors; the rest go through the error mapper.
func (s *deviceServer) wire(ctx context.Context, procedure string, err error) error {
	var ii *device.InvalidInput
	switch {
	case errors.As(err, &ii):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(ii.Error()))
	case errors.Is(err, device.ErrBadCode):
		return connect.NewError(connect.CodePermissionDenied, errors.New("code: this enrolment code is not valid (unknown, already used or expired); ask an administrator for a new one"))
	case errors.Is(err, device.ErrOrgSuspended):
		return suspendedError()
	case errors.Is(err, device.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("device_id: no such device in your organisation"))
	}
	return s.errs.wire(ctx, procedure, err)
}

func deviceToWire(d device.Device) *v1.Device {
	out := &v1.Device{DeviceId: d.ID.String(), Name: d.Name, Os: d.OS, Version: d.Version,
		EnrolledBy: d.EnrolledBy.String(), EnrolledAt: timeToWire(d.EnrolledAt)}
	if !d.LastSyncAt.IsZero() {
		out.LastSyncAt = timeToWire(d.LastSyncAt)
	}
	if !d.RevokedAt.IsZero() {
		out.RevokedAt = timeToWire(d.RevokedAt)
	}
	return out
}

func (s *deviceServer) IssueEnrolmentCode(ctx context.Context, req *connect.Request[v1.IssueEnrolmentCodeRequest]) (*connect.Response[v1.IssueEnrolmentCodeResponse], error) {
	if s.devices == nil {
		return nil, errNoDevices
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	code, exp, err := s.devices.IssueCode(ctx, deviceActor(ctx), org, time.Duration(req.Msg.GetValidMinutes())*time.Minute)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.IssueEnrolmentCodeResponse{Code: code, ExpiresAt: timeToWire(exp)}), nil
}

func (s *deviceServer) EnrolDevice(ctx context.Context, req *connect.Request[v1.EnrolDeviceRequest]) (*connect.Response[v1.EnrolDeviceResponse], error) {
	if s.devices == nil {
		return nil, errNoDevices
	}
	m := req.Msg
	e, err := s.devices.Enrol(ctx, device.Enrolment{Code: m.GetCode(), Name: m.GetName(), OS: m.GetOs(), Version: m.GetVersion(), IP: CallerFrom(ctx).IP})
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.EnrolDeviceResponse{DeviceId: e.Device.ID.String(), OrgId: e.Device.OrgID.String(), DeviceToken: e.Token}), nil
}

func (s *deviceServer) ListDevices(ctx context.Context, req *connect.Request[v1.ListDevicesRequest]) (*connect.Response[v1.ListDevicesResponse], error) {
	if s.devices == nil {
		return nil, errNoDevices
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	ds, err := s.devices.List(ctx, org, req.Msg.GetIncludeRevoked())
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	out := &v1.ListDevicesResponse{}
	for _, d := range ds {
		out.Devices = append(out.Devices, deviceToWire(d))
	}
	return connect.NewResponse(out), nil
}

func (s *deviceServer) RevokeDevice(ctx context.Context, req *connect.Request[v1.RevokeDeviceRequest]) (*connect.Response[v1.RevokeDeviceResponse], error) {
	if s.devices == nil {
		return nil, errNoDevices
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(req.Msg.GetDeviceId())
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("device_id: is not a device id"))
	}
	d, err := s.devices.Revoke(ctx, deviceActor(ctx), org, id, req.Msg.GetReason())
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.RevokeDeviceResponse{Device: deviceToWire(d)}), nil
}

package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

type userServer struct {
	users Users
	errs  errorMapper
}

var _ c.UserServiceHandler = (*userServer)(nil)

var roleToWire = map[Role]v1.Role{
	RoleRootAdmin: v1.Role_ROLE_ROOT_ADMIN,
	RoleAdmin:     v1.Role_ROLE_ADMIN,
	RoleNurse:     v1.Role_ROLE_NURSE,
	RoleMA:        v1.Role_ROLE_MA,
}

func roleFromWire(r v1.Role) (Role, error) {
	for k, v := range roleToWire {
		if v == r {
			return k, nil
		}
	}
	return "", &InvalidInput{Field: "role", Problem: "must be admin, nurse or ma"}
}

var inviteStateToWire = map[InviteState]v1.InviteStatus{
	InvitePending:   v1.InviteStatus_INVITE_STATUS_PENDING,
	InviteAccepted:  v1.InviteStatus_INVITE_STATUS_ACCEPTED,
	InviteCancelled: v1.InviteStatus_INVITE_STATUS_CANCELLED,
	InviteExpired:   v1.InviteStatus_INVITE_STATUS_EXPIRED,
}

func userToWire(u User) *v1.User {
	st := v1.UserStatus_USER_STATUS_DEACTIVATED
	if u.Active {
		st = v1.UserStatus_USER_STATUS_ACTIVE
	}
	return &v1.User{
		Id: u.ID.String(), OrgId: u.OrgID.String(), Email: u.Email, DisplayName: u.DisplayName,
		Role: roleToWire[u.Role], Status: st, TotpEnrolled: u.TOTPEnrolled, CreatedAt: timeToWire(u.CreatedAt),
	}
}

func inviteToWire(i Invite) *v1.Invite {
	return &v1.Invite{
		Id: i.ID.String(), OrgId: i.OrgID.String(), Email: i.Email, Role: roleToWire[i.Role],
		Status: inviteStateToWire[i.State], CreatedAt: timeToWire(i.CreatedAt), ExpiresAt: timeToWire(i.ExpiresAt),
		SentCount: int32(i.SentCount),
	}
}

func parseID(field, s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.UUID{}, &InvalidInput{Field: field, Problem: "is required"}
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, &InvalidInput{Field: field, Problem: "is not a valid id"}
	}
	return id, nil
}

func (s *userServer) ListUsers(ctx context.Context, req *connect.Request[v1.ListUsersRequest]) (*connect.Response[v1.ListUsersResponse], error) {
	m := req.Msg
	o, err := targetOrg(ctx, m.GetOrgId())
	if err != nil {
		return nil, err
	}
	users, next, err := s.users.List(ctx, CallerFrom(ctx), o, org.Page{Size: int(m.GetPageSize()), After: m.GetPageToken()}, m.GetIncludeDeactivated())
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	res := &v1.ListUsersResponse{NextPageToken: next}
	for _, u := range users {
		res.Users = append(res.Users, userToWire(u))
	}
	return connect.NewResponse(res), nil
}

func (s *userServer) ListInvites(ctx context.Context, req *connect.Request[v1.ListInvitesRequest]) (*connect.Response[v1.ListInvitesResponse], error) {
	o, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	invites, err := s.users.ListInvites(ctx, CallerFrom(ctx), o)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	res := &v1.ListInvitesResponse{}
	for _, i := range invites {
		res.Invites = append(res.Invites, inviteToWire(i))
	}
	return connect.NewResponse(res), nil
}

func (s *userServer) InviteUser(ctx context.Context, req *connect.Request[v1.InviteUserRequest]) (*connect.Response[v1.InviteUserResponse], error) {
	m := req.Msg
	o, err := targetOrg(ctx, m.GetOrgId())
	if err != nil {
		return nil, err
	}
	role, err := roleFromWire(m.GetRole())
	if err == nil && role == RoleRootAdmin {
		err = &InvalidInput{Field: "role", Problem: "root admins are not invited; use hpctl bootstrap"}
	}
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	inv, err := s.users.Invite(ctx, CallerFrom(ctx), o, m.GetEmail(), role)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.InviteUserResponse{Invite: inviteToWire(inv)}), nil
}

func (s *userServer) ResendInvite(ctx context.Context, req *connect.Request[v1.ResendInviteRequest]) (*connect.Response[v1.ResendInviteResponse], error) {
	o, id, err := s.orgAndID(ctx, req, req.Msg.GetOrgId(), "invite_id", req.Msg.GetInviteId())
	if err != nil {
		return nil, err
	}
	inv, err := s.users.ResendInvite(ctx, CallerFrom(ctx), o, id)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.ResendInviteResponse{Invite: inviteToWire(inv)}), nil
}

func (s *userServer) CancelInvite(ctx context.Context, req *connect.Request[v1.CancelInviteRequest]) (*connect.Response[v1.CancelInviteResponse], error) {
	o, id, err := s.orgAndID(ctx, req, req.Msg.GetOrgId(), "invite_id", req.Msg.GetInviteId())
	if err != nil {
		return nil, err
	}
	inv, err := s.users.CancelInvite(ctx, CallerFrom(ctx), o, id)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.CancelInviteResponse{Invite: inviteToWire(inv)}), nil
}

func (s *userServer) ChangeUserRole(ctx context.Context, req *connect.Request[v1.ChangeUserRoleRequest]) (*connect.Response[v1.ChangeUserRoleResponse], error) {
	o, id, err := s.orgAndID(ctx, req, req.Msg.GetOrgId(), "user_id", req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	role, err := roleFromWire(req.Msg.GetRole())
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	if role == RoleRootAdmin && CallerFrom(ctx).Principal.Role != RoleRootAdmin {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New(msgNotAllowed))
	}
	u, err := s.users.ChangeRole(ctx, CallerFrom(ctx), o, id, role)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.ChangeUserRoleResponse{User: userToWire(u)}), nil
}

func (s *userServer) DeactivateUser(ctx context.Context, req *connect.Request[v1.DeactivateUserRequest]) (*connect.Response[v1.DeactivateUserResponse], error) {
	o, id, err := s.orgAndID(ctx, req, req.Msg.GetOrgId(), "user_id", req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	u, err := s.users.Deactivate(ctx, CallerFrom(ctx), o, id)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.DeactivateUserResponse{User: userToWire(u)}), nil
}

func (s *userServer) RevokeUserSessions(ctx context.Context, req *connect.Request[v1.RevokeUserSessionsRequest]) (*connect.Response[v1.RevokeUserSessionsResponse], error) {
	o, id, err := s.orgAndID(ctx, req, req.Msg.GetOrgId(), "user_id", req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	n, err := s.users.RevokeSessions(ctx, CallerFrom(ctx), o, id)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.RevokeUserSessionsResponse{RevokedCount: int32(n)}), nil
}

// orgAndID reads the organisation a request targets and the ID it names,
// the first two steps of every handler that acts on one user or invite. A
// refused organisation keeps its own Connect error; a malformed ID becomes
// InvalidArgument naming field.
func (s *userServer) orgAndID(ctx context.Context, req connect.AnyRequest, orgID, field, id string) (tenancy.OrgID, uuid.UUID, error) {
	o, err := targetOrg(ctx, orgID)
	if err != nil {
		return tenancy.OrgID{}, uuid.UUID{}, err
	}
	u, err := parseID(field, id)
	if err != nil {
		return tenancy.OrgID{}, uuid.UUID{}, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return o, u, nil
}

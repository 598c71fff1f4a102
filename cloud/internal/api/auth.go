package api

import (
	"context"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

type authServer struct {
	auth Auth
	errs errorMapper
}

var _ c.AuthServiceHandler = (*authServer)(nil)

func kindFromWire(k v1.ClientKind) ClientKind {
	switch k {
	case v1.ClientKind_CLIENT_KIND_WEB:
		return ClientWeb
	case v1.ClientKind_CLIENT_KIND_DESKTOP:
		return ClientDesktop
	default:
		return ClientAPI
	}
}

func (s *authServer) SignIn(ctx context.Context, req *connect.Request[v1.SignInRequest]) (*connect.Response[v1.SignInResponse], error) {
	m, cl := req.Msg, CallerFrom(ctx)
	st, err := s.auth.SignIn(ctx, SignIn{
		Email: m.GetEmail(), Password: m.GetPassword(), Kind: kindFromWire(m.GetClientKind()),
		DeviceID: m.GetDeviceId(), IP: cl.IP, UserAgent: cl.UserAgent,
	})
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.SignInResponse{
		SessionToken: st.Token, ExpiresAt: timeToWire(st.ExpiresAt),
		SecondFactorRequired: st.SecondFactorRequired, TotpEnrolmentRequired: st.TOTPEnrolmentRequired,
	}), nil
}

func (s *authServer) VerifySecondFactor(ctx context.Context, req *connect.Request[v1.VerifySecondFactorRequest]) (*connect.Response[v1.VerifySecondFactorResponse], error) {
	m := req.Msg
	if m.GetTotpCode() == "" && m.GetRecoveryCode() == "" {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, &InvalidInput{Field: "code", Problem: "enter the 6-digit code from your authenticator app or a recovery code"})
	}
	v, err := s.auth.VerifySecondFactor(ctx, CallerFrom(ctx), m.GetTotpCode(), m.GetRecoveryCode())
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.VerifySecondFactorResponse{
		ExpiresAt: timeToWire(v.ExpiresAt), RecoveryCodesRemaining: int32(v.RecoveryCodesRemaining), SessionToken: v.Token,
	}), nil
}

func (s *authServer) SignOut(ctx context.Context, req *connect.Request[v1.SignOutRequest]) (*connect.Response[v1.SignOutResponse], error) {
	if err := s.auth.SignOut(ctx, CallerFrom(ctx)); err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.SignOutResponse{}), nil
}

func (s *authServer) StartTotpEnrolment(ctx context.Context, req *connect.Request[v1.StartTotpEnrolmentRequest]) (*connect.Response[v1.StartTotpEnrolmentResponse], error) {
	e, err := s.auth.StartTOTPEnrolment(ctx, CallerFrom(ctx))
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.StartTotpEnrolmentResponse{Secret: e.Secret, OtpauthUri: e.OTPAuthURI, QrPng: e.QRPNG}), nil
}

func (s *authServer) ConfirmTotpEnrolment(ctx context.Context, req *connect.Request[v1.ConfirmTotpEnrolmentRequest]) (*connect.Response[v1.ConfirmTotpEnrolmentResponse], error) {
	if req.Msg.GetTotpCode() == "" {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, &InvalidInput{Field: "totp_code", Problem: "enter the 6-digit code from your authenticator app"})
	}
	codes, err := s.auth.ConfirmTOTPEnrolment(ctx, CallerFrom(ctx), req.Msg.GetTotpCode())
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.ConfirmTotpEnrolmentResponse{RecoveryCodes: codes}), nil
}

func (s *authServer) RequestPasswordReset(ctx context.Context, req *connect.Request[v1.RequestPasswordResetRequest]) (*connect.Response[v1.RequestPasswordResetResponse], error) {
	cl := CallerFrom(ctx)
	if err := s.auth.RequestPasswordReset(ctx, req.Msg.GetEmail(), cl.IP, cl.UserAgent); err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.RequestPasswordResetResponse{}), nil
}

func (s *authServer) CompletePasswordReset(ctx context.Context, req *connect.Request[v1.CompletePasswordResetRequest]) (*connect.Response[v1.CompletePasswordResetResponse], error) {
	m, cl := req.Msg, CallerFrom(ctx)
	err := s.auth.CompletePasswordReset(ctx, PasswordReset{
		Token: m.GetToken(), NewPassword: m.GetNewPassword(), TOTPCode: m.GetTotpCode(), IP: cl.IP, UserAgent: cl.UserAgent,
	})
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.CompletePasswordResetResponse{}), nil
}

func (s *authServer) AcceptInvite(ctx context.Context, req *connect.Request[v1.AcceptInviteRequest]) (*connect.Response[v1.AcceptInviteResponse], error) {
	m, cl := req.Msg, CallerFrom(ctx)
	st, err := s.auth.AcceptInvite(ctx, AcceptInvite{
		Token: m.GetToken(), Password: m.GetPassword(), DisplayName: m.GetDisplayName(),
		Kind: kindFromWire(m.GetClientKind()), DeviceID: m.GetDeviceId(), IP: cl.IP, UserAgent: cl.UserAgent,
	})
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.AcceptInviteResponse{
		SessionToken: st.Token, ExpiresAt: timeToWire(st.ExpiresAt), TotpEnrolmentRequired: st.TOTPEnrolmentRequired,
	}), nil
}

func (s *authServer) WhoAmI(ctx context.Context, req *connect.Request[v1.WhoAmIRequest]) (*connect.Response[v1.WhoAmIResponse], error) {
	cl := CallerFrom(ctx)
	me, err := s.auth.WhoAmI(ctx, cl)
	if err != nil {
		return nil, s.errs.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.WhoAmIResponse{
		UserId: cl.Principal.UserID.String(), OrgId: cl.Principal.OrgID.String(), Email: me.User.Email,
		DisplayName: me.User.DisplayName, Role: roleToWire[cl.Principal.Role], SessionId: cl.Principal.SessionID.String(),
		SecondFactorVerified: cl.Principal.Pending == PendingNone, SessionExpiresAt: timeToWire(me.SessionExpiresAt),
	}), nil
}

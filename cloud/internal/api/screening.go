package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/screeningcfg"
	"healthprep.dev/cloud/internal/tenancy"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	"healthprep.dev/shared/preset"
)

// ScreeningSettings is the organisations' screening settings store
// (screeningcfg.Store).
type ScreeningSettings interface {
	Get(ctx context.Context, org tenancy.OrgID) (screeningcfg.Settings, error)
	Update(ctx context.Context, actor screeningcfg.Actor, org tenancy.OrgID, s preset.OrgSettings, version int64) (screeningcfg.Settings, error)
}

// maxScreeningSettings bounds settings_json (an org's own types included).
const maxScreeningSettings = 256 << 10

// Messages of ScreeningService refusals.
const (
	msgScreeningConflict = "someone else saved the screening settings after you opened them; reopen them, redo your change and save again"
	msgScreeningTooLarge = "settings_json: the screening settings are larger than 256 KiB"
)

// screeningServer serves ScreeningService; without a store every call is
// Unimplemented.
type screeningServer struct {
	store ScreeningSettings
	errs  errorMapper
}

var errNoScreening = connect.NewError(connect.CodeUnimplemented, errors.New("screening settings are not available on this server"))

func (s *screeningServer) wire(ctx context.Context, procedure string, err error) error {
	var ie *screeningcfg.InvalidError
	switch {
	case errors.As(err, &ie):
		return connect.NewError(connect.CodeInvalidArgument, errors.New(ie.Message))
	case errors.Is(err, screeningcfg.ErrConflict):
		return connect.NewError(connect.CodeAborted, errors.New(msgScreeningConflict))
	}
	return s.errs.wire(ctx, procedure, err)
}

func screeningToWire(st screeningcfg.Settings) (*v1.ScreeningSettings, error) {
	raw, err := json.Marshal(st.Org)
	if err != nil {
		return nil, err
	}
	out := &v1.ScreeningSettings{SettingsJson: string(raw), Version: st.Version}
	if st.Version > 0 {
		out.UpdatedBy = st.UpdatedBy.String()
		out.UpdatedAt = timeToWire(st.UpdatedAt)
	}
	return out, nil
}

// decodeScreeningSettings reads settings_json strictly: an unknown field is
// a mistake worth telling, not something to drop silently.
func decodeScreeningSettings(s string) (preset.OrgSettings, error) {
	var out preset.OrgSettings
	if len(s) > maxScreeningSettings {
		return out, connect.NewError(connect.CodeInvalidArgument, errors.New(msgScreeningTooLarge))
	}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if len(msg) > 120 {
			msg = msg[:120] + "..."
		}
		return out, connect.NewError(connect.CodeInvalidArgument, errors.New("settings_json: these are not HealthPrep screening settings ("+msg+")"))
	}
	return out, nil
}

func (s *screeningServer) GetScreeningSettings(ctx context.Context, req *connect.Request[v1.GetScreeningSettingsRequest]) (*connect.Response[v1.GetScreeningSettingsResponse], error) {
	if s.store == nil {
		return nil, errNoScreening
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	st, err := s.store.Get(ctx, org)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	w, err := screeningToWire(st)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.GetScreeningSettingsResponse{Settings: w}), nil
}

func (s *screeningServer) UpdateScreeningSettings(ctx context.Context, req *connect.Request[v1.UpdateScreeningSettingsRequest]) (*connect.Response[v1.UpdateScreeningSettingsResponse], error) {
	if s.store == nil {
		return nil, errNoScreening
	}
	org, err := targetOrg(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	in, err := decodeScreeningSettings(req.Msg.GetSettingsJson())
	if err != nil {
		return nil, err
	}
	cl := CallerFrom(ctx)
	st, err := s.store.Update(ctx, screeningcfg.Actor{UserID: cl.Principal.UserID, Role: string(cl.Principal.Role), IP: cl.IP}, org, in, req.Msg.GetVersion())
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	w, err := screeningToWire(st)
	if err != nil {
		return nil, s.wire(ctx, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&v1.UpdateScreeningSettingsResponse{Settings: w}), nil
}

package fakecloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	"healthprep.dev/shared/preset"
)

// screeningState is the organisation's screening settings: the JSON of
// preset.OrgSettings and its version (0: never saved).
type screeningState struct {
	json    string
	version int64
	by      string
	at      *timestamppb.Timestamp
}

// The refusals the real cloud sends (cloud/internal/api/screening.go),
// repeated here because the desktop must not import the cloud.
const (
	msgScreeningConflict = "someone else saved the screening settings after you opened them; reopen them, redo your change and save again"
	msgScreeningRefused  = "the screening library refuses these settings: "
)

func (f *Cloud) screeningWire() *v1.ScreeningSettings {
	s := f.screening
	out := &v1.ScreeningSettings{SettingsJson: s.json, Version: s.version, UpdatedBy: s.by, UpdatedAt: s.at}
	if out.SettingsJson == "" {
		out.SettingsJson = "{}"
	}
	return out
}

// SetScreeningSettings stores settings as if another admin had saved them
// (a new version), for tests of a concurrent edit.
func (f *Cloud) SetScreeningSettings(org preset.OrgSettings) int64 {
	b, _ := json.Marshal(org)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.screening = screeningState{json: string(b), version: f.screening.version + 1, by: "someone-else", at: timestamppb.New(f.now())}
	return f.screening.version
}

// ScreeningSettings returns the saved settings and their version.
func (f *Cloud) ScreeningSettings() (preset.OrgSettings, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out preset.OrgSettings
	if f.screening.json != "" {
		_ = json.Unmarshal([]byte(f.screening.json), &out)
	}
	return out, f.screening.version
}

// GetScreeningSettings implements ScreeningService (every role).
func (f *Cloud) GetScreeningSettings(_ context.Context, req *connect.Request[v1.GetScreeningSettingsRequest]) (*connect.Response[v1.GetScreeningSettingsResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.caller(req.Header(), "GetScreeningSettings"); err != nil {
		return nil, err
	}
	return connect.NewResponse(&v1.GetScreeningSettingsResponse{Settings: f.screeningWire()}), nil
}

// UpdateScreeningSettings implements ScreeningService (admins): a stale
// version is ABORTED, settings the shared preset rules refuse are
// INVALID_ARGUMENT, as in the real cloud.
func (f *Cloud) UpdateScreeningSettings(_ context.Context, req *connect.Request[v1.UpdateScreeningSettingsRequest]) (*connect.Response[v1.UpdateScreeningSettingsResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, _, err := f.caller(req.Header(), "UpdateScreeningSettings", admins...)
	if err != nil {
		return nil, err
	}
	var org preset.OrgSettings
	dec := json.NewDecoder(bytes.NewReader([]byte(req.Msg.GetSettingsJson())))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&org); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("settings_json: these are not HealthPrep screening settings ("+strings.TrimPrefix(err.Error(), "json: ")+")"))
	}
	lib, err := preset.Default()
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, errors.New("the default screening library does not load"))
	}
	if _, err := preset.Apply(lib, org); err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New(msgScreeningRefused+strings.TrimPrefix(err.Error(), "org settings: ")))
	}
	if req.Msg.GetVersion() != f.screening.version {
		return nil, connect.NewError(connect.CodeAborted, errors.New(msgScreeningConflict))
	}
	b, _ := json.Marshal(org)
	f.screening = screeningState{json: string(b), version: f.screening.version + 1, by: a.ID, at: timestamppb.New(f.now())}
	f.record(a, "screening.settings.update", v1.AuditOutcome_AUDIT_OUTCOME_SUCCESS, "screening_settings", f.org.Id)
	return connect.NewResponse(&v1.UpdateScreeningSettingsResponse{Settings: f.screeningWire()}), nil
}

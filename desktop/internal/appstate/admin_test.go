package appstate

import (
	"errors"
	"strings"
	"testing"
	"time"

	"healthprep.dev/shared/preset"
)

func TestInviteValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		email, role       string
		wantEmail         string
		emailMsg, roleMsg string
	}{
		{" Sam@Clinic.ORG ", RoleNurse, "sam@clinic.org", "", ""},
		{"", RoleMA, "", "Enter the person's work email address.", ""},
		{"sam", RoleMA, "", "Enter one email address, like name@clinic.org.", ""},
		{"Sam <sam@clinic.org>", RoleMA, "", "Enter one email address, like name@clinic.org.", ""},
		{"sam@localhost", RoleMA, "", "Enter one email address, like name@clinic.org.", ""},
		{"sam@clinic.org", RoleRootAdmin, "", "", "Choose the person's role."},
	}
	for _, tt := range tests {
		got, err := InviteRequest{Email: tt.email, Role: tt.role}.Validate()
		if FieldMessage(err, "email") != tt.emailMsg || FieldMessage(err, "role") != tt.roleMsg {
			t.Errorf("invite %q as %s: messages %q / %q, want %q / %q", tt.email, tt.role, FieldMessage(err, "email"), FieldMessage(err, "role"), tt.emailMsg, tt.roleMsg)
		}
		if err == nil && got.Email != tt.wantEmail {
			t.Errorf("invite %q: email %q, want %q", tt.email, got.Email, tt.wantEmail)
		}
		if err != nil && (!errors.Is(err, ErrInvalidForm) || AdminMessage(err) != "Check the highlighted fields.") {
			t.Errorf("invite %q: error %v does not read as a form error", tt.email, err)
		}
	}
}

func TestEpicFormValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		form       EpicForm
		field, msg string
	}{
		{EpicForm{ClientID: "c", FHIRBaseURL: "https://fhir.example.org/api/FHIR/R4"}, "", ""},
		{EpicForm{ClientID: "c", FHIRBaseURL: "http://127.0.0.1:9000/fhir", Sandbox: true}, "", ""},
		{EpicForm{ClientID: "c", FHIRBaseURL: "http://127.0.0.1:9000/fhir"}, "fhir_base_url", "Use https: plain http is only allowed for a sandbox on this computer."},
		{EpicForm{ClientID: "c", FHIRBaseURL: "fhir.example.org"}, "fhir_base_url", "Enter a full URL starting with https://."},
		{EpicForm{FHIRBaseURL: "https://fhir.example.org"}, "client_id", "Enter the client ID Epic gave HealthPrep."},
	}
	for _, tt := range tests {
		_, err := tt.form.Validate()
		if tt.field == "" && err != nil || tt.field != "" && FieldMessage(err, tt.field) != tt.msg {
			t.Errorf("%+v: %v, want %s: %q", tt.form, err, tt.field, tt.msg)
		}
	}
}

func TestAuditFormFilter(t *testing.T) {
	t.Parallel()
	f, err := AuditForm{Action: "auth.", Since: "2025-03-01", Until: "2025-03-14", Outcome: "failure"}.Filter(time.UTC)
	if err != nil || !f.Since.Equal(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)) || !f.Until.Equal(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("filter: %+v, %v (want the last day included)", f, err)
	}
	tests := []struct {
		form       AuditForm
		field, msg string
	}{
		{AuditForm{Since: "1/3/2025"}, "since", "Enter the date as YYYY-MM-DD."},
		{AuditForm{Since: "2025-03-14", Until: "2025-03-01"}, "until", "The last day cannot be before the first."},
		{AuditForm{Action: "auth;drop"}, "action", `Type an action like "auth.signin", or a prefix ending in a dot like "auth.".`},
		{AuditForm{Outcome: "maybe"}, "outcome", "Choose an outcome."},
	}
	for _, tt := range tests {
		if _, err := tt.form.Filter(time.UTC); FieldMessage(err, tt.field) != tt.msg {
			t.Errorf("%+v: %s message %q, want %q", tt.form, tt.field, FieldMessage(err, tt.field), tt.msg)
		}
	}
}

func TestChecklist(t *testing.T) {
	t.Parallel()
	steps := Checklist(ChecklistFacts{Epic: EpicStatus{Connected: true}, People: 0, Skipped: map[string]bool{StepInvite: true, StepEpic: true}})
	var got []string
	for _, s := range steps {
		got = append(got, s.ID+"="+s.State())
	}
	if want := "epic=Done presets=To do invite=Skipped first_sync=To do"; strings.Join(got, " ") != want {
		t.Errorf("checklist: %s, want %s", strings.Join(got, " "), want)
	}
	if !ChecklistOpen(steps) {
		t.Error("a checklist with steps to do is closed")
	}
}

func TestScreeningForm(t *testing.T) {
	t.Parallel()
	lib, err := preset.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := ScreeningConfig{Base: lib}
	typ := lib.Types[0]
	f, err := c.Form(typ.ID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		edit       func(*TypeForm)
		field, msg string
	}{
		{"unchanged", func(*TypeForm) {}, "", ""},
		{"bad age", func(f *TypeForm) { f.MinAge = "fifty" }, "min_age", "Write an age like 50y or 74y11m."},
		{"bad grace", func(f *TypeForm) { f.Grace = "3 months" }, "grace", "Write a period like 3m or 90d."},
		{"zero due soon", func(f *TypeForm) { f.DueSoon = "0d" }, "due_soon", "Must be longer than zero."},
		{"min above max", func(f *TypeForm) { f.MinAge = "99y" }, "type", ""},
	}
	for _, tt := range tests {
		g := f
		g.Rules = append([]RuleField(nil), f.Rules...)
		tt.edit(&g)
		got, err := c.WithForm(g)
		switch {
		case tt.field == "" && (err != nil || len(got.Org.Types) != 0):
			t.Errorf("%s: %v, org %+v; want no change", tt.name, err, got.Org)
		case tt.field == "type" && !strings.HasPrefix(FieldMessage(err, "type"), "The screening library refuses this:"):
			t.Errorf("%s: %q", tt.name, FieldMessage(err, "type"))
		case tt.field != "" && tt.field != "type" && FieldMessage(err, tt.field) != tt.msg:
			t.Errorf("%s: %s message %q, want %q", tt.name, tt.field, FieldMessage(err, tt.field), tt.msg)
		}
		if err != nil && len(c.Org.Types) != 0 {
			t.Fatalf("%s changed the receiver", tt.name)
		}
	}
	// Export and import round-trip; off switches survive.
	off, err := c.SetEnabled(lib.Types[1].ID, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := off.ExportSettings()
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.ImportSettings(b)
	if err != nil || len(back.Org.Disabled) != 1 || back.Rows()[1].Enabled {
		t.Errorf("import of the export: %+v, %v", back.Org, err)
	}
	if _, err := c.ImportSettings([]byte(`{"disabled": 3}`)); !strings.HasPrefix(AdminMessage(err), "This file is not a HealthPrep screening settings export") {
		t.Errorf("importing nonsense: %q", AdminMessage(err))
	}
}

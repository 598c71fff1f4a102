package ui

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// epicView shows what to register with Epic, the credentials form, the
// Connect to Epic button (the system browser does the approval) and the
// connection's status with its last errors.
type epicView struct {
	a   *App
	msg *widget.Label

	reg      *fyne.Container
	clientID *widget.Entry
	secret   *widget.Entry
	fhirURL  *widget.Entry
	sandbox  *widget.Check
	backend  *widget.Check
	msgs     map[string]*widget.Label
	saveBtn  *widget.Button
	connect  *widget.Button
	status   *widget.Label
	problems *widget.Label
	opened   string // the last URL opened in the browser
	root     fyne.CanvasObject
}

func newEpicView(a *App) *epicView {
	v := &epicView{a: a, msg: messageLabel(), reg: container.NewVBox(), clientID: widget.NewEntry(), secret: widget.NewPasswordEntry(),
		fhirURL: widget.NewEntry(), status: wrapped(""), problems: wrapped(""),
		msgs: map[string]*widget.Label{"client_id": fieldMessage(), "fhir_base_url": fieldMessage()}}
	v.secret.SetPlaceHolder("unchanged")
	v.fhirURL.SetPlaceHolder("https://fhir.example.org/api/FHIR/R4")
	v.sandbox = widget.NewCheck("Sandbox (not production)", nil)
	v.backend = widget.NewCheck("Backend services (no browser approval; Epic trusts our signed key)", nil)
	v.saveBtn = widget.NewButtonWithIcon("Save credentials", theme.DocumentSaveIcon(), v.saveForm)
	v.connect = widget.NewButtonWithIcon("Connect to Epic", theme.LoginIcon(), v.startConnect)
	v.connect.Importance = widget.HighImportance
	v.problems.Importance = widget.DangerImportance
	form := widget.NewForm(
		widget.NewFormItem("Client ID", container.NewVBox(v.clientID, v.msgs["client_id"])),
		widget.NewFormItem("Client secret", v.secret),
		widget.NewFormItem("FHIR base URL", container.NewVBox(v.fhirURL, v.msgs["fhir_base_url"])),
		widget.NewFormItem("", v.sandbox),
		widget.NewFormItem("", v.backend),
	)
	body := container.NewVBox(
		heading("Register HealthPrep with Epic"), wrapped("Give these values to your Epic analyst (App Orchard / Epic on FHIR registration)."), v.reg,
		widget.NewSeparator(), heading("Credentials"), form, container.NewHBox(v.saveBtn, v.connect),
		widget.NewSeparator(), heading("Connection"), v.status, v.problems,
	)
	v.root = page(pageEpic, v.msg, body, widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), v.load))
	return v
}

func (v *epicView) content() fyne.CanvasObject { return v.root }

type epicPage struct {
	reg    appstate.EpicRegistration
	cfg    appstate.EpicConfig
	status appstate.EpicStatus
}

func (v *epicView) load() {
	background(v.a, func(ctx context.Context) (epicPage, error) {
		var p epicPage
		var err error
		if p.reg, err = v.a.d.Epic.EpicRegistration(ctx); err != nil {
			return p, err
		}
		if p.cfg, err = v.a.d.Epic.EpicConfig(ctx); err != nil {
			return p, err
		}
		p.status, err = v.a.d.Epic.EpicStatus(ctx)
		return p, err
	}, func(p epicPage, err error) {
		if err != nil {
			say(v.msg, err, "")
			return
		}
		v.render(p)
	})
}

func (v *epicView) copyRow(label, value string) fyne.CanvasObject {
	val := widget.NewLabelWithStyle(value, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	val.Wrapping = fyne.TextWrapBreak
	cp := widget.NewButtonWithIcon("", theme.ContentCopyIcon(), func() { v.a.fyne.Clipboard().SetContent(value) })
	return container.NewBorder(nil, nil, widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), cp, val)
}

func (v *epicView) render(p epicPage) {
	v.reg.Objects = []fyne.CanvasObject{
		v.copyRow("Redirect URI", p.reg.RedirectURI),
		v.copyRow("JWKS URL (production)", p.reg.JWKSURL),
		v.copyRow("JWKS URL (non-production)", p.reg.NonprodJWKSURL),
		v.copyRow("Scopes", strings.Join(p.reg.Scopes, " ")),
	}
	v.reg.Refresh()
	v.clientID.SetText(p.cfg.ClientID)
	v.fhirURL.SetText(p.cfg.FHIRBaseURL)
	v.secret.SetText("")
	if p.cfg.SecretSet {
		v.secret.SetPlaceHolder("stored (type to replace)")
	}
	v.sandbox.SetChecked(p.cfg.Sandbox)
	v.backend.SetChecked(p.cfg.Backend)
	v.showStatus(p.status)
}

func (v *epicView) showStatus(s appstate.EpicStatus) {
	now := v.a.d.Session.Now()
	text := s.Text(now)
	if s.Configured {
		text += "\nIngest holds " + itoa(s.Patients) + " patients, " + itoa(s.Appointments) + " appointments; " + itoa(s.Quarantined) + " resources in quarantine."
	}
	v.status.SetText(text)
	var probs []string
	if s.LastError != "" {
		probs = append(probs, "Last error ("+appstate.Ago(s.LastErrorAt, now)+"): "+s.LastError)
	}
	probs = append(probs, s.Problems...)
	v.problems.SetText(strings.Join(probs, "\n"))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (v *epicView) saveForm() {
	v.a.touch()
	f, err := appstate.EpicForm{ClientID: v.clientID.Text, ClientSecret: v.secret.Text, FHIRBaseURL: v.fhirURL.Text,
		Sandbox: v.sandbox.Checked, Backend: v.backend.Checked}.Validate()
	for k, l := range v.msgs {
		setField(l, appstate.FieldMessage(err, k))
	}
	if err != nil {
		say(v.msg, err, "")
		return
	}
	v.saveBtn.Disable()
	background(v.a, func(ctx context.Context) (appstate.EpicConfig, error) { return v.a.d.Epic.UpdateEpicConfig(ctx, f) },
		func(_ appstate.EpicConfig, err error) {
			v.saveBtn.Enable()
			say(v.msg, err, "Saved the Epic credentials. Press Connect to Epic next.")
			if err == nil {
				v.load()
			}
		})
}

type connectResult struct {
	url       string
	connected bool
}

func (v *epicView) startConnect() {
	v.a.touch()
	background(v.a, func(ctx context.Context) (connectResult, error) {
		u, ok, err := v.a.d.Epic.ConnectEpic(ctx)
		return connectResult{u, ok}, err
	}, func(r connectResult, err error) {
		switch {
		case err != nil:
			say(v.msg, err, "")
		case r.connected:
			say(v.msg, nil, "Connected to Epic.")
			v.load()
		default:
			u, perr := url.Parse(r.url)
			if perr != nil || (u.Scheme != "https" && u.Scheme != "http") {
				say(v.msg, &appstate.RefusedError{Message: "the cloud sent a link that cannot be opened"}, "")
				return
			}
			v.opened = r.url
			if err := v.a.d.OpenURL(u); err != nil {
				say(v.msg, &appstate.RefusedError{Message: "the browser could not be opened; open this link yourself: " + r.url}, "")
				return
			}
			say(v.msg, nil, "Approve HealthPrep in the browser window that opened, then press Refresh here.")
		}
	})
}

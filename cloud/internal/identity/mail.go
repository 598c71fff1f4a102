package identity

import (
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// Mail bodies carry the link and nothing sensitive besides it: no
// password, no code, no patient data.
var (
	mailText = texttemplate.Must(texttemplate.New("").Parse(`{{define "invite"}}You have been invited to join {{.Org}} on HealthPrep.

Accept the invitation and choose your password:
{{.Link}}

The link works once and expires in 7 days. If you did not expect this
invitation, ignore this email.
{{end}}{{define "reset"}}Someone asked to reset the password of your HealthPrep account.

Choose a new password:
{{.Link}}

The link works once and expires in 1 hour. If it was not you, ignore this
email: your password stays as it is.
{{end}}`))
	mailHTML = htmltemplate.Must(htmltemplate.New("").Parse(`{{define "invite"}}<!doctype html><html><body>
<p>You have been invited to join {{.Org}} on HealthPrep.</p>
<p><a href="{{.Link}}">Accept the invitation and choose your password</a></p>
<p>The link works once and expires in 7 days. If you did not expect this invitation, ignore this email.</p>
</body></html>{{end}}{{define "reset"}}<!doctype html><html><body>
<p>Someone asked to reset the password of your HealthPrep account.</p>
<p><a href="{{.Link}}">Choose a new password</a></p>
<p>The link works once and expires in 1 hour. If it was not you, ignore this email: your password stays as it is.</p>
</body></html>{{end}}`))
)

type mailData struct{ Org, Link string }

// link builds BaseURL + path + "?token=" + token.
func (s *Service) link(path, token string) string {
	u := *s.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = "token=" + token
	return u.String()
}

// render fills the named template pair.
func render(name, to, subject string, d mailData) (Message, error) {
	var text, html strings.Builder
	if err := mailText.ExecuteTemplate(&text, name, d); err != nil {
		return Message{}, err
	}
	if err := mailHTML.ExecuteTemplate(&html, name, d); err != nil {
		return Message{}, err
	}
	return Message{To: to, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

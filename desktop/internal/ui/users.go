package ui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// usersView lists the organisation's users and open invites, invites new
// people, and changes roles, resends, cancels and deactivates.
type usersView struct {
	a   *App
	msg *widget.Label

	email    *widget.Entry
	role     *widget.Select
	invite   *widget.Button
	emailMsg *widget.Label
	roleMsg  *widget.Label

	members *fyne.Container
	invites *fyne.Container
	root    fyne.CanvasObject

	memberRows map[string]*memberRow // by user id
	inviteRows map[string]*inviteRow // by invite id
}

type memberRow struct {
	m          appstate.Member
	name       *widget.Label
	role       *widget.Select
	deactivate *widget.Button
}

type inviteRow struct {
	in     appstate.Invite
	status *widget.Label
	resend *widget.Button
	cancel *widget.Button
}

func roleLabels(roles []string) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = appstate.RoleLabel(r)
	}
	return out
}

func newUsersView(a *App) *usersView {
	v := &usersView{a: a, msg: messageLabel(), email: widget.NewEntry(), emailMsg: fieldMessage(), roleMsg: fieldMessage(),
		members: container.NewVBox(), invites: container.NewVBox()}
	v.email.SetPlaceHolder("name@clinic.org")
	v.email.OnSubmitted = func(string) { v.sendInvite() }
	v.role = widget.NewSelect(roleLabels(appstate.InviteRoles()), nil)
	v.role.PlaceHolder = "Role"
	v.invite = widget.NewButtonWithIcon("Invite", theme.MailSendIcon(), v.sendInvite)
	v.invite.Importance = widget.HighImportance
	form := container.NewBorder(nil, nil, nil, container.NewHBox(container.New(layout.NewGridWrapLayout(fyne.NewSize(200, v.role.MinSize().Height)), v.role), v.invite), v.email)
	body := container.NewVBox(
		heading("Invite someone"), form, v.emailMsg, v.roleMsg,
		widget.NewSeparator(), heading("Open invites"), v.invites,
		widget.NewSeparator(), heading("People"), v.members,
	)
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), v.load)
	v.root = page(pageUsers, v.msg, body, refresh)
	return v
}

func (v *usersView) content() fyne.CanvasObject { return v.root }

type people struct {
	members []appstate.Member
	invites []appstate.Invite
}

func (v *usersView) load() {
	background(v.a, func(ctx context.Context) (people, error) {
		var p people
		var err error
		if p.members, err = v.a.d.Users.Members(ctx); err != nil {
			return p, err
		}
		p.invites, err = v.a.d.Users.Invites(ctx)
		return p, err
	}, func(p people, err error) {
		if err != nil {
			say(v.msg, err, "")
			return
		}
		v.render(p)
	})
}

func (v *usersView) render(p people) {
	now := v.a.d.Session.Now()
	me := v.a.d.Session.Status().User.ID
	v.memberRows = map[string]*memberRow{}
	v.members.Objects = nil
	for _, m := range p.members {
		r := &memberRow{m: m, name: widget.NewLabel(m.Name + "  <" + m.Email + ">")}
		r.name.TextStyle = fyne.TextStyle{Bold: m.Active}
		r.name.Truncation = fyne.TextTruncateEllipsis
		state := "Active"
		if !m.Active {
			state = "Deactivated"
		}
		if m.TOTP {
			state += " · second factor on"
		}
		roles := appstate.InviteRoles()
		if m.Role == appstate.RoleRootAdmin {
			roles = append(roles, m.Role)
		}
		member := m
		r.role = widget.NewSelect(roleLabels(roles), nil)
		r.role.Selected = appstate.RoleLabel(m.Role)
		r.role.OnChanged = func(label string) { v.changeRole(member, appstate.RoleFromLabel(label)) }
		r.deactivate = widget.NewButtonWithIcon("Deactivate", theme.ContentRemoveIcon(), func() { v.askDeactivate(member) })
		if !m.Active || m.ID == me {
			r.role.Disable()
			r.deactivate.Disable()
		}
		v.memberRows[m.ID] = r
		v.members.Add(container.NewBorder(nil, nil, nil,
			container.NewHBox(widget.NewLabel(state), container.New(layout.NewGridWrapLayout(fyne.NewSize(200, r.role.MinSize().Height)), r.role), r.deactivate),
			r.name))
	}
	v.inviteRows = map[string]*inviteRow{}
	v.invites.Objects = nil
	for _, in := range p.invites {
		invite := in
		r := &inviteRow{in: in, status: widget.NewLabel(appstate.InviteStatusText(in, now))}
		r.resend = widget.NewButtonWithIcon("Resend", theme.MailSendIcon(), func() { v.resend(invite) })
		r.cancel = widget.NewButtonWithIcon("Cancel invite", theme.CancelIcon(), func() { v.cancel(invite) })
		v.inviteRows[in.ID] = r
		who := widget.NewLabel(in.Email + " · " + appstate.RoleLabel(in.Role))
		who.Truncation = fyne.TextTruncateEllipsis
		v.invites.Add(container.NewBorder(nil, nil, nil, container.NewHBox(r.status, r.resend, r.cancel), who))
	}
	if len(p.invites) == 0 {
		v.invites.Add(widget.NewLabel("No open invites."))
	}
	v.members.Refresh()
	v.invites.Refresh()
}

func (v *usersView) sendInvite() {
	v.a.touch()
	req, err := appstate.InviteRequest{Email: v.email.Text, Role: appstate.RoleFromLabel(v.role.Selected)}.Validate()
	setField(v.emailMsg, appstate.FieldMessage(err, "email"))
	setField(v.roleMsg, appstate.FieldMessage(err, "role"))
	if err != nil {
		say(v.msg, err, "")
		return
	}
	v.invite.Disable()
	v.msg.SetText("Sending the invite...")
	background(v.a, func(ctx context.Context) (appstate.Invite, error) { return v.a.d.Users.InviteUser(ctx, req) },
		func(in appstate.Invite, err error) {
			v.invite.Enable()
			if err != nil {
				say(v.msg, err, "")
				return
			}
			v.email.SetText("")
			say(v.msg, nil, fmt.Sprintf("Invited %s as %s. The link in the email works for 7 days.", in.Email, appstate.RoleLabel(in.Role)))
			v.load()
		})
}

func (v *usersView) resend(in appstate.Invite) {
	v.a.touch()
	background(v.a, func(ctx context.Context) (appstate.Invite, error) { return v.a.d.Users.ResendInvite(ctx, in.ID) },
		func(in appstate.Invite, err error) {
			say(v.msg, err, "Sent a new link to "+in.Email+"; the previous one no longer works.")
			if err == nil {
				v.load()
			}
		})
}

func (v *usersView) cancel(in appstate.Invite) {
	v.a.touch()
	background(v.a, func(ctx context.Context) (appstate.Invite, error) { return v.a.d.Users.CancelInvite(ctx, in.ID) },
		func(got appstate.Invite, err error) {
			say(v.msg, err, "Cancelled the invite of "+in.Email+".")
			if err == nil {
				v.load()
			}
		})
}

func (v *usersView) changeRole(m appstate.Member, role string) {
	v.a.touch()
	if role == "" || role == m.Role {
		return
	}
	background(v.a, func(ctx context.Context) (appstate.Member, error) { return v.a.d.Users.ChangeRole(ctx, m.ID, role) },
		func(got appstate.Member, err error) {
			say(v.msg, err, fmt.Sprintf("%s is now %s; they sign in again to use it.", m.Name, appstate.RoleLabel(role)))
			v.load() // also puts the old role back on failure
		})
}

func (v *usersView) askDeactivate(m appstate.Member) {
	v.a.touch()
	v.a.confirm("Deactivate "+m.Name+"?",
		"They will not be able to sign in, and their open sessions end now. Their past actions stay in the audit log.",
		"Deactivate", nil, func(*confirmBox) bool {
			background(v.a, func(ctx context.Context) (appstate.Member, error) { return v.a.d.Users.Deactivate(ctx, m.ID) },
				func(_ appstate.Member, err error) {
					say(v.msg, err, m.Name+" was deactivated.")
					v.load()
				})
			return true
		})
}

// devicesView lists the organisation's workstations and revokes them.
type devicesView struct {
	a    *App
	msg  *widget.Label
	list *fyne.Container
	root fyne.CanvasObject
	rows map[string]*widget.Button // revoke buttons by device id
}

func newDevicesView(a *App) *devicesView {
	v := &devicesView{a: a, msg: messageLabel(), list: container.NewVBox()}
	intro := wrapped("Workstations enrolled in your organisation. Revoking one stops it syncing and erases its copy of patient data the next time it connects.")
	v.root = page(pageDevices, v.msg, container.NewVBox(intro, v.list), widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), v.load))
	return v
}

func (v *devicesView) content() fyne.CanvasObject { return v.root }

func (v *devicesView) load() {
	background(v.a, v.a.d.Devices.Devices, func(ds []appstate.Device, err error) {
		if err != nil {
			say(v.msg, err, "")
			return
		}
		v.render(ds)
	})
}

func (v *devicesView) render(ds []appstate.Device) {
	now := v.a.d.Session.Now()
	v.rows = map[string]*widget.Button{}
	v.list.Objects = nil
	for _, d := range ds {
		dev := d
		name := widget.NewLabelWithStyle(d.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: d.Revoked.IsZero()})
		detail := widget.NewLabel(fmt.Sprintf("%s · HealthPrep %s · enrolled %s by %s", d.OS, d.Version, d.Enrolled.In(v.a.d.Location).Format("2006-01-02"), d.EnrolledBy))
		detail.Truncation = fyne.TextTruncateEllipsis
		revoke := widget.NewButtonWithIcon("Revoke", theme.DeleteIcon(), func() { v.askRevoke(dev) })
		if !d.Revoked.IsZero() {
			revoke.Disable()
		}
		v.rows[d.ID] = revoke
		v.list.Add(container.NewBorder(nil, nil, nil, container.NewHBox(widget.NewLabel(appstate.DeviceStatusText(d, now)), revoke),
			container.NewVBox(name, detail)))
	}
	if len(ds) == 0 {
		v.list.Add(widget.NewLabel("No workstation is enrolled yet. Issue an enrolment code from the web page."))
	}
	v.list.Refresh()
}

func (v *devicesView) askRevoke(d appstate.Device) {
	v.a.touch()
	reason := widget.NewEntry()
	reason.SetPlaceHolder("Why (stolen, replaced, retired...) - no patient names")
	v.a.confirm("Revoke "+d.Name+"?", "This cannot be undone: the workstation must be enrolled again to be used.", "Revoke", reason,
		func(b *confirmBox) bool {
			r, err := appstate.ValidateRevokeReason(reason.Text)
			if err != nil {
				b.msg.SetText(appstate.FieldMessage(err, "reason"))
				return false
			}
			background(v.a, func(ctx context.Context) (appstate.Device, error) { return v.a.d.Devices.RevokeDevice(ctx, d.ID, r) },
				func(_ appstate.Device, err error) {
					say(v.msg, err, d.Name+" was revoked.")
					v.load()
				})
			return true
		})
}

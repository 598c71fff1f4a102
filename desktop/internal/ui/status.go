package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// statusBar shows who is signed in, for which organisation, the sync state
// with the last sync time and a progress bar for long syncs, a lock
// button, and above them the workstation's settings warning when there is
// one.
type statusBar struct {
	a        *App
	user     *widget.Label
	notice   *widget.Label
	sync     *widget.Label
	syncIcon *widget.Icon
	progress *widget.ProgressBar
	lock     *widget.Button
	root     fyne.CanvasObject
}

func newStatusBar(a *App) *statusBar {
	b := &statusBar{a: a, user: widget.NewLabel(""), sync: widget.NewLabel(""), syncIcon: widget.NewIcon(theme.ConfirmIcon()), progress: widget.NewProgressBar()}
	b.progress.Hide()
	b.notice = widget.NewLabel("")
	b.notice.Wrapping = fyne.TextWrapWord
	b.notice.Importance = widget.WarningImportance
	b.notice.Hide()
	b.lock = widget.NewButtonWithIcon("Lock", theme.VisibilityOffIcon(), func() { a.d.Go(a.d.Session.Lock) })
	prog := container.New(layout.NewGridWrapLayout(fyne.NewSize(160, b.progress.MinSize().Height)), b.progress)
	b.root = container.NewVBox(widget.NewSeparator(), b.notice, container.NewHBox(
		widget.NewIcon(theme.AccountIcon()), b.user, layout.NewSpacer(), b.syncIcon, b.sync, prog, b.lock))
	return b
}

func (b *statusBar) update(st appstate.Status) {
	b.user.SetText(st.Who())
	if st.Notice != "" {
		b.notice.SetText("⚠ " + st.Notice)
		b.notice.Show()
	} else {
		b.notice.Hide()
	}
	b.sync.SetText(st.SyncText(b.a.d.Session.Now().In(b.a.d.Location)))
	switch {
	case st.Syncing:
		b.syncIcon.SetResource(theme.ViewRefreshIcon())
	case !st.Online, st.SyncError != "":
		b.syncIcon.SetResource(theme.WarningIcon())
	default:
		b.syncIcon.SetResource(theme.ConfirmIcon())
	}
	if f := st.Progress.Fraction(); st.Syncing && f >= 0 {
		b.progress.SetValue(f)
		b.progress.Show()
	} else {
		b.progress.Hide()
	}
}

// updateStatus refreshes the status bar and the offline banner.
func (m *mainScreen) updateStatus(st appstate.Status) {
	m.status.update(st)
	m.showAdmin(st.User.IsAdmin() && m.a.d.Users != nil)
	if text := st.OfflineBanner(m.a.d.Session.Now().In(m.a.d.Location)); text != "" {
		m.bannerText.SetText(text)
		m.banner.Show()
	} else {
		m.banner.Hide()
	}
}

// showAdmin puts the schedule in a tab beside the Documents tab (when
// the document sources are configured) and the administration (for
// admins), or shows it alone. The administration opens on the setup
// checklist.
func (m *mainScreen) showAdmin(on bool) {
	docs := m.a.d.Documents != nil && m.a.d.Importer != nil
	if m.tabs != nil && on == (m.admin != nil) {
		return
	}
	if !on && !docs {
		if m.tabs != nil {
			m.tabs, m.admin, m.adminTab = nil, nil, nil
			m.center.Objects = []fyne.CanvasObject{m.schedule}
			m.center.Refresh()
		}
		return
	}
	items := []*container.TabItem{container.NewTabItemWithIcon("Schedule", theme.ListIcon(), m.schedule)}
	m.docsTab, m.adminTab, m.admin = nil, nil, nil
	if docs {
		if m.docs == nil {
			m.docs = newDocumentsScreen(m.a)
		}
		m.docsTab = container.NewTabItemWithIcon("Documents", theme.FileIcon(), m.docs.root)
		items = append(items, m.docsTab)
	}
	if on {
		m.admin = newAdminScreen(m.a)
		m.adminTab = container.NewTabItemWithIcon("Administration", theme.SettingsIcon(), m.admin.root)
		items = append(items, m.adminTab)
	}
	m.tabs = container.NewAppTabs(items...)
	m.tabs.OnSelected = func(t *container.TabItem) {
		m.a.touch()
		switch {
		case t == m.adminTab && m.admin.shown == "":
			m.admin.open(pageChecklist)
		case t == m.docsTab:
			m.docs.refresh()
		}
	}
	m.center.Objects = []fyne.CanvasObject{m.tabs}
	m.center.Refresh()
}

// showDocuments selects the Documents tab.
func (m *mainScreen) showDocuments() {
	if m.tabs != nil && m.docsTab != nil {
		m.tabs.Select(m.docsTab)
	}
}

package main

// The real window's screenshots (healthprep-dev -window DIR, part of
// `make screenshots`): in a fresh temporary state directory and on free
// loopback ports it starts what `make smoke` starts (up), enrols and syncs a
// workstation, opens the real `healthprep gui` on $DISPLAY (Xvfb in make)
// and drives it from outside like a person at the keyboard, with xdotool:
//
//  1. the sign-in screen; the demo nurse types her email and password;
//  2. today's schedule, synced from the sandbox through the cloud;
//  3. Enter opens the first appointment's prep sheet;
//  4. the cloud API process is killed; the nurse locks, signs out and
//     signs in again, offline: the offline banner shows;
//  5. Down and Enter open the next sheet from the workstation's copy;
//  6. the API is started again; the nurse signs out, the demo admin signs
//     in and is asked for her one-time code (TOTP, computed from the
//     secret she enrolled through the API);
//  7. the Administration tab's Users page;
//  8. its Screening types editor.
//
// Keyboard first; the tab, the navigation entries and the Lock button have
// no keyboard path, so they are clicked where OCR reads their label (no
// fixed coordinates). Each screen is captured from the X server with
// ImageMagick's `import -window ID` into DIR/NN-name.png, checked to be
// non-blank, and read with tesseract until the text it must show appears
// (polled against a deadline). One line per screen, then a final line:
//
//	window: N screens of the real window checked in DIR in S s
//
// Everything started is stopped by PID at the end; on failure the state
// directory (logs, desktop.log) is kept and named.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/pquerna/otp/totp"

	"healthprep.dev/cloud/internal/demodata"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// windowConfig is what -window was told.
type windowConfig struct {
	// Out is where the PNGs go (created; earlier NN-*.png removed).
	Out string
	// BinDir holds healthprep-cloud, healthprep-sandbox and healthprep
	// built with cgo (the window); default: this program's directory.
	BinDir string
	// Keep keeps the state directory (logs) on success too.
	Keep bool
}

// windowScreen is one screenshot and the text it must show whatever the
// day's data (the run adds the patients' names and visit times).
type windowScreen struct {
	File string
	Want []string
}

// windowScreens are the screenshots -window takes, in order.
var windowScreens = []windowScreen{
	{"01-sign-in.png", []string{"HealthPrep", "Sign in", "Password"}},
	{"02-schedule.png", []string{"appointments", "Today", demoNurseName, "Demo Family Clinic", "Synced"}}, // the status bar names who is signed in
	{"03-prep-sheet.png", []string{"Screenings", "MRN", "Visit:"}},
	{"04-offline.png", []string{"OFFLINE", "still open and print"}},
	{"05-offline-sheet.png", []string{"OFFLINE", "Screenings", "Visit:"}},
	{"06-admin-one-time-code.png", []string{"One-time code", "Sign in"}},
	{"07-admin-users.png", []string{"Administration", "Users", "nurse@demo-clinic.test", "admin@demo-clinic.test"}},
	{"08-screening-editor.png", []string{"Screening types", "Minimum age", "Preview"}},
}

// Window run constants.
const (
	// demoSeed and demoPatients are the sandbox's demo data (its defaults,
	// passed explicitly so that the schedule computed here is the same).
	demoSeed     = 1
	demoPatients = 200
	// screenDeadline bounds the wait for one screen's text; generous for a
	// loaded 2-core machine (each OCR pass takes a second or two).
	screenDeadline = 60 * time.Second
)

// visit is one appointment of the clinic's today the window must list.
type visit struct {
	Start time.Time
	Name  string
}

func runWindow(ctx context.Context, cfg windowConfig, out io.Writer) (err error) {
	began := time.Now()
	if cfg.Out == "" {
		return errors.New("-window needs a directory for the screenshots")
	}
	if os.Getenv("DISPLAY") == "" {
		return errors.New("-window needs an X display (DISPLAY is not set): run it under xvfb-run, as make screenshots does")
	}
	for _, tool := range []string{"xdotool", "import", "tesseract"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("-window needs %s (make apt installs it): %w", tool, err)
		}
	}
	if cfg.BinDir, err = findBinaries(cfg.BinDir, "-window", "make screenshots"); err != nil {
		return err
	}
	if cfg.Out, err = filepath.Abs(cfg.Out); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(cfg.Out, "[0-9][0-9]-*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}

	dir, err := os.MkdirTemp("", "healthprep-window-")
	if err != nil {
		return err
	}
	// Postgres runs as the postgres user when we are root.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil || cfg.Keep {
			fmt.Fprintln(out, "state and logs kept in", dir, "(the window's log: "+filepath.Join(dir, "desktop.log")+")")
			return
		}
		_ = os.RemoveAll(dir)
	}()
	fmt.Fprintln(out, "window state in", dir)

	loc, err := time.LoadLocation(clinicZone)
	if err != nil {
		return err
	}
	today := time.Now().In(loc)
	source, visits, err := windowSchedule(today, filepath.Join(dir, "schedule"))
	if err != nil {
		return err
	}
	st, stopAll, err := upOnFreePorts(ctx, dir, cfg.BinDir, source, out)
	if err != nil {
		return err
	}
	defer func() {
		if st.stops != nil {
			_ = stopAll()
		}
	}()
	fmt.Fprintf(out, "cloud: %d patients scheduled (%d appointments), %d records ingested; %d visits today (%s)\n",
		st.ing.Patients, st.ing.Appointments, st.ing.Records, len(visits), today.Format(time.DateOnly))

	adminPassword := randomPassword()
	adminTOTP, enrolled, err := enrolAdmin(ctx, st, adminPassword)
	if err != nil {
		return err
	}
	gui, err := openWindow(ctx, st, cfg.BinDir, dir, out)
	if err != nil {
		return err
	}
	st.stops, st.pids = append(st.stops, gui.stop), append(st.pids, gui.cmd.Process.Pid)

	d := &driver{ctx: ctx, out: out, dir: cfg.Out, gui: gui, log: filepath.Join(dir, "desktop.log")}
	if err := d.findWindow(); err != nil {
		return err
	}
	if err := d.play(st, dir, cfg.BinDir, visits, adminPassword, adminTOTP, enrolled); err != nil {
		return err
	}
	if err := stopAll(); err != nil {
		return err
	}
	fmt.Fprintf(out, "window: %d screens of the real window checked in %s in %.1f s\n", d.n, cfg.Out, time.Since(began).Seconds())
	return nil
}

// windowSchedule returns the sandbox's source flags (the demo data, its
// schedule from the clinic's today, booked in today's zone: the clinic's)
// and the visits of today the window must list, by start time. On a day
// without clinic (weekends) it books the first clinic day's patients
// today too, in a collection Bundle written into schedDir, so that the
// window always has a schedule.
func windowSchedule(today time.Time, schedDir string) ([]string, []visit, error) {
	date := today.Format(time.DateOnly)
	zone := today.Location()
	start, err := time.ParseInLocation(time.DateOnly, date, zone) // as the sandbox reads -start in -tz
	if err != nil {
		return nil, nil, err
	}
	source := []string{"-demo", "-seed", strconv.Itoa(demoSeed), "-patients", strconv.Itoa(demoPatients), "-start", date, "-tz", zone.String()}
	ds, err := demodata.Generate(demodata.Config{Seed: demoSeed, Patients: demoPatients, Start: start, Location: zone})
	if err != nil {
		return nil, nil, fmt.Errorf("generating the demo data: %w", err)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
				Start        string `json:"start"`
				Participant  []struct {
					Actor struct {
						Reference string `json:"reference"`
						Display   string `json:"display"`
					} `json:"actor"`
				} `json:"participant"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(ds.Schedule.Data, &bundle); err != nil {
		return nil, nil, fmt.Errorf("reading the demo schedule: %w", err)
	}
	type appt struct {
		start         time.Time
		patient, name string
	}
	var all []appt
	for _, e := range bundle.Entry {
		r := e.Resource
		if r.ResourceType != "Appointment" {
			continue
		}
		t, err := time.Parse(time.RFC3339, r.Start)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the demo schedule: %w", err)
		}
		for _, p := range r.Participant {
			if strings.HasPrefix(p.Actor.Reference, "Patient/") {
				all = append(all, appt{t.In(today.Location()), p.Actor.Reference, p.Actor.Display})
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].start.Before(all[j].start) })
	var visits []visit
	for _, a := range all {
		if a.start.Format(time.DateOnly) == date {
			visits = append(visits, visit{a.start, a.name})
		}
	}
	if len(visits) > 0 {
		return source, visits, nil
	}
	if len(all) == 0 {
		return nil, nil, errors.New("the demo data has no schedule")
	}
	// No clinic today: book the next clinic day's first patients today.
	y, m, d := today.Date()
	var entries []any
	for i, a := range all[:min(8, len(all))] {
		t := time.Date(y, m, d, 8, 0, 0, 0, today.Location()).Add(time.Duration(i) * 30 * time.Minute)
		visits = append(visits, visit{t, a.name})
		entries = append(entries, map[string]any{"resource": map[string]any{
			"resourceType": "Appointment", "id": fmt.Sprintf("window-%d", i), "status": "booked",
			"serviceType": []any{map[string]any{"text": "Annual wellness visit"}}, "description": "Annual wellness visit",
			"start": t.Format(time.RFC3339), "end": t.Add(30 * time.Minute).Format(time.RFC3339), "minutesDuration": 30,
			"participant": []any{map[string]any{"actor": map[string]any{"reference": a.patient, "display": a.name}, "required": "required", "status": "accepted"}},
		}})
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": entries})
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(schedDir, 0o755); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(schedDir, "today.json"), b, 0o644); err != nil {
		return nil, nil, err
	}
	return append(source, "-data", schedDir), visits, nil
}

// enrolAdmin accepts the demo admin's invite with password through the
// API and enrols her TOTP when her role requires it. It returns the TOTP
// secret ("" when none) and when the enrolment's code was used.
func enrolAdmin(ctx context.Context, st *stack, password string) (string, time.Time, error) {
	tok := strings.SplitN(st.sec.AdminInvite, "token=", 2)
	if len(tok) != 2 {
		return "", time.Time{}, errors.New("the demo admin's invite has no link")
	}
	b := &bearer{}
	auth := c.NewAuthServiceClient(http.DefaultClient, st.base, connect.WithInterceptors(b.interceptor()))
	acc, err := auth.AcceptInvite(ctx, connect.NewRequest(&v1.AcceptInviteRequest{Token: tok[1], Password: password,
		DisplayName: "Demo Admin", ClientKind: v1.ClientKind_CLIENT_KIND_API, DeviceId: "healthprep-dev"}))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("accepting the demo admin's invite: %w", err)
	}
	if !acc.Msg.TotpEnrolmentRequired {
		return "", time.Time{}, nil
	}
	b.token = acc.Msg.SessionToken
	en, err := auth.StartTotpEnrolment(ctx, connect.NewRequest(&v1.StartTotpEnrolmentRequest{}))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("enrolling the demo admin's TOTP: %w", err)
	}
	at := time.Now()
	code, err := totp.GenerateCode(en.Msg.Secret, at)
	if err != nil {
		return "", time.Time{}, err
	}
	if _, err := auth.ConfirmTotpEnrolment(ctx, connect.NewRequest(&v1.ConfirmTotpEnrolmentRequest{TotpCode: code})); err != nil {
		return "", time.Time{}, fmt.Errorf("confirming the demo admin's TOTP: %w", err)
	}
	return en.Msg.Secret, at, nil
}

// openWindow enrols a workstation profile under dir/desktop, syncs it once
// and opens `healthprep gui` on it, its configuration and caches kept in
// dir too.
func openWindow(ctx context.Context, st *stack, binDir, dir string, out io.Writer) (*process, error) {
	bin := filepath.Join(binDir, "healthprep")
	profile := filepath.Join(dir, "desktop")
	common := []string{"-profile", profile, "-keystore", insecureKeystore}
	fmt.Fprintf(out, "desktop: profile %s, key store %s (synthetic data only)\n", profile, insecureKeystore)
	devices := c.NewDeviceServiceClient(http.DefaultClient, st.base, st.root.opts)
	code, err := devices.IssueEnrolmentCode(ctx, connect.NewRequest(&v1.IssueEnrolmentCodeRequest{OrgId: st.sec.DemoOrgID, ValidMinutes: 10}))
	if err != nil {
		return nil, fmt.Errorf("issuing the desktop's enrolment code: %w", err)
	}
	if _, err := desktopCmd(ctx, bin, append([]string{"enrol", "-server", st.base, "-code", code.Msg.GetCode(), "-name", "screenshots-workstation"}, common...)...); err != nil {
		return nil, err
	}
	sync, err := desktopCmd(ctx, bin, append([]string{"agent", "-once"}, common...)...)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "desktop:", lastLine(sync))
	cmd := exec.Command(bin, append([]string{"gui"}, common...)...)
	cmd.Env = append(os.Environ(),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "xdg", "config"), "XDG_DATA_HOME="+filepath.Join(dir, "xdg", "data"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "xdg", "cache"), "LANG=en_US.UTF-8")
	logFile, err := os.OpenFile(filepath.Join(dir, "desktop.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("opening the desktop window: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	return p, nil
}

// driver plays a person at the window.
type driver struct {
	ctx context.Context
	out io.Writer
	dir string
	gui *process
	log string
	id  string // the X window
	n   int    // screens checked
	// last is the last capture's words, from every OCR pass made on it:
	// they locate what to click.
	last []ocrWord
}

// play goes through the screens of windowScreens.
func (d *driver) play(st *stack, dir, binDir string, visits []visit, adminPassword, adminTOTP string, enrolled time.Time) error {
	first := visits[0]
	sheetLabel := func(v visit) string { return v.Start.Format("2006-01-02 15:04") } // the sheet's "Visit:" line
	// 1. The nurse signs in online.
	if err := d.screen(0, nil, screenDeadline); err != nil {
		return err
	}
	if err := d.signIn(st.sec.NurseEmail, st.sec.NursePassword); err != nil {
		return err
	}
	// 2. The schedule has the focus; 3. Enter opens the first row's sheet.
	if err := d.screen(1, []string{first.Name}, screenDeadline); err != nil {
		return err
	}
	if err := d.keys("Return"); err != nil {
		return err
	}
	if err := d.screen(2, []string{first.Name, sheetLabel(first)}, screenDeadline); err != nil {
		return err
	}
	// 4. The cloud API goes away (killed, as a lost connection). The nurse
	// signs out and in again: offline, with the password this workstation
	// remembers, and the banner says so at once (a window left open
	// notices at the sync agent's next poll, ≤ 30 s).
	apiIdx := slices.Index(st.pids, st.api.cmd.Process.Pid)
	if apiIdx < 0 {
		return errors.New("the cloud API process is not among those started")
	}
	_ = st.api.cmd.Process.Kill()
	<-st.api.done
	st.stops[apiIdx] = func() {}
	fmt.Fprintf(d.out, "window: killed the cloud API (pid %d)\n", st.pids[apiIdx])
	if err := d.signOut(); err != nil {
		return err
	}
	if err := d.signIn(st.sec.NurseEmail, st.sec.NursePassword); err != nil {
		return err
	}
	if err := d.screen(3, []string{first.Name}, screenDeadline); err != nil {
		return err
	}
	// 5. Down and Enter open the next sheet, from the workstation's copy.
	if len(visits) > 1 {
		if err := d.keys("Down", "Return"); err != nil {
			return err
		}
		if err := d.screen(4, []string{visits[1].Name, sheetLabel(visits[1])}, screenDeadline); err != nil {
			return err
		}
	} else if err := d.screen(4, nil, screenDeadline); err != nil {
		return err
	}
	// 6. The API again; the admin signs in, with her one-time code.
	env := cloudEnv(st.base, st.pg.DSN("healthprep", "healthprep_app_login", st.sec.AppPassword),
		st.pg.DSN("healthprep", "healthprep_owner", st.sec.OwnerPassword), st.sec, st.mailDev)
	u, err := url.Parse(st.base)
	if err != nil {
		return err
	}
	port, _ := strconv.Atoi(u.Port())
	api, err := startCloud(d.ctx, dir, "cloud", filepath.Join(binDir, "healthprep-cloud"), withListen(env, port), "serve")
	if err != nil {
		return fmt.Errorf("starting the cloud API again: %w", err)
	}
	st.api, st.stops[apiIdx], st.pids[apiIdx] = api, api.stop, api.cmd.Process.Pid
	fmt.Fprintf(d.out, "window: started the cloud API again (pid %d)\n", api.cmd.Process.Pid)
	if err := d.signOut(); err != nil {
		return err
	}
	if adminTOTP == "" {
		return errors.New("the demo admin has no TOTP: admins are expected to need a second factor")
	}
	if err := d.signIn(st.sec.AdminEmail, adminPassword); err != nil {
		return err
	}
	if err := d.screen(5, nil, screenDeadline); err != nil {
		return err
	}
	// The enrolment used its step's code; a code is accepted once.
	at := time.Now()
	if at.Unix()/30 <= enrolled.Unix()/30 {
		at = enrolled.Add(30 * time.Second)
	}
	code, err := totp.GenerateCode(adminTOTP, at)
	if err != nil {
		return err
	}
	if err := d.typeText(code); err != nil {
		return err
	}
	if err := d.keys("Return"); err != nil {
		return err
	}
	// 7. Administration, Users.
	if err := d.waitText("the admin's main screen", []string{"Administration"}, screenDeadline); err != nil {
		return err
	}
	if err := d.click("Administration"); err != nil {
		return err
	}
	if err := d.waitText("the setup checklist", []string{"Users", "Screening types"}, screenDeadline); err != nil {
		return err
	}
	if err := d.click("Users"); err != nil {
		return err
	}
	if err := d.screen(6, nil, screenDeadline); err != nil {
		return err
	}
	// 8. Screening types.
	if err := d.click("Screening types"); err != nil {
		return err
	}
	return d.screen(7, nil, screenDeadline)
}

// signIn types email and password into the sign-in screen: Tab focuses
// the email field, whose earlier text is selected and typed over; Enter
// moves to the password, Enter signs in.
func (d *driver) signIn(email, password string) error {
	if err := d.keys("Tab", "ctrl+a"); err != nil {
		return err
	}
	if err := d.typeText(email); err != nil {
		return err
	}
	if err := d.keys("Return"); err != nil {
		return err
	}
	if err := d.typeText(password); err != nil {
		return err
	}
	return d.keys("Return")
}

// signOut locks the window with the status bar's Lock button and signs
// out from the lock screen (Tab, Tab from its password field reach Sign
// out).
func (d *driver) signOut() error {
	if err := d.click("Lock"); err != nil {
		return err
	}
	if err := d.waitText("the lock screen", []string{"is locked", "Sign out"}, screenDeadline); err != nil {
		return err
	}
	if err := d.keys("Tab", "Tab", "space"); err != nil {
		return err
	}
	return d.waitText("the sign-in screen after signing out", []string{"Sign in", "Password"}, screenDeadline)
}

// findWindow waits for the window named HealthPrep and focuses it.
func (d *driver) findWindow() error {
	deadline := time.Now().Add(screenDeadline)
	for {
		out, err := exec.CommandContext(d.ctx, "xdotool", "search", "--onlyvisible", "--name", "^HealthPrep$").Output()
		if ids := strings.Fields(string(out)); err == nil && len(ids) > 0 {
			d.id = ids[0]
			break
		}
		if err := d.pause(deadline, "the HealthPrep window did not open"); err != nil {
			return err
		}
	}
	if err := d.xdotool("windowfocus", "--sync", d.id); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "window: found the HealthPrep window (X id %s)\n", d.id)
	return nil
}

// pause waits a little before polling again, or fails with why (and the
// window's log) at the deadline or when the window has exited.
func (d *driver) pause(deadline time.Time, why string) error {
	select {
	case err := <-d.gui.done:
		d.gui.done <- err // for stop
		return fmt.Errorf("the window exited (%v) while waiting: %s (log: %s)%s", err, why, d.log, d.tail())
	case <-d.ctx.Done():
		return d.ctx.Err()
	case <-time.After(200 * time.Millisecond):
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("%s (log: %s)", why, d.log)
	}
	return nil
}

// tail is the end of the window's log, for a failure message.
func (d *driver) tail() string {
	b, _ := os.ReadFile(d.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return ""
	}
	return "\n" + string(b)
}

func (d *driver) xdotool(args ...string) error {
	ctx, cancel := context.WithTimeout(d.ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "xdotool", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("xdotool %s: %v: %s", args[0], err, bytes.TrimSpace(out))
	}
	return nil
}

// keys presses keys (X keysym names) in the focused window.
func (d *driver) keys(keys ...string) error {
	return d.xdotool(append([]string{"key", "--clearmodifiers", "--delay", "80"}, keys...)...)
}

// typeText types s into the focused field.
func (d *driver) typeText(s string) error {
	return d.xdotool("type", "--clearmodifiers", "--delay", "40", "--", s)
}

// click clicks the centre of the leftmost place where the last OCR pass
// read phrase.
func (d *driver) click(phrase string) error {
	x, y, ok := locate(d.last, phrase)
	if !ok {
		return fmt.Errorf("cannot click %q: OCR does not read it on the screen", phrase)
	}
	return d.xdotool("mousemove", "--window", d.id, strconv.Itoa(x), strconv.Itoa(y), "click", "1")
}

// screen captures windowScreens[i] into its file, with extra text it must
// show too, and prints its line.
func (d *driver) screen(i int, extra []string, wait time.Duration) error {
	s := windowScreens[i]
	want := append(append([]string{}, s.Want...), extra...)
	start := time.Now()
	path := filepath.Join(d.dir, s.File)
	sd, err := d.waitCapture(path, want, wait)
	if err != nil {
		return fmt.Errorf("screen %s: %w", strings.TrimSuffix(s.File, ".png"), err)
	}
	d.n++
	fmt.Fprintf(d.out, "window: %-28s non-blank (σ %.0f), OCR read %s in %.1f s\n", s.File, sd, quoteAll(want), time.Since(start).Seconds())
	return nil
}

// waitText waits until the window shows want, without keeping a picture.
func (d *driver) waitText(what string, want []string, wait time.Duration) error {
	path := filepath.Join(d.dir, ".probe.png")
	defer os.Remove(path)
	if _, err := d.waitCapture(path, want, wait); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// waitCapture captures the window into path and reads it until it is
// non-blank and shows every text of want, or the wait is over. It returns
// the picture's luminance standard deviation.
func (d *driver) waitCapture(path string, want []string, wait time.Duration) (float64, error) {
	deadline := time.Now().Add(wait)
	for {
		var missing []string
		var text string
		sd, err := d.capture(path)
		if err == nil && sd < minDeviation {
			err = fmt.Errorf("the capture is blank (luminance σ %.1f)", sd)
		}
		if err == nil {
			if text, d.last, missing, err = readScreen(d.ctx, path, want); err == nil && len(missing) == 0 {
				return sd, nil
			}
		}
		if err == nil {
			err = fmt.Errorf("%s did not appear within %s; OCR read: %q", quoteAll(missing), wait, text)
		}
		if perr := d.pause(deadline, err.Error()); perr != nil {
			return 0, perr
		}
	}
}

// minDeviation is the least luminance standard deviation of a picture
// that shows something (a blank or single-colour window has ~0).
const minDeviation = 8

// capture writes the window's picture, from the X server, into path and
// returns its luminance standard deviation.
func (d *driver) capture(path string) (float64, error) {
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "import", "-window", d.id, path).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("import -window %s: %v: %s", d.id, err, bytes.TrimSpace(out))
	}
	return deviation(path)
}

// deviation is the standard deviation of a PNG's luminance (0–255),
// sampled every 2 pixels.
func deviation(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return 0, fmt.Errorf("decoding %s: %w", filepath.Base(path), err)
	}
	return luminanceDeviation(img), nil
}

func luminanceDeviation(img image.Image) float64 {
	var n, sum, sq float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			n, sum, sq = n+1, sum+l, sq+l*l
		}
	}
	if n == 0 {
		return 0
	}
	mean := sum / n
	return math.Sqrt(max(sq/n-mean*mean, 0))
}

// readScreen reads a screenshot until it finds want: sparse text first
// (reads status bars and buttons), then automatic page segmentation
// (reads lines like "Name <email>" whole) when something is missing. It
// returns the text and words of the passes made and what is missing.
func readScreen(ctx context.Context, path string, want []string) (text string, words []ocrWord, missing []string, err error) {
	for _, psm := range []string{"11", "3"} {
		t, w, err := readText(ctx, path, psm)
		if err != nil {
			return "", nil, nil, err
		}
		text, words = strings.TrimSpace(text+" "+t), append(words, w...)
		if missing = missingText(text, want); len(missing) == 0 {
			break
		}
	}
	return text, words, missing, nil
}

// ocrWord is one word tesseract read and where.
type ocrWord struct {
	Text                   string
	PSM                    string // the pass that read it
	Block, Par, Line       int
	Left, Top, Width, High int
}

// readText reads the picture at path with tesseract in page segmentation
// mode psm and returns its words, in reading order, joined by spaces,
// and where each is.
func readText(ctx context.Context, path, psm string) (string, []ocrWord, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tesseract", path, "stdout", "--psm", psm, "tsv")
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", nil, fmt.Errorf("tesseract %s: %v: %s", filepath.Base(path), err, bytes.TrimSpace(stderr.Bytes()))
	}
	words := parseTSV(string(out), psm)
	texts := make([]string, len(words))
	for i, w := range words {
		texts[i] = w.Text
	}
	return strings.Join(texts, " "), words, nil
}

// parseTSV reads tesseract's TSV output: level, page, block, paragraph,
// line, word, left, top, width, height, confidence, text.
func parseTSV(tsv, psm string) []ocrWord {
	var words []ocrWord
	for _, line := range strings.Split(tsv, "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 12 || f[0] != "5" || strings.TrimSpace(f[11]) == "" {
			continue
		}
		n := make([]int, 10)
		for i := range n {
			n[i], _ = strconv.Atoi(f[i])
		}
		words = append(words, ocrWord{Text: strings.TrimSpace(f[11]), PSM: psm, Block: n[2], Par: n[3], Line: n[4],
			Left: n[6], Top: n[7], Width: n[8], High: n[9]})
	}
	return words
}

// normal folds text for comparison: lower case, single spaces.
func normal(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }

// missingText returns the texts of want that text lacks.
func missingText(text string, want []string) []string {
	t := normal(text)
	var missing []string
	for _, w := range want {
		if !strings.Contains(t, normal(w)) {
			missing = append(missing, w)
		}
	}
	return missing
}

// locate returns the centre of the leftmost run of consecutive words on
// one line that reads phrase (case-sensitive, whole words).
func locate(words []ocrWord, phrase string) (x, y int, ok bool) {
	want := strings.Fields(phrase)
	best := -1
	for i := 0; i+len(want) <= len(words); i++ {
		match := true
		for j, w := range want {
			o := words[i+j]
			if strings.Trim(o.Text, ".,:;") != w || o.PSM != words[i].PSM || o.Block != words[i].Block || o.Par != words[i].Par || o.Line != words[i].Line {
				match = false
				break
			}
		}
		if match && (best < 0 || words[i].Left < words[best].Left) {
			best = i
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	f, l := words[best], words[best+len(want)-1]
	return (f.Left + l.Left + l.Width) / 2, f.Top + f.High/2, true
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

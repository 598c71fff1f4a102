package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/cache"
	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	"healthprep.dev/shared/screening"
)

// runCmd runs the command in process and returns its exit status and
// output.
func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// seedClinic publishes the organisation's configuration and n patients,
// each with an appointment today (UTC) and an HbA1c result.
func seedClinic(f *fakeCloud, n int) {
	f.publish(v1.SyncEntityKind_SYNC_ENTITY_KIND_CONFIG, "org", []byte(`{"timezone":"UTC","desktop_idle_minutes":10,
		"lookback":{"labs_months":24,"imaging_months":36,"consults_months":12,"hospital_months":12,"documents_months":24}}`))
	day := time.Now().UTC().Format("2006-01-02")
	for i := range n {
		pid := fmt.Sprintf("p%d", i)
		f.publish(v1.SyncEntityKind_SYNC_ENTITY_KIND_PATIENT, pid, fmt.Appendf(nil,
			`{"resourceType":"Patient","id":%q,"gender":"female","birthDate":"1961-02-03","name":[{"given":["Pat%d"],"family":"Demo"}]}`, pid, i))
		f.publish(v1.SyncEntityKind_SYNC_ENTITY_KIND_APPOINTMENT, "a"+pid, fmt.Appendf(nil,
			`{"resourceType":"Appointment","id":"a%s","status":"booked","start":"%sT12:%02d:00Z","participant":[{"actor":{"reference":"Patient/%s"}}]}`, pid, day, i%60, pid))
		f.publish(v1.SyncEntityKind_SYNC_ENTITY_KIND_CHART_RESOURCE, "Observation/o"+pid, fmt.Appendf(nil,
			`{"resourceType":"Observation","id":"o%s","status":"final","subject":{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"effectiveDateTime":"2025-01-02","valueQuantity":{"value":5.4,"unit":"%%"}}`, pid, pid))
	}
}

// TestWorkstationLifeCycle runs the workstation against a cloud that
// speaks the real protocol: enrol, sync, every sheet opens with the cloud
// stopped (recomputed by the shared engine for today), an override made
// offline reaches the cloud when it returns, a cloud restored from a
// backup triggers a full resync that keeps the outbox, and a revocation
// crypto-shreds the profile.
func TestWorkstationLifeCycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFakeCloud(t)
	seedClinic(f, 5)
	url := f.start(t)
	dir := filepath.Join(t.TempDir(), "profile")
	ks := []string{"-profile", dir, "-keystore", string(keystore.BackendInsecureFile)}

	if code, _, errs := runCmd(append([]string{"enrol", "-server", url, "-code", "wrong-code", "-name", "Room 1"}, ks...)...); code != 1 || !strings.Contains(errs, "code: this enrolment code is not valid") {
		t.Fatalf("enrol with a bad code: exit %d, %q; want 1 and the cloud's message", code, errs)
	}
	if code, out, errs := runCmd(append([]string{"enrol", "-server", url, "-code", "abcde fghjk", "-name", "Room 1"}, ks...)...); code != 0 {
		t.Fatalf("enrol: exit %d, %s%s", code, out, errs)
	}
	if code, out, errs := runCmd(append([]string{"agent", "-once"}, ks...)...); code != 0 || !strings.Contains(out, "up to date at seq 16") {
		t.Fatalf("agent -once: exit %d, %q %q; want up to date at seq 16", code, out, errs)
	}

	// The cloud stops: the agent fails, every sheet still opens.
	f.stop()
	if code, _, _ := runCmd(append([]string{"agent", "-once"}, ks...)...); code != 1 {
		t.Errorf("agent -once with the cloud stopped: exit %d; want 1", code)
	}
	code, out, errs := runCmd(append([]string{"sheets", "-json"}, ks...)...)
	var rep SheetReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil {
		t.Fatalf("sheets offline: exit %d, %q %q", code, out, errs)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if rep.Appointments != 5 || rep.Sheets != 5 || rep.Recomputed != 5 || rep.Missing != 0 || rep.From != today {
		t.Errorf("sheets offline = %+v; want 5 appointments, 5 sheets recomputed for %s", rep, today)
	}

	// An override made offline, through the window's code path.
	p, err := openProfile(ctx, profileFlags{Dir: dir, Keystore: string(keystore.BackendInsecureFile)}, false)
	if err != nil {
		t.Fatal(err)
	}
	clinic, err := p.sync.Clinic(ctx)
	if err != nil || clinic.IdleMinutes != 10 || clinic.Lookback.LabsMonths != 24 {
		t.Errorf("synced clinic settings = %+v, %v; want idle 10 min, labs 24 months", clinic, err)
	}
	src := cache.New(p.local, clinic.Engine, cache.Options{Location: clinic.Location, Lookback: clinic.Lookback})
	if err := src.SaveOverride(ctx, appstate.Override{PatientID: "p0", AppointmentID: "ap0", TypeID: "colorectal",
		Kind: screening.RefusedByPatient, Reason: "declined today"}, appstate.User{Name: "Nurse Joy"}); err != nil {
		t.Fatalf("SaveOverride offline: %v", err)
	}
	p.Close()

	// The cloud returns (at a new address): the override syncs.
	url = f.start(t)
	if code, out, errs := runCmd(append([]string{"agent", "-once", "-server", url}, ks...)...); code != 0 || !strings.Contains(out, "1 results pushed") {
		t.Fatalf("agent -once after the cloud returned: exit %d, %q %q; want 1 result pushed", code, out, errs)
	}
	if got := f.pushedKinds()[v1.SyncPushKind_SYNC_PUSH_KIND_OVERRIDE]; got != 1 {
		t.Errorf("the cloud received %d overrides; want 1", got)
	}

	// The cloud is restored from a backup taken before the override: the
	// workstation's cursor is ahead. It resyncs from scratch and keeps its
	// unsent results.
	f.restore(16)
	p, err = openProfile(ctx, profileFlags{Dir: dir, Keystore: string(keystore.BackendInsecureFile)}, false)
	if err != nil {
		t.Fatal(err)
	}
	printID := uuid.NewString()
	if _, err := p.sync.Enqueue(ctx, syncagent.Entry{ID: printID, Kind: "print_event", Payload: []byte(`{"sheet":"ap1"}`)}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if code, out, errs := runCmd(append([]string{"agent", "-once", "-server", url}, ks...)...); code != 0 || !strings.Contains(out, "1 full resyncs") || !strings.Contains(out, "16 changes applied") {
		t.Fatalf("agent -once after a restore: exit %d, %q %q; want a full resync of 16 changes", code, out, errs)
	}
	if f.pushedKinds()[v1.SyncPushKind_SYNC_PUSH_KIND_PRINT_EVENT] != 1 {
		t.Error("the print event recorded before the resync never reached the cloud")
	}

	// Revocation: the next contact crypto-shreds the profile.
	f.revoke()
	if code, _, errs := runCmd(append([]string{"agent", "-once", "-server", url}, ks...)...); code != 3 || !strings.Contains(errs, "crypto-shredded") {
		t.Fatalf("agent -once after revocation: exit %d, %q; want 3 and crypto-shredded", code, errs)
	}
	_, err = openProfile(ctx, profileFlags{Dir: dir, Keystore: string(keystore.BackendInsecureFile)}, false)
	if !errors.Is(err, localstore.ErrShredded) && !errors.Is(err, localstore.ErrDeviceKey) {
		t.Errorf("opening the profile after revocation: %v; want shredded", err)
	}
	keys, _ := keystore.NewInsecureFile(dir)
	if _, err := keys.Get(tokenKey("0d000000-0000-4000-8000-000000000001")); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("device token after revocation: %v; want gone", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "profile.db")); err != nil {
		t.Errorf("profile file: %v", err)
	}
}

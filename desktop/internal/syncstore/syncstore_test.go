package syncstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncagent/storetest"
	"healthprep.dev/desktop/internal/syncstore"
	"healthprep.dev/shared/screening"
)

// setup returns an adapter over a fresh, unlocked local store.
func setup(t testing.TB) *syncstore.Store {
	t.Helper()
	dir := t.TempDir()
	keys, err := keystore.NewInsecureFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := localstore.Open(context.Background(), localstore.Options{Path: filepath.Join(dir, "profile.db"), DeviceKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	if err := ls.Initialize(context.Background()); err != nil {
		t.Fatal(err)
	}
	return syncstore.New(ls, time.UTC)
}

func patientJSON(id, given string) []byte {
	return fmt.Appendf(nil, `{"resourceType":"Patient","id":%q,"gender":"female","birthDate":"1960-05-01",
		"name":[{"given":[%q],"family":"Test"}],"identifier":[{"type":{"coding":[{"code":"MR"}]},"value":"MRN-%s"}]}`, id, given, id)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		s := setup(t)
		return storetest.Harness{
			Store: s,
			Enqueue: func(t *testing.T, e syncagent.Entry) {
				if _, err := s.Enqueue(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			},
			Upsert: func(i, v int, seq int64) syncagent.Change {
				return syncagent.Change{Kind: "patient", ID: fmt.Sprint("p", i), Payload: patientJSON(fmt.Sprint("p", i), fmt.Sprint("v", v)), Seq: seq}
			},
			Delete: func(i int, seq int64) syncagent.Change {
				return syncagent.Change{Kind: "patient", ID: fmt.Sprint("p", i), Delete: true, Seq: seq}
			},
			Version: func(t *testing.T, i int) int {
				p, err := s.Local().Patient(context.Background(), fmt.Sprint("p", i))
				if errors.Is(err, localstore.ErrNotFound) {
					return 0
				}
				if err != nil {
					t.Fatal(err)
				}
				var v int
				fmt.Sscanf(p.Name, "v%d Test", &v)
				return v
			},
			Entry: func(n int) syncagent.Entry {
				return syncagent.Entry{ID: uuid.NewString(), Kind: "override", RecordID: fmt.Sprintf("o%d", n), BaseSeq: int64(n), Payload: []byte(`{"n":1}`)}
			},
		}
	})
}

const (
	apptJSON = `{"resourceType":"Appointment","id":"a1","status":"booked","start":"2026-03-02T09:30:00Z","end":"2026-03-02T10:00:00Z",
		"participant":[{"actor":{"reference":"Practitioner/dr","display":"Dr Who"}},{"actor":{"reference":"Patient/p1"}}]}`
	obsJSON = `{"resourceType":"Observation","id":"o1","status":"final","subject":{"reference":"Patient/p1"},
		"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"effectiveDateTime":"2025-11-01",
		"valueQuantity":{"value":6.1,"unit":"%"}}`
	reportJSON = `{"resourceType":"DiagnosticReport","id":"r1","status":"final","subject":{"reference":"Patient/p1"},
		"code":{"coding":[{"system":"http://loinc.org","code":"24606-6"}],"text":"Mammogram"},"effectiveDateTime":"2025-06-01",
		"conclusion":"BI-RADS 1, negative"}`
)

func page(s *syncstore.Store, t *testing.T, changes ...syncagent.Change) {
	t.Helper()
	ctx := context.Background()
	cur, err := s.Cursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyPage(ctx, syncagent.Page{From: cur, Next: cur + "+", Changes: changes}); err != nil {
		t.Fatalf("ApplyPage: %v", err)
	}
}

// TestFHIRPayloads: ingest's FHIR resources become the patient, the
// appointment, chart items and documents the prep sheet reads.
func TestFHIRPayloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	page(s, t,
		syncagent.Change{Kind: "appointment", ID: "a1", Payload: []byte(apptJSON), Seq: 1}, // before its patient
		syncagent.Change{Kind: "patient", ID: "p1", Payload: patientJSON("p1", "Ann"), Seq: 2},
		syncagent.Change{Kind: "chart_resource", ID: "Observation/o1", Payload: []byte(obsJSON), Seq: 3},
		syncagent.Change{Kind: "chart_resource", ID: "DiagnosticReport/r1", Payload: []byte(reportJSON), Seq: 4},
		syncagent.Change{Kind: "chart_resource", ID: "Observation/bad", Payload: []byte(`{"resourceType":"Observation","subject":{"reference":"Patient/p1"},"effectiveDateTime":"not a date"}`), Seq: 5},
		syncagent.Change{Kind: "config", ID: "org", Payload: []byte(`{"timezone":"America/Chicago"}`), Seq: 6},
	)
	p, err := s.Local().Patient(ctx, "p1")
	if err != nil || p.Name != "Ann Test" || p.MRN != "MRN-p1" || p.BirthDate.String() != "1960-05-01" {
		t.Errorf("patient = %+v, %v; want Ann Test, MRN-p1, born 1960-05-01", p, err)
	}
	appts, err := s.Local().Appointments(ctx, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC))
	if err != nil || len(appts) != 1 || appts[0].PatientID != "p1" || appts[0].Status != "booked" || appts[0].Provider != "Dr Who" {
		t.Errorf("appointments = %+v, %v; want a1 of p1, booked, with Dr Who", appts, err)
	}
	rec, err := s.Local().Record(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, it := range rec.Items {
		refs = append(refs, it.Ref)
	}
	if got, want := strings.Join(refs, " "), "DiagnosticReport/r1 Observation/o1"; got != want {
		t.Errorf("chart items %q; want %q", got, want)
	}
	if len(rec.Documents) != 1 || !strings.Contains(rec.Documents[0].Text, "BI-RADS 1") {
		t.Errorf("documents = %+v; want the report's conclusion", rec.Documents)
	}
	if n := s.Unreadable(); n != 1 {
		t.Errorf("unreadable = %d; want 1 (the observation with a bad date)", n)
	}
	if v, err := s.Local().Setting(ctx, syncstore.ConfigPrefix+"org"); err != nil || !strings.Contains(string(v), "Chicago") {
		t.Errorf("config = %q, %v", v, err)
	}

	// Deletes and replacements.
	page(s, t,
		syncagent.Change{Kind: "chart_resource", ID: "DiagnosticReport/r1", Delete: true, Seq: 7},
		syncagent.Change{Kind: "appointment", ID: "a1", Delete: true, Seq: 8},
	)
	rec, err = s.Local().Record(ctx, "p1")
	if err != nil || len(rec.Items) != 1 || len(rec.Documents) != 0 {
		t.Errorf("after deleting the report: %d items, %d documents, %v; want 1 and 0", len(rec.Items), len(rec.Documents), err)
	}
	appts, _ = s.Local().Appointments(ctx, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC))
	if len(appts) != 0 {
		t.Errorf("after deleting the appointment: %d appointments", len(appts))
	}
}

// TestOutboxMetadata: entries keep their metadata through the sealed
// outbox, and the window's bare override entries get theirs from the
// payload.
func TestOutboxMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	doc := syncagent.Entry{ID: uuid.NewString(), Kind: "document_result", Payload: []byte(`{"text":"x"}`),
		DocumentID: "d1", ContentSHA256: strings.Repeat("ab", 32), PipelineVersion: "p1"}
	ov := syncagent.Entry{ID: uuid.NewString(), Kind: "override", Payload: []byte(`{"id":"o9"}`), RecordID: "o9", BaseSeq: 41}
	for _, e := range []syncagent.Entry{doc, ov} {
		if _, err := s.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	bare := localstore.Override{ID: "o10", PatientID: "p1", Override: screening.Override{TypeID: "colorectal"}}
	payload, _ := json.Marshal(bare)
	bareID := uuid.NewString()
	if err := s.Local().Update(ctx, func(tx *localstore.Tx) error {
		_, err := tx.Enqueue(localstore.OutboxEntry{ID: bareID, Kind: "override", Payload: payload})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, syncagent.Entry{ID: uuid.NewString(), Kind: "override", Payload: []byte("not json")}); err == nil {
		t.Error("a payload that is not JSON was enqueued")
	}
	got, err := s.Outbox(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []syncagent.Entry{doc, ov, {ID: bareID, Kind: "override", Payload: payload, RecordID: "o10"}}
	if len(got) != len(want) {
		t.Fatalf("outbox has %d entries; want %d", len(got), len(want))
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("entry %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}

// TestOverrideSeq: an override from the feed is stored with its seq, the
// base of a later edit.
func TestOverrideSeq(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	o, _ := json.Marshal(localstore.Override{ID: "o1", PatientID: "p1", Override: screening.Override{TypeID: "colorectal"}})
	page(s, t, syncagent.Change{Kind: "override", ID: "o1", Payload: o, Seq: 17})
	if n, err := s.BaseSeq(ctx, "o1"); err != nil || n != 17 {
		t.Errorf("BaseSeq(o1) = %d, %v; want 17", n, err)
	}
	ovs, err := s.Local().Overrides(ctx, "p1")
	if err != nil || len(ovs) != 1 || ovs[0].Override.TypeID != "colorectal" {
		t.Errorf("overrides = %+v, %v", ovs, err)
	}
	if n, _ := s.BaseSeq(ctx, "never"); n != 0 {
		t.Errorf("BaseSeq of an unknown override = %d; want 0", n)
	}
}

// TestResetCursor: a reset only moves the cursor back, keeping rows and
// the outbox, and refuses when the cursor moved meanwhile.
func TestResetCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	page(s, t, syncagent.Change{Kind: "patient", ID: "p1", Payload: patientJSON("p1", "Ann"), Seq: 1})
	id, err := s.Enqueue(ctx, syncagent.Entry{ID: uuid.NewString(), Kind: "print_event", Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ResetCursor(ctx, "elsewhere"); !errors.Is(err, syncagent.ErrCursorMismatch) {
		t.Errorf("reset from a cursor not stored: %v; want ErrCursorMismatch", err)
	}
	if err := s.ResetCursor(ctx, "+"); err != nil {
		t.Fatalf("ResetCursor: %v", err)
	}
	if c, _ := s.Cursor(ctx); c != "" {
		t.Errorf("cursor after reset = %q; want empty", c)
	}
	if _, err := s.Local().Patient(ctx, "p1"); err != nil {
		t.Errorf("patient after reset: %v", err)
	}
	es, _ := s.Outbox(ctx, 10)
	if len(es) != 1 || es[0].ID != id {
		t.Errorf("outbox after reset = %+v; want the unacknowledged entry", es)
	}
}

// TestFirstSyncDeletesWhatMayExist: a first sync into an empty store skips
// the deletes of earlier local rows, yet a record met again in it (changed
// in the cloud during the sync) and a first sync resumed by another
// process (a restarted agent) still replace its rows: the report that
// lost its text keeps no document.
func TestFirstSyncDeletesWhatMayExist(t *testing.T) {
	t.Parallel()
	noText := strings.Replace(reportJSON, `"conclusion":"BI-RADS 1, negative"`, `"issued":"2025-06-02T00:00:00Z"`, 1)
	for _, tt := range []struct {
		name    string
		restart bool
	}{{"record met twice", false}, {"agent restarted mid-sync", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := setup(t)
			if err := s.ApplyPage(ctx, syncagent.Page{From: "", Next: "c2", Latest: 10, Changes: []syncagent.Change{
				{Kind: "patient", ID: "p1", Payload: patientJSON("p1", "Ann"), Seq: 1},
				{Kind: "chart_resource", ID: "DiagnosticReport/r1", Payload: []byte(reportJSON), Seq: 2},
			}}); err != nil {
				t.Fatal(err)
			}
			if rec, err := s.Local().Record(ctx, "p1"); err != nil || len(rec.Documents) != 1 {
				t.Fatalf("after the first page: %d documents, %v; want the report's", len(rec.Documents), err)
			}
			if tt.restart {
				s = syncstore.New(s.Local(), time.UTC)
			}
			if err := s.ApplyPage(ctx, syncagent.Page{From: "c2", Next: "c10", Latest: 10, Changes: []syncagent.Change{
				{Kind: "chart_resource", ID: "DiagnosticReport/r1", Payload: []byte(noText), Seq: 10},
			}}); err != nil {
				t.Fatal(err)
			}
			rec, err := s.Local().Record(ctx, "p1")
			if err != nil || len(rec.Items) != 1 || len(rec.Documents) != 0 {
				t.Errorf("after the report lost its text: %d items, %d documents, %v; want 1 item, no document", len(rec.Items), len(rec.Documents), err)
			}
		})
	}
}

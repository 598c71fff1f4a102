package syncstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncstore"
)

// profile is a workstation profile that can be closed and opened again,
// as a restart does.
type profile struct {
	dir  string
	keys *keystore.InsecureFile
	ls   *localstore.Store
}

func newProfile(t *testing.T) *profile {
	t.Helper()
	p := &profile{dir: t.TempDir()}
	keys, err := keystore.NewInsecureFile(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	p.keys = keys
	t.Cleanup(func() {
		if p.ls != nil {
			p.ls.Close()
		}
	})
	return p
}

// open opens the profile (initialising it the first time) and returns the
// adapter over it.
func (p *profile) open(t *testing.T) *syncstore.Store {
	t.Helper()
	ctx := context.Background()
	ls, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(p.dir, "profile.db"), DeviceKeys: p.keys})
	if err != nil {
		t.Fatal(err)
	}
	err = ls.UnlockWithDevice(ctx)
	if errors.Is(err, localstore.ErrNotInitialized) {
		err = ls.Initialize(ctx)
	}
	if err != nil {
		ls.Close()
		t.Fatal(err)
	}
	p.ls = ls
	return syncstore.New(ls, time.UTC)
}

func (p *profile) close(t *testing.T) {
	t.Helper()
	if err := p.ls.Close(); err != nil {
		t.Fatal(err)
	}
	p.ls = nil
}

// twoPageCloud serves a feed of two pages of one patient each; stall makes
// the second pull wait until its context ends (the process is killed while
// the second page is on its way).
type twoPageCloud struct {
	stall   bool
	pulling chan struct{} // closed when the second pull started
}

func (c *twoPageCloud) Pull(ctx context.Context, cursor string, _ int) (syncagent.Pulled, error) {
	switch cursor {
	case "":
		return syncagent.Pulled{From: "", Next: "1", HasMore: true, Latest: 2,
			Changes: []syncagent.Change{{Kind: "patient", ID: "p1", Payload: patientJSON("p1", "Ann"), Seq: 1}}}, nil
	case "1":
		if c.stall {
			close(c.pulling)
			<-ctx.Done()
			return syncagent.Pulled{}, fmt.Errorf("pulling: %w", ctx.Err())
		}
		return syncagent.Pulled{From: "1", Next: "2", Latest: 2,
			Changes: []syncagent.Change{{Kind: "patient", ID: "p2", Payload: patientJSON("p2", "Bea"), Seq: 2}}}, nil
	}
	return syncagent.Pulled{From: cursor, Next: cursor, Latest: 2}, nil
}

func (c *twoPageCloud) Push(context.Context, []syncagent.Entry) ([]syncagent.Ack, error) {
	return nil, nil
}

func TestLastSyncSurvivesARestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProfile(t)
	s := p.open(t)
	if got, err := s.LastSync(ctx); err != nil || !got.IsZero() {
		t.Fatalf("LastSync of a new profile = %v, %v; want zero (never)", got, err)
	}
	yesterday := time.Date(2026, 11, 22, 16, 5, 0, 0, time.UTC)
	agent := syncagent.New(s, &twoPageCloud{}, syncagent.Options{Now: func() time.Time { return yesterday }})
	if _, err := agent.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	p.close(t)

	s = p.open(t)
	got, err := s.LastSync(ctx)
	if err != nil || !got.Equal(yesterday) {
		t.Errorf("LastSync after reopening = %v, %v; want %v", got, err, yesterday)
	}
}

func TestInterruptedSyncIsNotRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProfile(t)
	s := p.open(t)
	first := time.Date(2026, 11, 22, 16, 5, 0, 0, time.UTC)
	if err := s.RecordSync(ctx, first); err != nil {
		t.Fatal(err)
	}

	// The process dies while the second page is on its way: the first
	// page is applied, the sync is not complete.
	cloud := &twoPageCloud{stall: true, pulling: make(chan struct{})}
	kill, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	agent := syncagent.New(s, cloud, syncagent.Options{Now: func() time.Time { return first.Add(24 * time.Hour) }})
	go func() {
		_, err := agent.SyncOnce(kill)
		done <- err
	}()
	<-cloud.pulling
	cancel()
	if err := <-done; err == nil {
		t.Fatal("SyncOnce succeeded, want the interrupted sync's error")
	}
	p.close(t)

	s = p.open(t)
	if cur, err := s.Cursor(ctx); err != nil || cur != "1" {
		t.Errorf("cursor after the interruption = %q, %v; want the first page's \"1\"", cur, err)
	}
	got, err := s.LastSync(ctx)
	if err != nil || !got.Equal(first) {
		t.Errorf("LastSync after an interrupted sync = %v, %v; want the previous success %v", got, err, first)
	}

	// The restarted agent finishes the sync, which is then recorded.
	second := first.Add(25 * time.Hour)
	agent = syncagent.New(s, &twoPageCloud{}, syncagent.Options{Now: func() time.Time { return second }})
	if _, err := agent.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LastSync(ctx); err != nil || !got.Equal(second) {
		t.Errorf("LastSync after the restarted sync = %v, %v; want %v", got, err, second)
	}
}

func TestLastSyncIsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProfile(t)
	s := p.open(t)
	if err := s.RecordSync(ctx, time.Date(2026, 11, 22, 16, 5, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	s.Local().Lock()
	if _, err := s.LastSync(ctx); !errors.Is(err, localstore.ErrLocked) {
		t.Errorf("LastSync of a locked store: %v, want ErrLocked (the value is encrypted)", err)
	}
}

func TestOnClinicChangeAfterCommittedSettingsPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		from   string // "" : the stored cursor
		change syncagent.Change
		want   int
	}{
		{"organisation settings", "", syncagent.Change{Kind: "config", ID: syncstore.OrgConfigID, Payload: []byte(`{"timezone":"America/Chicago"}`)}, 1},
		{"screening library", "", syncagent.Change{Kind: "screening_type", ID: syncstore.LibraryID, Payload: []byte(`{}`)}, 1},
		{"settings deleted", "", syncagent.Change{Kind: "config", ID: syncstore.OrgConfigID, Delete: true}, 1},
		{"a patient", "", syncagent.Change{Kind: "patient", ID: "p1", Payload: patientJSON("p1", "Ann")}, 0},
		{"revoked users", "", syncagent.Change{Kind: "config", ID: syncstore.RevokedUsersID, Payload: []byte(`{"user_ids":[]}`)}, 0},
		{"a stale page (not applied)", "stale", syncagent.Change{Kind: "config", ID: syncstore.OrgConfigID, Payload: []byte(`{}`)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t)
			calls := 0
			s.OnClinicChange(func() { calls++ })
			tt.change.Seq = 1
			_ = s.ApplyPage(context.Background(), syncagent.Page{From: tt.from, Next: "1", Changes: []syncagent.Change{tt.change}})
			if calls != tt.want {
				t.Errorf("OnClinicChange called %d times, want %d", calls, tt.want)
			}
		})
	}
}

// TestFeedTimeZoneFollowsSyncedSettings: a result taken late in the
// evening UTC is dated in the clinic's zone, the one synced before it in
// the same run.
func TestFeedTimeZoneFollowsSyncedSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	obs := func(id string) syncagent.Change {
		return syncagent.Change{Kind: "chart_resource", ID: "Observation/" + id, Payload: fmt.Appendf(nil,
			`{"resourceType":"Observation","id":%q,"status":"final","subject":{"reference":"Patient/p1"},
			"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"effectiveDateTime":"2025-11-01T23:30:00Z",
			"valueQuantity":{"value":6.1,"unit":"%%"}}`, id)}
	}
	pages := [][]syncagent.Change{
		{{Kind: "patient", ID: "p1", Payload: patientJSON("p1", "Ann")}, obs("utc")},
		{{Kind: "config", ID: syncstore.OrgConfigID, Payload: []byte(`{"timezone":"Pacific/Auckland"}`)}},
		{obs("auckland")},
	}
	for i, p := range pages {
		for j := range p {
			p[j].Seq = int64(10*i + j + 1)
		}
		cur, _ := s.Cursor(ctx)
		if err := s.ApplyPage(ctx, syncagent.Page{From: cur, Next: fmt.Sprint("c", i), Changes: p}); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.Local().Record(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Observation/utc": "2025-11-01", "Observation/auckland": "2025-11-02"}
	for _, it := range rec.Items {
		if got := it.Start.String(); got != want[it.Ref] {
			t.Errorf("%s dated %s, want %s", it.Ref, got, want[it.Ref])
		}
	}
	if len(rec.Items) != 2 {
		t.Errorf("%d items, want 2", len(rec.Items))
	}
}

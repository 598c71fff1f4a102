package publish_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"healthprep.dev/cloud/internal/publish"
	"healthprep.dev/cloud/internal/screeningcfg"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// library returns the screening library in the organisation's feed.
func (b bundle) library(t *testing.T, id tenancy.OrgID) (screening.Library, bool) {
	t.Helper()
	p, err := b.feed.Pull(b.ctx, id, syncfeed.Actor{}, "", 100, syncfeed.ProtocolVersion)
	if err != nil {
		t.Fatalf("pulling: %v", err)
	}
	for _, ch := range p.Changes {
		if ch.Kind == syncfeed.KindScreeningType && ch.ID == syncfeed.LibraryID {
			lib, err := preset.Load(ch.Payload)
			if err != nil {
				t.Fatalf("published library: %v", err)
			}
			return lib, true
		}
	}
	return screening.Library{}, false
}

func typeByID(lib screening.Library, id string) (screening.Type, bool) {
	i := slices.IndexFunc(lib.Types, func(t screening.Type) bool { return t.ID == id })
	if i < 0 {
		return screening.Type{}, false
	}
	return lib.Types[i], true
}

// TestScreeningSettingsReachTheFeed: with the publisher running, an
// admin's screening settings save is in the clinic's feed (the default
// library with the change) within seconds; the other clinic keeps the
// default library and its feed does not move.
func TestScreeningSettingsReachTheFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	settings, err := screeningcfg.New(b.db, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := publish.New(b.orgs, b.store, publish.Options{Every: time.Hour, Check: 50 * time.Millisecond, Screenings: settings})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		for !ok() {
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("%s: not within 10 s", what)
			}
		}
	}
	def := settings.Library()
	for _, id := range []tenancy.OrgID{b.a.ID, b.b.ID} {
		waitFor("first publish", func() bool { _, ok := b.library(t, id); return ok })
	}
	bSeq, err := b.store.LatestSeq(b.ctx, b.b.ID)
	if err != nil {
		t.Fatal(err)
	}

	off, changed := def.Types[0].ID, def.Types[1]
	rule := changed.Evidence[slices.IndexFunc(changed.Evidence, func(r screening.EvidenceRule) bool { return !r.Interval.IsZero() })].ID
	newInterval := chart.Period{N: 7, Unit: chart.Months}
	org := preset.OrgSettings{Disabled: []string{off}, Types: map[string]preset.TypeSettings{changed.ID: {Intervals: map[string]chart.Period{rule: newInterval}}}}
	savedAt := time.Now()
	if _, err := settings.Update(b.ctx, screeningcfg.Actor{Role: "admin"}, b.a.ID, org, 0); err != nil {
		t.Fatalf("saving screening settings: %v", err)
	}
	waitFor("the screening change in the feed", func() bool {
		lib, _ := b.library(t, b.a.ID)
		_, present := typeByID(lib, off)
		return len(lib.Types) > 0 && !present
	})
	t.Logf("screening settings in the feed after %v", time.Since(savedAt).Round(time.Millisecond))
	lib, _ := b.library(t, b.a.ID)
	if got := len(lib.Types); got != len(def.Types)-1 {
		t.Errorf("clinic-a's library has %d types; want %d (one turned off)", got, len(def.Types)-1)
	}
	ct, _ := typeByID(lib, changed.ID)
	for _, r := range ct.Evidence {
		if r.ID == rule && r.Interval != newInterval {
			t.Errorf("clinic-a's %s/%s interval = %v; want %v", changed.ID, rule, r.Interval, newInterval)
		}
	}
	if seq, err := b.store.LatestSeq(b.ctx, b.b.ID); err != nil || seq != bSeq {
		t.Errorf("clinic-b's feed moved to seq %d (%v); want %d: only clinic-a changed", seq, err, bSeq)
	}
	if lb, _ := b.library(t, b.b.ID); len(lb.Types) != len(def.Types) {
		t.Errorf("clinic-b's library has %d types; want the default's %d", len(lb.Types), len(def.Types))
	}
}

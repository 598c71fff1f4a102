package publish_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/publish"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/pgstore"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/shared/preset"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

var root = org.Actor{UserID: uuid.MustParse("00000000-0000-4000-8000-000000000001"), Role: "root_admin", IP: "127.0.0.1"}

type bundle struct {
	ctx   context.Context
	orgs  *org.Store
	feed  *syncfeed.Feed
	store *pgstore.Store
	a, b  org.Org
}

func setup(t *testing.T) bundle {
	t.Helper()
	ctx := context.Background()
	db := tenancy.New(pg.NewDB(t).AppPool(t))
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	kms, err := envelope.NewLocalKMS(kek)
	if err != nil {
		t.Fatal(err)
	}
	store := pgstore.New(db, envelope.NewKeys(kms))
	orgs := org.NewStore(db, time.Now)
	if _, err := orgs.EnsurePlatform(ctx); err != nil {
		t.Fatal(err)
	}
	b := bundle{ctx: ctx, orgs: orgs, feed: syncfeed.New(store, syncfeed.Options{}), store: store}
	for _, p := range []struct {
		o    *org.Org
		slug string
	}{{&b.a, "clinic-a"}, {&b.b, "clinic-b"}} {
		if *p.o, err = orgs.Create(ctx, root, org.NewOrg{Name: p.slug, Slug: p.slug}); err != nil {
			t.Fatalf("creating %s: %v", p.slug, err)
		}
	}
	return b
}

// config returns the organisation's config record in its feed, and the
// number of records the feed holds.
func (b bundle) config(t *testing.T, id tenancy.OrgID) (syncfeed.OrgConfig, int) {
	t.Helper()
	p, err := b.feed.Pull(b.ctx, id, syncfeed.Actor{}, "", 100, syncfeed.ProtocolVersion)
	if err != nil {
		t.Fatalf("pulling: %v", err)
	}
	var c syncfeed.OrgConfig
	for _, ch := range p.Changes {
		if ch.Kind == syncfeed.KindConfig && ch.ID == syncfeed.OrgConfigID {
			if err := json.Unmarshal(ch.Payload, &c); err != nil {
				t.Fatalf("config record: %v", err)
			}
		}
	}
	return c, len(p.Changes)
}

// TestSweep: the first sweep publishes every clinic's settings and the
// default library (not the platform organisation's); a second sweep over
// unchanged settings writes nothing, not even when it sweeps all.
func TestSweep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, err := publish.New(b.orgs, b.store, publish.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range []struct {
		all  bool
		want int
	}{{false, 4}, {false, 0}, {true, 0}} {
		if n, err := p.Sweep(b.ctx, tt.all); err != nil || n != tt.want {
			t.Fatalf("sweep %d (all %v): wrote %d, %v; want %d", i, tt.all, n, err, tt.want)
		}
	}
	for _, o := range []org.Org{b.a, b.b} {
		c, n := b.config(t, o.ID)
		if n != 2 || c.Timezone != "America/New_York" || c.DesktopIdleMinutes != 15 || c.Lookback.ImagingMonths != 24 {
			t.Errorf("%s: feed holds %d records, config %+v; want 2 records, New York, 15 min, imaging 24 months", o.Slug, n, c)
		}
	}
	pf, _, err := b.orgs.List(b.ctx, "", org.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range pf {
		if o.IsPlatform {
			if seq, err := b.store.LatestSeq(b.ctx, o.ID); err != nil || seq != 0 {
				t.Errorf("platform organisation's feed at seq %d (%v); want nothing published", seq, err)
			}
		}
	}
	// The published library is the default preset.
	page, err := b.feed.Pull(b.ctx, b.a.ID, syncfeed.Actor{}, "", 100, syncfeed.ProtocolVersion)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := preset.Default()
	for _, ch := range page.Changes {
		if ch.Kind == syncfeed.KindScreeningType {
			lib, err := preset.Load(ch.Payload)
			if err != nil || len(lib.Types) != len(def.Types) {
				t.Errorf("published library: %d types, %v; want the default's %d", len(lib.Types), err, len(def.Types))
			}
		}
	}
}

// TestSettingsChangeReachesTheFeed: with the publisher running (a minute
// between full sweeps), an admin's settings change is in the clinic's feed
// within seconds, and the other clinic's feed does not move.
func TestSettingsChangeReachesTheFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, err := publish.New(b.orgs, b.store, publish.Options{Every: time.Hour, Check: 50 * time.Millisecond})
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
	for _, o := range []org.Org{b.a, b.b} {
		waitFor("first publish of "+o.Slug, func() bool { c, _ := b.config(t, o.ID); return c.Timezone != "" })
	}
	bSeq, err := b.store.LatestSeq(b.ctx, b.b.ID)
	if err != nil {
		t.Fatal(err)
	}

	idle, tz, labs := 5, "America/Chicago", 36
	changedAt := time.Now()
	if _, err := b.orgs.UpdateSettings(b.ctx, root, b.a.ID, org.SettingsPatch{DesktopIdleMinutes: &idle, Timezone: &tz, LookbackLabs: &labs}); err != nil {
		t.Fatalf("UpdateSettings: %v", err)
	}
	waitFor("the settings change in the feed", func() bool { c, _ := b.config(t, b.a.ID); return c.DesktopIdleMinutes == 5 })
	t.Logf("settings change in the feed after %v", time.Since(changedAt).Round(time.Millisecond))
	c, _ := b.config(t, b.a.ID)
	if c.Timezone != tz || c.Lookback.LabsMonths != labs {
		t.Errorf("config after the change = %+v; want %s, labs %d months", c, tz, labs)
	}
	if seq, err := b.store.LatestSeq(b.ctx, b.b.ID); err != nil || seq != bSeq {
		t.Errorf("clinic-b's feed moved to seq %d (%v); want %d: only clinic-a changed", seq, err, bSeq)
	}
}

package publish_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
	db    *tenancy.DB
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
	b := bundle{ctx: ctx, orgs: orgs, feed: syncfeed.New(store, syncfeed.Options{}), store: store, db: db}
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

// revoked returns the organisation's revoked_users record in its feed
// (nil: no such record).
func (b bundle) revoked(t *testing.T, id tenancy.OrgID) []string {
	t.Helper()
	p, err := b.feed.Pull(b.ctx, id, syncfeed.Actor{}, "", 100, syncfeed.ProtocolVersion)
	if err != nil {
		t.Fatalf("pulling: %v", err)
	}
	for _, ch := range p.Changes {
		if ch.Kind == syncfeed.KindConfig && ch.ID == syncfeed.RevokedUsersID {
			var r syncfeed.RevokedUsers
			if err := json.Unmarshal(ch.Payload, &r); err != nil {
				t.Fatalf("revoked_users record: %v", err)
			}
			return append([]string{}, r.UserIDs...)
		}
	}
	return nil
}

// exec runs statements in the organisation's tenant scope (the app role,
// row-level security on): the test's stand-in for identity's flows.
func (b bundle) exec(t *testing.T, id tenancy.OrgID, sql string, args ...any) {
	t.Helper()
	err := b.db.WithOrg(b.ctx, id, func(tx pgx.Tx) error {
		_, err := tx.Exec(b.ctx, sql, args...)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestRevokedUsersReachTheFeed: deactivated users and users whose newest
// session an admin revoked are listed in their clinic's feed, and only
// there; a reactivated user, or one who signed in again, leaves the list;
// an organisation that never revoked anyone carries no list.
func TestRevokedUsersReachTheFeed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := b.orgs.Create(b.ctx, root, org.NewOrg{Name: "clinic-c", Slug: "clinic-c"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := publish.New(b.orgs, b.store, publish.Options{DB: b.db})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{}
	addUser := func(o tenancy.OrgID, name, status string) {
		id := uuid.NewString()
		users[name] = id
		b.exec(t, o, `INSERT INTO users (id, org_id, email, role, status) VALUES ($1, $2, $3, 'nurse', $4)`, id, o, name+"@example.test", status)
	}
	session := func(o tenancy.OrgID, name string, at time.Time, reason string) {
		var revoked any
		if reason != "" {
			revoked = at.Add(time.Minute)
		}
		b.exec(t, o, `INSERT INTO sessions (org_id, user_id, token_hash, created_at, idle_minutes, expires_at, revoked_at, revoke_reason)
			VALUES ($1, $2, $3, $4::timestamptz, 15, $4::timestamptz + interval '1 day', $5, $6)`, o, users[name], []byte(uuid.NewString()), at, revoked, reason)
	}
	t0 := time.Now().Add(-time.Hour)
	addUser(b.a.ID, "alice", "active")
	session(b.a.ID, "alice", t0, "signout")
	addUser(b.a.ID, "bob", "deactivated")
	addUser(b.a.ID, "carol", "active")
	session(b.a.ID, "carol", t0, "revoked_by_admin")
	addUser(b.a.ID, "dave", "active")
	session(b.a.ID, "dave", t0, "revoked_by_admin")
	session(b.a.ID, "dave", t0.Add(10*time.Minute), "")
	addUser(b.b.ID, "erin", "deactivated")

	sorted := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, users[n])
		}
		slices.Sort(out)
		return out
	}
	steps := []struct {
		name   string
		change func()
		want   map[tenancy.OrgID][]string
	}{
		{"first sweep", func() {}, map[tenancy.OrgID][]string{b.a.ID: sorted("bob", "carol"), b.b.ID: sorted("erin"), c.ID: nil}},
		{"bob reactivated", func() { b.exec(t, b.a.ID, `UPDATE users SET status = 'active' WHERE id = $1`, users["bob"]) },
			map[tenancy.OrgID][]string{b.a.ID: sorted("carol"), b.b.ID: sorted("erin"), c.ID: nil}},
		{"carol signed in again", func() { session(b.a.ID, "carol", t0.Add(20*time.Minute), "") },
			map[tenancy.OrgID][]string{b.a.ID: {}, b.b.ID: sorted("erin"), c.ID: nil}},
		{"alice deactivated", func() { b.exec(t, b.a.ID, `UPDATE users SET status = 'deactivated' WHERE id = $1`, users["alice"]) },
			map[tenancy.OrgID][]string{b.a.ID: sorted("alice"), b.b.ID: sorted("erin"), c.ID: nil}},
	}
	for _, st := range steps {
		st.change()
		if _, err := p.Sweep(b.ctx, true); err != nil {
			t.Fatalf("%s: sweep: %v", st.name, err)
		}
		for o, want := range st.want {
			got := b.revoked(t, o)
			if !slices.Equal(got, want) || (got == nil) != (want == nil) {
				t.Errorf("%s: org %s lists %v; want %v", st.name, o, got, want)
			}
		}
	}
	// Unchanged lists write nothing.
	if n, err := p.Sweep(b.ctx, true); err != nil || n != 0 {
		t.Errorf("sweep over unchanged lists wrote %d, %v; want 0", n, err)
	}
}

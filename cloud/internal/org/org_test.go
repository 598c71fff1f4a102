package org

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

var (
	root = Actor{UserID: uuid.MustParse("00000000-0000-4000-8000-000000000001"), Role: "root_admin", IP: "127.0.0.1"}
	t0   = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
)

type bundle struct {
	ctx   context.Context
	db    *tenancy.DB
	store *Store
	a, b  Org
}

// setup returns a store on a fresh database with two organisations, a and b.
func setup(t *testing.T) bundle {
	t.Helper()
	ctx := context.Background()
	db := tenancy.New(pg.NewDB(t).AppPool(t))
	s := NewStore(db, func() time.Time { return t0 })
	a, err := s.Create(ctx, root, NewOrg{Name: "Clinic A", Slug: "clinic-a"})
	if err != nil {
		t.Fatalf("creating clinic-a: %v", err)
	}
	b, err := s.Create(ctx, root, NewOrg{Name: "Clinic B", Slug: "clinic-b"})
	if err != nil {
		t.Fatalf("creating clinic-b: %v", err)
	}
	return bundle{ctx: ctx, db: db, store: s, a: a, b: b}
}

// state is everything the store can change: every organisation and the
// length of every audit chain.
type state struct {
	Orgs   []Org
	Audits map[tenancy.OrgID]int
}

func (b bundle) snapshot(t *testing.T) state {
	t.Helper()
	st := state{Audits: map[tenancy.OrgID]int{}}
	err := b.db.WithPlatform(b.ctx, func(tx pgx.Tx) error {
		var err error
		if st.Orgs, err = list(b.ctx, tx, "", "", 1000); err != nil {
			return err
		}
		rows, err := tx.Query(b.ctx, `SELECT org_id, count(*) FROM audit_log GROUP BY org_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id tenancy.OrgID
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			st.Audits[id] = n
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return st
}

func (b bundle) lastAction(t *testing.T, org tenancy.OrgID) string {
	t.Helper()
	var action string
	err := b.db.WithOrg(b.ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(b.ctx, `SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&action)
	})
	if err != nil {
		t.Fatalf("reading last audit entry: %v", err)
	}
	return action
}

func ptr[T any](v T) *T { return &v }

func TestCreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	o, err := b.store.Create(b.ctx, root, NewOrg{Name: "  Lakeside Family Practice ", Slug: "lakeside-fp", MaxUsers: 40})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if o.Name != "Lakeside Family Practice" || o.Slug != "lakeside-fp" || o.Status != StatusIncomplete || o.MaxUsers != 40 {
		t.Errorf("created %+v; want trimmed name, slug lakeside-fp, status incomplete, 40 users", o)
	}
	if o.Settings.SessionIdleMinutes != 15 || o.Settings.Timezone != "America/New_York" {
		t.Errorf("default settings %+v; want 15 idle minutes, America/New_York", o.Settings)
	}
	if got := b.lastAction(t, o.ID); got != "org.create" {
		t.Errorf("last audit action %q; want org.create", got)
	}
	child, err := b.store.Create(b.ctx, root, NewOrg{Name: "Lakeside East", Slug: "lakeside-east", ParentID: o.ID})
	if err != nil || child.ParentID != o.ID {
		t.Errorf("Create child: %v, parent %v; want parent %v", err, child.ParentID, o.ID)
	}
}

func TestCreateBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name    string
		in      NewOrg
		wantErr error
		wantMsg string
	}{
		{"empty name", NewOrg{Name: "  ", Slug: "ok-slug"}, ErrInvalid, "name: must not be empty"},
		{"control char in name", NewOrg{Name: "A\x00B", Slug: "ok-slug"}, ErrInvalid, "name: must not contain control characters"},
		{"slug too short", NewOrg{Name: "X", Slug: "x"}, ErrInvalid, "slug: must be 2 to 63 characters long"},
		{"slug upper case", NewOrg{Name: "X", Slug: "Clinic"}, ErrInvalid, "slug: may contain only lowercase letters, digits and single hyphens, and must start and end with a letter or digit"},
		{"slug double hyphen", NewOrg{Name: "X", Slug: "a--b"}, ErrInvalid, "slug: may contain only lowercase letters, digits and single hyphens, and must start and end with a letter or digit"},
		{"slug trailing hyphen", NewOrg{Name: "X", Slug: "ab-"}, ErrInvalid, "slug: may contain only lowercase letters, digits and single hyphens, and must start and end with a letter or digit"},
		{"slug reserved", NewOrg{Name: "X", Slug: "admin"}, ErrInvalid, `slug: "admin" is reserved; choose another`},
		{"slug taken", NewOrg{Name: "X", Slug: "clinic-a"}, ErrSlugTaken, "creating organisation: slug already in use"},
		{"max users", NewOrg{Name: "X", Slug: "ok-slug", MaxUsers: -1}, ErrInvalid, "max_users: must be between 1 and 100000"},
		{"trial in past", NewOrg{Name: "X", Slug: "ok-slug", TrialEndsAt: t0.Add(-time.Hour)}, ErrInvalid, "trial_ends_at: must be in the future"},
		{"unknown parent", NewOrg{Name: "X", Slug: "ok-slug", ParentID: tenancy.NewOrgID()}, ErrInvalid, "creating organisation: parent_id: no such organisation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.snapshot(t)
			_, err := b.store.Create(b.ctx, root, tt.in)
			if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMsg {
				t.Errorf("Create(%+v) error %q; want %q (%v)", tt.in, err, tt.wantMsg, tt.wantErr)
			}
			if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
				t.Errorf("state changed by a refused Create:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got, err := b.store.Get(b.ctx, b.a.ID)
	if err != nil || got.Slug != "clinic-a" {
		t.Errorf("Get(a) = %q, %v; want clinic-a", got.Slug, err)
	}
	if _, err := b.store.Get(b.ctx, tenancy.NewOrgID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown) error %v; want ErrNotFound", err)
	}
	// Isolation: a transaction scoped to a cannot read b.
	err = b.db.WithOrg(b.ctx, b.a.ID, func(tx pgx.Tx) error {
		_, err := get(b.ctx, tx, b.b.ID)
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("reading b scoped to a: error %v; want ErrNotFound", err)
	}
}

func TestUpdateSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	o, err := b.store.UpdateSettings(b.ctx, root, b.a.ID, SettingsPatch{
		Require2FAAll: ptr(true), SessionIdleMinutes: ptr(30), Timezone: ptr("America/Chicago"), LookbackImaging: ptr(36),
	})
	if err != nil {
		t.Fatalf("UpdateSettings: %v", err)
	}
	want := b.a.Settings
	want.Require2FAAll, want.SessionIdleMinutes, want.Timezone, want.Lookback.Imaging = true, 30, "America/Chicago", 36
	if o.Settings != want {
		t.Errorf("settings %+v; want %+v", o.Settings, want)
	}
	if got := b.lastAction(t, b.a.ID); got != "org.settings.update" {
		t.Errorf("last audit action %q; want org.settings.update", got)
	}
	if got, _ := b.store.Get(b.ctx, b.b.ID); got.Settings != b.b.Settings {
		t.Errorf("b's settings changed to %+v by an update of a", got.Settings)
	}
}

func TestUpdateSettingsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name    string
		org     tenancy.OrgID
		patch   SettingsPatch
		wantErr error
		wantMsg string
	}{
		{"idle zero", b.a.ID, SettingsPatch{SessionIdleMinutes: ptr(0)}, ErrInvalid, "updating organisation settings: session_idle_minutes: must be between 1 and 720"},
		{"desktop idle huge", b.a.ID, SettingsPatch{DesktopIdleMinutes: ptr(10000)}, ErrInvalid, "updating organisation settings: desktop_idle_minutes: must be between 1 and 720"},
		{"lookback", b.a.ID, SettingsPatch{LookbackLabs: ptr(241)}, ErrInvalid, "updating organisation settings: lookback_labs_months: must be between 1 and 240"},
		{"unknown timezone", b.a.ID, SettingsPatch{Timezone: ptr("Mars/Olympus")}, ErrInvalid, `updating organisation settings: timezone: "Mars/Olympus" is not a known time zone; use a name such as America/Chicago`},
		{"local timezone", b.a.ID, SettingsPatch{Timezone: ptr("Local")}, ErrInvalid, "updating organisation settings: timezone: must be an IANA time zone name such as America/Chicago"},
		{"one bad field spoils all", b.a.ID, SettingsPatch{Require2FAAll: ptr(true), LookbackHospital: ptr(-3)}, ErrInvalid, "updating organisation settings: lookback_hospital_months: must be between 1 and 240"},
		{"unknown org", tenancy.NewOrgID(), SettingsPatch{Require2FAAll: ptr(true)}, ErrNotFound, "updating organisation settings: organisation not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.snapshot(t)
			_, err := b.store.UpdateSettings(b.ctx, root, tt.org, tt.patch)
			if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMsg {
				t.Errorf("UpdateSettings error %q; want %q", err, tt.wantMsg)
			}
			if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
				t.Errorf("state changed by a refused update:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	t.Run("scoped to a, cannot write b", func(t *testing.T) {
		before := b.snapshot(t)
		err := b.db.WithOrg(b.ctx, b.a.ID, func(tx pgx.Tx) error {
			_, err := updateSettings(b.ctx, tx, root, b.b.ID, SettingsPatch{Require2FAAll: ptr(true)})
			return err
		})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("updating b scoped to a: error %v; want ErrNotFound", err)
		}
		if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
			t.Errorf("b changed through a's scope:\nbefore %+v\nafter  %+v", before, after)
		}
	})
}

func TestSetStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	steps := []struct {
		to      Status
		wantErr error
	}{
		{StatusTrial, nil},
		{StatusLive, nil},
		{StatusTrial, ErrTransition},
		{StatusPastDue, nil},
		{StatusSuspended, nil},
		{StatusSuspended, ErrTransition},
		{StatusIncomplete, ErrTransition},
		{StatusLive, nil},
	}
	cur := b.a.Status
	for _, st := range steps {
		before := b.snapshot(t)
		o, err := b.store.SetStatus(b.ctx, root, b.a.ID, st.to, "billing", time.Time{})
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("SetStatus %s → %s: error %v; want %v", cur, st.to, err, st.wantErr)
		}
		if err != nil {
			if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
				t.Errorf("refused %s → %s changed state", cur, st.to)
			}
			continue
		}
		if o.Status != st.to {
			t.Errorf("status %s; want %s", o.Status, st.to)
		}
		if got := b.lastAction(t, b.a.ID); got != "org.status.change" {
			t.Errorf("last audit action %q; want org.status.change", got)
		}
		cur = st.to
	}
	if got, _ := b.store.Get(b.ctx, b.b.ID); got.Status != StatusIncomplete {
		t.Errorf("b's status %s; want incomplete (untouched)", got.Status)
	}
}

func TestSetStatusBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name    string
		org     tenancy.OrgID
		to      Status
		trial   time.Time
		wantErr error
		wantMsg string
	}{
		{"unknown status", b.a.ID, "deleted", time.Time{}, ErrInvalid, "status: must be one of incomplete, trial, live, past_due, suspended"},
		{"unknown org", tenancy.NewOrgID(), StatusLive, time.Time{}, ErrNotFound, "changing organisation status: organisation not found"},
		{"not allowed", b.a.ID, StatusPastDue, time.Time{}, ErrTransition, "changing organisation status: status change not allowed: from incomplete to past_due"},
		{"trial end without trial", b.a.ID, StatusLive, t0.Add(time.Hour), ErrInvalid, "trial_ends_at: may be set only when moving to trial"},
		{"trial end in past", b.a.ID, StatusTrial, t0.Add(-time.Hour), ErrInvalid, "trial_ends_at: must be in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.snapshot(t)
			_, err := b.store.SetStatus(b.ctx, root, tt.org, tt.to, "", tt.trial)
			if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMsg {
				t.Errorf("SetStatus error %q; want %q", err, tt.wantMsg)
			}
			if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
				t.Errorf("state changed by a refused status change")
			}
		})
	}
	t.Run("scoped to a, cannot change b", func(t *testing.T) {
		before := b.snapshot(t)
		err := b.db.WithOrg(b.ctx, b.a.ID, func(tx pgx.Tx) error {
			_, err := setStatus(b.ctx, tx, root, b.b.ID, StatusLive, "", time.Time{})
			return err
		})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("changing b scoped to a: error %v; want ErrNotFound", err)
		}
		if after := b.snapshot(t); !reflect.DeepEqual(before, after) {
			t.Errorf("b changed through a's scope")
		}
	})
}

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, slug := range []string{"clinic-c", "clinic-d", "clinic-e"} {
		if _, err := b.store.Create(b.ctx, root, NewOrg{Name: slug, Slug: slug}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.store.SetStatus(b.ctx, root, b.b.ID, StatusTrial, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		orgs, next, err := b.store.List(b.ctx, "", Page{Size: 2, After: token})
		if err != nil {
			t.Fatalf("List page %d: %v", pages, err)
		}
		for _, o := range orgs {
			got = append(got, o.Slug)
		}
		if next == "" {
			break
		}
		token = next
	}
	if want := []string{"clinic-a", "clinic-b", "clinic-c", "clinic-d", "clinic-e"}; !reflect.DeepEqual(got, want) {
		t.Errorf("listed %v; want %v", got, want)
	}
	trials, _, err := b.store.List(b.ctx, StatusTrial, Page{})
	if err != nil || len(trials) != 1 || trials[0].Slug != "clinic-b" {
		t.Errorf("List(trial) = %v, %v; want only clinic-b", trials, err)
	}
	// Isolation: the same query in a transaction scoped to a sees only a.
	var scoped []Org
	err = b.db.WithOrg(b.ctx, b.a.ID, func(tx pgx.Tx) error {
		var err error
		scoped, err = list(b.ctx, tx, "", "", 100)
		return err
	})
	if err != nil || len(scoped) != 1 || scoped[0].ID != b.a.ID {
		t.Errorf("list scoped to a = %v, %v; want only a", scoped, err)
	}

	bad := []struct {
		name    string
		status  Status
		page    Page
		wantMsg string
	}{
		{"page too big", "", Page{Size: 501}, "page_size: must be between 1 and 500"},
		{"forged token", "", Page{After: "'; drop table"}, "page_token: is not a token from a previous page"},
		{"unknown status", "closed", Page{}, "status: must be one of incomplete, trial, live, past_due, suspended"},
	}
	for _, tt := range bad {
		if _, _, err := b.store.List(b.ctx, tt.status, tt.page); !errors.Is(err, ErrInvalid) || err.Error() != tt.wantMsg {
			t.Errorf("%s: List error %q; want %q", tt.name, err, tt.wantMsg)
		}
	}
}

func TestEnsurePlatform(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first, err := b.store.EnsurePlatform(b.ctx)
	if err != nil || !first.IsPlatform || first.Slug != PlatformSlug {
		t.Fatalf("EnsurePlatform = %+v, %v; want the platform org", first, err)
	}
	again, err := b.store.EnsurePlatform(b.ctx)
	if err != nil || again.ID != first.ID {
		t.Errorf("second EnsurePlatform = %v, %v; want the same org %v", again.ID, err, first.ID)
	}
	if _, err := b.store.SetStatus(b.ctx, root, first.ID, StatusSuspended, "", time.Time{}); !errors.Is(err, ErrTransition) {
		t.Errorf("suspending the platform org: error %v; want ErrTransition", err)
	}
}

package syncfeed_test

import (
	"context"
	"strings"
	"testing"

	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/memstore"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/preset"
)

// TestPublish: configuration and the library reach the feed once; only a
// change writes again.
func TestPublish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	f := syncfeed.New(st, syncfeed.Options{})
	org := tenancy.NewOrgID()
	lib, err := syncfeed.Library(nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := syncfeed.OrgConfig{Timezone: "America/Chicago", DesktopIdleMinutes: 15, Lookback: prepsheet.DefaultLookback()}
	for i, want := range []int{2, 0} {
		if n, err := syncfeed.Publish(ctx, st, org, cfg, lib); err != nil || n != want {
			t.Fatalf("publish %d: wrote %d, %v; want %d", i, n, err, want)
		}
	}
	cfg.DesktopIdleMinutes = 5
	if n, err := syncfeed.Publish(ctx, st, org, cfg, lib); err != nil || n != 1 {
		t.Fatalf("publish after a settings change: wrote %d, %v; want 1", n, err)
	}
	p, err := f.Pull(ctx, org, syncfeed.Actor{}, "", 10, syncfeed.ProtocolVersion)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 2 || p.Changes[0].Kind != syncfeed.KindScreeningType || p.Changes[1].Kind != syncfeed.KindConfig ||
		!strings.Contains(string(p.Changes[1].Payload), `"desktop_idle_minutes":5`) {
		t.Fatalf("feed = %+v; want the library then the new configuration", p.Changes)
	}
	back, err := preset.Load(p.Changes[0].Payload)
	if err != nil || len(back.Types) != len(lib.Types) {
		t.Errorf("the published library reads back with %d types (%v); want %d", len(back.Types), err, len(lib.Types))
	}
	// An organisation's own changes produce its library.
	off, err := syncfeed.Library(&preset.OrgSettings{Disabled: []string{lib.Types[0].ID}})
	if err != nil || len(off.Types) >= len(lib.Types) && off.Types[0].ID == lib.Types[0].ID {
		t.Errorf("library with a disabled type: %d types, %v", len(off.Types), err)
	}
}

// TestPublishRevokedUsers: a list is written only when it changes (in any
// order, duplicates folded), and an empty list only over a non-empty one.
func TestPublishRevokedUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New()
	org := tenancy.NewOrgID()
	for i, tt := range []struct {
		ids  []string
		want int
	}{{nil, 0}, {[]string{"u2", "u1", "u2"}, 1}, {[]string{"u1", "u2"}, 0}, {[]string{"u1"}, 1}, {nil, 1}, {[]string{}, 0}} {
		if n, err := syncfeed.PublishRevokedUsers(ctx, st, org, tt.ids); err != nil || n != tt.want {
			t.Fatalf("publish %d (%v): wrote %d, %v; want %d", i, tt.ids, n, err, tt.want)
		}
	}
}

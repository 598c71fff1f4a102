package localstore_test

import (
	"context"
	"errors"
	"testing"

	"healthprep.dev/desktop/internal/localstore"
)

func TestSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.apply(t,
		localstore.UpsertSetting("config/org", []byte(`{"timezone":"Secret/Zone"}`)),
		localstore.UpsertSetting("screening_type/a", []byte("A1")),
		localstore.UpsertSetting("screening_type/b", []byte("B1")),
		localstore.UpsertSetting("screening_typeX", []byte("not under the prefix")),
	)
	b.apply(t, localstore.DeleteSetting("screening_type/b"), localstore.DeleteSetting("never-there"))

	got, err := b.store.Settings(ctx, "screening_type/")
	if err != nil {
		t.Fatalf("Settings: %v", err)
	}
	if len(got) != 1 || got[0].Key != "screening_type/a" || string(got[0].Value) != "A1" {
		t.Errorf("Settings(screening_type/) = %+v; want only screening_type/a = A1", got)
	}
	if v, err := b.store.Setting(ctx, "config/org"); err != nil || string(v) != `{"timezone":"Secret/Zone"}` {
		t.Errorf("Setting(config/org) = %q, %v", v, err)
	}
	if _, err := b.store.Setting(ctx, "screening_type/b"); !errors.Is(err, localstore.ErrNotFound) {
		t.Errorf("deleted setting: error %v; want ErrNotFound", err)
	}
	// Sealed at rest, and bound to its key.
	mustContainNone(t, b.fileBytes(t), "Secret/Zone")
	if _, err := b.raw(t).Exec(`UPDATE settings SET value = (SELECT value FROM settings WHERE k = 'screening_type/a') WHERE k = 'config/org'`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Setting(ctx, "config/org"); !errors.Is(err, localstore.ErrTampered) {
		t.Errorf("a value moved to another key: error %v; want ErrTampered", err)
	}
	b.store.Lock()
	if _, err := b.store.Setting(ctx, "config/org"); !errors.Is(err, localstore.ErrLocked) {
		t.Errorf("locked: error %v; want ErrLocked", err)
	}
}

package localstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
)

// bundle is what most tests need: an initialized, unlocked store in a temp
// dir, its options (to reopen it) and the file-backed device key store.
type bundle struct {
	dir   string
	opts  localstore.Options
	keys  *keystore.InsecureFile
	store *localstore.Store
}

var fixedNow = time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)

func setup(t testing.TB) *bundle {
	t.Helper()
	dir := t.TempDir()
	keys, err := keystore.NewInsecureFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{dir: dir, keys: keys, opts: localstore.Options{
		Path:       filepath.Join(dir, "profile.db"),
		DeviceKeys: keys,
		Now:        func() time.Time { return fixedNow },
	}}
	localstore.FastKDF(&b.opts)
	b.store = b.open(t)
	if err := b.store.Initialize(context.Background()); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	return b
}

// open opens another handle on the bundle's file (locked).
func (b *bundle) open(t testing.TB) *localstore.Store {
	t.Helper()
	s, err := localstore.Open(context.Background(), b.opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reopen closes the bundle's store and opens it again, locked.
func (b *bundle) reopen(t testing.TB) *localstore.Store {
	t.Helper()
	if err := b.store.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b.store = b.open(t)
	return b.store
}

// raw opens the file without the store, as an attacker with the disk
// would.
func (b *bundle) raw(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", b.opts.Path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fileBytes returns the main file and its WAL, as on disk now.
func (b *bundle) fileBytes(t testing.TB) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{b.opts.Path, b.opts.Path + "-wal"} {
		data, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	return all
}

func (b *bundle) apply(t testing.TB, changes ...localstore.Change) {
	t.Helper()
	ctx := context.Background()
	from, err := b.store.Cursor(ctx)
	if err != nil {
		t.Fatalf("Cursor: %v", err)
	}
	if err := b.store.ApplyPage(ctx, localstore.Page{From: from, Changes: changes}, from+"+"); err != nil {
		t.Fatalf("ApplyPage: %v", err)
	}
}

func mustContainNone(t *testing.T, haystack []byte, needles ...string) {
	t.Helper()
	for _, n := range needles {
		if bytes.Contains(haystack, []byte(n)) {
			t.Errorf("raw file bytes contain %q", n)
		}
		if bytes.Contains(bytes.ToLower(haystack), bytes.ToLower([]byte(n))) {
			t.Errorf("raw file bytes contain %q (case-insensitive)", n)
		}
	}
}

package localstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
)

func TestWrongPasswordIsRejectedOffline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.apply(t, localstore.UpsertPatient(ann))
	if err := b.store.SetUserPassword(ctx, "user-7", "correct horse"); err != nil {
		t.Fatal(err)
	}
	s := b.reopen(t)

	err := s.UnlockWithPassword(ctx, "user-7", "correct hors")
	if want := "unlocking with a password: localstore: wrong password"; err == nil || err.Error() != want {
		t.Fatalf("wrong password: got %v, want %q", err, want)
	}
	if !errors.Is(err, localstore.ErrWrongPassword) {
		t.Errorf("got %v, want it to wrap ErrWrongPassword", err)
	}
	if !s.Locked() {
		t.Errorf("store unlocked after a wrong password")
	}
	if _, err := s.Patient(ctx, ann.ID); !errors.Is(err, localstore.ErrLocked) {
		t.Errorf("read after a wrong password: got %v, want ErrLocked", err)
	}
	if err := s.UnlockWithPassword(ctx, "user-7", "correct horse"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if got, err := s.Patient(ctx, ann.ID); err != nil || got.Name != ann.Name {
		t.Errorf("read after unlocking: got %q, %v", got.Name, err)
	}
}

func TestUnlockErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		prepare func(t *testing.T, b *bundle)
		unlock  func(s *localstore.Store) error
		want    error
		text    string
	}{
		{
			name:   "a user who never signed in online here",
			unlock: func(s *localstore.Store) error { return s.UnlockWithPassword(ctx, "user-new", "pw") },
			want:   localstore.ErrUnknownUser,
			text:   "unlocking with a password: localstore: this user has not signed in online on this workstation yet",
		},
		{
			name:    "a removed (revoked) user",
			prepare: func(t *testing.T, b *bundle) { mustNil(t, b.store.RemoveUser(ctx, "user-7")) },
			unlock:  func(s *localstore.Store) error { return s.UnlockWithPassword(ctx, "user-7", "correct horse") },
			want:    localstore.ErrUnknownUser,
		},
		{
			name:    "the device key is gone from the key store",
			prepare: func(t *testing.T, b *bundle) { mustNil(t, os.Remove(onlyKeyFile(t, b))) },
			unlock:  func(s *localstore.Store) error { return s.UnlockWithDevice(ctx) },
			want:    localstore.ErrDeviceKey,
			text:    "unlocking with the device key: localstore: the device key is missing or does not open this store",
		},
		{
			name: "the device key was replaced",
			prepare: func(t *testing.T, b *bundle) {
				mustNil(t, os.WriteFile(onlyKeyFile(t, b), bytes.Repeat([]byte{1}, 32), 0o600))
			},
			unlock: func(s *localstore.Store) error { return s.UnlockWithDevice(ctx) },
			want:   localstore.ErrDeviceKey,
		},
		{
			name: "the password wrap was edited",
			prepare: func(t *testing.T, b *bundle) {
				_, err := b.raw(t).Exec(`UPDATE key_wraps SET kdf_salt = zeroblob(16) WHERE kind = 'user'`)
				mustNil(t, err)
			},
			unlock: func(s *localstore.Store) error { return s.UnlockWithPassword(ctx, "user-7", "correct horse") },
			want:   localstore.ErrWrongPassword,
		},
		{
			name: "stored Argon2 parameters out of range",
			prepare: func(t *testing.T, b *bundle) {
				_, err := b.raw(t).Exec(`UPDATE key_wraps SET kdf_mem_kib = 1 << 30 WHERE kind = 'user'`)
				mustNil(t, err)
			},
			unlock: func(s *localstore.Store) error { return s.UnlockWithPassword(ctx, "user-7", "correct horse") },
			want:   localstore.ErrTampered,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			mustNil(t, b.store.SetUserPassword(ctx, "user-7", "correct horse"))
			if tt.prepare != nil {
				tt.prepare(t, b)
			}
			s := b.reopen(t)
			err := tt.unlock(s)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.text != "" && err.Error() != tt.text {
				t.Errorf("message: got %q, want %q", err.Error(), tt.text)
			}
			if !s.Locked() {
				t.Errorf("store unlocked after a failed unlock")
			}
		})
	}

	t.Run("a new profile", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		keys, _ := keystore.NewInsecureFile(dir)
		s, err := localstore.Open(ctx, localstore.Options{Path: filepath.Join(dir, "p.db"), DeviceKeys: keys})
		mustNil(t, err)
		defer s.Close()
		if err := s.UnlockWithDevice(ctx); !errors.Is(err, localstore.ErrNotInitialized) {
			t.Errorf("device: got %v, want ErrNotInitialized", err)
		}
		if err := s.UnlockWithPassword(ctx, "u", "p"); !errors.Is(err, localstore.ErrNotInitialized) {
			t.Errorf("password: got %v, want ErrNotInitialized", err)
		}
		if _, err := s.Cursor(ctx); !errors.Is(err, localstore.ErrLocked) {
			t.Errorf("Cursor: got %v, want ErrLocked", err)
		}
		mustNil(t, s.Initialize(ctx))
		if err := s.Initialize(ctx); !errors.Is(err, localstore.ErrAlreadyInitialized) {
			t.Errorf("second Initialize: got %v, want ErrAlreadyInitialized", err)
		}
	})
}

func TestDeviceKeyCanBeRewrapped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.apply(t, localstore.UpsertPatient(ann))
	mustNil(t, b.store.SetUserPassword(ctx, "user-7", "correct horse"))
	mustNil(t, os.Remove(onlyKeyFile(t, b))) // the OS key store lost it
	s := b.reopen(t)
	mustNil(t, s.UnlockWithPassword(ctx, "user-7", "correct horse"))
	mustNil(t, s.RewrapForDevice(ctx))
	s = b.reopen(t)
	mustNil(t, s.UnlockWithDevice(ctx))
	if got, err := s.Patient(ctx, ann.ID); err != nil || got.Name != ann.Name {
		t.Errorf("after rewrap: got %q, %v", got.Name, err)
	}
}

func TestLockForgetsTheKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.apply(t, localstore.UpsertPatient(ann))
	b.store.Lock()
	if _, err := b.store.Patient(ctx, ann.ID); !errors.Is(err, localstore.ErrLocked) {
		t.Errorf("read: got %v, want ErrLocked", err)
	}
	err := b.store.ApplyPage(ctx, localstore.Page{From: "+", Changes: []localstore.Change{localstore.UpsertPatient(bob)}}, "++")
	if !errors.Is(err, localstore.ErrLocked) {
		t.Errorf("write: got %v, want ErrLocked", err)
	}
	if err := b.store.SetUserPassword(ctx, "u", "p"); !errors.Is(err, localstore.ErrLocked) {
		t.Errorf("SetUserPassword: got %v, want ErrLocked", err)
	}
	mustNil(t, b.store.UnlockWithDevice(ctx))
	if _, err := b.store.Patient(ctx, bob.ID); !errors.Is(err, localstore.ErrNotFound) {
		t.Errorf("the locked write: got %v, want ErrNotFound", err)
	}
}

// TestTamperingIsDetected edits the file as someone with the disk (but not
// the key) could, and checks that the store refuses the value.
func TestTamperingIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		sql   string
		read  func(s *localstore.Store) error
		where string
	}{
		{
			name: "a flipped byte in a patient",
			sql:  `UPDATE patients SET body = CAST(substr(body, 1, 20) || x'00' || substr(body, 22) AS BLOB) WHERE id = (SELECT min(id) FROM patients)`,
			read: func(s *localstore.Store) error {
				_, err := s.PatientByMRN(ctx, ann.MRN)
				_, err2 := s.PatientByMRN(ctx, bob.MRN)
				return errors.Join(err, err2)
			},
			where: "patients.body",
		},
		{
			name:  "a truncated prep sheet",
			sql:   `UPDATE prep_sheets SET body = substr(body, 1, length(body) - 1)`,
			read:  func(s *localstore.Store) error { _, err := s.PrepSheet(ctx, apptAnn.ID); return err },
			where: "prep_sheets.body",
		},
		{
			name: "another patient's body copied over a patient's",
			sql:  `UPDATE patients SET body = (SELECT body FROM patients ORDER BY id DESC LIMIT 1) WHERE id = (SELECT min(id) FROM patients)`,
			read: func(s *localstore.Store) error {
				_, err := s.Patient(ctx, ann.ID)
				_, err2 := s.Patient(ctx, bob.ID)
				return errors.Join(err, err2)
			},
			where: "patients.body",
		},
		{
			name: "a chart item moved to another patient",
			sql:  `UPDATE chart_items SET patient = (SELECT max(patient) FROM chart_items) WHERE patient = (SELECT min(patient) FROM chart_items)`,
			read: func(s *localstore.Store) error {
				_, err := s.ChartItems(ctx, ann.ID)
				_, err2 := s.ChartItems(ctx, bob.ID)
				return errors.Join(err, err2)
			},
			where: "chart_items.body",
		},
		{
			name:  "a document's content edited",
			sql:   `UPDATE documents SET content = zeroblob(length(content))`,
			read:  func(s *localstore.Store) error { _, err := s.DocumentContent(ctx, letter.ID); return err },
			where: "documents.content",
		},
		{
			name:  "an outbox payload edited",
			sql:   `UPDATE outbox SET kind = 'print_event'`,
			read:  func(s *localstore.Store) error { _, err := s.Outbox(ctx, 10); return err },
			where: "outbox.payload",
		},
		{
			name:  "the sync cursor replaced by an older one",
			sql:   `UPDATE sync_state SET cursor = x'01000000000000000000000000'`,
			read:  func(s *localstore.Store) error { _, err := s.Cursor(ctx); return err },
			where: "sync cursor",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.apply(t, localstore.UpsertPatient(ann), localstore.UpsertPatient(bob), localstore.UpsertPrepSheet(sheetAnn),
				localstore.UpsertChartItem(colonoscopy), localstore.UpsertChartItem(bobItem), localstore.UpsertDocument(letter))
			mustNil(t, b.store.Update(ctx, func(tx *localstore.Tx) error {
				_, err := tx.Enqueue(localstore.OutboxEntry{Kind: "override", Payload: []byte("{}")})
				return err
			}))
			if err := tt.read(b.store); err != nil {
				t.Fatalf("before tampering: %v", err)
			}
			res, err := b.raw(t).Exec(tt.sql)
			mustNil(t, err)
			if n, _ := res.RowsAffected(); n == 0 {
				t.Fatal("tampering changed no row")
			}
			err = tt.read(b.store)
			if !errors.Is(err, localstore.ErrTampered) {
				t.Fatalf("got %v, want ErrTampered", err)
			}
			if !strings.Contains(err.Error(), tt.where) || !strings.Contains(err.Error(), "failed authentication (tampered or corrupted)") {
				t.Errorf("message %q: want it to name %s and say it failed authentication", err, tt.where)
			}
		})
	}
}

// TestRawFileHoldsNoPHI greps the main file and the WAL, as written, for the
// names, MRNs, ids and document text that went in.
func TestRawFileHoldsNoPHI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	mustNil(t, b.store.SetUserPassword(ctx, "user-7", "correct horse"))
	b.apply(t, localstore.UpsertPatient(ann), localstore.UpsertPatient(bob), localstore.UpsertAppointment(apptAnn),
		localstore.UpsertChartItem(colonoscopy), localstore.UpsertDocument(letter), localstore.UpsertPrepSheet(sheetAnn),
		localstore.UpsertOverride(postponed))
	mustNil(t, b.store.Update(ctx, func(tx *localstore.Tx) error {
		_, err := tx.Enqueue(localstore.OutboxEntry{Kind: "ocr_result", Payload: []byte(`{"text":"Annabel Whitcombe seen by GI"}`)})
		return err
	}))
	phi := []string{
		ann.Name, "Whitcombe", bob.Name, "Quince", ann.MRN, bob.MRN, "100234", "1962-03-14", ann.ID, bob.ID,
		apptAnn.ID, "Dr Okafor", colonoscopy.ID, "Colonoscopy", letter.Title, "tubular adenoma", string(letter.Content),
		"acute illness", "Adenoma: repeat", "correct horse",
	}

	if _, err := os.Stat(b.opts.Path + "-wal"); err != nil {
		t.Fatalf("no WAL to inspect: %v", err)
	}
	raw := b.fileBytes(t)
	if !bytes.Contains(raw, []byte("ocr_result")) {
		t.Fatal("the clear outbox kind is not in the bytes read: the grep would prove nothing")
	}
	mustContainNone(t, raw, phi...)
	// And after the WAL is folded into the main file.
	_, err := b.raw(t).Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	mustNil(t, err)
	mustContainNone(t, b.fileBytes(t), phi...)
}

func TestShredMakesTheDataUnreadable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	mustNil(t, b.store.SetUserPassword(ctx, "user-7", "correct horse"))
	mustNil(t, b.store.SetUserPassword(ctx, "user-8", "battery staple"))
	b.apply(t, localstore.UpsertPatient(ann), localstore.UpsertPrepSheet(sheetAnn))
	keyFile := onlyKeyFile(t, b)
	deviceKey, err := os.ReadFile(keyFile)
	mustNil(t, err)

	// Every wrapped copy of the data key, as stored before the shred.
	var wraps [][]byte
	rows, err := b.raw(t).Query(`SELECT wrapped FROM key_wraps`)
	mustNil(t, err)
	for rows.Next() {
		var w []byte
		mustNil(t, rows.Scan(&w))
		wraps = append(wraps, w)
	}
	mustNil(t, rows.Close())
	if len(wraps) != 3 {
		t.Fatalf("got %d wraps before shredding, want 3 (device + 2 users)", len(wraps))
	}

	mustNil(t, b.store.Shred(ctx))
	if !b.store.Locked() {
		t.Errorf("store still unlocked after Shred")
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("device key file: got %v, want it deleted", err)
	}

	raw := b.fileBytes(t)
	for i, w := range wraps {
		// The ciphertext part (after the version byte and nonce) is unique.
		if bytes.Contains(raw, w[13:]) {
			t.Errorf("wrap %d is still in the file bytes", i)
		}
	}
	if bytes.Contains(raw, deviceKey) {
		t.Errorf("the device key is in the file bytes")
	}

	s := b.reopen(t)
	for name, unlock := range map[string]func() error{
		"device":   func() error { return s.UnlockWithDevice(ctx) },
		"password": func() error { return s.UnlockWithPassword(ctx, "user-7", "correct horse") },
	} {
		if err := unlock(); !errors.Is(err, localstore.ErrShredded) {
			t.Errorf("%s unlock after shred: got %v, want ErrShredded", name, err)
		}
	}
	// Putting the old device key back does not help: its wrap is gone.
	mustNil(t, os.WriteFile(keyFile, deviceKey, 0o600))
	if err := s.UnlockWithDevice(ctx); !errors.Is(err, localstore.ErrShredded) {
		t.Errorf("with the old device key restored: got %v, want ErrShredded", err)
	}
	if err := s.Initialize(ctx); !errors.Is(err, localstore.ErrShredded) {
		t.Errorf("Initialize after shred: got %v, want ErrShredded", err)
	}
	if _, err := s.PrepSheet(ctx, apptAnn.ID); !errors.Is(err, localstore.ErrLocked) {
		t.Errorf("read after shred: got %v, want ErrLocked", err)
	}
}

func TestOpenOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys, _ := keystore.NewInsecureFile(dir)
	tests := []struct {
		name string
		opts localstore.Options
		want string
	}{
		{"no path", localstore.Options{DeviceKeys: keys}, "opening local store: path must be set and must not contain '?'"},
		{"query in path", localstore.Options{Path: filepath.Join(dir, "a?mode=ro"), DeviceKeys: keys}, "opening local store: path must be set and must not contain '?'"},
		{"no key store", localstore.Options{Path: filepath.Join(dir, "a.db")}, "opening local store: no device key store configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := localstore.Open(context.Background(), tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// onlyKeyFile returns the device key file of the bundle's profile.
func onlyKeyFile(t testing.TB, b *bundle) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(b.dir, "*"+keystore.InsecureFileSuffix))
	if len(m) != 1 {
		t.Fatalf("got device key files %v, want one", m)
	}
	return m[0]
}

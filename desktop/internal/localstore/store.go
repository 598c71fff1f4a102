package localstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"

	"healthprep.dev/desktop/internal/keystore"
)

// Sentinel errors. Every error the store returns wraps at most one of these
// and never carries PHI, keys or passwords.
var (
	// ErrLocked: the store holds no key (not unlocked yet, or locked
	// again after idle time).
	ErrLocked = errors.New("localstore: store is locked")
	// ErrWrongPassword: the password does not unwrap this user's key.
	ErrWrongPassword = errors.New("localstore: wrong password")
	// ErrUnknownUser: the user never signed in online on this workstation,
	// so there is no key for them to unlock offline.
	ErrUnknownUser = errors.New("localstore: this user has not signed in online on this workstation yet")
	// ErrDeviceKey: the device key is missing from the key store or does
	// not open this store; a user must unlock with a password.
	ErrDeviceKey = errors.New("localstore: the device key is missing or does not open this store")
	// ErrNotInitialized: the profile has no data key yet (see Initialize).
	ErrNotInitialized = errors.New("localstore: store has no data key yet")
	// ErrAlreadyInitialized: Initialize on a profile that has a data key.
	ErrAlreadyInitialized = errors.New("localstore: store already has a data key")
	// ErrShredded: the wrapped keys were destroyed; the data can never be
	// decrypted again.
	ErrShredded = errors.New("localstore: store was shredded; its data can no longer be decrypted")
	// ErrTampered: an encrypted value failed authentication: the file was
	// edited or corrupted, or a value was moved to another row.
	ErrTampered = errors.New("localstore: encrypted value failed authentication (tampered or corrupted)")
	// ErrNotFound: no such row.
	ErrNotFound = errors.New("localstore: not found")
	// ErrCursorMismatch: a page was built from another cursor than the
	// stored one (a duplicated, reordered or stale response).
	ErrCursorMismatch = errors.New("localstore: page does not start at the stored sync cursor")
	// ErrNewerSchema: the file was written by a newer program.
	ErrNewerSchema = errors.New("localstore: file has a newer schema than this program")
)

// DeviceKeys is where the device key lives: the OS key store in production
// (keystore.OS), or keystore.InsecureFile in headless Linux tests. Get
// must wrap keystore.ErrNotFound for a missing secret.
type DeviceKeys interface {
	Get(name string) ([]byte, error)
	Set(name string, secret []byte) error
	Delete(name string) error
}

// Options configure Open.
type Options struct {
	// Path is the profile's SQLite file; created when missing. The -wal
	// and -shm files sit beside it.
	Path string
	// DeviceKeys holds the device's wrapping key. Required.
	DeviceKeys DeviceKeys
	// Now is the clock for bookkeeping times (outbox created_at, wrap
	// creation); time.Now when nil. Never used for sync ordering.
	Now func() time.Time
	// BusyTimeout is how long a connection waits for a lock; 5 s when zero.
	BusyTimeout time.Duration
	// Readers is the size of the read connection pool; 4 when zero.
	Readers int

	// kdf replaces DefaultKDF for new password wraps; set only by tests
	// (export_test.go), so production cannot weaken it.
	kdf KDFParams
}

// Store is one workstation profile's encrypted cache. It is safe for
// concurrent use: reads run in parallel on a pool of connections (WAL) while
// one writer commits.
type Store struct {
	w, r    *sql.DB // w: one connection, BEGIN IMMEDIATE; r: readers
	opts    Options
	profile string // random id of this profile file, not secret

	mu   sync.RWMutex
	keys *keys // nil while locked
}

// Open opens (creating when missing) the profile at opts.Path and migrates
// its schema. The store starts locked: call Initialize on a new profile,
// then UnlockWithDevice or UnlockWithPassword.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" || strings.ContainsRune(opts.Path, '?') {
		return nil, errors.New("opening local store: path must be set and must not contain '?'")
	}
	if opts.DeviceKeys == nil {
		return nil, errors.New("opening local store: no device key store configured")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BusyTimeout == 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.Readers == 0 {
		opts.Readers = 4
	}
	if opts.kdf == (KDFParams{}) {
		opts.kdf = DefaultKDF
	}
	// synchronous=FULL: no data loss before speed. secure_delete: deleted
	// rows (wrapped keys above all) are overwritten, not left in free pages.
	dsn := opts.Path + "?_busy_timeout=" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) +
		"&_journal_mode=WAL&_synchronous=FULL&_foreign_keys=1&_pragma=secure_delete(1)"
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening local store: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening local store: %w", err)
	}
	r, err := sql.Open("sqlite", dsn+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening local store: %w", err)
	}
	r.SetMaxOpenConns(opts.Readers)
	s := &Store{w: w, r: r, opts: opts}
	if s.profile, err = s.profileID(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening local store: %w", err)
	}
	return s, nil
}

// profileID reads the profile's id, creating it on first open.
func (s *Store) profileID(ctx context.Context) (string, error) {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('profile_id', ?) ON CONFLICT DO NOTHING`, uuid.NewString()); err != nil {
		return "", fmt.Errorf("creating profile id: %w", err)
	}
	var id string
	if err := s.w.QueryRowContext(ctx, `SELECT v FROM meta WHERE k = 'profile_id'`).Scan(&id); err != nil {
		return "", fmt.Errorf("reading profile id: %w", err)
	}
	return id, nil
}

// Close locks the store and closes the file.
func (s *Store) Close() error {
	s.Lock()
	return errors.Join(s.r.Close(), s.w.Close())
}

// Lock forgets the keys (idle lock). Reads and writes fail with ErrLocked
// until the store is unlocked again. Calls in flight finish first.
func (s *Store) Lock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil {
		s.keys.wipe()
		s.keys = nil
	}
}

// Locked reports whether the store holds no key.
func (s *Store) Locked() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys == nil
}

// withKeys runs fn with the keys held; Lock waits until fn returns.
func (s *Store) withKeys(fn func(*keys) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.keys == nil {
		return ErrLocked
	}
	return fn(s.keys)
}

func (s *Store) setKeys(dk []byte) error {
	k, err := newKeys(dk)
	clear(dk)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys != nil {
		s.keys.wipe()
	}
	s.keys = k
	return nil
}

// deviceKeyName is the key store entry for this profile.
func (s *Store) deviceKeyName() string { return "localstore-device-" + s.profile }

func (s *Store) wrapAAD(kind, subject string, p KDFParams) []byte {
	return []byte(fmt.Sprintf("healthprep localstore wrap v1\x00%s\x00%s\x00%s\x00%d/%d/%d",
		s.profile, kind, subject, p.Time, p.MemoryKiB, p.Threads))
}

func (s *Store) shredded(ctx context.Context) (bool, error) {
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM meta WHERE k = 'shredded'`).Scan(&n); err != nil {
		return false, fmt.Errorf("reading store state: %w", err)
	}
	return n > 0, nil
}

// Initialize gives a new profile its random data key, wraps it for this
// device (the wrapping key goes to DeviceKeys) and leaves the store
// unlocked. It fails with ErrAlreadyInitialized or ErrShredded on a profile
// that has (or had) a key.
func (s *Store) Initialize(ctx context.Context) error {
	if gone, err := s.shredded(ctx); err != nil {
		return fmt.Errorf("initializing local store: %w", err)
	} else if gone {
		return fmt.Errorf("initializing local store: %w", ErrShredded)
	}
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM key_wraps`).Scan(&n); err != nil {
		return fmt.Errorf("initializing local store: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("initializing local store: %w", ErrAlreadyInitialized)
	}
	dk, err := randomBytes(keySize)
	if err != nil {
		return fmt.Errorf("initializing local store: %w", err)
	}
	defer clear(dk)
	if err := s.wrapForDevice(ctx, dk); err != nil {
		return fmt.Errorf("initializing local store: %w", err)
	}
	return s.setKeys(append([]byte(nil), dk...))
}

// wrapForDevice stores a new device key in DeviceKeys and the data key
// wrapped by it in the file.
func (s *Store) wrapForDevice(ctx context.Context, dk []byte) error {
	devKey, err := randomBytes(keySize)
	if err != nil {
		return err
	}
	defer clear(devKey)
	wrapped, err := wrap(devKey, dk, s.wrapAAD("device", "", KDFParams{}))
	if err != nil {
		return err
	}
	if err := s.opts.DeviceKeys.Set(s.deviceKeyName(), devKey); err != nil {
		return fmt.Errorf("storing the device key: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO key_wraps (kind, subject, wrapped, created_at) VALUES ('device', '', ?, ?)
		ON CONFLICT (kind, subject) DO UPDATE SET wrapped = excluded.wrapped, created_at = excluded.created_at`,
		wrapped, s.opts.Now().Unix())
	if err != nil {
		_ = s.opts.DeviceKeys.Delete(s.deviceKeyName())
		return fmt.Errorf("storing the device wrap: %w", err)
	}
	return nil
}

// RewrapForDevice gives the unlocked store a new device key, for example
// after the OS key store lost the old one.
func (s *Store) RewrapForDevice(ctx context.Context) error {
	return s.withKeys(func(k *keys) error {
		if err := s.wrapForDevice(ctx, k.data); err != nil {
			return fmt.Errorf("rewrapping for the device: %w", err)
		}
		return nil
	})
}

// lockedState explains why no wrap was found.
func (s *Store) lockedState(ctx context.Context, missing error) error {
	gone, err := s.shredded(ctx)
	if err != nil {
		return err
	}
	if gone {
		return ErrShredded
	}
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM key_wraps`).Scan(&n); err != nil {
		return fmt.Errorf("reading key wraps: %w", err)
	}
	if n == 0 {
		return ErrNotInitialized
	}
	return missing
}

// UnlockWithDevice unlocks with the device key from DeviceKeys (the sync
// agent and the first online sign-in use this).
func (s *Store) UnlockWithDevice(ctx context.Context) error {
	var wrapped []byte
	err := s.w.QueryRowContext(ctx, `SELECT wrapped FROM key_wraps WHERE kind = 'device' AND subject = ''`).Scan(&wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("unlocking with the device key: %w", s.lockedState(ctx, ErrDeviceKey))
	}
	if err != nil {
		return fmt.Errorf("unlocking with the device key: %w", err)
	}
	devKey, err := s.opts.DeviceKeys.Get(s.deviceKeyName())
	if errors.Is(err, keystore.ErrNotFound) {
		return fmt.Errorf("unlocking with the device key: %w", ErrDeviceKey)
	}
	if err != nil {
		return fmt.Errorf("unlocking with the device key: %w", err)
	}
	defer clear(devKey)
	if len(devKey) != keySize {
		return fmt.Errorf("unlocking with the device key: %w", ErrDeviceKey)
	}
	dk, err := unwrap(devKey, wrapped, s.wrapAAD("device", "", KDFParams{}))
	if err != nil {
		return fmt.Errorf("unlocking with the device key: %w", ErrDeviceKey)
	}
	return s.setKeys(dk)
}

// UnlockWithPassword unlocks offline with the password of a user who signed
// in online on this workstation before (SetUserPassword). A wrong password
// fails with ErrWrongPassword and decrypts nothing.
func (s *Store) UnlockWithPassword(ctx context.Context, userID, password string) error {
	var (
		wrapped, salt []byte
		p             KDFParams
	)
	err := s.w.QueryRowContext(ctx, `SELECT wrapped, kdf_salt, kdf_time, kdf_mem_kib, kdf_threads
		FROM key_wraps WHERE kind = 'user' AND subject = ?`, userID).Scan(&wrapped, &salt, &p.Time, &p.MemoryKiB, &p.Threads)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("unlocking with a password: %w", s.lockedState(ctx, ErrUnknownUser))
	}
	if err != nil {
		return fmt.Errorf("unlocking with a password: %w", err)
	}
	if err := p.validStored(); err != nil {
		return fmt.Errorf("unlocking with a password: %w", err)
	}
	kek := p.derive(password, salt)
	defer clear(kek)
	dk, err := unwrap(kek, wrapped, s.wrapAAD("user", userID, p))
	if err != nil {
		return fmt.Errorf("unlocking with a password: %w", ErrWrongPassword)
	}
	return s.setKeys(dk)
}

// SetUserPassword wraps the data key for userID under their password
// (Argon2id, a fresh salt), replacing any earlier wrap. Call it after the
// cloud accepted the user's sign-in or password change, so they can unlock
// offline later. The store must be unlocked.
func (s *Store) SetUserPassword(ctx context.Context, userID, password string) error {
	if userID == "" {
		return errors.New("setting a user password: empty user id")
	}
	return s.withKeys(func(k *keys) error {
		salt, err := randomBytes(saltSize)
		if err != nil {
			return fmt.Errorf("setting a user password: %w", err)
		}
		p := s.opts.kdf
		kek := p.derive(password, salt)
		defer clear(kek)
		wrapped, err := wrap(kek, k.data, s.wrapAAD("user", userID, p))
		if err != nil {
			return fmt.Errorf("setting a user password: %w", err)
		}
		_, err = s.w.ExecContext(ctx, `INSERT INTO key_wraps (kind, subject, kdf_salt, kdf_time, kdf_mem_kib, kdf_threads, wrapped, created_at)
			VALUES ('user', ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, subject) DO UPDATE SET kdf_salt = excluded.kdf_salt, kdf_time = excluded.kdf_time,
				kdf_mem_kib = excluded.kdf_mem_kib, kdf_threads = excluded.kdf_threads,
				wrapped = excluded.wrapped, created_at = excluded.created_at`,
			userID, salt, p.Time, p.MemoryKiB, p.Threads, wrapped, s.opts.Now().Unix())
		if err != nil {
			return fmt.Errorf("setting a user password: %w", err)
		}
		return nil
	})
}

// RemoveUser destroys userID's wrap (the cloud revoked the user): they can
// no longer unlock this workstation offline. Works while locked.
func (s *Store) RemoveUser(ctx context.Context, userID string) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM key_wraps WHERE kind = 'user' AND subject = ?`, userID); err != nil {
		return fmt.Errorf("removing a user's key: %w", err)
	}
	return nil
}

// Users lists the users who can unlock offline.
func (s *Store) Users(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT subject FROM key_wraps WHERE kind = 'user' ORDER BY subject`)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Shred crypto-shreds the profile (the cloud revoked the device): every
// wrapped copy of the data key is deleted (overwritten in place, since the
// file runs with secure_delete), the WAL is checkpointed and truncated so no
// old page image keeps a wrap, the device key is deleted from DeviceKeys,
// and the store is locked. Afterwards nothing can unlock it: the encrypted
// rows stay in the file but are noise. Works while locked.
func (s *Store) Shred(ctx context.Context) error {
	s.Lock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("shredding: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM key_wraps`); err != nil {
		return fmt.Errorf("shredding: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (k, v) VALUES ('shredded', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`,
		strconv.FormatInt(s.opts.Now().Unix(), 10)); err != nil {
		return fmt.Errorf("shredding: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("shredding: %w", err)
	}
	var errs []error
	if err := s.opts.DeviceKeys.Delete(s.deviceKeyName()); err != nil {
		errs = append(errs, fmt.Errorf("deleting the device key: %w", err))
	}
	if err := s.checkpoint(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shredding (the wrapped keys are gone): %w", err)
	}
	return nil
}

// checkpoint copies the WAL into the main file and truncates the WAL to
// zero bytes. It fails if a reader keeps it from completing.
func (s *Store) checkpoint(ctx context.Context) error {
	var busy, logFrames, done int
	if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
		return fmt.Errorf("checkpointing the WAL: %w", err)
	}
	if busy != 0 {
		return errors.New("checkpointing the WAL: readers kept it from completing")
	}
	return nil
}

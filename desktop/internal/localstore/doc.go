// Package localstore is the workstation's encrypted cache: one SQLite file
// per workstation profile holding the patients on the schedule, their
// appointments, chart items, documents, cached prep sheets and overrides,
// the sync cursor and the outbox of the workstation's own results. The sync
// agent applies each page of the cloud's change feed together with its
// cursor in one transaction (ApplyPage); the UI reads prep sheets from it
// offline.
//
// # Storage
//
// SQLite through modernc.org/sqlite (pure Go, CGO_ENABLED=0), WAL journal,
// synchronous=FULL (no data loss before speed), a busy timeout, one writer
// connection (BEGIN IMMEDIATE) and a pool of read-only connections, so
// readers never wait for a write. The schema is the numbered SQL files in
// migrations/, embedded and applied in order (PRAGMA user_version).
//
// # Encryption at rest: AES-256-GCM per value, on modernc
//
// Two designs were measured (TOOLCHAIN.md): sealing each value in the
// application with AES-256-GCM on modernc, or a whole-file encrypting VFS
// (Adiantum or XTS) on ncruces/go-sqlite3. We seal values, because PHI
// safety comes first and
//
//   - GCM authenticates: an edited, corrupted, swapped or replayed-into-
//     another-row value fails to open with ErrTampered, instead of
//     decrypting to garbage that a screening rule might read. Adiantum and
//     XTS detect nothing. The additional data of every value is (table,
//     column, row identity, patient), so moving a chart item to another
//     patient is caught too.
//   - It costs little: 10k × 2 KiB sealed inserts in one transaction take
//     about 15 % longer than plain ones; the VFS makes every write 2–4×
//     slower.
//   - It keeps the one pure-Go SQLite driver the rest of the desktop uses.
//
// Its weakness is that the file's structure stays visible: table names,
// row counts, value sizes. To keep that from naming anyone, row identities
// are not the real identifiers: patient ids, appointment ids, item
// references and MRNs are stored as keyed hashes (HMAC-SHA256 with a key
// derived from the data key), so the file holds no Epic id or MRN that
// could be linked to a person. What is in the clear: the schema, the UTC
// day of each appointment (an index for date ranges, with no patient
// linkable to it), outbox ids, kinds, times and attempt counts, user ids of
// the staff who may unlock, and the key wraps. Deleting a row cannot be
// detected (neither design can); the sync cursor is sealed, so it cannot be
// moved.
//
// # Keys
//
// A random 256-bit data key never leaves memory in the clear. It is wrapped
// (AES-256-GCM) once per user who signed in online on this workstation,
// under a key derived from their password with Argon2id (t=3, m=64 MiB,
// p=2; per-user salt; parameters stored with the wrap and bound to it), and
// once for the device, under a random key kept in the OS key store
// (DeviceKeys; see package keystore). From the data key, HKDF derives the
// value key and the identity-hash key. Offline sign-in is
// UnlockWithPassword; a wrong password fails with ErrWrongPassword and
// decrypts nothing. Lock forgets the keys (idle lock).
//
// Shred destroys every wrap and the device key, with secure_delete on and
// the WAL checkpointed and truncated so no page image keeps a wrap: the
// rows left in the file can never be decrypted again. Random 96-bit GCM
// nonces under one data key are safe far beyond the millions of values a
// workstation writes in its lifetime.
package localstore

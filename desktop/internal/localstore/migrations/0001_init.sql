-- 0001: the workstation cache.
--
-- Every PHI-bearing value is sealed with AES-256-GCM by the Go code before it
-- reaches SQLite (BLOB columns named body/meta/content/payload/value), with
-- (table, column, row id) as additional data. Row identities (id, patient,
-- mrn) are keyed hashes of the real identifiers, so the file names no
-- patient. Only scheduling days, counts, sizes, outbox bookkeeping and the
-- key wraps are in the clear.

-- meta: per-profile facts that are not secret (profile id, shredded flag).
CREATE TABLE meta (
	k TEXT PRIMARY KEY,
	v TEXT NOT NULL
) STRICT;

-- key_wraps: the data key, encrypted once per signed-in user (Argon2id of
-- the password) and once for the device (key in the OS key store).
CREATE TABLE key_wraps (
	kind        TEXT NOT NULL CHECK (kind IN ('user', 'device')),
	subject     TEXT NOT NULL,
	kdf_salt    BLOB,
	kdf_time    INTEGER,
	kdf_mem_kib INTEGER,
	kdf_threads INTEGER,
	wrapped     BLOB NOT NULL,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (kind, subject)
) STRICT;

-- sync_state: the one sync cursor, sealed so that it cannot be edited.
CREATE TABLE sync_state (
	one    INTEGER PRIMARY KEY CHECK (one = 1),
	cursor BLOB NOT NULL
) STRICT;

CREATE TABLE patients (
	id   BLOB PRIMARY KEY,
	mrn  BLOB,
	body BLOB NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX patients_by_mrn ON patients (mrn);

-- appointments: day is the UTC day number of the start (days since
-- 1970-01-01), in the clear so that date ranges use an index.
CREATE TABLE appointments (
	id      BLOB PRIMARY KEY,
	patient BLOB NOT NULL,
	day     INTEGER NOT NULL,
	body    BLOB NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX appointments_by_day ON appointments (day);
CREATE INDEX appointments_by_patient ON appointments (patient);

CREATE TABLE chart_items (
	id      BLOB PRIMARY KEY,
	patient BLOB NOT NULL,
	body    BLOB NOT NULL
) STRICT;
CREATE INDEX chart_items_by_patient ON chart_items (patient);

CREATE TABLE documents (
	id      BLOB PRIMARY KEY,
	patient BLOB NOT NULL,
	meta    BLOB NOT NULL,
	content BLOB NOT NULL
) STRICT;
CREATE INDEX documents_by_patient ON documents (patient);

CREATE TABLE prep_sheets (
	id      BLOB PRIMARY KEY,
	patient BLOB NOT NULL,
	body    BLOB NOT NULL
) STRICT;
CREATE INDEX prep_sheets_by_patient ON prep_sheets (patient);

CREATE TABLE overrides (
	id      BLOB PRIMARY KEY,
	patient BLOB NOT NULL,
	body    BLOB NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX overrides_by_patient ON overrides (patient);

-- outbox: the workstation's own results waiting for the cloud's
-- acknowledgement. seq keeps local order; id is the client-generated UUID
-- the cloud deduplicates on.
CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	id         TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,
	payload    BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0
) STRICT;

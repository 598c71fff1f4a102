-- 0002: settings synced from the cloud that are not rows of a patient: the
-- organisation's configuration, its screening types, and the sync agent's
-- bookkeeping (the feed seq of each override, conflicts, document
-- results). Keys are kinds and opaque record ids chosen by the cloud (no
-- patient identifier); values are sealed with (settings, value, key) as
-- additional data.
CREATE TABLE settings (
	k     TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT, WITHOUT ROWID;

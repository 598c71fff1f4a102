-- The sync feed's own records (cloud/internal/syncfeed/pgstore): what
-- workstations push (document results, overrides, override conflicts,
-- print events) and what other cloud writers publish into the feed
-- (configuration, screening types, documents). Ingest's patients,
-- appointments and chart resources stay in their tables; the feed pages
-- both by organizations.change_seq, which every write takes while holding
-- the organisation's row, so sequence order is commit order.
--
-- A record appears once, at the seq of its latest write; deletes are
-- tombstones (deleted = true) so workstations learn of them. Payloads are
-- sealed with the org's data key (AAD = org, table, column, kind/id).
-- Receipts make pushes exactly-once: (org, client id) → the first ack and
-- the digest of the entry it acknowledged.
-- +goose Up
CREATE TABLE sync_records (
  org_id      uuid NOT NULL REFERENCES organizations (id),
  kind        text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
  id          text NOT NULL CHECK (length(id) BETWEEN 1 AND 400),
  deleted     boolean NOT NULL DEFAULT false,
  payload_enc bytea,
  change_seq  bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, kind, id)
);
CREATE INDEX sync_records_seq ON sync_records (org_id, change_seq);

CREATE TABLE sync_receipts (
  org_id        uuid NOT NULL REFERENCES organizations (id),
  client_id     uuid NOT NULL,
  digest        bytea NOT NULL CHECK (length(digest) = 32),
  status        smallint NOT NULL CHECK (status BETWEEN 1 AND 4),
  seq           bigint NOT NULL DEFAULT 0,
  message       text NOT NULL DEFAULT '' CHECK (length(message) <= 300),
  actor_user_id uuid,
  device_id     text NOT NULL DEFAULT '' CHECK (length(device_id) <= 64),
  received_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, client_id)
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['sync_records', 'sync_receipts'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = hp_current_org() OR hp_platform()) WITH CHECK (org_id = hp_current_org() OR hp_platform())', t);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE sync_receipts, sync_records;

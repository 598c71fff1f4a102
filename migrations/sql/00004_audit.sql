-- The audit log: append-only, one hash chain per organisation. audit_heads
-- holds each chain's last sequence number and hash; appending locks the head
-- row, so concurrent appends for one org serialise and the chain stays
-- linear. The application role may insert and read entries, never change or
-- remove them; a trigger refuses UPDATE and DELETE even to the owner.
-- +goose Up
CREATE TABLE audit_heads (
  org_id uuid PRIMARY KEY REFERENCES organizations (id),
  seq    bigint NOT NULL,
  hash   bytea NOT NULL
);

CREATE TABLE audit_log (
  org_id        uuid NOT NULL REFERENCES organizations (id),
  seq           bigint NOT NULL CHECK (seq > 0),
  id            uuid NOT NULL UNIQUE,
  at            timestamptz NOT NULL,
  actor_user_id uuid,
  actor_role    text NOT NULL DEFAULT '',
  action        text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{1,63}$'),
  outcome       text NOT NULL CHECK (outcome IN ('success', 'failure', 'alert')),
  target_type   text NOT NULL DEFAULT '',
  target_id     text NOT NULL DEFAULT '',
  patient_ref   text NOT NULL DEFAULT '',
  ip            text NOT NULL DEFAULT '',
  device_id     text NOT NULL DEFAULT '',
  details       jsonb NOT NULL DEFAULT '{}',
  prev_hash     bytea NOT NULL,
  hash          bytea NOT NULL,
  PRIMARY KEY (org_id, seq)
);
CREATE INDEX audit_log_at ON audit_log (org_id, at);
CREATE INDEX audit_log_actor ON audit_log (org_id, actor_user_id, at);
CREATE INDEX audit_log_patient ON audit_log (org_id, patient_ref, at) WHERE patient_ref <> '';

REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM healthprep_app;
REVOKE DELETE, TRUNCATE ON audit_heads FROM healthprep_app;

-- +goose StatementBegin
CREATE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_immutable();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable();

ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_heads
  USING (org_id = hp_current_org() OR hp_platform())
  WITH CHECK (org_id = hp_current_org() OR hp_platform());
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_log
  USING (org_id = hp_current_org() OR hp_platform())
  WITH CHECK (org_id = hp_current_org() OR hp_platform());

-- +goose Down
DROP TABLE audit_log, audit_heads;
DROP FUNCTION audit_log_immutable();

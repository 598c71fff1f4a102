-- Workstation enrolment (cloud/internal/device). An admin issues a
-- short-lived, single-use enrolment code, stored only as its SHA-256; a
-- workstation exchanges it once for a device token, stored only as its
-- SHA-256 and bound to the device's id. Revocation is a timestamp: the
-- token then stops working and the workstation crypto-shreds its cache on
-- its next contact. Both tables are tenant tables under forced RLS; token
-- and code lookups (before the org is known) run with platform scope.
-- +goose Up
CREATE TABLE devices (
  id           uuid PRIMARY KEY,
  org_id       uuid NOT NULL REFERENCES organizations (id),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  os           text NOT NULL DEFAULT '' CHECK (length(os) <= 100),
  version      text NOT NULL DEFAULT '' CHECK (length(version) <= 100),
  enrolled_by  uuid NOT NULL,
  enrolled_at  timestamptz NOT NULL DEFAULT now(),
  token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  last_sync_at timestamptz,
  revoked_at   timestamptz,
  revoked_by   uuid
);
CREATE INDEX devices_org ON devices (org_id, enrolled_at);

CREATE TABLE device_enrolment_codes (
  code_hash  bytea PRIMARY KEY CHECK (length(code_hash) = 32),
  org_id     uuid NOT NULL REFERENCES organizations (id),
  issued_by  uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz,
  device_id  uuid REFERENCES devices (id)
);
CREATE INDEX device_enrolment_codes_org ON device_enrolment_codes (org_id, expires_at);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['devices', 'device_enrolment_codes'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = hp_current_org() OR hp_platform()) WITH CHECK (org_id = hp_current_org() OR hp_platform())', t);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE device_enrolment_codes, devices;

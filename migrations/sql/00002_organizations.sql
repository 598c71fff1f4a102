-- Organisations (clinics, and groups of clinics through parent_id) and their
-- settings. The row's own id is its tenant key.
-- +goose Up
CREATE TABLE organizations (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                 text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
  slug                 text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  status               text NOT NULL DEFAULT 'incomplete'
                       CHECK (status IN ('incomplete', 'trial', 'live', 'past_due', 'suspended')),
  is_platform          boolean NOT NULL DEFAULT false,
  trial_ends_at        timestamptz,
  max_users            integer NOT NULL DEFAULT 25 CHECK (max_users BETWEEN 1 AND 100000),
  parent_id            uuid REFERENCES organizations (id),
  require_2fa_all      boolean NOT NULL DEFAULT false,
  session_idle_minutes integer NOT NULL DEFAULT 15 CHECK (session_idle_minutes BETWEEN 1 AND 720),
  desktop_idle_minutes integer NOT NULL DEFAULT 15 CHECK (desktop_idle_minutes BETWEEN 1 AND 720),
  timezone             text NOT NULL DEFAULT 'America/New_York',
  lookback_labs_months      integer NOT NULL DEFAULT 12 CHECK (lookback_labs_months BETWEEN 1 AND 240),
  lookback_imaging_months   integer NOT NULL DEFAULT 24 CHECK (lookback_imaging_months BETWEEN 1 AND 240),
  lookback_consults_months  integer NOT NULL DEFAULT 12 CHECK (lookback_consults_months BETWEEN 1 AND 240),
  lookback_hospital_months  integer NOT NULL DEFAULT 12 CHECK (lookback_hospital_months BETWEEN 1 AND 240),
  lookback_documents_months integer NOT NULL DEFAULT 12 CHECK (lookback_documents_months BETWEEN 1 AND 240),
  change_seq           bigint NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CHECK (parent_id IS NULL OR parent_id <> id)
);
-- At most one platform organisation: the home of root administrators.
CREATE UNIQUE INDEX organizations_one_platform ON organizations (is_platform) WHERE is_platform;

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON organizations
  USING (id = hp_current_org() OR hp_platform())
  WITH CHECK (id = hp_current_org() OR hp_platform());

-- +goose Down
DROP TABLE organizations;

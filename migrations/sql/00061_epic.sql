-- Per-organisation Epic connection (cloud/internal/epicconfig): what the
-- admin entered (the client secret only sealed by envelope encryption), the
-- tokens the OAuth flow obtained (sealed), the short-lived PKCE/state of a
-- started "Connect to Epic", and the shared FHIR rate-limit bucket every
-- replica draws from.
-- +goose Up
CREATE TABLE epic_configs (
  org_id              uuid PRIMARY KEY REFERENCES organizations (id),
  client_id           text NOT NULL DEFAULT '' CHECK (length(client_id) <= 200),
  client_secret_enc   bytea,
  fhir_base_url       text NOT NULL DEFAULT '' CHECK (length(fhir_base_url) <= 2000),
  environment         text NOT NULL DEFAULT 'sandbox' CHECK (environment IN ('sandbox', 'production')),
  authorize_url       text NOT NULL DEFAULT '' CHECK (length(authorize_url) <= 2000),
  token_url           text NOT NULL DEFAULT '' CHECK (length(token_url) <= 2000),
  endpoints_discovered boolean NOT NULL DEFAULT false,
  scopes              text[] NOT NULL DEFAULT '{}',
  rate_limit_per_hour integer NOT NULL DEFAULT 20000 CHECK (rate_limit_per_hour BETWEEN 1 AND 100000000),
  writeback_enabled   boolean NOT NULL DEFAULT false,
  writeback_max_per_day integer NOT NULL DEFAULT 3 CHECK (writeback_max_per_day BETWEEN 1 AND 50),
  window_days         integer NOT NULL DEFAULT 14 CHECK (window_days BETWEEN 0 AND 90),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  updated_by          uuid
);

CREATE TABLE epic_connections (
  org_id            uuid PRIMARY KEY REFERENCES organizations (id),
  access_token_enc  bytea,
  refresh_token_enc bytea,
  token_expires_at  timestamptz,
  scope             text NOT NULL DEFAULT '' CHECK (length(scope) <= 4000),
  connected_at      timestamptz,
  refreshed_at      timestamptz,
  last_sync_at      timestamptz,
  last_error        text NOT NULL DEFAULT '' CHECK (length(last_error) <= 1000),
  last_error_at     timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- A started authorization: found by the hash of its state when the
-- browser comes back (before the org is known), used once.
CREATE TABLE epic_oauth_states (
  state_hash   bytea PRIMARY KEY,
  id           uuid NOT NULL UNIQUE,
  org_id       uuid NOT NULL REFERENCES organizations (id),
  verifier_enc bytea NOT NULL,
  nonce_enc    bytea,
  started_by   uuid,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz
);
CREATE INDEX epic_oauth_states_org ON epic_oauth_states (org_id, created_at);

-- Token bucket per org: tokens left and when they were last refilled.
CREATE TABLE fhir_rate_buckets (
  org_id      uuid PRIMARY KEY REFERENCES organizations (id),
  tokens      double precision NOT NULL,
  refilled_at timestamptz NOT NULL
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['epic_configs', 'epic_connections', 'epic_oauth_states', 'fhir_rate_buckets'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = hp_current_org() OR hp_platform()) WITH CHECK (org_id = hp_current_org() OR hp_platform())', t);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE fhir_rate_buckets, epic_oauth_states, epic_connections, epic_configs;

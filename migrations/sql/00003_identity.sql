-- Users, their second factor, sessions, invites and password resets. Every
-- table is tenant-scoped by org_id under forced row-level security. Secrets
-- are never stored: tokens and recovery codes as SHA-256 hashes, passwords as
-- Argon2id PHC strings, TOTP seeds encrypted by the application.
-- +goose Up
CREATE TABLE users (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id              uuid NOT NULL REFERENCES organizations (id),
  email               text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  display_name        text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
  role                text NOT NULL CHECK (role IN ('root_admin', 'admin', 'nurse', 'ma')),
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
  password_hash       text,
  password_changed_at timestamptz,
  failed_logins       integer NOT NULL DEFAULT 0,
  locked_until        timestamptz,
  totp_secret_enc     bytea,
  totp_enabled_at     timestamptz,
  totp_last_step      bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
-- One account per email across the platform: sign-in finds the org from it.
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE recovery_codes (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id     uuid NOT NULL REFERENCES organizations (id),
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash  bytea NOT NULL,
  used_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, code_hash)
);

CREATE TABLE sessions (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id        uuid NOT NULL REFERENCES organizations (id),
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash    bytea NOT NULL UNIQUE,
  device_id     text NOT NULL DEFAULT '' CHECK (length(device_id) <= 200),
  kind          text NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'web', 'desktop')),
  mfa_verified  boolean NOT NULL DEFAULT false,
  ip            inet,
  user_agent    text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 500),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  idle_minutes  integer NOT NULL CHECK (idle_minutes BETWEEN 1 AND 720),
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  revoke_reason text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE invites (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id       uuid NOT NULL REFERENCES organizations (id),
  email        text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
  role         text NOT NULL CHECK (role IN ('admin', 'nurse', 'ma')),
  token_hash   bytea NOT NULL UNIQUE,
  invited_by   uuid REFERENCES users (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  sent_count   integer NOT NULL DEFAULT 1,
  accepted_at  timestamptz,
  accepted_user_id uuid REFERENCES users (id),
  cancelled_at timestamptz
);
-- At most one open invite per email and org.
CREATE UNIQUE INDEX invites_open_email ON invites (org_id, email) WHERE accepted_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE password_resets (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id     uuid NOT NULL REFERENCES organizations (id),
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);

-- Sign-in attempts, for per-IP throttling and password-spraying detection.
-- Not tenant data (the org is unknown when an attempt fails), so it holds no
-- email, only a keyed hash of it.
CREATE TABLE login_attempts (
  id         bigserial PRIMARY KEY,
  ip         inet NOT NULL,
  email_hash bytea NOT NULL,
  success    boolean NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_ip_at ON login_attempts (ip, at);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'recovery_codes', 'sessions', 'invites', 'password_resets'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = hp_current_org() OR hp_platform()) WITH CHECK (org_id = hp_current_org() OR hp_platform())', t);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE login_attempts, password_resets, invites, sessions, recovery_codes, users;

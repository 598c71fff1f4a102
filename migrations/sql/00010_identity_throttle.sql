-- Sign-in defences that work before an account is known. login_attempts
-- gains a flag for attempts refused by the per-IP throttle (kept so the first
-- refusal can raise one audit alert, excluded from failure counts), and an
-- index for lookups by email hash. login_locks gives emails without an
-- account the same 5-failure, 30-minute lockout real accounts get in
-- users.failed_logins/locked_until, so "locked" never reveals that an
-- account exists. Neither table holds tenant data or an email, only a keyed
-- hash of it (as login_attempts already does).
-- +goose Up
ALTER TABLE login_attempts ADD COLUMN throttled boolean NOT NULL DEFAULT false;
CREATE INDEX login_attempts_email_at ON login_attempts (email_hash, at);

CREATE TABLE login_locks (
  email_hash   bytea PRIMARY KEY,
  failures     integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  updated_at   timestamptz NOT NULL
);

-- +goose Down
DROP TABLE login_locks;
DROP INDEX login_attempts_email_at;
ALTER TABLE login_attempts DROP COLUMN throttled;

-- The application role: no superuser, no BYPASSRLS, no ownership. Tables
-- created by the migrating role grant it plain DML by default; tables that
-- must be append-only revoke what they must.
-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'healthprep_app') THEN
    CREATE ROLE healthprep_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
END
$$;
-- +goose StatementEnd
GRANT USAGE ON SCHEMA public TO healthprep_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO healthprep_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO healthprep_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO healthprep_app;

-- The tenant of the current transaction, set only by tenancy.WithOrg with
-- set_config('app.org_id', $1, true). An unset or reset setting reads as ''
-- and therefore as NULL: a query that forgets the org sees nothing.
CREATE FUNCTION hp_current_org() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$;

-- Platform scope (sign-in before the org is known, root administration),
-- set only by tenancy.WithPlatform.
CREATE FUNCTION hp_platform() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT coalesce(current_setting('app.platform', true), '') = 'on' $$;

-- +goose Down
DROP FUNCTION hp_platform();
DROP FUNCTION hp_current_org();

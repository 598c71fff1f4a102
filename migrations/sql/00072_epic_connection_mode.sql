-- How the jobs get Epic tokens (cloud/internal/epicconfig): the SMART
-- standalone launch an admin approves in a browser (authorization code +
-- PKCE, refreshed with its refresh token), or SMART Backend Services
-- (client_credentials with a private_key_jwt assertion signed by one of our
-- published keys; no person in the loop, a new token per expiry).
-- +goose Up
ALTER TABLE epic_configs ADD COLUMN connection_mode text NOT NULL DEFAULT 'authorization_code'
  CHECK (connection_mode IN ('authorization_code', 'backend_services'));

-- +goose Down
ALTER TABLE epic_configs DROP COLUMN connection_mode;

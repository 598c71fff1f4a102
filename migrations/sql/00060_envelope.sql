-- Envelope encryption (cloud/internal/envelope): one data key per
-- organisation, random 256-bit, stored only wrapped by a key-encryption key
-- held in KMS (or, in development, a local key from configuration). Field
-- ciphertexts elsewhere are sealed under keys derived from it.
-- Crypto-shredding an organisation sets wrapped to NULL and stamps
-- destroyed_at: every ciphertext of that org then stays unreadable forever,
-- and no new key is ever created for it.
-- +goose Up
CREATE TABLE org_data_keys (
  org_id       uuid PRIMARY KEY REFERENCES organizations (id),
  wrapped      bytea CHECK (wrapped IS NULL OR length(wrapped) BETWEEN 16 AND 8192),
  kek_id       text NOT NULL CHECK (length(kek_id) BETWEEN 1 AND 2048),
  created_at   timestamptz NOT NULL DEFAULT now(),
  destroyed_at timestamptz,
  CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);
-- The application role creates, reads and shreds keys; it never deletes the
-- row, so a shredded org cannot silently get a fresh key.
REVOKE DELETE, TRUNCATE ON org_data_keys FROM healthprep_app;

-- +goose StatementBegin
CREATE FUNCTION org_data_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.wrapped IS NULL THEN
    RAISE EXCEPTION 'a shredded data key cannot be restored' USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.wrapped IS NOT NULL AND NEW.wrapped <> OLD.wrapped THEN
    RAISE EXCEPTION 'a data key is never replaced in place' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER org_data_keys_guard BEFORE UPDATE ON org_data_keys
  FOR EACH ROW EXECUTE FUNCTION org_data_keys_guard();

ALTER TABLE org_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON org_data_keys
  USING (org_id = hp_current_org() OR hp_platform())
  WITH CHECK (org_id = hp_current_org() OR hp_platform());

-- +goose Down
DROP TABLE org_data_keys;
DROP FUNCTION org_data_keys_guard();

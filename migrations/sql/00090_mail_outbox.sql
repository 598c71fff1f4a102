-- Mail waiting to be sent: password-reset and invitation links. A request
-- writes its rendered message here in its own transaction and returns before
-- any SMTP/SES work, so its response time does not depend on whether mail
-- goes out; identity.MailOutbox delivers the rows (FOR UPDATE SKIP LOCKED,
-- safe with several replicas), retries with backoff and gives up after a
-- number of attempts. The message carries a one-time link, so it is stored
-- only sealed by the keyring for (org, 'mail/outbox/<id>'), never in clear,
-- and the sealed body is erased as soon as the row is sent or given up.
-- +goose Up
CREATE TABLE mail_outbox (
  id              uuid PRIMARY KEY,
  org_id          uuid NOT NULL REFERENCES organizations (id),
  kind            text NOT NULL CHECK (kind IN ('invite', 'password_reset')),
  -- What the mail is about (the invite, or the user for a reset): a newer
  -- link for it drops the pending mail of the older one.
  ref_id          uuid NOT NULL,
  message_enc     bytea,
  created_at      timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- When the next attempt is due; a claimed row is pushed forward by a
  -- lease, so a sender that dies mid-send leaves it to another replica.
  next_attempt_at timestamptz NOT NULL,
  sent_at         timestamptz,
  failed_at       timestamptz,
  CHECK (sent_at IS NULL OR failed_at IS NULL),
  CHECK ((message_enc IS NULL) = (sent_at IS NOT NULL OR failed_at IS NOT NULL))
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_ref ON mail_outbox (ref_id) WHERE sent_at IS NULL AND failed_at IS NULL;

ALTER TABLE mail_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE mail_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON mail_outbox
  USING (org_id = hp_current_org() OR hp_platform())
  WITH CHECK (org_id = hp_current_org() OR hp_platform());

-- +goose Down
DROP TABLE mail_outbox;

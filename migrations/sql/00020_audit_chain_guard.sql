-- The database itself keeps each organisation's audit chain linear, so that
-- even the application role (a bug, an injection) cannot fork, skip, rewind
-- or extend it out of order:
--   * the application role may no longer INSERT or UPDATE audit_heads; it
--     locks its org's head (creating the genesis head on first use) through
--     audit_chain_head(), a SECURITY DEFINER function;
--   * every audit_log insert must carry seq = head.seq + 1 and
--     prev_hash = head.hash, and advances the head in the same statement;
--   * a head only ever moves forward by one, even for the schema owner;
--     a new head starts at the genesis (seq 0, 32 zero bytes).
-- Only a superuser who disables triggers can break the chain, and Verify
-- (cloud/internal/audit) then reports exactly where.
-- +goose Up
REVOKE INSERT, UPDATE ON audit_heads FROM healthprep_app;

-- Root queries across every organisation page newest first.
CREATE INDEX audit_log_platform_at ON audit_log (at, org_id, seq);

-- +goose StatementBegin
CREATE FUNCTION audit_chain_head(p_org uuid, OUT seq bigint, OUT hash bytea)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  SELECT h.seq, h.hash INTO seq, hash FROM public.audit_heads h WHERE h.org_id = p_org FOR UPDATE;
  IF FOUND THEN
    RETURN;
  END IF;
  INSERT INTO public.audit_heads (org_id, seq, hash)
    VALUES (p_org, 0, decode(repeat('00', 32), 'hex'))
    ON CONFLICT (org_id) DO NOTHING;
  SELECT h.seq, h.hash INTO seq, hash FROM public.audit_heads h WHERE h.org_id = p_org FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'audit chain head not visible in this scope' USING ERRCODE = 'insufficient_privilege';
  END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION audit_log_extend_head() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  h_seq  bigint;
  h_hash bytea;
BEGIN
  SELECT h.seq, h.hash INTO h_seq, h_hash FROM public.audit_heads h WHERE h.org_id = NEW.org_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'audit entry % has no chain head', NEW.seq USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.seq <> h_seq + 1 OR NEW.prev_hash <> h_hash THEN
    RAISE EXCEPTION 'audit entry % does not extend the chain head at %', NEW.seq, h_seq
      USING ERRCODE = 'check_violation';
  END IF;
  IF length(NEW.hash) <> 32 THEN
    RAISE EXCEPTION 'audit entry % has a malformed hash', NEW.seq USING ERRCODE = 'check_violation';
  END IF;
  UPDATE public.audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE org_id = NEW.org_id;
  RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_extend_head BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_extend_head();

-- +goose StatementBegin
CREATE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.seq <> 0 OR NEW.hash <> decode(repeat('00', 32), 'hex') THEN
      RAISE EXCEPTION 'an audit chain head starts at the genesis' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.org_id <> OLD.org_id OR NEW.seq <> OLD.seq + 1 THEN
      RAISE EXCEPTION 'an audit chain head only moves forward by one' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit chain heads cannot be removed' USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_heads_forward_only BEFORE INSERT OR UPDATE OR DELETE ON audit_heads
  FOR EACH ROW EXECUTE FUNCTION audit_heads_forward_only();
CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
  FOR EACH STATEMENT EXECUTE FUNCTION audit_heads_forward_only();

-- +goose Down
DROP TRIGGER audit_heads_no_truncate ON audit_heads;
DROP TRIGGER audit_heads_forward_only ON audit_heads;
DROP FUNCTION audit_heads_forward_only();
DROP TRIGGER audit_log_extend_head ON audit_log;
DROP FUNCTION audit_log_extend_head();
DROP FUNCTION audit_chain_head(uuid);
DROP INDEX audit_log_platform_at;
GRANT INSERT, UPDATE ON audit_heads TO healthprep_app;

-- Prep-sheet write-back to Epic (cloud/internal/ingest, writeback.go): one
-- row per visit (appointment) saying which DocumentReference in the org's
-- Epic holds our prep sheet for it, its version (for If-Match), a keyed
-- hash of what was written (so an unchanged sheet is not written again),
-- and how the last attempts went, in words for the admins' status page.
-- prep_sheet_writes_daily counts the writes per patient per local day, so
-- at most epic_configs.writeback_max_per_day reach Epic; a write reserves
-- its slot before calling Epic and releases it when the call fails.
-- +goose Up
CREATE TABLE prep_sheet_writebacks (
  org_id              uuid NOT NULL REFERENCES organizations (id),
  appointment_fhir_id text NOT NULL CHECK (appointment_fhir_id ~ '^[A-Za-z0-9.-]{1,64}$'),
  patient_fhir_id     text NOT NULL CHECK (patient_fhir_id ~ '^[A-Za-z0-9.-]{1,64}$'),
  document_fhir_id    text NOT NULL DEFAULT '' CHECK (length(document_fhir_id) <= 64),
  version_id          text NOT NULL DEFAULT '' CHECK (length(version_id) <= 64),
  content_mac         bytea,
  status              text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'written', 'failed', 'capped')),
  attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  writes              integer NOT NULL DEFAULT 0 CHECK (writes >= 0),
  last_error          text NOT NULL DEFAULT '' CHECK (length(last_error) <= 1000),
  last_attempt_at     timestamptz,
  written_at          timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, appointment_fhir_id)
);
CREATE INDEX prep_sheet_writebacks_status ON prep_sheet_writebacks (org_id, status, updated_at);

CREATE TABLE prep_sheet_writes_daily (
  org_id          uuid NOT NULL REFERENCES organizations (id),
  patient_fhir_id text NOT NULL CHECK (patient_fhir_id ~ '^[A-Za-z0-9.-]{1,64}$'),
  day             date NOT NULL,
  writes          integer NOT NULL DEFAULT 0 CHECK (writes >= 0),
  PRIMARY KEY (org_id, patient_fhir_id, day)
);

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['prep_sheet_writebacks', 'prep_sheet_writes_daily'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = hp_current_org() OR hp_platform()) WITH CHECK (org_id = hp_current_org() OR hp_platform())', t);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE prep_sheet_writes_daily, prep_sheet_writebacks;

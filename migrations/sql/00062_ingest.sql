-- The ingest store (cloud/internal/ingest): what jobs pull from each
-- organisation's Epic. PHI is sealed per field by envelope encryption
-- (AAD = org, table, column, row id); only what queries need stays in
-- clear: FHIR ids, resource types, versions, lastUpdated, dates, statuses.
-- Row ids are deterministic (a UUIDv5 of org, resource type and FHIR id), so
-- concurrent upserts of one resource always seal for the same row.
--
-- Every write takes the next value(s) of organizations.change_seq (locking
-- the org's row until commit, so sequence order is commit order) and stamps
-- the row with it. The desktop sync feed pages the `changes` view by seq:
--
--   SELECT * FROM changes WHERE seq > $cursor ORDER BY seq LIMIT $n
--
-- inside tenancy.WithOrg. The view is compacted: a row appears once, at the
-- seq of its latest write; resources are never hard-deleted (a FHIR status
-- such as entered-in-error travels inside the sealed resource). It runs with
-- the caller's rights (security_invoker), so row-level security applies.
-- +goose Up
CREATE TABLE patients (
  org_id         uuid NOT NULL REFERENCES organizations (id),
  id             uuid NOT NULL,
  fhir_id        text NOT NULL CHECK (fhir_id ~ '^[A-Za-z0-9.-]{1,64}$'),
  version_id     text NOT NULL DEFAULT '' CHECK (length(version_id) <= 64),
  last_updated   timestamptz,
  name_enc       bytea,
  birth_date_enc bytea,
  mrn_enc        bytea,
  address_enc    bytea,
  phone_enc      bytea,
  resource_enc   bytea NOT NULL,
  content_mac    bytea NOT NULL,
  mrn_bidx       bytea,
  change_seq     bigint NOT NULL,
  ingested_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, fhir_id)
);
CREATE INDEX patients_mrn ON patients (org_id, mrn_bidx) WHERE mrn_bidx IS NOT NULL;
CREATE INDEX patients_seq ON patients (org_id, change_seq);

CREATE TABLE appointments (
  org_id          uuid NOT NULL REFERENCES organizations (id),
  id              uuid NOT NULL,
  fhir_id         text NOT NULL CHECK (fhir_id ~ '^[A-Za-z0-9.-]{1,64}$'),
  version_id      text NOT NULL DEFAULT '' CHECK (length(version_id) <= 64),
  last_updated    timestamptz,
  status          text NOT NULL DEFAULT '' CHECK (length(status) <= 32),
  start_at        timestamptz,
  end_at          timestamptz,
  patient_fhir_id text NOT NULL DEFAULT '' CHECK (length(patient_fhir_id) <= 64),
  resource_enc    bytea NOT NULL,
  content_mac     bytea NOT NULL,
  change_seq      bigint NOT NULL,
  ingested_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, fhir_id)
);
CREATE INDEX appointments_start ON appointments (org_id, start_at);
CREATE INDEX appointments_seq ON appointments (org_id, change_seq);

CREATE TABLE chart_resources (
  org_id          uuid NOT NULL REFERENCES organizations (id),
  id              uuid NOT NULL,
  resource_type   text NOT NULL CHECK (resource_type ~ '^[A-Z][A-Za-z]{1,63}$'),
  fhir_id         text NOT NULL CHECK (fhir_id ~ '^[A-Za-z0-9.-]{1,64}$'),
  version_id      text NOT NULL DEFAULT '' CHECK (length(version_id) <= 64),
  last_updated    timestamptz,
  patient_fhir_id text NOT NULL CHECK (length(patient_fhir_id) BETWEEN 1 AND 64),
  effective_date  date,
  resource_enc    bytea NOT NULL,
  content_mac     bytea NOT NULL,
  change_seq      bigint NOT NULL,
  ingested_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, resource_type, fhir_id)
);
CREATE INDEX chart_resources_patient ON chart_resources (org_id, patient_fhir_id, resource_type);
CREATE INDEX chart_resources_seq ON chart_resources (org_id, change_seq);

-- Resources that could not be read: the reason in words (never a value
-- from the resource), and the raw JSON sealed, for an admin to look at.
CREATE TABLE ingest_quarantine (
  org_id        uuid NOT NULL REFERENCES organizations (id),
  id            uuid NOT NULL,
  resource_type text NOT NULL DEFAULT '' CHECK (length(resource_type) <= 64),
  fhir_id       text NOT NULL DEFAULT '' CHECK (length(fhir_id) <= 64),
  reason        text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  raw_enc       bytea,
  occurrences   integer NOT NULL DEFAULT 1,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  resolved_at   timestamptz,
  PRIMARY KEY (org_id, id)
);
CREATE INDEX ingest_quarantine_open ON ingest_quarantine (org_id, last_seen_at) WHERE resolved_at IS NULL;

-- How far each incremental search got: the _lastUpdated watermark of the
-- last complete search of one resource type for one patient ('' for
-- org-wide searches). Written only when a search has been stored in full.
CREATE TABLE ingest_checkpoints (
  org_id          uuid NOT NULL REFERENCES organizations (id),
  resource_type   text NOT NULL,
  patient_fhir_id text NOT NULL DEFAULT '',
  watermark       timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, resource_type, patient_fhir_id)
);

CREATE VIEW changes WITH (security_invoker = true) AS
  SELECT org_id, change_seq AS seq, 'patient'::text AS entity, id AS row_id,
         'Patient'::text AS resource_type, fhir_id, fhir_id AS patient_fhir_id
    FROM patients
  UNION ALL
  SELECT org_id, change_seq, 'appointment', id, 'Appointment', fhir_id, patient_fhir_id
    FROM appointments
  UNION ALL
  SELECT org_id, change_seq, 'chart_resource', id, resource_type, fhir_id, patient_fhir_id
    FROM chart_resources;

-- +goose StatementBegin
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['patients', 'appointments', 'chart_resources', 'ingest_quarantine', 'ingest_checkpoints'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant ON %I USING (org_id = hp_current_org() OR hp_platform()) WITH CHECK (org_id = hp_current_org() OR hp_platform())', t);
  END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP VIEW changes;
DROP TABLE ingest_checkpoints, ingest_quarantine, chart_resources, appointments, patients;

-- Document content fetched at ingest (cloud/internal/ingest): the Binary
-- an ingested DocumentReference's attachment points to (attachment.url),
-- sealed with the org's data key (AAD = org, table, column, row id). The
-- row id is deterministic per (org, DocumentReference, attachment index).
-- doc_content_mac is the stored DocumentReference's content_mac the bytes
-- were fetched for, so a changed document is fetched again and a crash
-- between storing the document and its content is repaired on resume.
-- Content over the size limit is not stored: the DocumentReference is
-- quarantined with the reason instead.
-- +goose Up
CREATE TABLE document_contents (
  org_id            uuid NOT NULL REFERENCES organizations (id),
  id                uuid NOT NULL,
  document_fhir_id  text NOT NULL CHECK (document_fhir_id ~ '^[A-Za-z0-9.-]{1,64}$'),
  attachment_index  integer NOT NULL CHECK (attachment_index BETWEEN 0 AND 99),
  patient_fhir_id   text NOT NULL CHECK (length(patient_fhir_id) BETWEEN 1 AND 64),
  content_type      text NOT NULL DEFAULT '' CHECK (length(content_type) <= 200),
  size_bytes        bigint NOT NULL CHECK (size_bytes >= 0),
  data_enc          bytea NOT NULL,
  data_mac          bytea NOT NULL,
  doc_content_mac   bytea NOT NULL,
  fetched_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, document_fhir_id, attachment_index)
);
ALTER TABLE document_contents ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_contents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON document_contents
  USING (org_id = hp_current_org() OR hp_platform())
  WITH CHECK (org_id = hp_current_org() OR hp_platform());

-- +goose Down
DROP TABLE document_contents;

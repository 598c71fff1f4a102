-- An organisation's changes to the shared default screening library
-- (cloud/internal/screeningcfg): the preset.OrgSettings JSON (types turned
-- off, changed ages and intervals, its own types), a version for
-- optimistic concurrency (1 after the first save) and who saved it last.
-- No row means no changes: the default library as is. Changes are audited
-- ("screening.settings.update") in the same transaction.
-- +goose Up
CREATE TABLE screening_settings (
  org_id     uuid PRIMARY KEY REFERENCES organizations (id),
  settings   jsonb NOT NULL,
  version    bigint NOT NULL CHECK (version > 0),
  updated_by uuid NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE screening_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE screening_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON screening_settings
  USING (org_id = hp_current_org() OR hp_platform())
  WITH CHECK (org_id = hp_current_org() OR hp_platform());

-- +goose Down
DROP TABLE screening_settings;

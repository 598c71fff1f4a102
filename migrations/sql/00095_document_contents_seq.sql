-- Document contents travel in the workstation sync feed
-- (cloud/internal/syncfeed/pgstore, kind document_content), so each
-- stored or replaced content takes the organisation's next change
-- sequence, as ingest's other writes do (cloud/internal/ingest content.go).
-- Contents stored before this migration are numbered after the org's
-- current sequence, in the order they were fetched.
-- +goose Up
SELECT set_config('app.platform', 'on', true);
ALTER TABLE document_contents ADD COLUMN change_seq bigint;
WITH numbered AS (
  SELECT d.org_id, d.id,
         o.change_seq + row_number() OVER (PARTITION BY d.org_id ORDER BY d.fetched_at, d.id) AS seq
    FROM document_contents d JOIN organizations o ON o.id = d.org_id
)
UPDATE document_contents d SET change_seq = n.seq FROM numbered n WHERE d.org_id = n.org_id AND d.id = n.id;
UPDATE organizations o SET change_seq = o.change_seq + c.n
  FROM (SELECT org_id, count(*) AS n FROM document_contents GROUP BY org_id) c
 WHERE o.id = c.org_id;
ALTER TABLE document_contents ALTER COLUMN change_seq SET NOT NULL;
CREATE INDEX document_contents_seq ON document_contents (org_id, change_seq);

-- +goose Down
DROP INDEX document_contents_seq;
ALTER TABLE document_contents DROP COLUMN change_seq;

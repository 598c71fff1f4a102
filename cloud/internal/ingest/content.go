package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/tenancy"
)

// DefaultMaxDocumentBytes bounds one document's content fetched at ingest.
const DefaultMaxDocumentBytes = 20 << 20

// BinarySource is what fetching document content needs (*epic.Client). A
// Source that is also a BinarySource gets the content of every ingested
// DocumentReference attachment given by url.
type BinarySource interface {
	Binary(ctx context.Context, ref string) (*epic.Binary, error)
}

type attachmentRef struct {
	index int
	url   string
	size  int64 // declared, -1 when absent
}

// attachmentsToFetch lists a DocumentReference's attachments given by url
// (inline data already travels inside the stored resource).
func attachmentsToFetch(raw json.RawMessage) []attachmentRef {
	var body struct {
		Content []struct {
			Attachment struct {
				URL  string `json:"url"`
				Data string `json:"data"`
				Size *int64 `json:"size"`
			} `json:"attachment"`
		} `json:"content"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return nil
	}
	var out []attachmentRef
	for i, c := range body.Content {
		if i > 99 {
			break
		}
		a := c.Attachment
		if a.URL == "" || a.Data != "" {
			continue
		}
		ref := attachmentRef{index: i, url: a.URL, size: -1}
		if a.Size != nil {
			ref.size = *a.Size
		}
		out = append(out, ref)
	}
	return out
}

func contentID(org tenancy.OrgID, docID string, index int) uuid.UUID {
	return uuid.NewSHA1(rowNS, fmt.Appendf(nil, "%s|content|%s|%d", org, docID, index))
}

// mib says a size in words: "512 bytes", "40 KiB", "31.5 MiB".
func mib(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// fetchContents fetches and stores, sealed, the content of the attachments
// of docs (valid DocumentReferences of one page, already stored) that are
// not stored yet for the document's current version. Content over max, or
// that the server cannot give (not found, not a Binary under the FHIR base,
// malformed), quarantines the DocumentReference with the reason; the
// document itself stays stored. Other failures (5xx, 429 after retries,
// authorization) are returned: the search is then incomplete and is read
// again on the next run.
func (s *Store) fetchContents(ctx context.Context, org tenancy.OrgID, src BinarySource, docs []Resource, max int64) (fetched, quarantined int, err error) {
	type todo struct {
		doc Resource
		att attachmentRef
	}
	var want []todo
	var ids []string
	for _, d := range docs {
		if d.Ours || d.Type != "DocumentReference" {
			continue
		}
		for _, a := range attachmentsToFetch(d.Raw) {
			want = append(want, todo{d, a})
			ids = append(ids, contentID(org, d.ID, a.index).String())
		}
	}
	if len(want) == 0 {
		return 0, 0, nil
	}
	have := map[string][]byte{}
	var key *envelope.OrgKey
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var err error
		if key, err = s.keys.ForOrg(ctx, tx, org); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id::text, doc_content_mac FROM document_contents WHERE org_id = $1 AND id = ANY($2::uuid[])`, org, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var mac []byte
			if err := rows.Scan(&id, &mac); err != nil {
				return err
			}
			have[id] = mac
		}
		return rows.Err()
	})
	if err != nil {
		return 0, 0, fmt.Errorf("reading stored document contents: %w", err)
	}
	for _, w := range want {
		id := contentID(org, w.doc.ID, w.att.index)
		docMAC := key.BlindIndex("resource/"+w.doc.Type, string(w.doc.Raw))
		if string(have[id.String()]) == string(docMAC) {
			continue // fetched for this version already
		}
		problem := ""
		var bin *epic.Binary
		if w.att.size > max {
			problem = fmt.Sprintf("attachment %d declares %s, over the %s limit for document content; not fetched", w.att.index+1, mib(w.att.size), mib(max))
		} else {
			var err error
			bin, err = src.Binary(ctx, w.att.url)
			switch {
			case err == nil && int64(len(bin.Data)) > max:
				problem = fmt.Sprintf("attachment %d is %s, over the %s limit for document content; not stored", w.att.index+1, mib(int64(len(bin.Data))), mib(max))
			case errors.Is(err, epic.ErrTooLarge):
				problem = fmt.Sprintf("attachment %d is larger than the FHIR client accepts, over the %s limit for document content; not stored", w.att.index+1, mib(max))
			case errors.Is(err, epic.ErrNotFound):
				problem = fmt.Sprintf("attachment %d: the server has no content at its url", w.att.index+1)
			case errors.Is(err, epic.ErrBadRequest), errors.Is(err, epic.ErrMalformed):
				problem = fmt.Sprintf("attachment %d: its content could not be fetched (%s)", w.att.index+1, scrub(errKind(err)))
			case err != nil:
				return fetched, quarantined, fmt.Errorf("fetching content of DocumentReference %s: %w", w.doc.ID, err)
			}
		}
		err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
			if problem != "" {
				b := &pgx.Batch{}
				if err := queueQuarantine(b, key, org, &Invalid{Type: w.doc.Type, ID: w.doc.ID, Reason: problem}); err != nil {
					return err
				}
				return tx.SendBatch(ctx, b).Close()
			}
			if bin.Data == nil {
				bin.Data = []byte{} // empty content is still content: seal it
			}
			data, err := key.Seal(envelope.Field{Table: "document_contents", Column: "data_enc", RowID: id.String()}, bin.Data)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(bin.Data)
			ct := bin.ContentType
			if len(ct) > 200 {
				ct = ct[:200]
			}
			// The content travels in the sync feed: it takes the org's
			// next change sequence, as every feed write does.
			var seq int64
			if err := tx.QueryRow(ctx, `UPDATE organizations SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq`,
				org).Scan(&seq); err != nil {
				return fmt.Errorf("taking change sequence: %w", err)
			}
			_, err = tx.Exec(ctx, `INSERT INTO document_contents (org_id, id, document_fhir_id, attachment_index, patient_fhir_id,
					content_type, size_bytes, data_enc, data_mac, doc_content_mac, change_seq)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
				ON CONFLICT (org_id, id) DO UPDATE SET patient_fhir_id = EXCLUDED.patient_fhir_id, content_type = EXCLUDED.content_type,
					size_bytes = EXCLUDED.size_bytes, data_enc = EXCLUDED.data_enc, data_mac = EXCLUDED.data_mac,
					doc_content_mac = EXCLUDED.doc_content_mac, change_seq = EXCLUDED.change_seq, fetched_at = now()`,
				org, id, w.doc.ID, w.att.index, w.doc.PatientID, ct, len(bin.Data), data,
				key.BlindIndex("document/content", hex.EncodeToString(sum[:])), docMAC, seq)
			return err
		})
		if err != nil {
			return fetched, quarantined, fmt.Errorf("storing document content: %w", err)
		}
		if problem == "" {
			fetched++
		} else {
			quarantined++
		}
	}
	return fetched, quarantined, nil
}

// errKind names an epic error by its kind and status only.
func errKind(err error) string {
	var fe *epic.Error
	if errors.As(err, &fe) {
		if fe.StatusCode != 0 {
			return fmt.Sprintf("%v, HTTP %d", fe.Kind, fe.StatusCode)
		}
		return fmt.Sprint(fe.Kind)
	}
	return "unreadable"
}

// DocumentContent is a stored attachment's content.
type DocumentContent struct {
	ContentType string
	Data        []byte
}

// DocumentContent returns the content of attachment index (0-based) of a
// stored DocumentReference, recording the PHI read.
func (s *Store) DocumentContent(ctx context.Context, org tenancy.OrgID, rd Reader, docID string, index int) (DocumentContent, error) {
	var out DocumentContent
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		var id, patient string
		var enc []byte
		err = tx.QueryRow(ctx, `SELECT id::text, patient_fhir_id, content_type, data_enc FROM document_contents
			WHERE org_id = $1 AND document_fhir_id = $2 AND attachment_index = $3`, org, docID, index).Scan(&id, &patient, &out.ContentType, &enc)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if out.Data, err = key.Open(envelope.Field{Table: "document_contents", Column: "data_enc", RowID: id}, enc); err != nil {
			return fmt.Errorf("opening document content: %w", err)
		}
		return rd.record(ctx, tx, org, patient, "document_content", docID, "document")
	})
	if err != nil {
		return DocumentContent{}, fmt.Errorf("reading document content: %w", err)
	}
	return out, nil
}

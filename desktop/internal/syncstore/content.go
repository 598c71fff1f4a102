package syncstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
)

// KindDocumentContent is the feed kind that carries the original content of
// an Epic document (a DocumentReference attachment the cloud fetched), from
// sync protocol version 3.
const KindDocumentContent = "document_content"

// Setting key prefixes of synced document contents.
const (
	// PendingDocumentPrefix holds the documents synced from Epic that wait
	// for the document pipeline: "docpipe-pending/<document id>" →
	// PendingDocument JSON. docpipe/localdoc drains them into the
	// pipeline's queue (localdoc.Store.DrainPending) and removes each one
	// once queued. The key carries no PHI: the document id is a hash.
	PendingDocumentPrefix = "docpipe-pending/"
	// SyncedDocumentPrefix marks every document content stored so far
	// ("synced-document/<document id>"), so the same content arriving
	// again (a retried page, a resync) is neither stored nor queued twice,
	// and a content whose original was removed after its retention is not
	// brought back.
	SyncedDocumentPrefix = "synced-document/"
)

// PendingDocument is a synced document waiting for the document pipeline.
type PendingDocument struct {
	// ID is the local document's id (also the pipeline job's).
	ID string `json:"id"`
	// PatientID is the patient the document is filed under.
	PatientID string `json:"patient_id"`
	// Source names where it came from ("sync:document_content/<record>");
	// it may name an Epic document, so it is never logged.
	Source string    `json:"source"`
	Added  time.Time `json:"added"`
}

// documentContent is the feed payload of KindDocumentContent (the cloud's
// syncfeed.DocumentContent).
type documentContent struct {
	DocumentID      string `json:"document_id"`
	AttachmentIndex int    `json:"attachment_index"`
	PatientID       string `json:"patient_id"`
	ContentType     string `json:"content_type"`
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"`
	Data            []byte `json:"data"`
}

// ContentDocumentID is the local document id of a synced content: a hash
// of the feed record id and the content's SHA-256 (hex), so the same
// content of the same Epic attachment is always the same document, a
// changed content a new one, and the id names no one.
func ContentDocumentID(recordID, contentSHA256 string) string {
	sum := sha256.Sum256([]byte(recordID + "\x00" + contentSHA256))
	return "epic-" + hex.EncodeToString(sum[:16])
}

// errBadContent says a document content cannot be used.
var errBadContent = errors.New("document content: unreadable, or its size or SHA-256 does not match its bytes")

func readContent(payload []byte) (documentContent, error) {
	var d documentContent
	if err := json.Unmarshal(payload, &d); err != nil || d.PatientID == "" || d.SHA256 == "" {
		return documentContent{}, errBadContent
	}
	sum := sha256.Sum256(d.Data)
	want, err := hex.DecodeString(d.SHA256)
	if err != nil || !bytes.Equal(want, sum[:]) || d.Size != int64(len(d.Data)) {
		return documentContent{}, errBadContent
	}
	return d, nil
}

// contentChanges stores a synced document content as a local document of
// its patient (its bytes sealed as the document's content) and records it
// pending for the document pipeline, once per content. A content that
// cannot be read (or whose hash does not match) is counted in Unreadable
// and stores nothing. The cloud never deletes a content: a delete changes
// nothing (the original goes away with its retention, or its patient).
func (s *Store) contentChanges(c syncagent.Change) []localstore.Change {
	if c.Delete {
		return nil
	}
	d, err := readContent(c.Payload)
	if err != nil {
		s.unreadable.Add(1)
		return nil
	}
	id := ContentDocumentID(c.ID, d.SHA256)
	pending, err := json.Marshal(PendingDocument{ID: id, PatientID: d.PatientID, Source: "sync:" + KindDocumentContent + "/" + c.ID, Added: time.Now().UTC()})
	if err != nil {
		s.unreadable.Add(1)
		return nil
	}
	title := "Epic document"
	if d.AttachmentIndex > 0 {
		title = fmt.Sprintf("Epic document, attachment %d", d.AttachmentIndex+1)
	}
	return []localstore.Change{localstore.Func(func(t *localstore.Tx) error {
		_, err := t.Setting(SyncedDocumentPrefix + id)
		switch {
		case err == nil:
			return nil // stored before: once per content
		case !errors.Is(err, localstore.ErrNotFound):
			return fmt.Errorf("reading a synced document: %w", err)
		}
		content := d.Data
		if content == nil {
			content = []byte{}
		}
		if err := t.PutDocument(localstore.Document{ID: id, PatientID: d.PatientID, Title: title, ContentType: d.ContentType, Content: content}); err != nil {
			return err
		}
		if err := t.PutSetting(SyncedDocumentPrefix+id, []byte(d.SHA256)); err != nil {
			return err
		}
		return t.PutSetting(PendingDocumentPrefix+id, pending)
	})}
}

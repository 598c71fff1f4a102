package localdoc

import (
	"context"
	"encoding/json"
	"fmt"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncstore"
)

// Enqueuer takes a job into the document pipeline (*docpipe.Pipeline,
// whose Enqueue also wakes its Run).
type Enqueuer interface {
	Enqueue(ctx context.Context, job docpipe.Job) error
}

// DrainPending queues into the pipeline the Epic documents sync delivered
// (syncstore stores each content as a local document and lists it under
// syncstore.PendingDocumentPrefix in the page's transaction) and returns
// how many it queued. Each job is the local document's id (which Load
// reads), filed under its patient so the redactor knows whose identifiers
// to look for. A pending item is removed only after it is queued: a crash
// in between queues it again, which the queue ignores (a known job id is
// left as it is). Call it after each sync and when the pipeline starts.
func (s *Store) DrainPending(ctx context.Context, q Enqueuer) (int, error) {
	pending, err := s.ls.Settings(ctx, syncstore.PendingDocumentPrefix)
	if err != nil {
		return 0, fmt.Errorf("reading synced documents: %w", err)
	}
	n := 0
	for _, st := range pending {
		var p syncstore.PendingDocument
		if err := json.Unmarshal(st.Value, &p); err != nil || p.ID == "" {
			return n, fmt.Errorf("reading a synced document: unreadable pending item")
		}
		job := docpipe.Job{ID: p.ID, Source: p.Source, Patient: p.PatientID, Added: p.Added}
		if err := q.Enqueue(ctx, job); err != nil {
			return n, fmt.Errorf("queueing synced document %s: %w", p.ID, err)
		}
		if err := s.ls.Update(ctx, func(tx *localstore.Tx) error { return tx.DeleteSetting(st.Key) }); err != nil {
			return n, fmt.Errorf("queueing synced document %s: %w", p.ID, err)
		}
		n++
	}
	return n, nil
}

package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/tenancy"
)

// Source is what a run needs from an org's FHIR server (*epic.Client).
type Source interface {
	SearchPages(ctx context.Context, resourceType string, params url.Values, fn func(epic.Page) error) error
}

// RunOptions tune one run.
type RunOptions struct {
	// WindowDays is how far ahead the appointment window reaches (today …
	// today + WindowDays, in the org's time zone).
	WindowDays int
	// Concurrency is how many FHIR searches run at once (default 10).
	Concurrency int
	// PageSize is the _count of every search (default 100).
	PageSize int
	// Overlap is subtracted from a checkpoint's watermark when searching
	// (default 5 min), so resources committed by Epic with a lastUpdated a
	// little before our search started are not missed. Re-reading them is
	// harmless: unchanged resources are not written again.
	Overlap time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// MaxDocumentBytes bounds one attachment's content fetched from a
	// DocumentReference's url (default DefaultMaxDocumentBytes); larger
	// content quarantines the document with the reason.
	MaxDocumentBytes int64
}

// RunStats count what a run did.
type RunStats struct {
	Appointments, Patients int
	Searches               int64
	Written, Unchanged     int64
	Ours, Quarantined      int64
	// Contents counts document contents (Binary) fetched and stored.
	Contents int64
}

// Run ingests org from src: the appointment window, the patients on it, and
// each of those patients' chart resources since their checkpoints. Every
// FHIR page is stored in its own transaction and a checkpoint is written
// only once a search is stored in full, so a run stopped at any point
// (crash, cancel, deploy) and run again neither duplicates nor misses
// anything. A malformed resource is quarantined and the run goes on; a
// failed search fails the run (after the client's retries) once every
// other search has finished.
func (s *Store) Run(ctx context.Context, org tenancy.OrgID, src Source, opt RunOptions) (RunStats, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 10
	}
	if opt.PageSize <= 0 {
		opt.PageSize = 100
	}
	if opt.Overlap == 0 {
		opt.Overlap = 5 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxDocumentBytes <= 0 {
		opt.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	var st runState
	st.binaries, _ = src.(BinarySource)
	st.maxDoc = opt.MaxDocumentBytes
	loc, err := s.orgLocation(ctx, org)
	if err != nil {
		return RunStats{}, err
	}
	now := opt.Now().In(loc)
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	to := from.AddDate(0, 0, opt.WindowDays+1)

	// 1. The appointment window: re-read in full every run (it moves daily).
	patients := map[string]bool{}
	params := url.Values{"date": {"ge" + from.Format(time.RFC3339), "lt" + to.Format(time.RFC3339)}, "_count": {fmt.Sprint(opt.PageSize)}}
	err = s.search(ctx, org, src, "Appointment", params, &st, func(r Resource) {
		patients[r.PatientID] = true
	})
	if err != nil {
		return st.stats(), err
	}
	st.appointments = int(st.seen.Load())
	ids := make([]string, 0, len(patients))
	for id := range patients {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	// 2. The patients on it, 50 per search.
	for chunk := range slices.Chunk(ids, 50) {
		p := url.Values{"_id": {strings.Join(chunk, ",")}, "_count": {fmt.Sprint(opt.PageSize)}}
		if err := s.search(ctx, org, src, "Patient", p, &st, nil); err != nil {
			return st.stats(), err
		}
	}
	st.patients = len(ids)

	// 3. Each patient's chart, incremental from its checkpoints.
	marks, err := s.checkpoints(ctx, org)
	if err != nil {
		return st.stats(), err
	}
	type task struct{ patient, typ string }
	tasks := make(chan task)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range opt.Concurrency {
		wg.Go(func() {
			for t := range tasks {
				started := opt.Now()
				p := url.Values{"patient": {"Patient/" + t.patient}, "_count": {fmt.Sprint(opt.PageSize)}}
				if w, ok := marks[t.typ+"|"+t.patient]; ok {
					p.Set("_lastUpdated", "ge"+w.Add(-opt.Overlap).UTC().Format(time.RFC3339Nano))
				}
				err := s.search(wctx, org, src, t.typ, p, &st, nil)
				if err == nil {
					err = s.SetCheckpoint(wctx, org, t.typ, t.patient, started)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("patient %s %s: %w", t.patient, t.typ, err))
					mu.Unlock()
					if ctx.Err() != nil || errors.Is(err, epic.ErrUnauthorized) || errors.Is(err, epic.ErrAuthorization) {
						cancel() // no point going on
					}
				}
			}
		})
	}
feed:
	for _, id := range ids {
		for _, typ := range ChartTypes {
			select {
			case tasks <- task{id, typ}:
			case <-wctx.Done():
				break feed
			}
		}
	}
	close(tasks)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return st.stats(), fmt.Errorf("ingest stopped: %w", err)
	}
	if len(errs) > 0 {
		return st.stats(), fmt.Errorf("ingest: %d searches failed, first: %w", len(errs), errs[0])
	}
	return st.stats(), nil
}

type runState struct {
	appointments, patients int
	seen                   atomic.Int64
	searches               atomic.Int64
	written, unchanged     atomic.Int64
	ours, quarantined      atomic.Int64
	contents               atomic.Int64
	binaries               BinarySource // nil: document contents are not fetched
	maxDoc                 int64
}

func (st *runState) stats() RunStats {
	return RunStats{
		Appointments: st.appointments, Patients: st.patients, Searches: st.searches.Load(),
		Written: st.written.Load(), Unchanged: st.unchanged.Load(), Ours: st.ours.Load(), Quarantined: st.quarantined.Load(),
		Contents: st.contents.Load(),
	}
}

// search runs one search and stores each page in its own transaction,
// quarantining what does not validate. each, when set, sees every valid
// resource.
func (s *Store) search(ctx context.Context, org tenancy.OrgID, src Source, typ string, params url.Values, st *runState, each func(Resource)) error {
	st.searches.Add(1)
	return src.SearchPages(ctx, typ, params, func(p epic.Page) error {
		var b Batch
		for _, raw := range p.Resources {
			r, err := Parse(json.RawMessage(raw), typ)
			var inv *Invalid
			switch {
			case errors.As(err, &inv):
				b.Invalid = append(b.Invalid, inv)
				continue
			case err != nil:
				return err
			}
			b.Resources = append(b.Resources, r)
			if each != nil {
				each(r)
			}
		}
		st.seen.Add(int64(len(b.Resources)))
		a, err := s.Apply(ctx, org, b)
		if err != nil {
			return err
		}
		st.written.Add(int64(a.Written))
		st.unchanged.Add(int64(a.Unchanged))
		st.ours.Add(int64(a.Ours))
		st.quarantined.Add(int64(a.Quarantined))
		if typ == "DocumentReference" && st.binaries != nil {
			// After the page is stored: a crash before the content is
			// stored leaves the search without its checkpoint, so the
			// document is read again and its content fetched then.
			n, q, err := s.fetchContents(ctx, org, st.binaries, b.Resources, st.maxDoc)
			st.contents.Add(int64(n))
			st.quarantined.Add(int64(q))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) orgLocation(ctx context.Context, org tenancy.OrgID) (*time.Location, error) {
	var tz string
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT timezone FROM organizations WHERE id = $1`, org).Scan(&tz)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the organisation's time zone: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("the organisation's time zone is not known: %w", err)
	}
	return loc, nil
}

func (s *Store) checkpoints(ctx context.Context, org tenancy.OrgID) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT resource_type, patient_fhir_id, watermark FROM ingest_checkpoints WHERE org_id = $1`, org)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var typ, p string
			var w time.Time
			if err := rows.Scan(&typ, &p, &w); err != nil {
				return err
			}
			out[typ+"|"+p] = w
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints: %w", err)
	}
	return out, nil
}

package syncagent_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncagent/memlocal"
)

// The deterministic simulation. One seed drives everything: how many
// workstations, what people record on them, what ingest writes in the
// cloud, which actor takes the next step, and where faults strike: a
// workstation killed between any two steps of its agent (its in-memory
// state is lost, its local store kept), requests lost, responses lost
// after the cloud committed, responses duplicated or delivered late to a
// later request, cloud restarts (everything in flight lost). Then faults
// stop, everything runs to quiescence, and the checks: every workstation
// holds exactly the cloud's data, no acknowledged write is missing, no
// entry was applied twice, no record went back in sequence.
//
// Agents run in goroutines, but only one runs at a time: every store and
// cloud call parks the agent at a yield point and the scheduler picks, by
// the seed, who moves next. So a seed replays exactly.

var (
	simSeeds = flag.Int("sim.seeds", 10000, "number of simulation seeds to run")
	simStart = flag.Uint64("sim.start", 1, "first simulation seed")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed, with a trace")
	simSteps = flag.Int("sim.steps", 120, "fault-phase steps per seed")
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(m.Run())
}

// TestSimulation runs the seeds and prints one summary line.
func TestSimulation(t *testing.T) {
	seeds := make([]uint64, 0, *simSeeds)
	if *simSeed != 0 {
		seeds = append(seeds, *simSeed)
	} else {
		for i := range *simSeeds {
			seeds = append(seeds, *simStart+uint64(i))
		}
	}
	start := time.Now()
	var (
		mu       sync.Mutex
		failed   []uint64
		firstErr string
		stats    simStats
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	workers := min(runtime.GOMAXPROCS(0), 4)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(seeds) {
					return
				}
				s := newSim(seeds[i], *simSeed != 0)
				err := s.run()
				mu.Lock()
				stats.add(s.stats)
				if err != nil {
					failed = append(failed, seeds[i])
					if firstErr == "" {
						firstErr = fmt.Sprintf("seed %d: %v%s", seeds[i], err, s.traceText())
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	result := "all converged"
	if len(failed) > 0 {
		result = fmt.Sprintf("%d FAILED (first: seed %d)", len(failed), failed[0])
	}
	fmt.Printf("sync simulation: %d seeds from %d, %s; %d steps, %d crashes, %d cloud restarts, %d lost/late/duplicated responses, %d entries acknowledged, %d pages applied, in %.1fs\n",
		len(seeds), seeds[0], result, stats.steps, stats.crashes, stats.restarts, stats.netFaults, stats.acked, stats.pages, time.Since(start).Seconds())
	if len(failed) > 0 {
		t.Errorf("%s\nreplay: cd desktop && go test ./internal/syncagent -run 'TestSimulation$' -sim.seed=%d -v", firstErr, failed[0])
	}
}

type simStats struct {
	steps, crashes, restarts, netFaults, acked, pages int
}

func (s *simStats) add(o simStats) {
	s.steps += o.steps
	s.crashes += o.crashes
	s.restarts += o.restarts
	s.netFaults += o.netFaults
	s.acked += o.acked
	s.pages += o.pages
}

// errCrash unwinds a killed agent's goroutine.
type crash struct{}

// proc is one agent goroutine under the scheduler.
type proc struct {
	resume chan bool // true: crash now
	parked chan struct{}
	done   chan struct{}
	rounds int // completed SyncOnce calls
	lastOK bool
}

func (p *proc) yield() {
	p.parked <- struct{}{}
	if <-p.resume {
		panic(crash{})
	}
}

type desk struct {
	n     int
	store *memlocal.Store
	proc  *proc
	// enqueued is every entry ever recorded here; acks every
	// acknowledgement the agent received (and then removed its entry).
	enqueued map[string]syncagent.Entry
	acks     map[string]syncagent.Ack
}

type sim struct {
	seed   uint64
	rng    *rand.Rand
	cloud  *simCloud
	desks  []*desk
	faults bool
	// late holds responses kept back to be delivered to a later request
	// (duplicated or reordered); a cloud restart loses them.
	latePulls  []syncagent.Pulled
	latePushes [][]syncagent.Ack
	stats      simStats
	tracing    bool
	trace      []string
	n          int // entries created
}

func newSim(seed uint64, tracing bool) *sim {
	return &sim{seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cloud: newSimCloud(), tracing: tracing}
}

func (s *sim) logf(format string, args ...any) {
	if s.tracing {
		s.trace = append(s.trace, fmt.Sprintf(format, args...))
	}
}

func (s *sim) traceText() string {
	if len(s.trace) == 0 {
		return ""
	}
	return "\ntrace:\n  " + strings.Join(s.trace, "\n  ")
}

// simNet is a desk's view of the cloud, with faults.
type simNet struct {
	s *sim
	d *desk
}

var errNet = errors.New("simulated network failure")

func (n simNet) Pull(_ context.Context, cursor string, limit int) (syncagent.Pulled, error) {
	s := n.s
	n.d.proc.yield()
	if s.faults {
		switch r := s.rng.IntN(20); {
		case r == 0:
			s.stats.netFaults++
			s.logf("desk %d pull(%q): request lost", n.d.n, cursor)
			return syncagent.Pulled{}, errNet
		case r == 1 && len(s.latePulls) > 0:
			s.stats.netFaults++
			i := s.rng.IntN(len(s.latePulls))
			p := s.latePulls[i]
			s.logf("desk %d pull(%q): late response from %q delivered", n.d.n, cursor, p.From)
			return p, nil
		}
	}
	p, err := s.cloud.pull(cursor, limit)
	s.logf("desk %d pull(%q) → %d changes, next %q, more %v, err %v", n.d.n, cursor, len(p.Changes), p.Next, p.HasMore, err)
	n.d.proc.yield()
	if s.faults && err == nil {
		switch r := s.rng.IntN(20); {
		case r == 0:
			s.stats.netFaults++
			s.logf("desk %d: pull response lost", n.d.n)
			return syncagent.Pulled{}, errNet
		case r == 1:
			s.stats.netFaults++
			s.latePulls = append(s.latePulls, p)
		}
	}
	return p, err
}

func (n simNet) Push(_ context.Context, es []syncagent.Entry) ([]syncagent.Ack, error) {
	s := n.s
	n.d.proc.yield()
	if s.faults {
		switch r := s.rng.IntN(20); {
		case r == 0:
			s.stats.netFaults++
			s.logf("desk %d push(%d): request lost", n.d.n, len(es))
			return nil, errNet
		case r == 1 && len(s.latePushes) > 0:
			s.stats.netFaults++
			s.cloud.push(es) // the current request is applied; an old answer arrives
			a := s.latePushes[s.rng.IntN(len(s.latePushes))]
			s.logf("desk %d push(%d): applied, late response with %d acks delivered", n.d.n, len(es), len(a))
			return a, nil
		}
	}
	acks := s.cloud.push(es)
	s.logf("desk %d push(%d) → %v", n.d.n, len(es), acks)
	n.d.proc.yield()
	if s.faults {
		switch r := s.rng.IntN(15); {
		case r == 0:
			s.stats.netFaults++
			s.logf("desk %d: push response lost after commit", n.d.n)
			return nil, errNet
		case r == 1:
			s.stats.netFaults++
			s.latePushes = append(s.latePushes, acks)
		}
	}
	for _, a := range acks {
		n.d.acks[a.ID] = a
	}
	return acks, nil
}

// simStore parks the agent around every local store call.
type simStore struct {
	d *desk
}

func (st simStore) Cursor(ctx context.Context) (string, error) {
	st.d.proc.yield()
	return st.d.store.Cursor(ctx)
}

func (st simStore) ApplyPage(ctx context.Context, p syncagent.Page) error {
	st.d.proc.yield()
	err := st.d.store.ApplyPage(ctx, p)
	st.d.proc.yield()
	return err
}

func (st simStore) Outbox(ctx context.Context, limit int) ([]syncagent.Entry, error) {
	st.d.proc.yield()
	return st.d.store.Outbox(ctx, limit)
}

func (st simStore) Ack(ctx context.Context, ids ...string) error {
	st.d.proc.yield()
	err := st.d.store.Ack(ctx, ids...)
	st.d.proc.yield()
	return err
}

// start runs a fresh agent for d, parked at its first yield.
func (s *sim) start(d *desk) {
	p := &proc{resume: make(chan bool), parked: make(chan struct{}), done: make(chan struct{})}
	d.proc = p
	a := syncagent.New(simStore{d}, simNet{s, d}, syncagent.Options{
		PageSize:  1 + s.rng.IntN(4),
		PushBatch: 1 + s.rng.IntN(3),
		Rand:      rand.New(rand.NewPCG(s.rng.Uint64(), 1)),
	})
	go func() {
		defer close(p.done)
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(crash); !ok {
					panic(r)
				}
			}
		}()
		p.yield()
		for {
			_, err := a.SyncOnce(context.Background())
			p.rounds++
			p.lastOK = err == nil
			p.yield()
		}
	}()
	<-p.parked
}

// step lets d's agent run to its next yield point.
func (s *sim) step(d *desk) {
	d.proc.resume <- false
	<-d.proc.parked
}

// kill crashes d's agent where it is parked.
func (s *sim) kill(d *desk) {
	d.proc.resume <- true
	<-d.proc.done
}

var hashes = []string{strings.Repeat("a", 64), strings.Repeat("b", 64)}

// record is a person recording a result on desk d.
func (s *sim) record(d *desk) {
	s.n++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", s.n)
	var e syncagent.Entry
	switch s.rng.IntN(3) {
	case 0:
		rec := fmt.Sprintf("o%d", s.rng.IntN(3))
		for _, p := range d.store.Pending() {
			if p.Kind == "override" && p.RecordID == rec {
				return // the UI edits the pending change in place
			}
		}
		var base int64
		if r, ok := d.store.Record("override", rec); ok {
			base = r.Seq
		}
		e = syncagent.Entry{ID: id, Kind: "override", RecordID: rec, BaseSeq: base, Payload: fmt.Appendf(nil, `{"desk":%d,"n":%d}`, d.n, s.n)}
	case 1:
		e = syncagent.Entry{ID: id, Kind: "document_result", DocumentID: fmt.Sprintf("doc%d", s.rng.IntN(3)),
			ContentSHA256: hashes[s.rng.IntN(2)], PipelineVersion: fmt.Sprintf("ocr-%d", 1+s.rng.IntN(2)),
			Payload: fmt.Appendf(nil, `{"desk":%d,"text":"[REDACTED] %d"}`, d.n, s.n)}
	default:
		e = syncagent.Entry{ID: id, Kind: "print_event", Payload: fmt.Appendf(nil, `{"desk":%d}`, d.n)}
	}
	_ = d.store.Enqueue(e)
	d.enqueued[e.ID] = e
	s.logf("desk %d records %s %s%s", d.n, e.Kind, e.RecordID, e.DocumentID)
}

var ingestKinds = []string{"patient", "appointment", "chart_resource", "document", "config", "screening_type"}

func (s *sim) ingest() {
	kind := ingestKinds[s.rng.IntN(len(ingestKinds))]
	id := fmt.Sprintf("%s%d", kind[:2], s.rng.IntN(4))
	del := s.rng.IntN(6) == 0
	s.cloud.put(kind, id, del, fmt.Sprintf(`{"v":%d}`, s.cloud.seq+1))
	s.logf("cloud writes %s/%s (delete %v) at %d", kind, id, del, s.cloud.seq)
}

func (s *sim) run() (err error) {
	nd := 1 + s.rng.IntN(3)
	for i := range nd {
		d := &desk{n: i, store: memlocal.New(), enqueued: map[string]syncagent.Entry{}, acks: map[string]syncagent.Ack{}}
		s.desks = append(s.desks, d)
		s.start(d)
	}
	defer func() {
		for _, d := range s.desks {
			s.kill(d)
		}
	}()
	// Some data before the first sync.
	for range s.rng.IntN(8) {
		s.ingest()
	}
	s.faults = true
	steps := *simSteps/2 + s.rng.IntN(*simSteps)
	for range steps {
		s.stats.steps++
		d := s.desks[s.rng.IntN(len(s.desks))]
		switch r := s.rng.IntN(100); {
		case r < 8:
			s.ingest()
		case r < 16:
			s.record(d)
		case r < 20:
			s.stats.crashes++
			s.logf("desk %d killed", d.n)
			s.kill(d)
			s.start(d)
		case r < 22:
			s.stats.restarts++
			s.logf("cloud restarts")
			s.latePulls, s.latePushes = nil, nil
		default:
			s.step(d)
		}
	}
	// Quiescence: no more faults, writes or crashes; let every agent run
	// whole syncs until a round changes nothing anywhere.
	s.faults = false
	s.latePulls, s.latePushes = nil, nil
	s.logf("faults stop")
	for round := 0; ; round++ {
		if round > 50 {
			return fmt.Errorf("no quiescence after %d rounds", round)
		}
		before := s.cloud.seq
		allOK := true
		for _, d := range s.desks {
			// Finish the sync in progress, then run two whole ones.
			target := d.proc.rounds + 2
			for d.proc.rounds < target {
				s.step(d)
				if s.stats.steps++; s.stats.steps > 10_000_000 {
					return errors.New("agent never finishes a sync")
				}
			}
			allOK = allOK && d.proc.lastOK
		}
		if allOK && s.cloud.seq == before && round > 0 {
			break
		}
	}
	for _, d := range s.desks {
		s.stats.acked += len(d.acks)
		s.stats.pages += d.store.Applied()
	}
	return s.check()
}

// check asserts convergence, no lost acknowledged write, nothing applied
// twice.
func (s *sim) check() error {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	want := map[string]memlocal.Record{}
	for k, r := range s.cloud.recs {
		if inFeed[r.kind] && !r.del {
			want[k] = memlocal.Record{Payload: r.payload, Seq: r.seq}
		}
	}
	for _, d := range s.desks {
		got := d.store.Records()
		for k, w := range want {
			if g, ok := got[k]; !ok {
				fail("desk %d lacks %s (seq %d)", d.n, k, w.Seq)
			} else if g != w {
				fail("desk %d holds %s = %s@%d; cloud has %s@%d", d.n, k, g.Payload, g.Seq, w.Payload, w.Seq)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				fail("desk %d holds %s, which the cloud does not have", d.n, k)
			}
		}
		if p := d.store.Pending(); len(p) > 0 {
			fail("desk %d outbox still holds %d entries", d.n, len(p))
		}
		for _, v := range d.store.Violations() {
			fail("desk %d: %s", d.n, v)
		}
		for id, e := range d.enqueued {
			r, ok := s.cloud.receipts[id]
			if !ok {
				fail("desk %d: entry %s (%s) never reached the cloud", d.n, id, e.Kind)
				continue
			}
			if a, ok := d.acks[id]; ok && a != r.ack {
				fail("desk %d: entry %s acknowledged as %+v, cloud's receipt says %+v", d.n, id, a, r.ack)
			}
			if err := s.effectPresent(e, r.ack); err != "" {
				fail("desk %d: acknowledged entry %s lost: %s", d.n, id, err)
			}
		}
	}
	for id, n := range s.cloud.applied {
		if n > 1 {
			fail("entry %s applied %d times", id, n)
		}
	}
	if len(errs) > 0 {
		if len(errs) > 10 {
			errs = append(errs[:10], fmt.Sprintf("... and %d more", len(errs)-10))
		}
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// effectPresent checks that an acknowledged entry's effect is in the
// cloud's data.
func (s *sim) effectPresent(e syncagent.Entry, a syncagent.Ack) string {
	switch a.Status {
	case syncagent.AckApplied:
		key := e.Kind + "/" + e.ID
		switch e.Kind {
		case "override":
			key = "override/" + e.RecordID
		case "document_result":
			key = "document_result/" + e.DocumentID + "/" + e.ContentSHA256 + "/" + e.PipelineVersion
		}
		r, ok := s.cloud.recs[key]
		if !ok || r.seq < a.Seq {
			return fmt.Sprintf("%s missing or older than seq %d", key, a.Seq)
		}
		if e.Kind != "override" && r.payload != string(e.Payload) {
			return fmt.Sprintf("%s was overwritten", key)
		}
	case syncagent.AckConflict:
		if _, ok := s.cloud.recs["override_conflict/"+e.RecordID+"/"+e.ID]; !ok {
			return "conflict record missing"
		}
	case syncagent.AckAlreadyStored:
		if _, ok := s.cloud.recs["document_result/"+e.DocumentID+"/"+e.ContentSHA256+"/"+e.PipelineVersion]; !ok {
			return "stored result missing"
		}
	}
	return ""
}

package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/tenancy"
)

// Kind names what is wrong with a chain.
type Kind string

// Kinds of problem Verify reports.
const (
	// Modified: an entry's contents no longer match its hash.
	Modified Kind = "modified"
	// Reordered: an entry's contents match its hash only at another
	// sequence number (Problem.WrittenSeq): it was moved.
	Reordered Kind = "reordered"
	// Deleted: entries Seq…LastSeq are missing from inside the chain.
	Deleted Kind = "deleted"
	// Unlinked: entry Seq is chained to a different entry than the one now
	// at Seq-1: entry Seq-1 was rewritten and re-hashed, or Seq was forged.
	Unlinked Kind = "unlinked"
	// Truncated: entries Seq…LastSeq were removed from the end; the chain
	// head still records LastSeq.
	Truncated Kind = "truncated"
	// BeyondHead: entries Seq…LastSeq lie after the chain head: they were
	// inserted outside the chain.
	BeyondHead Kind = "beyond_head"
	// HeadMismatch: the chain head's hash is not the hash of entry Seq.
	HeadMismatch Kind = "head_mismatch"
	// NoHead: the organisation has entries but no chain head.
	NoHead Kind = "no_head"
	// AnchorMismatch: entry Seq differs from the hash anchored for it
	// outside the database: history was rewritten and re-hashed.
	AnchorMismatch Kind = "anchor_mismatch"
	// AnchorMissing: entry Seq was anchored outside the database but the
	// chain (entries and head) now ends before it.
	AnchorMissing Kind = "anchor_missing"
	// TooMany: more problems than MaxProblems; the rest were not listed.
	TooMany Kind = "too_many"
)

// MaxProblems bounds the problems listed per chain (and the memory Verify
// uses on a badly damaged chain).
const MaxProblems = 1000

// Problem is one thing wrong with one organisation's chain. It names
// positions only, never an entry's contents.
type Problem struct {
	Org        tenancy.OrgID
	Kind       Kind
	Seq        int64 // the entry concerned, or the first of a range
	LastSeq    int64 // the last of a range; equal to Seq for one entry
	WrittenSeq int64 // Reordered: where the entry was written
}

// String is the problem as one sentence for an operator.
func (p Problem) String() string {
	return fmt.Sprintf("org %s: %s", p.Org, p.sentence())
}

func (p Problem) sentence() string {
	switch p.Kind {
	case Modified:
		return fmt.Sprintf("entry %d was modified: its contents no longer match its hash", p.Seq)
	case Reordered:
		return fmt.Sprintf("entry %d was moved: it was written as entry %d", p.Seq, p.WrittenSeq)
	case Deleted:
		if p.Seq == 1 {
			return fmt.Sprintf("%s deleted: the chain starts at entry %d", entries(p.Seq, p.LastSeq, "was", "were"), p.LastSeq+1)
		}
		return fmt.Sprintf("%s deleted: the chain skips from entry %d to entry %d", entries(p.Seq, p.LastSeq, "was", "were"), p.Seq-1, p.LastSeq+1)
	case Unlinked:
		return fmt.Sprintf("entry %d is not chained to entry %d: entry %d was rewritten, or entry %d was forged", p.Seq, p.Seq-1, p.Seq-1, p.Seq)
	case Truncated:
		if p.Seq == 1 {
			return fmt.Sprintf("%s removed: the chain head records entry %d, but the chain is empty", entries(p.Seq, p.LastSeq, "was", "were"), p.LastSeq)
		}
		return fmt.Sprintf("%s removed from the end: the chain head records entry %d, the last entry is %d", entries(p.Seq, p.LastSeq, "was", "were"), p.LastSeq, p.Seq-1)
	case BeyondHead:
		return fmt.Sprintf("%s beyond the chain head (entry %d): inserted outside the chain", entries(p.Seq, p.LastSeq, "lies", "lie"), p.Seq-1)
	case HeadMismatch:
		return fmt.Sprintf("the chain head's hash is not entry %d's: the head or the entry was rewritten", p.Seq)
	case NoHead:
		return fmt.Sprintf("the chain has entries up to %d but no head: the head was removed", p.LastSeq)
	case AnchorMismatch:
		return fmt.Sprintf("entry %d differs from its anchored copy: the chain was rewritten and re-hashed up to here or beyond", p.Seq)
	case AnchorMissing:
		return fmt.Sprintf("entry %d was anchored but the chain now ends before it: the tail and the head were removed", p.Seq)
	case TooMany:
		return fmt.Sprintf("more than %d problems; the rest from entry %d on were not listed", MaxProblems, p.Seq)
	}
	return fmt.Sprintf("entry %d: %s", p.Seq, p.Kind)
}

func entries(first, last int64, one, many string) string {
	if first == last {
		return fmt.Sprintf("entry %d %s", first, one)
	}
	return fmt.Sprintf("entries %d–%d %s", first, last, many)
}

// Chain summarises the verification of one organisation's chain.
type Chain struct {
	Org      tenancy.OrgID
	Entries  int64  // entries read
	HeadSeq  int64  // what the chain head records (0 when none)
	HeadHash []byte // and its hash: anchor it when the chain verified
	Problems int
}

// Anchor is a chain position kept outside the database (an archive under
// object lock, an operator's notes). The hash chain alone cannot catch an
// attacker who rewrites the tail of a chain and its head consistently with
// the public algorithm; an anchor taken from an earlier, clean Report can.
type Anchor struct {
	Org  tenancy.OrgID
	Seq  int64
	Hash []byte
}

// Report is the result of Verify or VerifyAll.
type Report struct {
	Chains   []Chain
	Problems []Problem // in org order, then by seq
}

// OK reports whether every chain verified.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Entries is the total number of entries read.
func (r Report) Entries() int64 {
	var n int64
	for _, c := range r.Chains {
		n += c.Entries
	}
	return n
}

// WriteVerifyReport writes one line per problem ("org <id>: entry 5 was
// modified: …") and then one summary line, and reports whether the chains
// verified. `hpctl audit verify` prints it and exits non-zero when !ok.
func WriteVerifyReport(w io.Writer, r Report) (ok bool, err error) {
	for _, p := range r.Problems {
		if _, err := fmt.Fprintln(w, p.String()); err != nil {
			return r.OK(), fmt.Errorf("writing verify report: %w", err)
		}
	}
	status := "ok"
	if !r.OK() {
		status = "TAMPERED"
	}
	_, err = fmt.Fprintf(w, "audit verify: %s: %d chain(s), %d entries, %d problem(s)\n",
		status, len(r.Chains), r.Entries(), len(r.Problems))
	if err != nil {
		return r.OK(), fmt.Errorf("writing verify report: %w", err)
	}
	return r.OK(), nil
}

// Verify walks org's chain in sequence order inside a transaction scoped to
// org and reports every problem it finds, also checking the chain against
// any of org's anchors. It streams: memory stays bounded by MaxProblems and
// the anchors whatever the chain's length. An error means the chain could
// not be read, not that it is damaged.
func Verify(ctx context.Context, db *tenancy.DB, org tenancy.OrgID, anchors ...Anchor) (Report, error) {
	var c Chain
	var probs []Problem
	err := db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var err error
		c, probs, err = verifyChain(ctx, tx, org, anchors)
		return err
	})
	if err != nil {
		return Report{}, fmt.Errorf("verifying audit chain: %w", err)
	}
	return Report{Chains: []Chain{c}, Problems: probs}, nil
}

// VerifyAll verifies every organisation's chain with platform scope (for the
// root administrator and operators), one transaction per organisation, with
// any anchors.
func VerifyAll(ctx context.Context, db *tenancy.DB, anchors ...Anchor) (Report, error) {
	var orgs []tenancy.OrgID
	err := db.WithPlatform(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM organizations ORDER BY id`)
		if err != nil {
			return err
		}
		orgs, err = pgx.CollectRows(rows, pgx.RowTo[tenancy.OrgID])
		return err
	})
	if err != nil {
		return Report{}, fmt.Errorf("listing organisations to verify: %w", err)
	}
	var r Report
	for _, org := range orgs {
		err := db.WithPlatform(ctx, func(tx pgx.Tx) error {
			c, probs, err := verifyChain(ctx, tx, org, anchors)
			r.Chains = append(r.Chains, c)
			r.Problems = append(r.Problems, probs...)
			return err
		})
		if err != nil {
			return Report{}, fmt.Errorf("verifying audit chain of org %s: %w", org, err)
		}
	}
	return r, nil
}

// walker checks one chain entry by entry, remembering only the previous
// entry, the head and the (bounded) entries that need a second look.
type walker struct {
	org      tenancy.OrgID
	head     *headRow // nil when the org has no head
	n        int64
	prevSeq  int64
	prevHash []byte
	prevBad  bool
	beyond   *Problem // the open BeyondHead range
	suspects []Entry  // entries whose hash does not match: modified or moved
	anchors  map[int64][]byte
	probs    []Problem
	full     bool
}

type headRow struct {
	seq  int64
	hash []byte
}

func (w *walker) add(p Problem) {
	if w.full {
		return
	}
	if len(w.probs) >= MaxProblems {
		w.full = true
		w.probs = append(w.probs, Problem{Org: w.org, Kind: TooMany, Seq: p.Seq, LastSeq: p.Seq})
		return
	}
	p.Org = w.org
	if p.LastSeq == 0 {
		p.LastSeq = p.Seq
	}
	w.probs = append(w.probs, p)
}

func (w *walker) step(en Entry) {
	w.n++
	if w.head != nil && en.Seq > w.head.seq {
		if w.beyond == nil {
			w.beyond = &Problem{Kind: BeyondHead, Seq: en.Seq}
		}
		w.beyond.LastSeq = en.Seq
	}
	gap := en.Seq > w.prevSeq+1
	if gap {
		w.add(Problem{Kind: Deleted, Seq: w.prevSeq + 1, LastSeq: en.Seq - 1})
	}
	bad := !bytes.Equal(en.ComputeHash(), en.Hash)
	switch {
	case bad:
		if len(w.suspects) < MaxProblems {
			w.suspects = append(w.suspects, en)
		} else {
			w.add(Problem{Kind: Modified, Seq: en.Seq})
		}
	case !gap && !w.prevBad && !bytes.Equal(en.PrevHash, w.prevHash):
		w.add(Problem{Kind: Unlinked, Seq: en.Seq})
	}
	if h, ok := w.anchors[en.Seq]; ok && !bad && !bytes.Equal(h, en.Hash) {
		w.add(Problem{Kind: AnchorMismatch, Seq: en.Seq})
	}
	// A damaged entry at the head explains a head mismatch on its own.
	if w.head != nil && en.Seq == w.head.seq && !bad && !bytes.Equal(en.Hash, w.head.hash) {
		w.add(Problem{Kind: HeadMismatch, Seq: en.Seq})
	}
	w.prevSeq, w.prevHash, w.prevBad = en.Seq, en.Hash, bad
}

func (w *walker) finish() {
	if w.beyond != nil {
		w.add(*w.beyond)
	}
	switch {
	case w.head == nil && w.n > 0:
		w.add(Problem{Kind: NoHead, Seq: 1, LastSeq: w.prevSeq})
	case w.head != nil && w.head.seq > w.prevSeq:
		w.add(Problem{Kind: Truncated, Seq: w.prevSeq + 1, LastSeq: w.head.seq})
	}
	end := w.prevSeq
	if w.head != nil && w.head.seq > end {
		end = w.head.seq
	}
	for _, seq := range sortedKeys(w.anchors) {
		if seq > end {
			w.add(Problem{Kind: AnchorMissing, Seq: seq})
		}
	}
}

// verifyChain verifies one org's chain in tx, which may be scoped to the org
// or to the platform.
func verifyChain(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, anchors []Anchor) (Chain, []Problem, error) {
	anchored := map[int64][]byte{}
	for _, a := range anchors {
		if a.Org == org {
			anchored[a.Seq] = a.Hash
		}
	}
	// The head is read by the same statement as the entries, so both come
	// from one snapshot even while appends continue.
	const q = `SELECT ` + entryColumns + `,
	       (SELECT h.seq FROM audit_heads h WHERE h.org_id = $1) AS head_seq,
	       (SELECT h.hash FROM audit_heads h WHERE h.org_id = $1) AS head_hash
	FROM audit_log WHERE org_id = $1 ORDER BY audit_log.seq`
	for attempt := 0; ; attempt++ {
		w := &walker{org: org, prevHash: genesis, anchors: anchored}
		rows, err := tx.Query(ctx, q, org)
		if err != nil {
			return Chain{}, nil, fmt.Errorf("reading chain: %w", err)
		}
		for rows.Next() {
			var (
				en       Entry
				headSeq  *int64
				headHash []byte
			)
			en, err = scanEntry(rows, &headSeq, &headHash)
			if err != nil {
				rows.Close()
				return Chain{}, nil, fmt.Errorf("reading chain entry: %w", err)
			}
			if w.n == 0 && headSeq != nil {
				w.head = &headRow{seq: *headSeq, hash: headHash}
			}
			w.step(en)
		}
		if err := rows.Err(); err != nil {
			return Chain{}, nil, fmt.Errorf("reading chain: %w", err)
		}
		if w.n == 0 {
			// No entries in that snapshot: read the head, and start over if
			// entries have appeared since.
			var (
				h      headRow
				exists bool
			)
			err := tx.QueryRow(ctx, `SELECT h.seq, h.hash, EXISTS (SELECT 1 FROM audit_log l WHERE l.org_id = $1)
				FROM audit_heads h WHERE h.org_id = $1`, org).Scan(&h.seq, &h.hash, &exists)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return Chain{}, nil, fmt.Errorf("reading chain head: %w", err)
			case exists && attempt < 3:
				continue
			default:
				w.head = &h
			}
		}
		w.finish()
		if err := w.diagnose(ctx, tx); err != nil {
			return Chain{}, nil, err
		}
		sort.SliceStable(w.probs, func(i, j int) bool {
			if (w.probs[i].Kind == TooMany) != (w.probs[j].Kind == TooMany) {
				return w.probs[j].Kind == TooMany
			}
			return w.probs[i].Seq < w.probs[j].Seq
		})
		c := Chain{Org: org, Entries: w.n, Problems: len(w.probs)}
		if w.head != nil {
			c.HeadSeq, c.HeadHash = w.head.seq, w.head.hash
		}
		return c, w.probs, nil
	}
}

// diagnose decides, for each entry whose hash does not match, whether it was
// moved (its contents match its hash at another seq: the seq after its
// predecessor's, or before its successor's) or modified. Finding
// predecessors and successors takes one more streaming pass over the chain's
// hashes, only when there are suspects.
func (w *walker) diagnose(ctx context.Context, tx pgx.Tx) error {
	if len(w.suspects) == 0 {
		return nil
	}
	byPrev := map[string][]int{} // a suspect's prev_hash → suspects
	byHash := map[string][]int{} // a suspect's hash → suspects
	cands := make([]map[int64]bool, len(w.suspects))
	for i, en := range w.suspects {
		byPrev[string(en.PrevHash)] = append(byPrev[string(en.PrevHash)], i)
		byHash[string(en.Hash)] = append(byHash[string(en.Hash)], i)
		cands[i] = map[int64]bool{}
		if bytes.Equal(en.PrevHash, genesis) {
			cands[i][1] = true
		}
	}
	rows, err := tx.Query(ctx, `SELECT seq, hash, prev_hash FROM audit_log WHERE org_id = $1`, w.org)
	if err != nil {
		return fmt.Errorf("reading chain hashes: %w", err)
	}
	var (
		seq        int64
		hash, prev []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&seq, &hash, &prev}, func() error {
		for _, i := range byPrev[string(hash)] { // this row precedes suspect i
			cands[i][seq+1] = true
		}
		for _, i := range byHash[string(prev)] { // this row follows suspect i
			cands[i][seq-1] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading chain hashes: %w", err)
	}
	for i, en := range w.suspects {
		p := Problem{Kind: Modified, Seq: en.Seq}
		for _, c := range sortedKeys(cands[i]) {
			if c == en.Seq || c < 1 {
				continue
			}
			moved := en
			moved.Seq = c
			if bytes.Equal(moved.ComputeHash(), en.Hash) {
				p = Problem{Kind: Reordered, Seq: en.Seq, WrittenSeq: c}
				break
			}
		}
		w.add(p)
	}
	return nil
}

func sortedKeys[V any](m map[int64]V) []int64 {
	ks := make([]int64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

package syncagent_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"healthprep.dev/desktop/internal/syncagent"
)

// simCloud is the cloud as the simulation sees it: the sync protocol's
// semantics (cloud/internal/syncfeed's Feed over its in-memory store, which
// the desktop module may not import) restated over plain maps. Every field
// is durable: a server restart loses only what is in flight. The
// real-process test runs the agent against the real cloud binary.
type simCloud struct {
	seq      int64
	recs     map[string]cloudRec // kind/id
	receipts map[string]receipt  // client id
	// applied counts how many times each client id's effect was written:
	// more than once is a double application.
	applied map[string]int
}

type cloudRec struct {
	kind, id string
	del      bool
	payload  string
	seq      int64
}

type receipt struct {
	ack    syncagent.Ack
	digest string
}

func newSimCloud() *simCloud {
	return &simCloud{recs: map[string]cloudRec{}, receipts: map[string]receipt{}, applied: map[string]int{}}
}

var inFeed = map[string]bool{
	"config": true, "screening_type": true, "appointment": true, "patient": true, "chart_resource": true,
	"document": true, "override": true, "document_result": true, "override_conflict": true,
}

// put writes a record at the next seq.
func (c *simCloud) put(kind, id string, del bool, payload string) int64 {
	c.seq++
	c.recs[kind+"/"+id] = cloudRec{kind: kind, id: id, del: del, payload: payload, seq: c.seq}
	return c.seq
}

func (c *simCloud) pull(cursor string, limit int) (syncagent.Pulled, error) {
	var after int64
	if cursor != "" {
		s, ok := strings.CutPrefix(cursor, "c1.")
		n, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil {
			return syncagent.Pulled{}, fmt.Errorf("bad cursor %q", cursor)
		}
		after = n
	}
	if after > c.seq {
		return syncagent.Pulled{}, fmt.Errorf("cursor ahead")
	}
	var out []cloudRec
	for _, r := range c.recs {
		if r.seq > after && inFeed[r.kind] {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	if len(out) > limit {
		out = out[:limit]
	}
	p := syncagent.Pulled{From: cursor, Next: cursor, Latest: c.seq}
	if len(out) > 0 {
		last := out[len(out)-1].seq
		p.Next, p.HasMore = "c1."+strconv.FormatInt(last, 10), last < c.seq
	}
	if p.Next == "" {
		p.Next = "c1.0"
	}
	for _, r := range out {
		ch := syncagent.Change{Kind: r.kind, ID: r.id, Delete: r.del, Seq: r.seq}
		if !r.del {
			ch.Payload = []byte(r.payload)
		}
		p.Changes = append(p.Changes, ch)
	}
	return p, nil
}

func digest(e syncagent.Entry) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%d|%s", e.Kind, e.DocumentID, e.ContentSHA256, e.PipelineVersion, e.RecordID, e.BaseSeq, e.Payload)
}

type conflict struct {
	RecordID   string          `json:"record_id"`
	ClientID   string          `json:"client_id"`
	BaseSeq    int64           `json:"base_seq"`
	CurrentSeq int64           `json:"current_seq"`
	Resolved   bool            `json:"resolved,omitempty"`
	Proposed   json.RawMessage `json:"proposed,omitempty"`
}

// push applies a batch atomically (the simulation never fails half a
// batch: faults happen around the call).
func (c *simCloud) push(es []syncagent.Entry) []syncagent.Ack {
	acks := make([]syncagent.Ack, 0, len(es))
	for _, e := range es {
		d := digest(e)
		if r, ok := c.receipts[e.ID]; ok {
			if r.digest != d {
				acks = append(acks, syncagent.Ack{ID: e.ID, Status: syncagent.AckRejected, Message: "client_id: already used for a different entry"})
				continue
			}
			acks = append(acks, r.ack)
			continue
		}
		a := c.apply(e)
		a.ID = e.ID
		c.receipts[e.ID] = receipt{ack: a, digest: d}
		acks = append(acks, a)
	}
	return acks
}

func (c *simCloud) apply(e syncagent.Entry) syncagent.Ack {
	switch e.Kind {
	case "document_result":
		id := e.DocumentID + "/" + e.ContentSHA256 + "/" + e.PipelineVersion
		if r, ok := c.recs["document_result/"+id]; ok {
			return syncagent.Ack{Status: syncagent.AckAlreadyStored, Seq: r.seq}
		}
		c.applied[e.ID]++
		return syncagent.Ack{Status: syncagent.AckApplied, Seq: c.put("document_result", id, false, string(e.Payload))}
	case "override":
		var current int64
		if r, ok := c.recs["override/"+e.RecordID]; ok {
			current = r.seq
		}
		c.applied[e.ID]++
		if e.BaseSeq != current {
			p, _ := json.Marshal(conflict{RecordID: e.RecordID, ClientID: e.ID, BaseSeq: e.BaseSeq, CurrentSeq: current, Proposed: e.Payload})
			return syncagent.Ack{Status: syncagent.AckConflict, Seq: c.put("override_conflict", e.RecordID+"/"+e.ID, false, string(p))}
		}
		var open []cloudRec
		for _, r := range c.recs {
			if r.kind == "override_conflict" && strings.HasPrefix(r.id, e.RecordID+"/") {
				open = append(open, r)
			}
		}
		sort.Slice(open, func(i, j int) bool { return open[i].id < open[j].id })
		for _, r := range open {
			var cf conflict
			_ = json.Unmarshal([]byte(r.payload), &cf)
			if cf.Resolved {
				continue
			}
			cf.Resolved = true
			p, _ := json.Marshal(cf)
			c.put("override_conflict", r.id, false, string(p))
		}
		return syncagent.Ack{Status: syncagent.AckApplied, Seq: c.put("override", e.RecordID, false, string(e.Payload))}
	case "print_event":
		c.applied[e.ID]++
		return syncagent.Ack{Status: syncagent.AckApplied, Seq: c.put("print_event", e.ID, false, string(e.Payload))}
	}
	return syncagent.Ack{Status: syncagent.AckRejected, Message: "kind: unknown push kind"}
}

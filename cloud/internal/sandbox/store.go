package sandbox

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// entry is one stored resource.
type entry struct {
	typ, id string
	seq     uint64 // insertion order; kept by updates so paging stays stable
	version int
	updated time.Time
	patient string // the patient it belongs to ("" when none)
	obj     map[string]any
	raw     []byte
}

// store holds resources in memory, indexed by type, id and patient.
type store struct {
	mu        sync.RWMutex
	seq       uint64
	byType    map[string]map[string]*entry
	byPatient map[string]map[string]map[string]*entry // type -> patient id -> id -> entry
}

func newStore() *store {
	return &store{byType: map[string]map[string]*entry{}, byPatient: map[string]map[string]map[string]*entry{}}
}

// LoadStats counts what LoadDir read.
type LoadStats struct {
	Files     int
	Resources int
	ByType    map[string]int
}

// LoadDir reads every *.json file under dir (recursively): transaction or
// collection Bundles, whose urn:uuid references are rewritten to
// "<Type>/<id>", and single resources. A file that cannot be read stops the
// load with an error naming it; resources already loaded stay.
func (s *Sandbox) LoadDir(dir string) (LoadStats, error) {
	stats := LoadStats{ByType: map[string]int{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n, err := s.Load(data)
		if err != nil {
			return fmt.Errorf("loading %s: %w", path, err)
		}
		stats.Files++
		for t, c := range n {
			stats.ByType[t] += c
			stats.Resources += c
		}
		return nil
	})
	if err != nil {
		return stats, fmt.Errorf("loading FHIR directory: %w", err)
	}
	return stats, nil
}

// Load stores the resources of one JSON document (a Bundle or a single
// resource) and returns how many of each type it stored. Resources with the
// same type and id replace earlier ones.
func (s *Sandbox) Load(data []byte) (map[string]int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	rt, _ := obj["resourceType"].(string)
	if rt == "" {
		return nil, errors.New("missing resourceType")
	}
	var resources []map[string]any
	if rt == "Bundle" {
		entries, _ := obj["entry"].([]any)
		alias := map[string]string{}
		for i, e := range entries {
			eo, _ := e.(map[string]any)
			res, _ := eo["resource"].(map[string]any)
			if res == nil {
				return nil, fmt.Errorf("entry %d has no resource", i)
			}
			t, _ := res["resourceType"].(string)
			if t == "" {
				return nil, fmt.Errorf("entry %d has no resourceType", i)
			}
			id, _ := res["id"].(string)
			if id == "" {
				id = newID()
				res["id"] = id
			}
			if fu, _ := eo["fullUrl"].(string); fu != "" {
				alias[fu] = t + "/" + id
			}
			resources = append(resources, res)
		}
		for _, r := range resources {
			rewriteRefs(r, alias)
		}
	} else {
		resources = []map[string]any{obj}
	}
	counts := map[string]int{}
	now := s.now()
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	for _, r := range resources {
		t := r["resourceType"].(string)
		if _, err := s.store.put(r, now, false); err != nil {
			return counts, err
		}
		counts[t]++
	}
	return counts, nil
}

// rewriteRefs replaces every {"reference": "urn:uuid:..."} found in v with
// the resource it names inside the same Bundle.
func rewriteRefs(v any, alias map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "reference" {
				if to, ok := alias[s]; ok {
					x[k] = to
				}
				continue
			}
			rewriteRefs(val, alias)
		}
	case []any:
		for _, e := range x {
			rewriteRefs(e, alias)
		}
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// put stores r (which must carry resourceType and id). Its meta.lastUpdated
// is kept when present unless bump is set; otherwise it becomes now. The
// caller holds the write lock.
func (st *store) put(r map[string]any, now time.Time, bump bool) (*entry, error) {
	t, _ := r["resourceType"].(string)
	id, _ := r["id"].(string)
	if t == "" || id == "" {
		return nil, errors.New("resource without resourceType or id")
	}
	meta, _ := r["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		r["meta"] = meta
	}
	updated := now
	if lu, _ := meta["lastUpdated"].(string); lu != "" && !bump {
		tm, err := time.Parse(time.RFC3339Nano, lu)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: bad meta.lastUpdated %q", t, id, lu)
		}
		updated = tm
	}
	meta["lastUpdated"] = updated.UTC().Format(time.RFC3339Nano)
	old := st.byType[t][id]
	e := &entry{typ: t, id: id, updated: updated, obj: r, patient: patientOf(t, id, r), version: 1}
	if old != nil {
		e.seq, e.version = old.seq, old.version+1
		if p := st.byPatient[t][old.patient]; p != nil {
			delete(p, id)
		}
	} else {
		st.seq++
		e.seq = st.seq
	}
	meta["versionId"] = strconv.Itoa(e.version)
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding %s/%s: %w", t, id, err)
	}
	e.raw = raw
	if st.byType[t] == nil {
		st.byType[t] = map[string]*entry{}
	}
	st.byType[t][id] = e
	if e.patient != "" {
		if st.byPatient[t] == nil {
			st.byPatient[t] = map[string]map[string]*entry{}
		}
		if st.byPatient[t][e.patient] == nil {
			st.byPatient[t][e.patient] = map[string]*entry{}
		}
		st.byPatient[t][e.patient][id] = e
	}
	return e, nil
}

// patientOf returns the id of the patient a resource belongs to.
func patientOf(t, id string, r map[string]any) string {
	if t == "Patient" {
		return id
	}
	for _, k := range []string{"subject", "patient"} {
		if ref, ok := r[k].(map[string]any); ok {
			if s, _ := ref["reference"].(string); strings.HasPrefix(s, "Patient/") {
				return strings.TrimPrefix(s, "Patient/")
			}
		}
	}
	if t == "Appointment" {
		parts, _ := r["participant"].([]any)
		for _, p := range parts {
			po, _ := p.(map[string]any)
			actor, _ := po["actor"].(map[string]any)
			if s, _ := actor["reference"].(string); strings.HasPrefix(s, "Patient/") {
				return strings.TrimPrefix(s, "Patient/")
			}
		}
	}
	return ""
}

func (st *store) get(t, id string) *entry {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.byType[t][id]
}

// candidates returns the entries a search has to look at, sorted by seq:
// one patient's when the search names a patient, else all of the type.
func (st *store) candidates(t string, patient string, byPatient bool) []*entry {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var src map[string]*entry
	if byPatient {
		src = st.byPatient[t][patient]
	} else {
		src = st.byType[t]
	}
	out := make([]*entry, 0, len(src))
	for _, e := range src {
		out = append(out, e)
	}
	slices.SortFunc(out, bySeq)
	return out
}

func bySeq(a, b *entry) int { return cmp.Compare(a.seq, b.seq) }

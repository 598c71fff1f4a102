package testpeer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// FHIRConfig configures the in-memory FHIR R4 peer (Medplum's FHIR router
// behind node/fhir.cjs).
type FHIRConfig struct {
	// Dir is the working directory and holds the log.
	Dir string
}

// FHIR is a running in-memory FHIR R4 server. It supports create, read,
// update, delete and search (with _count, _sort and date prefixes; a
// reference search needs "Patient/<id>"), but no paging links, no _include
// and no authorization.
type FHIR struct {
	*Process
	// URL is the FHIR base, e.g. "http://127.0.0.1:P/fhir/R4".
	URL string

	client *http.Client
}

// StartFHIR starts the FHIR peer on a free loopback port.
func StartFHIR(ctx context.Context, cfg FHIRConfig) (*FHIR, error) {
	node, script, err := nodeScript("fhir.cjs")
	if err != nil {
		return nil, fmt.Errorf("starting FHIR peer: %w", err)
	}
	if _, _, err := nodeScript("node_modules/@medplum/fhir-router/package.json"); err != nil {
		return nil, fmt.Errorf("starting FHIR peer: %w", err)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("starting FHIR peer: FHIRConfig.Dir is empty")
	}
	client := &http.Client{Timeout: 30 * time.Second}
	proc, ps, err := startWithPorts(ctx, 1, func(ps []int) (spec, error) {
		return spec{
			name:  "medplum-fhir",
			path:  node,
			args:  []string{script, strconv.Itoa(ps[0]), "/fhir/R4"},
			dir:   cfg.Dir,
			ready: httpReady(client, "http://"+loopback(ps[0])+"/health"),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return &FHIR{Process: proc, URL: "http://" + loopback(ps[0]) + "/fhir/R4", client: client}, nil
}

// NewFHIR starts the FHIR peer for a test and stops it when the test ends.
func NewFHIR(t testing.TB) *FHIR {
	t.Helper()
	f, err := StartFHIR(context.Background(), FHIRConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	cleanup(t, f.Process)
	return f
}

// Load stores resources (structs, maps or json.RawMessage): one with an id
// is written with PUT under that id, one without is created with POST and
// gets an id from the server. It returns the stored resources' ids in
// order.
func (f *FHIR) Load(ctx context.Context, resources ...any) ([]string, error) {
	ids := make([]string, 0, len(resources))
	for i, r := range resources {
		raw, err := json.Marshal(r)
		if err != nil {
			return ids, fmt.Errorf("loading FHIR resource %d: %w", i, err)
		}
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil || head.ResourceType == "" {
			return ids, fmt.Errorf("loading FHIR resource %d: not a FHIR resource (no resourceType)", i)
		}
		method, url := http.MethodPost, f.URL+"/"+head.ResourceType
		if head.ID != "" {
			method, url = http.MethodPut, url+"/"+head.ID
		}
		var stored struct {
			ID string `json:"id"`
		}
		if err := f.do(ctx, method, url, raw, &stored); err != nil {
			return ids, fmt.Errorf("loading FHIR resource %d (%s): %w", i, head.ResourceType, err)
		}
		ids = append(ids, stored.ID)
	}
	return ids, nil
}

// Get fetches path (relative to URL, e.g. "Patient?name=doe") and decodes
// the JSON answer into v.
func (f *FHIR) Get(ctx context.Context, path string, v any) error {
	return f.do(ctx, http.MethodGet, f.URL+"/"+path, nil, v)
}

func (f *FHIR) do(ctx context.Context, method, url string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	res, err := f.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: status %d: %.300s", method, url, res.StatusCode, out)
	}
	if v != nil {
		return json.Unmarshal(out, v)
	}
	return nil
}

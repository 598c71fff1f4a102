package testpeer

import (
	"context"
	"testing"
)

func TestFHIRLoadsSearchesAndStops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := NewFHIR(t)
	ids, err := f.Load(ctx,
		map[string]any{"resourceType": "Patient", "id": "p1", "name": []any{map[string]any{"family": "Doe", "given": []string{"Jane"}}}, "birthDate": "1970-01-01"},
		map[string]any{"resourceType": "Observation", "status": "final", "subject": map[string]any{"reference": "Patient/p1"},
			"code": map[string]any{"text": "HbA1c"}, "effectiveDateTime": "2024-03-01"},
		map[string]any{"resourceType": "Observation", "status": "final", "subject": map[string]any{"reference": "Patient/p1"},
			"code": map[string]any{"text": "LDL"}, "effectiveDateTime": "2022-05-01"},
	)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(ids) != 3 || ids[0] != "p1" || ids[1] == "" {
		t.Fatalf("Load ids = %q, want p1 then two server ids", ids)
	}

	var patient struct {
		ID        string `json:"id"`
		BirthDate string `json:"birthDate"`
	}
	if err := f.Get(ctx, "Patient/p1", &patient); err != nil || patient.BirthDate != "1970-01-01" {
		t.Errorf("read Patient/p1 = %+v, %v; want birthDate 1970-01-01", patient, err)
	}

	var bundle struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource struct {
				ID   string `json:"id"`
				Code struct {
					Text string `json:"text"`
				} `json:"code"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := f.Get(ctx, "Observation?subject=Patient/p1&date=ge2023-01-01&_sort=-date", &bundle); err != nil {
		t.Fatalf("search: %v", err)
	}
	if bundle.ResourceType != "Bundle" || len(bundle.Entry) != 1 || bundle.Entry[0].Resource.Code.Text != "HbA1c" {
		t.Errorf("search since 2023 = %+v, want one Bundle entry (HbA1c)", bundle)
	}

	if _, err := f.Load(ctx, map[string]any{"name": "no type"}); err == nil {
		t.Error("Load of a non-resource succeeded, want an error")
	}
	if err := f.Get(ctx, "Patient/missing", nil); err == nil {
		t.Error("read of a missing Patient succeeded, want 404")
	}
	assertStopped(t, f.Process)
}

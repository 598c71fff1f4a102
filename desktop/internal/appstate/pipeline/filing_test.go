package pipeline_test

import (
	"context"
	"errors"
	"testing"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/appstate/pipeline"
	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/localdoc"
	"healthprep.dev/desktop/internal/localstore"
)

// memFiling has one processed and one still-unread unfiled document; MRN
// "4411" is its only patient.
type memFiling struct{ assigned map[string]string }

func (m memFiling) Unfiled(context.Context) ([]localstore.Document, error) {
	return []localstore.Document{
		{ID: "read", Title: "fax.pdf", Type: "consult", PipelineVersion: docpipe.PipelineVersion},
		{ID: "unread", Title: "scan.png"},
	}, nil
}

func (m memFiling) AssignMRN(_ context.Context, id, mrn string) error {
	if mrn != "4411" {
		return localdoc.ErrUnknownPatient
	}
	m.assigned[id] = mrn
	return nil
}

func TestUnfiledAndAssign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := memFiling{assigned: map[string]string{}}
	s := pipeline.New(pipeline.Config{Filing: f})
	u, err := s.Unfiled(ctx)
	if err != nil || len(u) != 1 || u[0] != (appstate.UnfiledDoc{DocumentID: "read", Name: "fax.pdf", Type: "consult"}) {
		t.Fatalf("Unfiled = %+v, %v; want only the document already read", u, err)
	}
	tests := []struct {
		mrn  string
		want error
	}{
		{"9999", appstate.ErrUnknownMRN},
		{" 4411\n", nil},
	}
	for _, tt := range tests {
		if err := s.Assign(ctx, "read", tt.mrn, appstate.User{}); !errors.Is(err, tt.want) {
			t.Errorf("Assign(%q) = %v, want %v", tt.mrn, err, tt.want)
		}
	}
	if f.assigned["read"] != "4411" {
		t.Errorf("assigned %v, want read under 4411", f.assigned)
	}
	if err := pipeline.New(pipeline.Config{}).Assign(ctx, "read", "4411", appstate.User{}); !errors.Is(err, pipeline.ErrNoFiling) {
		t.Errorf("Assign without filing = %v, want ErrNoFiling", err)
	}
}

package queuefile_test

import (
	"os"
	"path/filepath"
	"testing"

	"healthprep.dev/desktop/internal/docpipe"
	"healthprep.dev/desktop/internal/docpipe/queuefile"
	"healthprep.dev/desktop/internal/docpipe/queuetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Run(t, func(t *testing.T) (docpipe.Queue, func() docpipe.Queue) {
		path := filepath.Join(t.TempDir(), "queue.json")
		open := func() docpipe.Queue {
			q, err := queuefile.Open(path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return q
		}
		return open(), open
	})
}

func TestOpenDamagedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "queue.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := queuefile.Open(path); err == nil {
		t.Errorf("Open(damaged file) succeeded, want an error")
	}
	b, _ := os.ReadFile(path)
	if string(b) != "{not json" {
		t.Errorf("Open changed the damaged file")
	}
}

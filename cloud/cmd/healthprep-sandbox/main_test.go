package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := parse([]string{"-write-demo", dir, "-patients", "12", "-start", "2025-06-02", "-seed", "3"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(cfg, &out); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "patients", "*.json"))
	if len(files) != 12 || !strings.Contains(out.String(), "wrote 12 patients and 12 appointments") {
		t.Errorf("%d patient files, output %q; want 12 and a summary", len(files), out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "schedule.json")); err != nil {
		t.Error(err)
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-start", "June"}, "-start must be YYYY-MM-DD"},
		{[]string{"-backend-client-id", "x"}, "-backend-client-id and -backend-jwks-url go together"},
		{[]string{"-nope"}, "flag provided but not defined"},
	} {
		if _, err := parse(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%v) = %v, want %q", tc.args, err, tc.want)
		}
	}
}

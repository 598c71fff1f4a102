package prepsheet_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/prepsheettest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestTextGolden(t *testing.T) {
	t.Parallel()
	loc := chicago(t)
	minimal := prepsheet.Input{AsOf: prepsheettest.AsOf(), Location: loc,
		Patient: chart.Patient{ID: "pat-0002", Name: "Baby Doe", BirthDate: chart.D(2023, 9, 14)}}
	tests := []struct {
		file string
		in   prepsheet.Input
	}{
		{"typical.txt", prepsheettest.Typical(loc)},
		{"minimal.txt", minimal},
		{"large.txt", prepsheettest.Large(loc, 9, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			s := assemble(t, tt.in)
			var b bytes.Buffer
			if err := prepsheet.WriteText(&b, &s); err != nil {
				t.Fatal(err)
			}
			for i, l := range strings.Split(b.String(), "\n") {
				if n := utf8.RuneCountInString(l); n > prepsheet.TextWidth {
					t.Errorf("line %d is %d characters, wider than %d: %q", i+1, n, prepsheet.TextWidth, l)
				}
			}
			golden(t, tt.file, b.Bytes())
		})
	}
}

// TestJSONGolden pins the structured model's wire form, which the desktop
// UI and sync read.
func TestJSONGolden(t *testing.T) {
	t.Parallel()
	s := assemble(t, prepsheettest.Typical(chicago(t)))
	b, err := json.MarshalIndent(&s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "typical.json", append(b, '\n'))
	var back prepsheet.Sheet
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("decoding the sheet's JSON: %v", err)
	}
	again, _ := json.Marshal(&back)
	once, _ := json.Marshal(&s)
	if !bytes.Equal(again, once) {
		t.Errorf("JSON does not round-trip:\n got %s\nwant %s", again, once)
	}
}

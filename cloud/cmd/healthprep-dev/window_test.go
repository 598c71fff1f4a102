package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var windowLine = regexp.MustCompile(`^window: (\d+) screens of the real window checked in (.+) in (\d+\.\d) s$`)

// TestWindow is the real window's part of `make screenshots`: the built
// healthprep-dev -window, as a process, starts the stack, opens the real
// `healthprep gui` on $DISPLAY, drives it with xdotool and saves a PNG
// per screen; it must exit 0 with its summary line. Then each PNG is
// checked again here: the window's size, not blank, and tesseract reads
// the text the screen must show.
//
// HP_WINDOW_BIN names a directory with the built binaries (the desktop's
// healthprep built with cgo); without it they are built here.
// HP_WINDOW_OUT keeps the PNGs there (default: the test's directory).
func TestWindow(t *testing.T) {
	if os.Getenv("HP_WINDOW_E2E") != "1" {
		t.Skip("HP_WINDOW_E2E is not 1: this test drives the real GL window, so it needs an X server (Xvfb), xdotool, " +
			"ImageMagick and tesseract, and builds the cgo desktop; make screenshots runs it under xvfb-run")
	}
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("HP_WINDOW_E2E=1 but DISPLAY is not set: run it under xvfb-run (make screenshots)")
	}
	bin := os.Getenv("HP_WINDOW_BIN")
	if bin == "" {
		bin = buildWindow(t)
	}
	outDir := os.Getenv("HP_WINDOW_OUT")
	if outDir == "" {
		outDir = t.TempDir()
	}
	tmp := t.TempDir()
	// As root, Postgres runs as the postgres user, who must reach the
	// state directory inside the test's.
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "healthprep-dev"), "-window", outDir, "-bin", bin)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("healthprep-dev -window: %v; want exit 0\n%s%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "window: ") {
			t.Log(l)
		}
	}
	last := lines[len(lines)-1]
	m := windowLine.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("last line %q; want %s\n%s", last, windowLine, stdout.String())
	}
	if want := itoa(len(windowScreens)); m[1] != want {
		t.Errorf("%s screens checked; want %s", m[1], want)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the run left %v behind in its temporary directory", left)
	}

	for _, s := range windowScreens {
		t.Run(s.File, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(outDir, s.File)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 600 {
				t.Errorf("%d×%d px; want the 1280×800 window", b.Dx(), b.Dy())
			}
			if sd := luminanceDeviation(img); sd < minDeviation {
				t.Fatalf("luminance σ %.1f; want at least %d (blank)", sd, minDeviation)
			}
			text, _, missing, err := readScreen(context.Background(), path, s.Want)
			if err != nil {
				t.Fatal(err)
			}
			if len(missing) > 0 {
				t.Errorf("OCR does not read %s in %q", quoteAll(missing), text)
			}
		})
	}
}

// buildWindow builds what -window needs into one directory: the cloud,
// the sandbox, healthprep-dev and the desktop's healthprep with cgo (the
// window).
func buildWindow(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, pkgs := range [][]string{
		{"healthprep.dev/cloud/cmd/healthprep-cloud", "healthprep.dev/cloud/cmd/healthprep-sandbox", "healthprep.dev/cloud/cmd/healthprep-dev"},
		{"healthprep.dev/desktop/cmd/healthprep"},
	} {
		cmd := exec.Command("go", append([]string{"build", "-o", bin + "/"}, pkgs...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %v: %v\n%s", pkgs, err, out)
		}
	}
	return bin
}

// TestWindowNeedsADisplay: without DISPLAY, -window fails at once with
// exit status 1 and says why, before anything starts.
func TestWindowNeedsADisplay(t *testing.T) {
	var out bytes.Buffer
	t.Setenv("DISPLAY", "")
	err := run(context.Background(), []string{"-window", t.TempDir()}, &out)
	want := "-window needs an X display (DISPLAY is not set): run it under xvfb-run, as make screenshots does"
	if err == nil || err.Error() != want {
		t.Errorf("error %v; want %q", err, want)
	}
	if out.Len() > 0 {
		t.Errorf("output %q; want none (nothing started)", out.String())
	}
}

// TestWindowSchedule: the visits the window must list are the demo
// schedule's on the clinic's date, by time, 08:00–16:30 on the clinic's
// clock (the sandbox is told the clinic's zone with -tz); on a weekend (no
// clinic) the next clinic day's first patients are booked that day in a
// Bundle the sandbox loads too.
func TestWindowSchedule(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation(clinicZone)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		day       time.Time
		wantExtra bool
	}{
		{"a Monday", time.Date(2026, 11, 23, 9, 0, 0, 0, loc), false},
		{"a Saturday", time.Date(2026, 11, 28, 9, 0, 0, 0, loc), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "schedule")
			source, visits, err := windowSchedule(tt.day, dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(visits) == 0 {
				t.Fatal("no visits; want the day's schedule")
			}
			for i, v := range visits {
				if got, want := v.Start.In(loc).Format(time.DateOnly), tt.day.Format(time.DateOnly); got != want {
					t.Errorf("visit %d on %s; want %s", i, got, want)
				}
				if at := v.Start.In(loc); at.Hour() < 8 || at.Hour()*60+at.Minute() > 16*60 {
					t.Errorf("visit %d at %s clinic time; want a slot starting 08:00–16:00", i, at.Format(time.Kitchen))
				}
				if i > 0 && v.Start.Before(visits[i-1].Start) {
					t.Errorf("visit %d at %v before visit %d at %v; want by time", i, v.Start, i-1, visits[i-1].Start)
				}
				if len(strings.Fields(v.Name)) != 2 {
					t.Errorf("visit %d name %q; want given and family name", i, v.Name)
				}
			}
			if i := slices.Index(source, "-tz"); i < 0 || i+1 == len(source) || source[i+1] != clinicZone {
				t.Errorf("source %v; want -tz %s so the sandbox books the visits on the clinic's clock", source, clinicZone)
			}
			hasData := slices.Contains(source, "-data")
			if hasData != tt.wantExtra {
				t.Errorf("source %v: -data given %v; want %v", source, hasData, tt.wantExtra)
			}
			b, err := os.ReadFile(filepath.Join(dir, "today.json"))
			switch {
			case tt.wantExtra && err != nil:
				t.Fatalf("the extra schedule: %v", err)
			case tt.wantExtra:
				var bundle struct{ Entry []json.RawMessage }
				if err := json.Unmarshal(b, &bundle); err != nil || len(bundle.Entry) != len(visits) {
					t.Errorf("the extra schedule has %d entries (%v); want %d", len(bundle.Entry), err, len(visits))
				}
			case err == nil:
				t.Errorf("an extra schedule was written on a clinic day")
			}
		})
	}
}

// TestLocate: a phrase is found on one line of one pass, leftmost first,
// with trailing punctuation ignored; words on different lines or passes
// do not make a phrase.
func TestLocate(t *testing.T) {
	t.Parallel()
	w := func(text, psm string, line, left int) ocrWord {
		return ocrWord{Text: text, PSM: psm, Block: 1, Par: 1, Line: line, Left: left, Top: 10 * line, Width: 40, High: 10}
	}
	words := []ocrWord{
		w("Review", "11", 1, 300), w("Screening", "11", 1, 350), w("types", "11", 1, 400),
		w("Screening", "11", 2, 10), w("types:", "11", 2, 60),
		w("Users", "11", 3, 500),
		w("Sign", "11", 4, 10), w("out", "3", 4, 60),
	}
	tests := []struct {
		phrase string
		x, y   int
		ok     bool
	}{
		{"Screening types", 55, 25, true},
		{"Users", 520, 35, true},
		{"Sign out", 0, 0, false},
		{"Lock", 0, 0, false},
	}
	for _, tt := range tests {
		x, y, ok := locate(words, tt.phrase)
		if x != tt.x || y != tt.y || ok != tt.ok {
			t.Errorf("locate(%q) = %d, %d, %v; want %d, %d, %v", tt.phrase, x, y, ok, tt.x, tt.y, tt.ok)
		}
	}
}

// TestParseTSVAndMissingText: tesseract's TSV gives words with places;
// expected text is compared without case and spacing.
func TestParseTSVAndMissingText(t *testing.T) {
	t.Parallel()
	tsv := "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n" +
		"1\t1\t0\t0\t0\t0\t0\t0\t1280\t800\t-1\t\n" +
		"5\t1\t2\t1\t1\t1\t12\t50\t30\t12\t96.1\tSign\n" +
		"5\t1\t2\t1\t1\t2\t46\t50\t20\t12\t95.0\tIN\n" +
		"5\t1\t3\t1\t1\t1\t12\t90\t60\t12\t91.0\tPassword\n"
	words := parseTSV(tsv, "11")
	if len(words) != 3 || words[0] != (ocrWord{Text: "Sign", PSM: "11", Block: 2, Par: 1, Line: 1, Left: 12, Top: 50, Width: 30, High: 12}) {
		t.Fatalf("parseTSV = %+v; want 3 words, the first Sign at 12,50", words)
	}
	text := "Sign  IN Password"
	if got := missingText(text, []string{"sign in", "Password", "OFFLINE"}); !slices.Equal(got, []string{"OFFLINE"}) {
		t.Errorf("missingText = %v; want [OFFLINE]", got)
	}
}

// TestLuminanceDeviation: a single-colour picture is blank; text-like
// contrast is not.
func TestLuminanceDeviation(t *testing.T) {
	t.Parallel()
	blank := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for i := range blank.Pix {
		blank.Pix[i] = 0xf0
	}
	striped := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for y := range 100 {
		for x := range 100 {
			c := color.RGBA{0xff, 0xff, 0xff, 0xff}
			if y%8 < 2 {
				c = color.RGBA{0x20, 0x20, 0x20, 0xff}
			}
			striped.Set(x, y, c)
		}
	}
	if sd := luminanceDeviation(blank); sd >= minDeviation {
		t.Errorf("blank: σ %.1f; want below %d", sd, minDeviation)
	}
	if sd := luminanceDeviation(striped); sd < minDeviation {
		t.Errorf("striped: σ %.1f; want at least %d", sd, minDeviation)
	}
}

//go:build cgo

package main

import (
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestScreenshots checks the screenshots `make screenshots` took with the
// real window (HP_SCREENSHOTS names their directory): each is non-blank
// and Tesseract reads the text the screen must show. Text is checked by
// OCR on the pictures themselves, so a window that renders nothing legible
// fails. The schedule with its prep sheet is checked in the light and dark
// themes at 100 % and 150 %: the window is 1.5 times as wide at 150 %,
// the dark theme's background is dark, and the same text is read in each.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("HP_SCREENSHOTS")
	if dir == "" {
		t.Skip("HP_SCREENSHOTS is not set: run make screenshots, which takes the screenshots under Xvfb first")
	}
	if _, err := exec.LookPath("tesseract"); err != nil {
		t.Fatal("tesseract is needed to read the screenshots (apt tesseract-ocr)")
	}
	sheet := []string{"appointments", "Screenings", "Override", "Print day", "min ago"}
	tests := []struct {
		file  string
		want  []string
		dark  bool
		width int // the window's width in pixels, at least
	}{
		{file: "01-sign-in.png", want: []string{"HealthPrep", "Sign in", "Password"}},
		{file: "02-schedule-and-sheet.png", want: sheet},
		{file: "sheet-dark-100.png", want: sheet, dark: true, width: 1280},
		{file: "sheet-light-150.png", want: sheet, width: 1920},
		{file: "sheet-dark-150.png", want: sheet, dark: true, width: 1920},
		{file: "03-offline.png", want: []string{"OFFLINE", "still open and print", "Syncing"}},
		{file: "04-locked.png", want: []string{"is locked", "Password", "Sign out"}},
		{file: "05-admin-users.png", want: []string{"Administration", "Invite someone", "Open invites", "robin.diaz", "People", "Deactivate"}},
		{file: "06-screening-editor.png", want: []string{"Screening types", "Minimum age", "Every", "Preview", "Sample patient", "With your changes"}},
		{file: "07-documents.png", want: []string{"Documents", "drop PDF", "Quarantine", "password-protected", "Pages to review", "Mark page reviewed"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("decoding %s: %v", tt.file, err)
			}
			if got, want := img.Bounds().Dx(), max(tt.width, 1000); got < want {
				t.Errorf("%s is %d px wide, want at least %d", tt.file, got, want)
			}
			if n := colours(img); n < 8 {
				t.Fatalf("%s has %d colours: blank", tt.file, n)
			}
			if l := backgroundLuminance(img); tt.dark != (l < 0.2) {
				t.Errorf("%s: background luminance %.2f, want a %s background", tt.file, l, map[bool]string{false: "light", true: "dark"}[tt.dark])
			}
			text := ocr(t, path)
			// The status bar on its own too: page segmentation can drop
			// a short line beside a progress bar.
			strip := filepath.Join(t.TempDir(), "status.png")
			writePNG(t, strip, bottom(img, 90))
			text += " " + ocr(t, strip)
			for _, w := range tt.want {
				if !strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
					t.Errorf("%s: OCR does not find %q in %q", tt.file, w, text)
				}
			}
		})
	}
}

// colours counts the distinct colours of img, sampled, up to 64.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y && len(seen) < 64; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

// backgroundLuminance is the relative luminance (0 black, 1 white) of
// img's most common colour, sampled.
func backgroundLuminance(img image.Image) float64 {
	counts := map[[3]uint32]int{}
	var bg [3]uint32
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := [3]uint32{r, g, bl}
			if counts[c]++; counts[c] > counts[bg] {
				bg = c
			}
		}
	}
	lin := func(v uint32) float64 {
		f := float64(v) / 0xffff
		if f <= 0.04045 {
			return f / 12.92
		}
		return math.Pow((f+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(bg[0]) + 0.7152*lin(bg[1]) + 0.0722*lin(bg[2])
}

func ocr(t *testing.T, path string) string {
	t.Helper()
	cmd := exec.Command("tesseract", path, "-", "--psm", "3")
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tesseract %s: %v", path, err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// bottom returns the lowest h pixels of img above its last blank rows
// (the window is shorter than the X screen).
func bottom(img image.Image, h int) image.Image {
	b := img.Bounds()
	end := b.Max.Y
	for end > b.Min.Y+h {
		r, g, bl, _ := img.At(b.Min.X+b.Dx()/2, end-1).RGBA()
		if r|g|bl != 0 {
			break
		}
		end--
	}
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return img
	}
	return sub.SubImage(image.Rect(b.Min.X, end-h, b.Max.X, end))
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

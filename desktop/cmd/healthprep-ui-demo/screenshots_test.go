//go:build cgo

package main

import (
	"image"
	"image/png"
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
// fails.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("HP_SCREENSHOTS")
	if dir == "" {
		t.Skip("HP_SCREENSHOTS is not set: run make screenshots, which takes the screenshots under Xvfb first")
	}
	if _, err := exec.LookPath("tesseract"); err != nil {
		t.Fatal("tesseract is needed to read the screenshots (apt tesseract-ocr)")
	}
	tests := []struct {
		file string
		want []string
	}{
		{"01-sign-in.png", []string{"HealthPrep", "Sign in", "Password"}},
		{"02-schedule-and-sheet.png", []string{"appointments", "Screenings", "Override", "Print day", "min ago"}},
		{"03-offline.png", []string{"OFFLINE", "still open and print", "Syncing"}},
		{"04-locked.png", []string{"is locked", "Password", "Sign out"}},
		{"05-admin-users.png", []string{"Administration", "Invite someone", "Open invites", "robin.diaz", "People", "Deactivate"}},
		{"06-screening-editor.png", []string{"Screening types", "Minimum age", "Every", "Preview", "Sample patient", "With your changes"}},
		{"07-documents.png", []string{"Documents", "drop PDF", "Quarantine", "password-protected", "Pages to review", "Mark page reviewed"}},
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
			if got := img.Bounds().Dx(); got < 1000 {
				t.Errorf("%s is %d px wide, want the 1280 px window", tt.file, got)
			}
			if n := colours(img); n < 8 {
				t.Fatalf("%s has %d colours: blank", tt.file, n)
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

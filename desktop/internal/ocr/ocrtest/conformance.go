package ocrtest

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/ocr"
)

// MaxCER is the character error rate a clean 300-dpi page must stay within.
const MaxCER = 0.02

// Run is the conformance suite for an ocr.Engine. open returns a fresh
// engine; Run closes it. Every subtest runs in parallel with its own engine.
func Run(t *testing.T, open func(t *testing.T) ocr.Engine) {
	t.Helper()
	clean := Page(t, Prose)

	engine := func(t *testing.T) ocr.Engine {
		t.Helper()
		e := open(t)
		t.Cleanup(func() {
			if err := e.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return e
	}

	t.Run("clean page reads back within CER with boxes over the words", func(t *testing.T) {
		t.Parallel()
		e := engine(t)
		page, err := ocr.Recognize(context.Background(), e, clean.Image, ocr.Options{})
		if err != nil {
			t.Fatalf("Recognize: %v", err)
		}
		checkPage(t, page, clean, 0)
		if page.Flags != 0 {
			t.Errorf("flags = %q, want none on a clean page", page.Flags)
		}
		if page.MeanConfidence < 80 {
			t.Errorf("mean confidence = %.1f, want ≥ 80 on a clean page", page.MeanConfidence)
		}
		// The same engine reads a second page: engines are reused by workers.
		again, err := ocr.Recognize(context.Background(), e, clean.Image, ocr.Options{})
		if err != nil {
			t.Fatalf("second Recognize: %v", err)
		}
		if got, want := again.Text(), page.Text(); got != want {
			t.Errorf("second read differs from the first:\n got %q\nwant %q", got, want)
		}
	})

	for _, deg := range []ocr.Orientation{90, 180, 270} {
		t.Run("page turned "+itoa(int(deg))+" degrees is detected and read", func(t *testing.T) {
			t.Parallel()
			e := engine(t)
			turned := Sample{Image: ocr.Image{Pix: ocr.Rotate(clean.Image.Pix, int(deg)), DPI: clean.Image.DPI}, Text: clean.Text}
			w, h := clean.Image.Pix.Rect.Dx(), clean.Image.Pix.Rect.Dy()
			for _, pw := range clean.Words {
				turned.Words = append(turned.Words, PlacedWord{Text: pw.Text, Box: ocr.RotateRect(pw.Box, w, h, int(deg))})
			}
			page, err := ocr.Recognize(context.Background(), e, turned.Image, ocr.Options{})
			if err != nil {
				t.Fatalf("Recognize: %v", err)
			}
			if page.Orientation != deg {
				t.Fatalf("orientation = %d, want %d", page.Orientation, deg)
			}
			if page.Flags&ocr.FlagRotated == 0 {
				t.Errorf("flags = %q, want rotated", page.Flags)
			}
			checkPage(t, page, turned, deg)
		})
	}

	t.Run("orientation of an upright page is 0", func(t *testing.T) {
		t.Parallel()
		e := engine(t)
		o, conf, err := e.Orientation(context.Background(), clean.Image)
		if err != nil {
			t.Fatalf("Orientation: %v", err)
		}
		if o != 0 || conf <= 0 {
			t.Errorf("Orientation = %d (confidence %.2f), want 0 with confidence > 0", o, conf)
		}
	})

	t.Run("blank page has no words and is flagged", func(t *testing.T) {
		t.Parallel()
		e := engine(t)
		blank := image.NewGray(image.Rect(0, 0, 1275, 1650))
		for i := range blank.Pix {
			blank.Pix[i] = 0xff
		}
		page, err := ocr.Recognize(context.Background(), e, ocr.Image{Pix: blank, DPI: 150}, ocr.Options{})
		if err != nil {
			t.Fatalf("Recognize: %v", err)
		}
		if len(page.Words) != 0 || page.Flags&ocr.FlagNoText == 0 || page.Orientation != 0 {
			t.Errorf("got %d words, flags %q, orientation %d; want 0 words, no-text, 0", len(page.Words), page.Flags, page.Orientation)
		}
	})

	t.Run("noisy page reads worse and is flagged for review", func(t *testing.T) {
		t.Parallel()
		e := engine(t)
		noisy := Noisy(clean.Image.Pix, 0.10, 7)
		page, err := ocr.Recognize(context.Background(), e, ocr.Image{Pix: noisy, DPI: 300}, ocr.Options{Orientation: ocr.OrientationNever})
		if err != nil {
			t.Fatalf("Recognize: %v", err)
		}
		checkRanges(t, page)
		if page.Flags&(ocr.FlagLowConfidence|ocr.FlagNoText) == 0 {
			t.Errorf("flags = %q with mean confidence %.1f, want low-confidence or no-text", page.Flags, page.MeanConfidence)
		}
	})

	t.Run("cancelled context stops recognition", func(t *testing.T) {
		t.Parallel()
		e := engine(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		_, err := ocr.Recognize(ctx, e, clean.Image, ocr.Options{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("returned after %v, want promptly", d)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := ocr.Recognize(ctx, e, clean.Image, ocr.Options{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		// The engine still works after a timeout.
		page, err := ocr.Recognize(context.Background(), e, clean.Image, ocr.Options{})
		if err != nil {
			t.Fatalf("Recognize after a timeout: %v", err)
		}
		if cer := CER(page.Text(), clean.Text); cer > MaxCER {
			t.Errorf("CER after a timeout = %.4f, want ≤ %.2f", cer, MaxCER)
		}
	})
}

// checkPage compares a recognised page with its truth.
func checkPage(t *testing.T, page ocr.Page, want Sample, deg ocr.Orientation) {
	t.Helper()
	if page.Width != want.Image.Pix.Rect.Dx() || page.Height != want.Image.Pix.Rect.Dy() {
		t.Errorf("page size = %dx%d, want %dx%d", page.Width, page.Height, want.Image.Pix.Rect.Dx(), want.Image.Pix.Rect.Dy())
	}
	if cer := CER(page.Text(), want.Text); cer > MaxCER {
		t.Errorf("CER = %.4f, want ≤ %.2f (orientation %d)", cer, MaxCER, deg)
	}
	checkRanges(t, page)
	// Every drawn word is found at the place it was drawn.
	missed := 0
	for _, pw := range want.Words {
		found := false
		for _, w := range page.Words {
			if w.Text == pw.Text && overlap(w.Box, pw.Box) >= 0.5 {
				found = true
				break
			}
		}
		if !found {
			missed++
		}
	}
	if limit := len(want.Words) / 50; missed > limit {
		t.Errorf("%d of %d drawn words not found over their drawn box, want ≤ %d", missed, len(want.Words), limit)
	}
}

func checkRanges(t *testing.T, page ocr.Page) {
	t.Helper()
	bounds := image.Rect(0, 0, page.Width, page.Height)
	lastLine := 0
	for i, w := range page.Words {
		if w.Box.Empty() || !w.Box.In(bounds) {
			t.Errorf("word %d box %v is empty or outside the page %v", i, w.Box, bounds)
		}
		if w.Confidence < 0 || w.Confidence > 100 {
			t.Errorf("word %d confidence %.2f outside [0, 100]", i, w.Confidence)
		}
		if w.Text == "" || strings.TrimSpace(w.Text) != w.Text {
			t.Errorf("word %d has empty or padded text", i)
		}
		if w.Line < lastLine || w.Line < 1 || w.Block < 1 {
			t.Errorf("word %d line %d block %d after line %d: want numbering from 1 in page order", i, w.Line, w.Block, lastLine)
		}
		lastLine = w.Line
	}
	if page.MeanConfidence < 0 || page.MeanConfidence > 100 {
		t.Errorf("mean confidence %.2f outside [0, 100]", page.MeanConfidence)
	}
}

// overlap is the intersection over the smaller of the two areas.
func overlap(a, b image.Rectangle) float64 {
	in := a.Intersect(b)
	if in.Empty() {
		return 0
	}
	area := func(r image.Rectangle) float64 { return float64(r.Dx() * r.Dy()) }
	return area(in) / min(area(a), area(b))
}

// Noisy returns a copy of g with a fraction of its pixels flipped to random
// grey levels and each pixel smeared with its right-hand neighbours.
func Noisy(g *image.Gray, fraction float64, seed uint64) *image.Gray {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := image.NewGray(g.Rect)
	w := g.Rect.Dx()
	for y := g.Rect.Min.Y; y < g.Rect.Max.Y; y++ {
		for x := g.Rect.Min.X; x < g.Rect.Max.X; x++ {
			sum := 0
			for k := 0; k < 6; k++ {
				xx := min(x+k, g.Rect.Min.X+w-1)
				sum += int(g.GrayAt(xx, y).Y)
			}
			v := uint8(sum / 6)
			if r.Float64() < fraction {
				v = uint8(r.IntN(256))
			}
			out.SetGray(x, y, color.Gray{Y: v})
		}
	}
	return out
}

// CER is the character error rate of got against want: the Levenshtein
// distance over runes divided by the length of want, after collapsing all
// whitespace runs to single spaces.
func CER(got, want string) float64 {
	g := []rune(strings.Join(strings.Fields(got), " "))
	w := []rune(strings.Join(strings.Fields(want), " "))
	if len(w) == 0 {
		if len(g) == 0 {
			return 0
		}
		return 1
	}
	prev := make([]int, len(g)+1)
	cur := make([]int, len(g)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(w); i++ {
		cur[0] = i
		for j := 1; j <= len(g); j++ {
			cost := 1
			if w[i-1] == g[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(g)]) / float64(len(w))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

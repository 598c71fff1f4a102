package ocr_test

import (
	"context"
	"errors"
	"image"
	"testing"

	"healthprep.dev/desktop/internal/ocr"
)

// fakeEngine returns canned words, per orientation of the image it is given
// (the test image is black at its top-left pixel only; a turned copy is not).
type fakeEngine struct {
	upright    []ocr.Word // returned for the image as given
	turned     []ocr.Word // returned for a turned copy
	orient     ocr.Orientation
	orientConf float64
	osdCalls   int
}

func (f *fakeEngine) Words(_ context.Context, img ocr.Image) ([]ocr.Word, error) {
	if img.Pix.Pix[0] == 0 {
		return f.upright, nil
	}
	return f.turned, nil
}

func (f *fakeEngine) Orientation(context.Context, ocr.Image) (ocr.Orientation, float64, error) {
	f.osdCalls++
	return f.orient, f.orientConf, nil
}

func (f *fakeEngine) Close() error { return nil }

func words(conf float64, n int) []ocr.Word {
	var ws []ocr.Word
	for i := 0; i < n; i++ {
		ws = append(ws, ocr.Word{Text: "word", Box: image.Rect(10+i*50, 10, 50+i*50, 30), Confidence: conf, Line: 1, Block: 1})
	}
	return ws
}

func TestRecognizeFlagsAndOrientation(t *testing.T) {
	t.Parallel()
	img := ocr.Image{Pix: image.NewGray(image.Rect(0, 0, 400, 200)), DPI: 300}
	for i := range img.Pix.Pix[1:] {
		img.Pix.Pix[i+1] = 0xff
	}
	tests := []struct {
		name        string
		engine      *fakeEngine
		opt         ocr.Options
		wantFlags   ocr.Flag
		wantOrient  ocr.Orientation
		wantOSD     int
		wantMeanMin float64
	}{
		{name: "clean page: no flags, no orientation pass",
			engine: &fakeEngine{upright: words(95, 5)}, wantMeanMin: 95},
		{name: "empty page: no-text after an orientation pass",
			engine: &fakeEngine{}, wantFlags: ocr.FlagNoText, wantOSD: 1},
		{name: "low confidence, OSD says upright: low-confidence",
			engine: &fakeEngine{upright: words(40, 5)}, wantFlags: ocr.FlagLowConfidence, wantOSD: 1},
		{name: "upside down: turned and read again",
			engine:    &fakeEngine{upright: words(30, 5), turned: words(92, 5), orient: 180, orientConf: 9},
			wantFlags: ocr.FlagRotated, wantOrient: 180, wantOSD: 1, wantMeanMin: 92},
		{name: "weak orientation guess is ignored",
			engine:    &fakeEngine{upright: words(30, 5), turned: words(92, 5), orient: 180, orientConf: 0.5},
			wantFlags: ocr.FlagLowConfidence, wantOSD: 1},
		{name: "never mode skips OSD",
			engine: &fakeEngine{upright: words(30, 5), orient: 180, orientConf: 9},
			opt:    ocr.Options{Orientation: ocr.OrientationNever}, wantFlags: ocr.FlagLowConfidence},
		{name: "always mode runs OSD on a clean page",
			engine: &fakeEngine{upright: words(95, 5)},
			opt:    ocr.Options{Orientation: ocr.OrientationAlways}, wantOSD: 1, wantMeanMin: 95},
		{name: "review threshold is configurable",
			engine: &fakeEngine{upright: words(95, 5)},
			opt:    ocr.Options{ReviewBelow: 99, RetryBelow: 50}, wantFlags: ocr.FlagLowConfidence},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, err := ocr.Recognize(context.Background(), tt.engine, img, tt.opt)
			if err != nil {
				t.Fatalf("Recognize: %v", err)
			}
			if page.Flags != tt.wantFlags {
				t.Errorf("flags = %q, want %q", page.Flags, tt.wantFlags)
			}
			if page.Orientation != tt.wantOrient {
				t.Errorf("orientation = %d, want %d", page.Orientation, tt.wantOrient)
			}
			if tt.engine.osdCalls != tt.wantOSD {
				t.Errorf("orientation passes = %d, want %d", tt.engine.osdCalls, tt.wantOSD)
			}
			if page.MeanConfidence < tt.wantMeanMin {
				t.Errorf("mean confidence = %.1f, want ≥ %.1f", page.MeanConfidence, tt.wantMeanMin)
			}
			for _, w := range page.Words {
				if !w.Box.In(image.Rect(0, 0, page.Width, page.Height)) {
					t.Errorf("box %v outside the %dx%d page", w.Box, page.Width, page.Height)
				}
			}
		})
	}
}

// vertical returns words set top to bottom (dir 1) or bottom to top (-1),
// as Tesseract reports a page turned by 90 or 270 degrees it read itself.
func vertical(dir, n int) []ocr.Word {
	var ws []ocr.Word
	for i := 0; i < n; i++ {
		y := 10 + i*50
		if dir < 0 {
			y = 400 - i*50
		}
		ws = append(ws, ocr.Word{Text: "word", Box: image.Rect(100, y, 120, y+40), Confidence: 93, Line: 1, Block: 1})
	}
	return ws
}

func TestRecognizeNamesTurnsTesseractReadItself(t *testing.T) {
	t.Parallel()
	img := ocr.Image{Pix: image.NewGray(image.Rect(0, 0, 200, 500)), DPI: 300}
	for _, tt := range []struct {
		dir  int
		want ocr.Orientation
	}{{1, 90}, {-1, 270}} {
		e := &fakeEngine{upright: vertical(tt.dir, 6)}
		page, err := ocr.Recognize(context.Background(), e, img, ocr.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Orientation != tt.want || page.Flags != ocr.FlagRotated || e.osdCalls != 0 || len(page.Words) != 6 {
			t.Errorf("direction %d: orientation %d, flags %q, %d OSD passes, %d words; want %d, rotated, 0, 6",
				tt.dir, page.Orientation, page.Flags, e.osdCalls, len(page.Words), tt.want)
		}
	}
}

func TestRecognizeBadImage(t *testing.T) {
	t.Parallel()
	for _, img := range []ocr.Image{{}, {Pix: image.NewGray(image.Rect(0, 0, 0, 0)), DPI: 300}, {Pix: image.NewGray(image.Rect(0, 0, 5, 5))}} {
		if _, err := ocr.Recognize(context.Background(), &fakeEngine{}, img, ocr.Options{}); !errors.Is(err, ocr.ErrBadImage) {
			t.Errorf("Recognize(%v) err = %v, want ErrBadImage", img.Pix, err)
		}
	}
}

// A pixel and a one-pixel box land in the same place whichever way the
// image is turned, and turning back restores both.
func TestRotateKeepsBoxesOverPixels(t *testing.T) {
	t.Parallel()
	const w, h = 7, 4
	g := image.NewGray(image.Rect(0, 0, w, h))
	g.Pix[2*g.Stride+5] = 200 // pixel (5, 2)
	box := image.Rect(5, 2, 6, 3)
	for _, deg := range []int{0, 90, 180, 270, -90} {
		r := ocr.Rotate(g, deg)
		rb := ocr.RotateRect(box, w, h, deg)
		if got := r.GrayAt(rb.Min.X, rb.Min.Y).Y; got != 200 || rb.Dx() != 1 || rb.Dy() != 1 {
			t.Errorf("turned %d: box %v holds %d, want a 1×1 box over the marked pixel", deg, rb, got)
		}
		back := ocr.Rotate(r, -deg)
		if string(back.Pix) != string(g.Pix) {
			t.Errorf("turned %d and back: image changed", deg)
		}
		if got := ocr.RotateRect(rb, r.Rect.Dx(), r.Rect.Dy(), -deg); got != box {
			t.Errorf("turned %d and back: box %v, want %v", deg, got, box)
		}
	}
}

func TestPageText(t *testing.T) {
	t.Parallel()
	p := ocr.Page{Words: []ocr.Word{
		{Text: "Dear", Line: 1, Block: 1}, {Text: "colleague,", Line: 1, Block: 1},
		{Text: "thank", Line: 2, Block: 1}, {Text: "you.", Line: 2, Block: 1},
		{Text: "Signed", Line: 3, Block: 2},
	}}
	if got, want := p.Text(), "Dear colleague,\nthank you.\n\nSigned"; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
}

func TestPGM(t *testing.T) {
	t.Parallel()
	g := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(g.Pix, []byte{1, 2, 3, 4, 5, 6})
	if got, want := string(ocr.PGM(g)), "P5\n3 2\n255\n\x01\x02\x03\x04\x05\x06"; got != want {
		t.Errorf("PGM = %q, want %q", got, want)
	}
	sub := g.SubImage(image.Rect(1, 0, 3, 2)).(*image.Gray)
	if got, want := string(ocr.PGM(sub)), "P5\n2 2\n255\n\x02\x03\x05\x06"; got != want {
		t.Errorf("PGM(sub-image) = %q, want %q", got, want)
	}
}

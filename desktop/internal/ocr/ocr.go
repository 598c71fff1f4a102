// Package ocr turns one page image into words with bounding boxes and
// confidences, detects a page turned by 90, 180 or 270 degrees, and flags
// pages a person should review.
//
// The recogniser itself is an [Engine]. Two implementations exist and pass
// the same conformance suite (package ocrtest): tesscmd drives a `tesseract`
// executable as a process (the only option on Windows, and usable with
// CGO_ENABLED=0), and tesslib calls libtesseract in-process through
// gosseract (cgo, Linux and macOS). [Recognize] adds what both share:
// orientation handling, box mapping and review flags.
//
// Nothing in this package logs, and no error it returns carries recognised
// text: page contents are PHI.
package ocr

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
)

// Image is one page to recognise: 8-bit grey pixels and the resolution they
// were scanned or rendered at (Tesseract sizes its models by it).
type Image struct {
	Pix *image.Gray
	DPI int
	// Encoded, when set, is this same page as a single-page PNG, JPEG or
	// TIFF file (typically the bytes the page came in). Engines hand it to
	// Tesseract as it is instead of encoding Pix again: the cheapest input,
	// and the very bytes plain `tesseract` would read. Pix must hold the
	// same pixels; a turned copy made by Recognize has no Encoded.
	Encoded []byte
}

// Word is one recognised word.
type Word struct {
	Text string
	// Box is where the word lies, in pixels of the image given to Recognize
	// (Min inclusive, Max exclusive), whatever the page's orientation.
	Box image.Rectangle
	// Confidence is Tesseract's word confidence, 0 to 100.
	Confidence float64
	// Line numbers the text lines of a page in reading order, from 1;
	// words with equal Line belong to one line.
	Line int
	// Block numbers the text blocks (columns, paragraphs) from 1.
	Block int
}

// Orientation is how far a page's content is turned clockwise from upright,
// in degrees: 0, 90, 180 or 270. A page scanned upside down is 180.
type Orientation int

// Valid reports whether o is one of the four right angles.
func (o Orientation) Valid() bool { return o == 0 || o == 90 || o == 180 || o == 270 }

// Flag marks something a person should look at before trusting a page.
type Flag uint8

const (
	// FlagLowConfidence: the page's mean word confidence is below the
	// threshold (Options.ReviewBelow).
	FlagLowConfidence Flag = 1 << iota
	// FlagNoText: no words were found (blank page, photo, or unreadable).
	FlagNoText
	// FlagRotated: the page was not upright and was recognised turned.
	FlagRotated
)

func (f Flag) String() string {
	var s []string
	for _, n := range []struct {
		f    Flag
		name string
	}{{FlagLowConfidence, "low-confidence"}, {FlagNoText, "no-text"}, {FlagRotated, "rotated"}} {
		if f&n.f != 0 {
			s = append(s, n.name)
		}
	}
	return strings.Join(s, ",")
}

// Page is the recognition result for one image.
type Page struct {
	Width, Height int
	DPI           int
	// Orientation is how the content was turned in the input image.
	Orientation Orientation
	Words       []Word
	// MeanConfidence is the mean of the word confidences weighted by word
	// length, 0 when there are no words.
	MeanConfidence float64
	Flags          Flag
}

// Text joins the words into lines: one space between words, one newline
// between lines, two between blocks.
func (p Page) Text() string {
	var b strings.Builder
	for i, w := range p.Words {
		if i > 0 {
			prev := p.Words[i-1]
			switch {
			case w.Block != prev.Block:
				b.WriteString("\n\n")
			case w.Line != prev.Line:
				b.WriteByte('\n')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString(w.Text)
	}
	return b.String()
}

// Engine is one recogniser. An Engine is not safe for concurrent use: give
// each worker its own. Implementations honour ctx cancellation and never put
// recognised text in their errors.
type Engine interface {
	// Words recognises img as it is (assumed upright). Boxes are in img's
	// pixel coordinates; Line and Block numbering starts at 1.
	Words(ctx context.Context, img Image) ([]Word, error)
	// Orientation detects how img's content is turned clockwise, with the
	// detector's confidence (Tesseract OSD; above about 2 is usable). A page
	// with too little text to decide reports 0 and confidence 0, not an
	// error.
	Orientation(ctx context.Context, img Image) (Orientation, float64, error)
	// Close releases the engine.
	Close() error
}

// OrientationMode says when Recognize runs orientation detection.
type OrientationMode int

const (
	// OrientationAuto detects orientation only on pages that read badly as
	// they are (see Options.RetryBelow): upright pages, nearly all of them,
	// cost one recognition pass, exactly as plain Tesseract does.
	OrientationAuto OrientationMode = iota
	// OrientationAlways detects orientation on every page.
	OrientationAlways
	// OrientationNever trusts that pages are upright.
	OrientationNever
)

// Options tune Recognize. The zero value is usable.
type Options struct {
	// ReviewBelow flags pages whose mean confidence is below it.
	// 0 means 70.
	ReviewBelow float64
	// RetryBelow: in OrientationAuto, pages with fewer than 3 words or a
	// mean confidence below this are checked for orientation. 0 means 75.
	RetryBelow float64
	// MinOrientationConfidence is the OSD confidence needed to turn a page.
	// 0 means 1.5.
	MinOrientationConfidence float64
	Orientation              OrientationMode
}

func (o Options) withDefaults() Options {
	if o.ReviewBelow == 0 {
		o.ReviewBelow = 70
	}
	if o.RetryBelow == 0 {
		o.RetryBelow = 75
	}
	if o.MinOrientationConfidence == 0 {
		o.MinOrientationConfidence = 1.5
	}
	return o
}

// ErrBadImage reports an image Recognize cannot use (nil, empty, or no DPI).
var ErrBadImage = errors.New("ocr: unusable image")

// Recognize reads one page with e: words, boxes in img's coordinates,
// orientation, mean confidence and review flags.
func Recognize(ctx context.Context, e Engine, img Image, opt Options) (Page, error) {
	opt = opt.withDefaults()
	if img.Pix == nil || img.Pix.Rect.Empty() || img.DPI <= 0 {
		return Page{}, ErrBadImage
	}
	if img.Pix.Rect.Min != (image.Point{}) {
		img.Pix = rebase(img.Pix)
		img.Encoded = nil
	}
	w, h := img.Pix.Rect.Dx(), img.Pix.Rect.Dy()
	page := Page{Width: w, Height: h, DPI: img.DPI}

	words, err := e.Words(ctx, img)
	if err != nil {
		return Page{}, fmt.Errorf("recognising page: %w", err)
	}
	mean := MeanConfidence(words)

	// Tesseract's layout analysis often reads a page turned by 90 degrees
	// by itself, with boxes already in img's coordinates; only the turn
	// needs naming, and the reading direction of the lines gives it. When
	// it guessed the wrong way round the words are garbage, the confidence
	// low, and orientation detection below decides.
	if o := verticalTurn(words); o != 0 && mean >= opt.RetryBelow && opt.Orientation != OrientationNever {
		page.Orientation = o
		page.Flags |= FlagRotated
	}
	check := page.Orientation == 0 && opt.Orientation == OrientationAlways ||
		page.Orientation == 0 && opt.Orientation == OrientationAuto && (len(words) < 3 || mean < opt.RetryBelow)
	if check {
		o, conf, err := e.Orientation(ctx, img)
		if err != nil {
			return Page{}, fmt.Errorf("detecting orientation: %w", err)
		}
		if o != 0 && o.Valid() && conf >= opt.MinOrientationConfidence {
			up := Image{Pix: Rotate(img.Pix, -int(o)), DPI: img.DPI}
			turned, err := e.Words(ctx, up)
			if err != nil {
				return Page{}, fmt.Errorf("recognising turned page: %w", err)
			}
			if m := MeanConfidence(turned); len(turned) > 0 && (m > mean || len(words) == 0) {
				for i := range turned {
					turned[i].Box = RotateRect(turned[i].Box, up.Pix.Rect.Dx(), up.Pix.Rect.Dy(), int(o))
				}
				words, mean = turned, m
				page.Orientation = o
				page.Flags |= FlagRotated
			}
		}
	}
	page.Words = words
	page.MeanConfidence = mean
	if len(words) == 0 {
		page.Flags |= FlagNoText
	} else if mean < opt.ReviewBelow {
		page.Flags |= FlagLowConfidence
	}
	return page, nil
}

// verticalTurn returns 90 or 270 when most words are set vertically (taller
// than wide for words of four letters or more), from the direction in which
// each line's words advance: downwards is 90, upwards 270. Otherwise 0.
func verticalTurn(words []Word) Orientation {
	var long, tall, down, up int
	for i, w := range words {
		if len([]rune(w.Text)) >= 4 {
			long++
			if w.Box.Dy() > w.Box.Dx() {
				tall++
			}
		}
		if i > 0 && words[i-1].Line == w.Line {
			switch prev := words[i-1].Box; {
			case w.Box.Min.Y >= prev.Max.Y-1:
				down++
			case w.Box.Max.Y <= prev.Min.Y+1:
				up++
			}
		}
	}
	if long < 3 || tall*3 < long*2 {
		return 0
	}
	switch {
	case down > 2*up:
		return 90
	case up > 2*down:
		return 270
	}
	return 0
}

// MeanConfidence is the mean word confidence weighted by the number of
// characters in each word; 0 for no words.
func MeanConfidence(words []Word) float64 {
	var sum, n float64
	for _, w := range words {
		c := float64(len([]rune(w.Text)))
		sum += w.Confidence * c
		n += c
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

func rebase(g *image.Gray) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, g.Rect.Dx(), g.Rect.Dy()))
	for y := 0; y < out.Rect.Dy(); y++ {
		copy(out.Pix[y*out.Stride:y*out.Stride+out.Rect.Dx()], g.Pix[g.PixOffset(g.Rect.Min.X, g.Rect.Min.Y+y):])
	}
	return out
}

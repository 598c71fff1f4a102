//go:build cgo

package tesslib

/*
#cgo LDFLAGS: -ltesseract -lgomp
#include <stdlib.h>
#include <tesseract/capi.h>
#include <omp.h>

static int hp_osd(TessBaseAPI *api, const unsigned char *pix, int w, int h, int bpl, int dpi, int *deg, float *conf) {
	const char *script = NULL;
	float sconf = 0;
	TessBaseAPISetImage(api, pix, w, h, 1, bpl);
	TessBaseAPISetSourceResolution(api, dpi);
	int ok = TessBaseAPIDetectOrientationScript(api, deg, conf, &script, &sconf);
	TessBaseAPIClear(api);
	return ok;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"image"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/otiai10/gosseract/v2"

	"healthprep.dev/desktop/internal/ocr"
)

// Config chooses languages and trained data. The zero value is English from
// the system's tessdata.
type Config struct {
	Languages []string
	// DataDir is a tessdata directory; "" uses the library's default.
	DataDir string
}

// Engine owns one Tesseract instance for recognition and one for
// orientation, both driven from one locked OS thread.
type Engine struct {
	calls  chan call
	idle   chan struct{} // holds a token while no call is running
	closed chan struct{}
}

type call struct {
	fn   func(*state)
	done chan struct{}
}

type state struct {
	cfg    Config
	client *gosseract.Client
	osd    *C.TessBaseAPI
	osdErr error
}

// ErrInit reports that Tesseract could not load its language data.
var ErrInit = errors.New("tesslib: cannot initialise tesseract (missing tessdata?)")

// New starts the engine's thread and loads the language data.
func New(cfg Config) (*Engine, error) {
	if len(cfg.Languages) == 0 {
		cfg.Languages = []string{"eng"}
	}
	e := &Engine{calls: make(chan call), idle: make(chan struct{}, 1), closed: make(chan struct{})}
	e.idle <- struct{}{}
	ready := make(chan error, 1)
	go e.loop(cfg, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Engine) loop(cfg Config, ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.omp_set_num_threads(1)
	C.omp_set_max_active_levels(0) // see the package doc: Threads
	st := &state{cfg: cfg}
	c := gosseract.NewClient()
	if cfg.DataDir != "" {
		if err := c.SetTessdataPrefix(cfg.DataDir); err != nil {
			c.Close()
			ready <- ErrInit
			return
		}
	}
	if err := c.SetLanguage(cfg.Languages...); err != nil {
		c.Close()
		ready <- ErrInit
		return
	}
	if err := c.SetPageSegMode(gosseract.PSM_AUTO); err != nil {
		c.Close()
		ready <- ErrInit
		return
	}
	st.client = c
	// gosseract initialises lazily on the first recognition; do it now on a
	// tiny blank image so a missing language fails here, not on a page.
	if err := c.SetImageFromBytes(ocr.PGM(blank())); err == nil {
		if _, err := c.GetBoundingBoxesVerbose(); err != nil {
			c.Close()
			ready <- ErrInit
			return
		}
	}
	ready <- nil
	defer func() {
		st.client.Close()
		if st.osd != nil {
			C.TessBaseAPIEnd(st.osd)
			C.TessBaseAPIDelete(st.osd)
		}
	}()
	for {
		select {
		case <-e.closed:
			return
		case c := <-e.calls:
			c.fn(st)
			close(c.done)
		}
	}
}

// do runs fn on the engine's thread. It returns ctx.Err() as soon as ctx
// ends; fn then still runs to its end and the engine is idle again after.
func (e *Engine) do(ctx context.Context, fn func(*state)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-e.idle:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.closed:
		return errors.New("tesslib: engine closed")
	}
	c := call{fn: fn, done: make(chan struct{})}
	select {
	case e.calls <- c:
	case <-e.closed:
		e.idle <- struct{}{}
		return errors.New("tesslib: engine closed")
	}
	select {
	case <-c.done:
		e.idle <- struct{}{}
		return nil
	case <-ctx.Done():
		go func() { <-c.done; e.idle <- struct{}{} }()
		return ctx.Err()
	}
}

// Words recognises img with page segmentation mode 3 (automatic, no OSD),
// as `tesseract` does by default.
func (e *Engine) Words(ctx context.Context, img ocr.Image) ([]ocr.Word, error) {
	in, err := ocr.Input(img)
	if err != nil {
		return nil, err
	}
	bounds := img.Pix.Rect
	var words []ocr.Word
	if derr := e.do(ctx, func(st *state) {
		if err = st.client.SetVariable("user_defined_dpi", strconv.Itoa(img.DPI)); err != nil {
			err = errors.New("tesslib: setting resolution failed")
			return
		}
		if err = st.client.SetImageFromBytes(in); err != nil {
			err = errors.New("tesslib: image not accepted")
			return
		}
		var boxes []gosseract.BoundingBox
		boxes, err = st.client.GetBoundingBoxesVerbose()
		if err != nil {
			err = errors.New("tesslib: recognition failed")
			return
		}
		words = toWords(boxes, bounds)
	}); derr != nil {
		return nil, derr
	}
	return words, err
}

func toWords(boxes []gosseract.BoundingBox, bounds image.Rectangle) []ocr.Word {
	type lineKey struct{ block, par, line int }
	lines := map[lineKey]int{}
	blocks := map[int]int{}
	var words []ocr.Word
	for _, b := range boxes {
		text := strings.TrimSpace(b.Word)
		if text == "" || b.Confidence < 0 {
			continue
		}
		k := lineKey{b.BlockNum, b.ParNum, b.LineNum}
		line, ok := lines[k]
		if !ok {
			line = len(lines) + 1
			lines[k] = line
		}
		block, ok := blocks[b.BlockNum]
		if !ok {
			block = len(blocks) + 1
			blocks[b.BlockNum] = block
		}
		words = append(words, ocr.Word{Text: text, Box: b.Box.Intersect(bounds), Confidence: min(max(b.Confidence, 0), 100), Line: line, Block: block})
	}
	return words
}

// Orientation runs Tesseract's orientation and script detection.
func (e *Engine) Orientation(ctx context.Context, img ocr.Image) (ocr.Orientation, float64, error) {
	g := img.Pix
	pix := g.Pix // rows are packed: Recognize hands over origin-based images
	if g.Stride != g.Rect.Dx() {
		pix = ocr.Gray(ocr.Rotate(g, 0)).Pix
	}
	var deg C.int
	var conf C.float
	var ok C.int
	var err error
	if derr := e.do(ctx, func(st *state) {
		if st.osd == nil && st.osdErr == nil {
			st.osd = C.TessBaseAPICreate()
			var dir *C.char
			if st.cfg.DataDir != "" {
				dir = C.CString(st.cfg.DataDir)
				defer C.free(unsafe.Pointer(dir))
			}
			lang := C.CString("osd")
			defer C.free(unsafe.Pointer(lang))
			if C.TessBaseAPIInit3(st.osd, dir, lang) != 0 {
				C.TessBaseAPIDelete(st.osd)
				st.osd, st.osdErr = nil, errors.New("tesslib: cannot load osd data (install tesseract-ocr-osd)")
			}
		}
		if st.osdErr != nil {
			err = st.osdErr
			return
		}
		cpix := C.CBytes(pix)
		defer C.free(cpix)
		ok = C.hp_osd(st.osd, (*C.uchar)(cpix), C.int(g.Rect.Dx()), C.int(g.Rect.Dy()), C.int(g.Rect.Dx()), C.int(img.DPI), &deg, &conf)
	}); derr != nil {
		return 0, 0, derr
	}
	if err != nil {
		return 0, 0, err
	}
	if ok == 0 {
		return 0, 0, nil // too little text to decide
	}
	o := ocr.Orientation(int(deg))
	if !o.Valid() {
		return 0, 0, fmt.Errorf("tesslib: orientation %d reported", int(deg))
	}
	return o, float64(conf), nil
}

func blank() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range g.Pix {
		g.Pix[i] = 0xff
	}
	return g
}

// Close stops the engine's thread once the running call (if any) is done.
func (e *Engine) Close() error {
	select {
	case <-e.closed:
		return nil
	default:
	}
	<-e.idle
	close(e.closed)
	return nil
}

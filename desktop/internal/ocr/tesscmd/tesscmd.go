// Package tesscmd is an ocr.Engine that runs a `tesseract` executable as a
// child process: the page goes in on stdin (as it came, or as a PNG), words come back as TSV,
// orientation from `--psm 0`. It needs no cgo, so it is the engine of the
// Windows build (with a bundled tesseract.exe) and of CGO_ENABLED=0 builds.
//
// Each call starts one process with OMP_THREAD_LIMIT=1 (Debian's Tesseract is
// built with OpenMP; several single-threaded processes, one per worker, beat
// one multi-threaded one). The process is killed when ctx ends. Stderr is
// read but never surfaced: errors carry the exit status only.
package tesscmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"healthprep.dev/desktop/internal/ocr"
)

// Config says which tesseract to run. The zero value runs "tesseract" from
// PATH with English.
type Config struct {
	// Path is the executable; "" looks up "tesseract" on PATH.
	Path string
	// Languages are Tesseract language codes joined with "+"; default ["eng"].
	Languages []string
	// DataDir, when set, is passed as --tessdata-dir (a bundled tessdata).
	DataDir string
	// Threads is OMP_THREAD_LIMIT for the child; 0 means 1.
	Threads int
}

// Engine runs tesseract once per call. It holds no process between calls,
// so it is cheap, but like every ocr.Engine it is meant for one worker.
type Engine struct {
	path string
	cfg  Config
	env  []string
}

// ErrNotFound reports that the tesseract executable is missing.
var ErrNotFound = errors.New("tesscmd: tesseract executable not found")

// New checks that the executable exists and returns an engine.
func New(cfg Config) (*Engine, error) {
	name := cfg.Path
	if name == "" {
		name = "tesseract"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, ErrNotFound
	}
	if len(cfg.Languages) == 0 {
		cfg.Languages = []string{"eng"}
	}
	threads := cfg.Threads
	if threads <= 0 {
		threads = 1
	}
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OMP_THREAD_LIMIT=") {
			env = append(env, kv)
		}
	}
	env = append(env, "OMP_THREAD_LIMIT="+strconv.Itoa(threads))
	return &Engine{path: path, cfg: cfg, env: env}, nil
}

// Close does nothing: no process outlives a call.
func (e *Engine) Close() error { return nil }

func (e *Engine) run(ctx context.Context, img ocr.Image, args ...string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	full := []string{"stdin", "stdout"}
	if e.cfg.DataDir != "" {
		full = append(full, "--tessdata-dir", e.cfg.DataDir)
	}
	full = append(full, "--dpi", strconv.Itoa(img.DPI))
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, e.path, full...)
	cmd.Env = e.env
	in, err := ocr.Input(img)
	if err != nil {
		return nil, err
	}
	cmd.Stdin = bytes.NewReader(in)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil, exitError(exit.ExitCode())
		}
		return nil, fmt.Errorf("running tesseract: %w", err)
	}
	return out.Bytes(), nil
}

// exitError is a non-zero exit status; the message never includes stderr,
// which can echo page content.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("tesseract exited with status %d", int(e)) }

// Words runs `tesseract stdin stdout --dpi N -l LANGS --psm 3 tsv`.
func (e *Engine) Words(ctx context.Context, img ocr.Image) ([]ocr.Word, error) {
	out, err := e.run(ctx, img, "-l", strings.Join(e.cfg.Languages, "+"), "--psm", "3", "tsv")
	if err != nil {
		return nil, err
	}
	words, err := ParseTSV(out, img.Pix.Rect)
	if err != nil {
		return nil, fmt.Errorf("reading tesseract output: %w", err)
	}
	return words, nil
}

// Orientation runs `tesseract stdin stdout --psm 0` (orientation and script
// detection). A page Tesseract cannot decide on ("Too few characters") exits
// non-zero or prints nothing; that is orientation 0 with confidence 0.
func (e *Engine) Orientation(ctx context.Context, img ocr.Image) (ocr.Orientation, float64, error) {
	out, err := e.run(ctx, img, "--psm", "0")
	if err != nil {
		if ctx.Err() != nil {
			return 0, 0, err
		}
		var exit exitError
		if errors.As(err, &exit) {
			return 0, 0, nil
		}
		return 0, 0, err
	}
	return parseOSD(out)
}

func parseOSD(out []byte) (ocr.Orientation, float64, error) {
	var deg, conf float64
	var sawDeg bool
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			continue
		}
		switch strings.TrimSpace(k) {
		case "Orientation in degrees":
			deg, sawDeg = f, true
		case "Orientation confidence":
			conf = f
		}
	}
	if !sawDeg {
		return 0, 0, nil
	}
	o := ocr.Orientation(int(deg))
	if !o.Valid() {
		return 0, 0, fmt.Errorf("tesseract reported orientation %v", deg)
	}
	return o, conf, nil
}

// ParseTSV reads Tesseract's TSV output (level 5 rows are words) into words
// clipped to bounds, numbering lines and blocks in page order from 1.
// Empty words and rows with confidence < 0 are dropped.
func ParseTSV(tsv []byte, bounds image.Rectangle) ([]ocr.Word, error) {
	type lineKey struct{ block, par, line int }
	var words []ocr.Word
	lines := map[lineKey]int{}
	blocks := map[int]int{}
	sc := bufio.NewScanner(bytes.NewReader(tsv))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	first := true
	for sc.Scan() {
		row := sc.Text()
		if first {
			first = false
			if strings.HasPrefix(row, "level") {
				continue
			}
		}
		f := strings.SplitN(row, "\t", 12)
		if len(f) < 11 {
			continue
		}
		if f[0] != "5" {
			continue
		}
		var n [10]int
		for i := 0; i < 10; i++ {
			v, err := strconv.Atoi(f[i])
			if err != nil {
				return nil, fmt.Errorf("bad number in TSV column %d", i+1)
			}
			n[i] = v
		}
		conf, err := strconv.ParseFloat(f[10], 64)
		if err != nil || math.IsNaN(conf) {
			return nil, errors.New("bad confidence in TSV")
		}
		text := ""
		if len(f) == 12 {
			text = strings.TrimSpace(f[11])
		}
		if text == "" || conf < 0 {
			continue
		}
		k := lineKey{n[2], n[3], n[4]}
		line, ok := lines[k]
		if !ok {
			line = len(lines) + 1
			lines[k] = line
		}
		block, ok := blocks[n[2]]
		if !ok {
			block = len(blocks) + 1
			blocks[n[2]] = block
		}
		box := image.Rect(n[6], n[7], n[6]+n[8], n[7]+n[9]).Intersect(bounds)
		words = append(words, ocr.Word{Text: text, Box: box, Confidence: min(max(conf, 0), 100), Line: line, Block: block})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scanning TSV: %w", err)
	}
	return words, nil
}

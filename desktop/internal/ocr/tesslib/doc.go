// Package tesslib is an ocr.Engine that calls libtesseract in-process:
// recognition through github.com/otiai10/gosseract/v2, orientation through
// Tesseract's C API (gosseract does not expose it). It needs cgo and the
// Debian packages libtesseract-dev libleptonica-dev tesseract-ocr-eng
// (tesseract-ocr-osd for orientation); the package is empty without cgo, so
// CGO_ENABLED=0 builds of everything else still work, and Windows uses
// tesscmd.
//
// Threads: Debian's libtesseract uses OpenMP, and several OpenMP-threaded
// engines on a few cores run slower than one. libgomp reads
// OMP_THREAD_LIMIT when the process loads it, before any Go code runs, so an
// os.Setenv in Go is too late for the library (it only reaches child
// processes). New therefore caps OpenMP on the OS thread that does the
// recognising: each Engine owns one goroutine locked to one OS thread, calls
// omp_set_num_threads(1) there once, and runs every Tesseract call on it.
// Setting OMP_THREAD_LIMIT=1 in the environment of the process as well (as
// the desktop's launcher does) is harmless and caps any other OpenMP user.
//
// Cancellation: Tesseract cannot be interrupted mid-page. When ctx ends, the
// call returns ctx.Err() at once; the engine's thread finishes the page in
// the background and the engine is usable again afterwards (the next call
// waits for it).
//
// Without cgo this package is empty.
package tesslib

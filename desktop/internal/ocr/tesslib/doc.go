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
// processes); and Tesseract asks for threads with num_threads clauses,
// which omp_set_num_threads does not override. What works is
// omp_set_max_active_levels(0), which makes every parallel region run on
// the calling thread. It is a per-thread setting in libgomp, so each Engine
// owns one goroutine locked to one OS thread, sets it there once, and runs
// every Tesseract call on it. Measured: 1.3 CPU-seconds per 300-dpi letter
// page instead of 3.9 with the OpenMP default. Setting OMP_THREAD_LIMIT=1
// in the process environment as well (a launcher script) is harmless.
//
// Cancellation: Tesseract cannot be interrupted mid-page. When ctx ends, the
// call returns ctx.Err() at once; the engine's thread finishes the page in
// the background and the engine is usable again afterwards (the next call
// waits for it).
//
// Without cgo this package is empty.
package tesslib

//go:build !cgo

package main

import (
	"context"
	"fmt"
	"io"
)

// gui is not available without cgo (Fyne's OpenGL driver needs it).
func gui(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "healthprep: this build has no window (built with CGO_ENABLED=0); use enrol, agent or sheets")
	return 2
}

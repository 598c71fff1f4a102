package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// runOrGUI opens the window when no subcommand is given (nothing, or
// only flags) or gui, and runs the headless subcommands otherwise.
func runOrGUI(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] != "gui" && !strings.HasPrefix(args[0], "-") {
		return run(args, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "gui" {
		args = args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return gui(ctx, args, stdout, stderr)
}

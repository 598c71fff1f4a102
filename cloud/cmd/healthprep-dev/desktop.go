package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

// desktopForRun gives `make run` a workstation: the first time, it enrols a
// desktop profile under dir/desktop with the demo organisation and syncs
// it; then, when a display is available, it opens the window on it. The
// desktop binary is built by make into binDir; without it, nothing happens.
// It returns the window's process (nil when none was opened) and the line
// telling a person how to open it.
func desktopForRun(ctx context.Context, st *stack, binDir, dir string, out io.Writer) (*process, string, error) {
	bin := filepath.Join(binDir, "healthprep")
	if _, err := os.Stat(bin); err != nil {
		return nil, "", nil
	}
	profile := filepath.Join(dir, "desktop")
	// The demo profile holds synthetic patients only, and a developer's
	// machine may have no unlocked Secret Service, so it uses the clearly
	// labelled file key store; a clinic workstation never does.
	common := []string{"-profile", profile, "-keystore", insecureKeystore}
	fmt.Fprintf(out, "desktop: demo profile %s, key store %s (synthetic data only)\n", profile, insecureKeystore)
	if _, err := os.Stat(filepath.Join(profile, "device.json")); errors.Is(err, os.ErrNotExist) {
		devices := c.NewDeviceServiceClient(http.DefaultClient, st.base, st.root.opts)
		code, err := devices.IssueEnrolmentCode(ctx, connect.NewRequest(&v1.IssueEnrolmentCodeRequest{OrgId: st.sec.DemoOrgID, ValidMinutes: 10}))
		if err != nil {
			return nil, "", fmt.Errorf("issuing the desktop's enrolment code: %w", err)
		}
		if _, err := desktopCmd(ctx, bin, append([]string{"enrol", "-server", st.base, "-code", code.Msg.GetCode(), "-name", "make-run-workstation"}, common...)...); err != nil {
			return nil, "", err
		}
	}
	if _, err := desktopCmd(ctx, bin, append([]string{"agent", "-once"}, common...)...); err != nil {
		return nil, "", err
	}
	open := fmt.Sprintf("%s gui %s %s %s %s", bin, common[0], common[1], common[2], common[3])
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return nil, open, nil
	}
	cmd := exec.Command(bin, append([]string{"gui"}, common...)...)
	logFile, err := os.OpenFile(filepath.Join(dir, "desktop.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, "", fmt.Errorf("opening the desktop window: %w", err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logFile.Close() }()
	fmt.Fprintln(out, "desktop: the window is open (log: "+filepath.Join(dir, "desktop.log")+")")
	return p, open, nil
}

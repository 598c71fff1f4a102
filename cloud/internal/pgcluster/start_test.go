package pgcluster

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
)

// tempDir is a directory the postgres user can enter when the test runs
// as root (t.TempDir's parent is private to root).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hp-pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// hold listens on a loopback port until the test ends, as another
// process would.
func hold(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// TestStartRetriesWhenPickedPortIsTaken: a port picked as free but taken
// before the server binds it (the FreePort race) costs a retry on
// another port, not a failed test run.
func TestStartRetriesWhenPickedPortIsTaken(t *testing.T) {
	t.Parallel()
	taken := hold(t)
	picks := 0
	cfg := Config{Dir: tempDir(t), freePort: func() (int, error) {
		picks++
		if picks == 1 {
			return taken, nil
		}
		return FreePort()
	}}
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Stop() })
	if c.Port() == taken {
		t.Errorf("server reports the taken port %d", taken)
	}
	if picks != 2 {
		t.Errorf("ports picked = %d, want 2", picks)
	}
}

// TestStartOnTakenGivenPortSaysSo: a port the caller chose is not
// replaced; the error says the port is in use.
func TestStartOnTakenGivenPortSaysSo(t *testing.T) {
	t.Parallel()
	taken := hold(t)
	_, err := Start(context.Background(), Config{Dir: tempDir(t), Port: taken})
	if !errors.Is(err, errPortInUse) {
		t.Fatalf("Start on a taken port: err = %v, want port in use", err)
	}
}

package testpeer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPeerDiesWithKilledTestBinary runs this test binary again as a child
// that starts a peer, kills the child with SIGKILL (no cleanup runs), and
// checks that the peer goes too.
func TestPeerDiesWithKilledTestBinary(t *testing.T) {
	if os.Getenv("TESTPEER_CHILD") == "1" {
		s, err := StartStripeMock(context.Background(), StripeMockConfig{Dir: os.Getenv("TESTPEER_DIR")})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("peer-pid %d\n", s.PID())
		<-s.Done() // until the parent kills this process
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeerDiesWithKilledTestBinary$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TESTPEER_CHILD=1", "TESTPEER_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	var pid int
	if _, scanErr := fmt.Sscanf(line, "peer-pid %d", &pid); err != nil || scanErr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child said %q (%v), want peer-pid N", line, err)
	}
	if !alive(pid) {
		t.Fatalf("peer %d not running before the kill", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("peer %d still running 10 s after its test binary was killed", pid)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

package syncstore_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/syncagent"
)

// The benchmarks below sync against the cloud's real feed: syncdev
// -postgres, a separate process (the desktop never imports the cloud)
// serving the real SyncService handlers over Connect on loopback from a
// private Postgres, read by pgstore as the application role from what
// ingest's Store wrote. Seeding 200k records takes about a minute and is
// not timed.

// cloudProc is a running syncdev -postgres.
type cloudProc struct {
	url string
	cmd *exec.Cmd
}

const cloudToken = "bench-token"

// startCloud builds and starts syncdev with patients × 100 records, and
// stops it (by PID) when b ends.
func startCloud(b *testing.B, patients int) *cloudProc {
	b.Helper()
	dir := b.TempDir()
	// As root, Postgres runs as the postgres user, who must reach the
	// cluster inside the benchmark's directory.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "syncdev")
	if out, err := exec.Command("go", "build", "-o", bin, "healthprep.dev/cloud/internal/syncfeed/syncdev").CombinedOutput(); err != nil {
		b.Fatalf("building syncdev: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-postgres", "-postgres-dir", dir, "-token", cloudToken, "-seed-patients", strconv.Itoa(patients))
	cmd.Stderr = io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		l := lines.Text()
		b.Log(l)
		if _, u, ok := strings.Cut(l, "listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return &cloudProc{url: u, cmd: cmd}
		}
	}
	b.Fatalf("syncdev exited before listening: %v", lines.Err())
	return nil
}

func (c *cloudProc) client() *syncagent.ConnectCloud {
	return syncagent.NewConnectCloud(c.url, func() (string, error) { return cloudToken, nil }, "")
}

// publish commits one change in the cloud and returns its seq.
func (c *cloudProc) publish(b *testing.B) int64 {
	req, _ := http.NewRequest(http.MethodPost, c.url+"/_syncdev/publish", nil)
	req.Header.Set("Authorization", "Bearer "+cloudToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	seq, err := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
	if res.StatusCode != http.StatusOK || err != nil {
		b.Fatalf("publishing: %s %s", res.Status, body)
	}
	return seq
}

// BenchmarkInitialSync is a workstation's first sync of a clinic of 2,000
// patients (200k records: each patient, an appointment and 98 chart
// resources) from the cloud's Postgres feed over Connect on loopback into
// a new encrypted local store, pages of 500 (the agent's default). Target:
// ≤ 30 s. pull-only is the same feed pulled and dropped: the cloud and
// the wire's share.
func BenchmarkInitialSync(b *testing.B) {
	const patients, records = 2000, 200_000
	cloud := startCloud(b, patients)
	ctx := context.Background()
	b.Run("pull-only", func(b *testing.B) {
		cc := cloud.client()
		n := 0
		for b.Loop() {
			cur := ""
			for {
				p, err := cc.Pull(ctx, cur, 500)
				if err != nil {
					b.Fatal(err)
				}
				n += len(p.Changes)
				cur = p.Next
				if !p.HasMore {
					break
				}
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("into-encrypted-store", func(b *testing.B) {
		n := 0
		for b.Loop() {
			b.StopTimer()
			s := setup(b)
			b.StartTimer()
			r, err := syncagent.New(s, cloud.client(), syncagent.Options{}).SyncOnce(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if r.Applied < records || s.Unreadable() != 0 {
				b.Fatalf("applied %d (%d unreadable); want %d", r.Applied, s.Unreadable(), records)
			}
			n += r.Applied
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/sync")
	})
}

// BenchmarkChangeVisible is the freshness of a synced workstation: the
// time from a change committed in the cloud (a config record published
// into the Postgres feed) until the agent, running as it does on a
// workstation (watch stream, pulls when the cloud's latest seq moves), has
// applied it to the local store. Reports p50 and p90 over b.N changes
// (use -benchtime=20x or more). Target: p50 ≤ 1 s.
func BenchmarkChangeVisible(b *testing.B) {
	cloud := startCloud(b, 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := setup(b)
	applied := make(chan int64, 64)
	a := syncagent.New(s, cloud.client(), syncagent.Options{
		OnProgress: func(p syncagent.Progress) {
			if p.Seq >= p.Latest {
				applied <- p.Seq
			}
		},
	})
	if _, err := a.SyncOnce(ctx); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wait := func(seq int64) {
		deadline := time.After(30 * time.Second)
		for {
			select {
			case got := <-applied:
				if got >= seq {
					return
				}
			case <-deadline:
				b.Fatalf("change %d not applied within 30 s", seq)
			}
		}
	}
	// Let Run's first sync and the watch stream settle.
	wait(cloud.publish(b))
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		// Changes arrive at any moment, not in step with the watch's
		// polling: wait 0–250 ms (spread evenly) before committing.
		b.StopTimer()
		<-time.After(time.Duration(i*37%250) * time.Millisecond)
		b.StartTimer()
		start := time.Now()
		wait(cloud.publish(b))
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")
}

package testpeer

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// S3Config configures a versitygw S3 gateway on a POSIX directory.
type S3Config struct {
	// Dir holds the buckets ("data"), object versions ("versions") and the
	// log. Its filesystem needs user extended attributes (ext4 has them).
	Dir string
	// Region is the region the gateway answers for; "us-east-1" when empty.
	Region string
}

// S3 is a running versitygw: an S3-compatible server with versioning and
// object lock, storing objects as files under Dir/data.
type S3 struct {
	*Process
	// URL is the endpoint for the AWS SDK's BaseEndpoint; use path-style
	// addressing (s3.Options.UsePathStyle).
	URL string
	// AccessKey and SecretKey are the root credentials, random per server.
	AccessKey, SecretKey string
	Region               string
}

// StartS3 starts versitygw (a Go tool installed by `make deps` into
// .tools/bin) with its POSIX backend on a free loopback port.
func StartS3(ctx context.Context, cfg S3Config) (*S3, error) {
	bin, err := goTool("versitygw")
	if err != nil {
		return nil, fmt.Errorf("starting versitygw: %w", err)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("starting versitygw: S3Config.Dir is empty")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	data, versions := filepath.Join(cfg.Dir, "data"), filepath.Join(cfg.Dir, "versions")
	for _, d := range []string{data, versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("starting versitygw: %w", err)
		}
	}
	access, secret := "hp"+randomHex(8), randomHex(20)
	client := &http.Client{Timeout: 10 * time.Second}
	proc, ps, err := startWithPorts(ctx, 1, func(ps []int) (spec, error) {
		return spec{
			name: "versitygw",
			path: bin,
			args: []string{
				"--port", loopback(ps[0]),
				"--access", access, "--secret", secret,
				"--region", cfg.Region,
				"--health", "/health",
				"--quiet",
				"posix", "--versioning-dir", versions, data,
			},
			dir:   cfg.Dir,
			ready: httpReady(client, "http://"+loopback(ps[0])+"/health"),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return &S3{Process: proc, URL: "http://" + loopback(ps[0]), AccessKey: access, SecretKey: secret, Region: cfg.Region}, nil
}

// NewS3 starts versitygw for a test and stops it when the test ends.
func NewS3(t testing.TB) *S3 {
	t.Helper()
	s, err := StartS3(context.Background(), S3Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	cleanup(t, s.Process)
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := crand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

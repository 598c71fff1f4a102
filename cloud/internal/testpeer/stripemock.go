package testpeer

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// StripeMockConfig configures a stripe-mock server.
type StripeMockConfig struct {
	// Dir is the working directory and holds the log.
	Dir string
}

// StripeMock is a running stripe-mock: Stripe's API answered from its
// OpenAPI fixtures, stateless.
type StripeMock struct {
	*Process
	// URL is the plain-HTTP API base ("http://127.0.0.1:P"); give it to
	// stripe-go as the API backend's URL.
	URL string
	// HTTPSURL is the same API over TLS with a self-signed certificate.
	HTTPSURL string
}

// StripeMockAPIKey is a key stripe-mock accepts.
const StripeMockAPIKey = "sk_test_123"

// StartStripeMock starts stripe-mock (a Go tool installed by `make deps`
// into .tools/bin) with HTTP and HTTPS both on loopback: given only one
// address, stripe-mock binds the other on every interface.
func StartStripeMock(ctx context.Context, cfg StripeMockConfig) (*StripeMock, error) {
	bin, err := goTool("stripe-mock")
	if err != nil {
		return nil, fmt.Errorf("starting stripe-mock: %w", err)
	}
	if cfg.Dir == "" {
		return nil, fmt.Errorf("starting stripe-mock: StripeMockConfig.Dir is empty")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	proc, ps, err := startWithPorts(ctx, 2, func(ps []int) (spec, error) {
		return spec{
			name: "stripe-mock",
			path: bin,
			args: []string{"-http-addr", loopback(ps[0]), "-https-addr", loopback(ps[1])},
			dir:  cfg.Dir,
			// Unauthenticated requests get 401: any answer means it is up.
			ready: both(httpReady(client, "http://"+loopback(ps[0])+"/v1/charges", http.StatusOK, http.StatusUnauthorized),
				tcpReady(loopback(ps[1]))),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return &StripeMock{Process: proc, URL: "http://" + loopback(ps[0]), HTTPSURL: "https://" + loopback(ps[1])}, nil
}

// NewStripeMock starts stripe-mock for a test and stops it when the test
// ends.
func NewStripeMock(t testing.TB) *StripeMock {
	t.Helper()
	s, err := StartStripeMock(context.Background(), StripeMockConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("testpeer: %v", err)
	}
	cleanup(t, s.Process)
	return s
}

package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/org"
	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"
)

func asRoot[T any](msg *T) *connect.Request[T] {
	r := connect.NewRequest(msg)
	r.Header().Set("Authorization", "Bearer root")
	return r
}

// TestOversizedRequest sends a request larger than the limit: it is refused
// with ResourceExhausted before any domain code runs.
func TestOversizedRequest(t *testing.T) {
	t.Parallel()
	f := setupFakes(t, Options{MaxRequestBytes: 4 << 10})
	orgs := c.NewOrgServiceClient(f.client, f.url)
	_, err := orgs.CreateOrg(context.Background(), asRoot(&v1.CreateOrgRequest{Name: strings.Repeat("x", 8<<10), Slug: "big"}))
	if got := connect.CodeOf(err); got != connect.CodeResourceExhausted {
		t.Fatalf("oversized CreateOrg: error %v; want ResourceExhausted", err)
	}
	if n := f.calls(); n != 0 {
		t.Errorf("oversized request reached the domain %d times; want 0", n)
	}
	// Just under the limit still works.
	if _, err := orgs.CreateOrg(context.Background(), asRoot(&v1.CreateOrgRequest{Name: strings.Repeat("x", 3<<10), Slug: "ok"})); err != nil {
		t.Errorf("CreateOrg under the limit: %v", err)
	}
}

// TestProtocolVersion checks the version header both ways.
func TestProtocolVersion(t *testing.T) {
	t.Parallel()
	f := setupFakes(t, Options{})
	orgs := c.NewOrgServiceClient(f.client, f.url)
	tests := []struct {
		header   string
		wantCode connect.Code
		wantMsg  string
	}{
		{"", 0, ""},
		{"1", 0, ""},
		{"7", 0, ""}, // newer clients are served what this server knows
		{"0", connect.CodeFailedPrecondition, msgClientTooOld},
		{"one", connect.CodeInvalidArgument, msgBadVersionHdr},
	}
	for _, tt := range tests {
		req := asRoot(&v1.GetOrgRequest{})
		if tt.header != "" {
			req.Header().Set(ProtocolVersionHeader, tt.header)
		}
		res, err := orgs.GetOrg(context.Background(), req)
		if got := connect.CodeOf(err); (err == nil) != (tt.wantCode == 0) || (err != nil && got != tt.wantCode) {
			t.Errorf("version %q: error %v; want code %v", tt.header, err, tt.wantCode)
			continue
		}
		if err != nil {
			var ce *connect.Error
			if errors.As(err, &ce) && ce.Message() != tt.wantMsg {
				t.Errorf("version %q: message %q; want %q", tt.header, ce.Message(), tt.wantMsg)
			}
			continue
		}
		if got := res.Header().Get(ProtocolVersionHeader); got != fmt.Sprint(ProtocolVersion) {
			t.Errorf("version %q: server answered version %q; want %d", tt.header, got, ProtocolVersion)
		}
	}
}

// TestErrorMapping checks the codes and messages a person sees for domain
// errors, and that an unexpected error's detail never crosses the wire.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		wantCode connect.Code
		wantMsg  string // exact, or prefix when it ends in "*"
	}{
		{"validation", fmt.Errorf("creating organisation: %w", &org.ValidationError{Field: "slug", Problem: "must be 2 to 63 characters long"}),
			connect.CodeInvalidArgument, "slug: must be 2 to 63 characters long"},
		{"not found", fmt.Errorf("reading organisation: %w", org.ErrNotFound), connect.CodeNotFound, "no such organisation"},
		{"slug taken", fmt.Errorf("creating organisation: %w", org.ErrSlugTaken), connect.CodeAlreadyExists, "slug: another organisation already uses it"},
		{"transition", fmt.Errorf("changing organisation status: %w", fmt.Errorf("%w: from live to trial", org.ErrTransition)),
			connect.CodeFailedPrecondition, "status change not allowed: from live to trial"},
		{"rate limited", ErrRateLimited, connect.CodeResourceExhausted, "too many attempts; wait and try again"},
		{"internal keeps secrets", errors.New(`pq: duplicate key (email)=(pat.smith@example.org) password=hunter2`),
			connect.CodeInternal, "internal error (reference *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setupFakes(t, Options{})
			f.orgs.err = tt.err
			_, err := c.NewOrgServiceClient(f.client, f.url).GetOrg(context.Background(), asRoot(&v1.GetOrgRequest{}))
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != tt.wantCode {
				t.Fatalf("error %v; want code %v", err, tt.wantCode)
			}
			if p, ok := strings.CutSuffix(tt.wantMsg, "*"); ok {
				if !strings.HasPrefix(ce.Message(), p) {
					t.Errorf("message %q; want prefix %q", ce.Message(), p)
				}
			} else if ce.Message() != tt.wantMsg {
				t.Errorf("message %q; want %q", ce.Message(), tt.wantMsg)
			}
			for _, secret := range []string{"pat.smith", "hunter2", "pq:"} {
				if strings.Contains(ce.Error(), secret) {
					t.Errorf("wire error %q carries %q", ce.Error(), secret)
				}
			}
		})
	}
}

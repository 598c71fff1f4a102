package syncagent_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
	c "healthprep.dev/proto/gen/healthprep/v1/healthprepv1connect"

	"healthprep.dev/desktop/internal/syncagent"
)

// pagedFeed serves a feed of pages of one change each ("c0" … "cN") and
// counts the pulls of each cursor.
type pagedFeed struct {
	c.UnimplementedSyncServiceHandler
	pages int

	mu    sync.Mutex
	pulls map[string]int
}

func (f *pagedFeed) Pull(_ context.Context, req *connect.Request[v1.PullRequest]) (*connect.Response[v1.PullResponse], error) {
	cur := req.Msg.GetCursor()
	f.mu.Lock()
	f.pulls[cur]++
	f.mu.Unlock()
	n := 0
	if cur != "" {
		if _, err := fmt.Sscanf(cur, "c%d", &n); err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
	}
	res := &v1.PullResponse{Cursor: cur, NextCursor: cur, LatestSeq: int64(f.pages)}
	if n < f.pages {
		res.Changes = []*v1.SyncChange{{Kind: v1.SyncEntityKind_SYNC_ENTITY_KIND_CONFIG, Id: fmt.Sprint("r", n+1), Payload: []byte(`{}`), Seq: int64(n + 1)}}
		res.NextCursor, res.HasMore = fmt.Sprint("c", n+1), n+1 < f.pages
	}
	return connect.NewResponse(res), nil
}

func (f *pagedFeed) count(cursor string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pulls[cursor]
}

func serveFeed(t *testing.T, pages int) (*pagedFeed, *syncagent.ConnectCloud) {
	t.Helper()
	f := &pagedFeed{pages: pages, pulls: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle(c.NewSyncServiceHandler(f))
	srv := httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	t.Cleanup(srv.Close)
	return f, syncagent.NewConnectCloud(srv.URL, func() (string, error) { return "t", nil }, "")
}

// TestConnectCloudReadsAhead: pulling a feed page after page asks the
// server for each cursor once (the next page was read ahead while the
// caller worked), and a pull of another cursor than the one read ahead
// gets that cursor's page.
func TestConnectCloudReadsAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, cc := serveFeed(t, 5)
	cur := ""
	var got []string
	for {
		p, err := cc.Pull(ctx, cur, 1)
		if err != nil {
			t.Fatal(err)
		}
		if p.From != cur {
			t.Fatalf("page from %q; want %q", p.From, cur)
		}
		for _, ch := range p.Changes {
			got = append(got, ch.ID)
		}
		cur = p.Next
		if !p.HasMore {
			break
		}
	}
	if fmt.Sprint(got) != "[r1 r2 r3 r4 r5]" {
		t.Errorf("changes %v; want r1 … r5 in order", got)
	}
	for _, cursor := range []string{"", "c1", "c2", "c3", "c4"} {
		if n := f.count(cursor); n != 1 {
			t.Errorf("cursor %q pulled %d times from the server; want 1", cursor, n)
		}
	}
	// The page after c1 is read ahead; asking for c1 again (a page that
	// failed to apply) gets c1's page, not the one read ahead.
	if _, err := cc.Pull(ctx, "c1", 1); err != nil {
		t.Fatal(err)
	}
	p, err := cc.Pull(ctx, "c1", 1)
	if err != nil || p.From != "c1" || len(p.Changes) != 1 || p.Changes[0].ID != "r2" {
		t.Errorf("re-pull of c1 = %+v, %v; want c1's page (r2)", p, err)
	}
}

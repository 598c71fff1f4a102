// Package queuetest is the conformance suite for docpipe.Queue
// implementations: ordering, idempotent adds, state changes, and state that
// survives reopening (a restart).
package queuetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/docpipe"
)

// Opener returns a fresh, empty queue and a function that reopens the same
// storage as a new process would after a crash (without closing the first).
type Opener func(t *testing.T) (q docpipe.Queue, reopen func() docpipe.Queue)

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	ctx := context.Background()
	job := func(id string) docpipe.Job {
		return docpipe.Job{ID: id, Source: "/inbox/" + id + ".pdf", Added: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	}
	ids := func(t *testing.T, q docpipe.Queue, s docpipe.State) string {
		t.Helper()
		js, err := q.List(ctx, s)
		if err != nil {
			t.Fatalf("List(%s): %v", s, err)
		}
		out := ""
		for _, j := range js {
			out += j.ID + " "
		}
		return out
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("claims oldest first, once, counting attempts", func(t *testing.T) {
		t.Parallel()
		q, _ := open(t)
		for _, id := range []string{"a", "b", "c"} {
			must(t, q.Add(ctx, job(id)))
		}
		must(t, q.Add(ctx, job("a"))) // a second add changes nothing
		for _, want := range []string{"a", "b", "c"} {
			got, ok, err := q.Claim(ctx)
			if err != nil || !ok || got.ID != want || got.Attempts != 1 || got.State != docpipe.StateRunning {
				t.Fatalf("Claim = %+v, %v, %v; want %s running with 1 attempt", got, ok, err, want)
			}
		}
		if got, ok, err := q.Claim(ctx); ok || err != nil {
			t.Fatalf("Claim on an empty queue = %+v, %v, %v; want none", got, ok, err)
		}
	})

	t.Run("complete, quarantine and release", func(t *testing.T) {
		t.Parallel()
		q, _ := open(t)
		for _, id := range []string{"a", "b", "c"} {
			must(t, q.Add(ctx, job(id)))
			if _, _, err := q.Claim(ctx); err != nil {
				t.Fatal(err)
			}
		}
		must(t, q.Complete(ctx, "a"))
		must(t, q.Quarantine(ctx, "b", docpipe.KindPasswordProtected, "PDF document rejected: password"))
		must(t, q.Release(ctx, "c"))
		if got, want := ids(t, q, docpipe.StateDone), "a "; got != want {
			t.Errorf("done = %q, want %q", got, want)
		}
		qs, err := q.List(ctx, docpipe.StateQuarantined)
		must(t, err)
		if len(qs) != 1 || qs[0].Reason != docpipe.KindPasswordProtected || qs[0].Message == "" {
			t.Errorf("quarantined = %+v, want b with its reason and message", qs)
		}
		got, ok, err := q.Claim(ctx)
		if err != nil || !ok || got.ID != "c" || got.Attempts != 2 {
			t.Errorf("Claim after release = %+v, %v, %v; want c on attempt 2", got, ok, err)
		}
		if err := q.Complete(ctx, "nope"); err == nil {
			t.Errorf("Complete(unknown) succeeded, want an error")
		}
	})

	t.Run("state survives a restart and running jobs are recovered", func(t *testing.T) {
		t.Parallel()
		q, reopen := open(t)
		for i := 0; i < 5; i++ {
			must(t, q.Add(ctx, job(fmt.Sprint("j", i))))
		}
		for i := 0; i < 3; i++ {
			if _, _, err := q.Claim(ctx); err != nil {
				t.Fatal(err)
			}
		}
		must(t, q.Complete(ctx, "j0"))
		must(t, q.Quarantine(ctx, "j1", docpipe.KindCorrupt, "damaged"))
		// j2 is running when the process dies.
		r := reopen()
		if got, want := ids(t, r, docpipe.StateRunning), "j2 "; got != want {
			t.Errorf("running after restart = %q, want %q", got, want)
		}
		n, err := r.Recover(ctx)
		if err != nil || n != 1 {
			t.Fatalf("Recover = %d, %v; want 1", n, err)
		}
		for _, tt := range []struct {
			s    docpipe.State
			want string
		}{{docpipe.StatePending, "j2 j3 j4 "}, {docpipe.StateDone, "j0 "}, {docpipe.StateQuarantined, "j1 "}, {docpipe.StateRunning, ""}} {
			if got := ids(t, r, tt.s); got != tt.want {
				t.Errorf("%s after recovery = %q, want %q", tt.s, got, tt.want)
			}
		}
		js, err := r.List(ctx, docpipe.StatePending)
		must(t, err)
		if js[0].Source != "/inbox/j2.pdf" || js[0].Attempts != 1 || !js[0].Added.Equal(job("x").Added) {
			t.Errorf("recovered job = %+v, want its source, attempt count and time kept", js[0])
		}
	})
}

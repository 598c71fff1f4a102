package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"golang.org/x/oauth2"

	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/ingest"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/sandbox"
)

type jobsBundle struct {
	runBundle
	conns  *epicconfig.Service
	client *river.Client[pgx.Tx]
	events <-chan *river.Event
}

func setupJobs(t *testing.T, data []byte) jobsBundle {
	t.Helper()
	rb := setupRun(t, data, clientOpts{})
	ctx := context.Background()
	if err := ingest.MigrateRiver(ctx, pgtest.Pool(t, rb.pgdb.OwnerDSN)); err != nil {
		t.Fatal(err)
	}
	conns := epicconfig.New(rb.db, rb.keys, epicconfig.Options{BaseURL: "http://127.0.0.1:1"})
	if err := rb.sb.RegisterClient(sandbox.Client{ID: "hp-client", Secret: "client-secret", RedirectURIs: []string{conns.RedirectURL()}}); err != nil {
		t.Fatal(err)
	}
	s := func(v string) *string { return &v }
	if _, err := conns.Update(ctx, epicconfig.Actor{UserID: uuid.New(), Role: "admin", IP: "127.0.0.1"}, rb.orgA, epicconfig.Update{
		ClientID: s("hp-client"), ClientSecret: s("client-secret"), FHIRBaseURL: s(rb.srv.FHIRBase()),
	}); err != nil {
		t.Fatal(err)
	}
	jobs := ingest.NewJobs(rb.db, rb.store, conns, ingest.JobsConfig{})
	c, err := jobs.Client(rb.pgdb.AppPool(t))
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := c.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled)
	t.Cleanup(cancel)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = c.Stop(sctx)
	})
	return jobsBundle{runBundle: rb, conns: conns, client: c, events: events}
}

// waitFor returns the first event for a job of kind, or fails after 30 s.
func (b jobsBundle) waitFor(t *testing.T, kind string) *river.Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-b.events:
			if ev.Job.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s job finished within 30 s", kind)
		}
	}
}

func TestIngestJobRunsForConnectedOrg(t *testing.T) {
	t.Parallel()
	b := setupJobs(t, genData(5, 10, time.Now().UTC()))
	ctx := context.Background()
	// Connected (a token the sandbox issued): the periodic schedule, run on
	// start, enqueues the ingest by itself.
	if err := b.conns.SaveToken(ctx, b.orgA, &oauth2.Token{AccessToken: b.token, Expiry: time.Now().Add(time.Hour)}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Insert(ctx, ingest.ScheduleArgs{}, &river.InsertOpts{Queue: ingest.Queue}); err != nil {
		t.Fatal(err)
	}
	ev := b.waitFor(t, "epic_ingest")
	if ev.Kind != river.EventKindJobCompleted {
		t.Fatalf("ingest job ended %s: %v", ev.Kind, ev.Job.Errors)
	}
	c, err := b.store.Count(ctx, b.orgA)
	if err != nil || c.Patients != 5 || c.ChartResources != 50 {
		t.Errorf("after the job: %+v, %v; want 5 patients, 50 resources", c, err)
	}
	st, _ := b.conns.Status(ctx, b.orgA)
	if st.LastSyncAt.IsZero() || st.LastError != "" {
		t.Errorf("status = %+v; want a last sync and no error", st)
	}
}

func TestTokenRefreshFailureIsVisibleAndAudited(t *testing.T) {
	t.Parallel()
	b := setupJobs(t, genData(1, 1, time.Now().UTC()))
	ctx := context.Background()
	if err := b.conns.SaveToken(ctx, b.orgA, &oauth2.Token{AccessToken: b.token, RefreshToken: "revoked-or-unknown",
		Expiry: time.Now().Add(2 * time.Minute)}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Insert(ctx, ingest.RefreshArgs{OrgID: b.orgA.String()}, nil); err != nil {
		t.Fatal(err)
	}
	ev := b.waitFor(t, "epic_token_refresh")
	if ev.Kind != river.EventKindJobCancelled {
		t.Errorf("refresh with a refused grant ended %s; want cancelled (retrying cannot help)", ev.Kind)
	}
	st, _ := b.conns.Status(ctx, b.orgA)
	if !strings.Contains(st.LastError, "refreshing the Epic token") || strings.Contains(st.LastError, "revoked-or-unknown") {
		t.Errorf("status error = %q; want the refresh failure in words, without the token", st.LastError)
	}
	var n int
	_ = b.db.WithOrg(ctx, b.orgA, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'epic.token.refresh' AND outcome = 'failure'`).Scan(&n)
	})
	if n != 1 {
		t.Errorf("audit has %d refresh failures; want 1", n)
	}
}

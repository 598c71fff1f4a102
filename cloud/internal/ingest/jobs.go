package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"golang.org/x/oauth2"

	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/epicconfig"
	"healthprep.dev/cloud/internal/tenancy"
)

// Queue is the River queue of Epic jobs.
const Queue = "epic"

// Connections is what the jobs need from the Epic configuration service
// (*epicconfig.Service).
type Connections interface {
	Credentials(ctx context.Context, org tenancy.OrgID) (epicconfig.Credentials, error)
	AuthCode(cr epicconfig.Credentials) *epic.AuthCode
	Backend(cr epicconfig.Credentials) (*epic.Backend, error)
	SaveToken(ctx context.Context, org tenancy.OrgID, tok *oauth2.Token, connected bool) error
	RecordSync(ctx context.Context, org tenancy.OrgID, syncErr error) error
	RecordError(ctx context.Context, org tenancy.OrgID, action string, failure error) error
	ConnectedOrgs(ctx context.Context) (map[tenancy.OrgID]time.Time, error)
}

// MigrateRiver applies River's own migrations (its job tables are not
// tenant tables) with the schema owner's pool; `healthprep-cloud migrate`
// runs it after the goose migrations. Tables the owner creates grant the
// application role plain DML by the default privileges of migration 00001,
// which is all River needs.
func MigrateRiver(ctx context.Context, ownerPool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(ownerPool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("preparing River migrations: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("applying River migrations: %w", err)
	}
	return nil
}

// IngestArgs is one org's ingest run.
type IngestArgs struct {
	OrgID string `json:"org_id"`
}

// Kind implements river.JobArgs.
func (IngestArgs) Kind() string { return "epic_ingest" }

var openStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// InsertOpts: at most one ingest per org queued or running.
func (IngestArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: openStates}}
}

// RefreshArgs refreshes one org's access token before it expires.
type RefreshArgs struct {
	OrgID string `json:"org_id"`
}

// Kind implements river.JobArgs.
func (RefreshArgs) Kind() string { return "epic_token_refresh" }

// InsertOpts: at most one refresh per org queued or running.
func (RefreshArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: openStates}}
}

// ScheduleArgs is the periodic sweep that enqueues ingests and refreshes.
type ScheduleArgs struct{}

// Kind implements river.JobArgs.
func (ScheduleArgs) Kind() string { return "epic_schedule" }

// JobsConfig tunes the jobs.
type JobsConfig struct {
	// Every is how often each connected org is ingested (default 15 min).
	Every time.Duration
	// RefreshBefore is how long before expiry a token is refreshed (10 min).
	RefreshBefore time.Duration
	// Workers is how many jobs run at once on this replica (default 4).
	Workers int
	// Run tunes each ingest.
	Run    RunOptions
	Logger *slog.Logger
	// Now is the clock of write-back (its daily limit); nil: time.Now.
	Now func() time.Time
	// FHIRRetry is the FHIR client's retry policy (zero: epic.DefaultRetry).
	FHIRRetry epic.RetryPolicy
}

// Jobs are the Epic background jobs.
type Jobs struct {
	store *Store
	db    *tenancy.DB
	conns Connections
	cfg   JobsConfig
}

// NewJobs returns the jobs.
func NewJobs(db *tenancy.DB, store *Store, conns Connections, cfg JobsConfig) *Jobs {
	if cfg.Every == 0 {
		cfg.Every = 15 * time.Minute
	}
	if cfg.RefreshBefore == 0 {
		cfg.RefreshBefore = 10 * time.Minute
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.Run.WindowDays == 0 {
		cfg.Run.WindowDays = 14
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Jobs{store: store, db: db, conns: conns, cfg: cfg}
}

// Client builds the River client that works the jobs (the worker role),
// with the periodic schedule.
func (j *Jobs) Client(pool *pgxpool.Pool, extra ...func(*river.Workers)) (*river.Client[pgx.Tx], error) {
	w := river.NewWorkers()
	river.AddWorker(w, &ingestWorker{j: j})
	river.AddWorker(w, &refreshWorker{j: j})
	river.AddWorker(w, &scheduleWorker{j: j})
	river.AddWorker(w, &writebackWorker{j: j})
	for _, f := range extra {
		f(w)
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:               map[string]river.QueueConfig{Queue: {MaxWorkers: j.cfg.Workers}},
		Workers:              w,
		Logger:               j.cfg.Logger,
		RescueStuckJobsAfter: 2 * time.Hour,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
			func() (river.JobArgs, *river.InsertOpts) {
				return ScheduleArgs{}, &river.InsertOpts{Queue: Queue, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: openStates}}
			}, &river.PeriodicJobOpts{RunOnStart: true, ID: "epic_schedule"})},
	})
	if err != nil {
		return nil, fmt.Errorf("building the job client: %w", err)
	}
	return c, nil
}

type scheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	j *Jobs
}

// Work enqueues, per connected org, an ingest when the last one is older
// than Every and a refresh when the token expires within RefreshBefore.
func (w *scheduleWorker) Work(ctx context.Context, job *river.Job[ScheduleArgs]) error {
	orgs, err := w.j.conns.ConnectedOrgs(ctx)
	if err != nil {
		return err
	}
	c := river.ClientFromContext[pgx.Tx](ctx)
	now := time.Now()
	for org, expiry := range orgs {
		if expiry.Sub(now) < w.j.cfg.RefreshBefore {
			if _, err := c.Insert(ctx, RefreshArgs{OrgID: org.String()}, nil); err != nil {
				return fmt.Errorf("enqueuing token refresh: %w", err)
			}
		}
		last, err := w.j.lastSync(ctx, org)
		if err != nil {
			return err
		}
		if now.Sub(last) >= w.j.cfg.Every {
			if _, err := c.Insert(ctx, IngestArgs{OrgID: org.String()}, nil); err != nil {
				return fmt.Errorf("enqueuing ingest: %w", err)
			}
		}
	}
	return nil
}

func (j *Jobs) lastSync(ctx context.Context, org tenancy.OrgID) (time.Time, error) {
	var t *time.Time
	err := j.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT last_sync_at FROM epic_connections WHERE org_id = $1`, org).Scan(&t)
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("reading last sync: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return *t, nil
}

type ingestWorker struct {
	river.WorkerDefaults[IngestArgs]
	j *Jobs
}

// Timeout lets a large ingest run; a crashed one is rescued and resumes
// from its checkpoints.
func (w *ingestWorker) Timeout(*river.Job[IngestArgs]) time.Duration { return time.Hour }

// Client returns org's FHIR client: its tokens (refreshed and stored when
// due) and its rate limit shared across replicas.
func (j *Jobs) fhirClient(ctx context.Context, org tenancy.OrgID) (*epic.Client, error) {
	cr, err := j.conns.Credentials(ctx, org)
	if err != nil {
		return nil, err
	}
	if cr.Token == nil {
		return nil, epicconfig.ErrNotConnected
	}
	var toks epic.TokenSource
	if cr.Config.ConnectionMode == epicconfig.BackendServices {
		b, err := j.conns.Backend(cr)
		if err != nil {
			return nil, err
		}
		// A new token with a fresh assertion whenever the cached one is
		// near expiry; stored so the status shows it.
		toks = epic.NewTokens(cr.Token, func(ctx context.Context) (*oauth2.Token, error) {
			tok, err := b.Token(ctx)
			if err != nil {
				return nil, err
			}
			return tok, j.conns.SaveToken(ctx, org, tok, false)
		})
	} else {
		ac := j.conns.AuthCode(cr)
		toks = ac.Tokens(cr.Token, func(ctx context.Context, tok *oauth2.Token) error { return j.conns.SaveToken(ctx, org, tok, false) })
	}
	return epic.NewClient(epic.Config{
		BaseURL: cr.Config.FHIRBaseURL, Tokens: toks,
		Limiter: NewPGLimiter(j.db, org, cr.Config.RateLimitPerHour, 0),
		Retry:   j.cfg.FHIRRetry,
	})
}

// Work runs one org's ingest and records the outcome in the connection
// status. Failures are retried by River with backoff; a run that needs the
// admin (no connection, authorization revoked) is cancelled instead.
func (w *ingestWorker) Work(ctx context.Context, job *river.Job[IngestArgs]) error {
	org, err := tenancy.ParseOrgID(job.Args.OrgID)
	if err != nil {
		return river.JobCancel(err)
	}
	client, err := w.j.fhirClient(ctx, org)
	if err != nil {
		_ = w.j.conns.RecordSync(ctx, org, err)
		if errors.Is(err, epicconfig.ErrNotConnected) || errors.Is(err, epicconfig.ErrNotConfigured) {
			return river.JobCancel(err)
		}
		return err
	}
	cfg, err := w.j.conns.Credentials(ctx, org)
	if err != nil {
		return err
	}
	opt := w.j.cfg.Run
	opt.WindowDays = cfg.Config.WindowDays
	_, runErr := w.j.store.Run(ctx, org, client, opt)
	if err := w.j.conns.RecordSync(ctx, org, runErr); err != nil {
		return err
	}
	if errors.Is(runErr, epic.ErrAuthorization) {
		return river.JobCancel(runErr)
	}
	if runErr == nil {
		return w.j.enqueueWritebacks(ctx, org, cfg.Config.WritebackEnabled)
	}
	return runErr
}

type refreshWorker struct {
	river.WorkerDefaults[RefreshArgs]
	j *Jobs
}

// Work refreshes org's access token with its refresh token and stores the
// result sealed. A failure is shown in the status and audited
// (epic.token.refresh); a refused grant is not retried.
func (w *refreshWorker) Work(ctx context.Context, job *river.Job[RefreshArgs]) error {
	org, err := tenancy.ParseOrgID(job.Args.OrgID)
	if err != nil {
		return river.JobCancel(err)
	}
	cr, err := w.j.conns.Credentials(ctx, org)
	if err != nil {
		return err
	}
	if cr.Token == nil {
		return river.JobCancel(epicconfig.ErrNotConnected)
	}
	var tok *oauth2.Token
	if cr.Config.ConnectionMode == epicconfig.BackendServices {
		// Backend services has no refresh token: a new assertion gets a
		// new token.
		var b *epic.Backend
		if b, err = w.j.conns.Backend(cr); err == nil {
			tok, err = b.Token(ctx)
		}
	} else {
		tok, err = w.j.conns.AuthCode(cr).Refresh(ctx, cr.Token.RefreshToken)
	}
	if err != nil {
		if rerr := w.j.conns.RecordError(ctx, org, "epic.token.refresh", err); rerr != nil {
			return rerr
		}
		if errors.Is(err, epic.ErrAuthorization) {
			return river.JobCancel(err)
		}
		return err
	}
	return w.j.conns.SaveToken(ctx, org, tok, false)
}
